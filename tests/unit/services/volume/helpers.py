"""Small steps the volume tests share."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from overcast.context import RequestContext
from services.volume.manager import VolumeManager
from services.volume.models import Attachment, Backup, Snapshot, Volume

GiB = 1 << 30


async def volume(manager: VolumeManager, ctx: RequestContext, **kwargs: Any) -> dict:
    """A volume made and finished (``available`` unless the backend failed)."""
    kwargs.setdefault("size", 1)
    record = await manager.volumes.create(ctx, **kwargs)
    await manager.drain()
    return manager.volumes.get(RequestContext.admin(), record["id"])


async def snapshot(manager: VolumeManager, ctx: RequestContext, volume_id: str,
                   **kwargs: Any) -> dict:
    record = manager.snapshots.create(ctx, volume_id=volume_id, **kwargs)
    await manager.drain()
    return manager.snapshots.get(RequestContext.admin(), record["id"])


async def attached(manager: VolumeManager, ctx: RequestContext, volume_id: str,
                   instance_id: str = "vm-1") -> dict:
    """Reserve, connect and complete: the volume ``in-use`` on ``instance_id``."""
    from services.volume.contract import Connector
    attachment = manager.attachments.reserve(ctx, volume_id=volume_id,
                                             instance_id=instance_id)
    manager.attachments.update(ctx, attachment["id"],
                               Connector(host="hypervisor-1", mountpoint="/dev/vdb"))
    manager.attachments.complete(ctx, attachment["id"])
    return attachment


def counts(manager: VolumeManager) -> dict[str, int]:
    """How many rows of each kind exist (to show a refusal left nothing behind)."""
    with manager.db.session() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Volume, Snapshot, Backup, Attachment)}


def status(manager: VolumeManager, volume_id: str) -> str:
    return manager.volumes.get(RequestContext.admin(), volume_id)["status"]
