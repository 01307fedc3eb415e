"""The volume service's logic (cinder-api's checks, cinder-volume's and cinder-backup's
work) as parts, composed here; ``service.py`` wires it to HTTP, the bus and the clock.

| part | module | does |
|---|---|---|
| volumes | ``volumes.py`` | create, list, update, metadata, extend, flags, delete |
| snapshots | ``snapshots.py`` | snapshots and their metadata |
| backups | ``backups_manager.py`` | backups into the object store, restore |
| attachments | ``attachments.py`` | the attach flow (REST and RPC alike) |
| types | ``volume_types.py`` | volume types and extra specs |
| quotas | ``quotas.py`` | limits, usage, enforcement |
| heartbeats | ``heartbeats.py`` | the service rows and their heartbeats |

Nothing here imports a transport.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from sqlalchemy import func, select

from overcast import errors
from overcast.clock import iso, utcnow
from overcast.context import RequestContext
from overcast.db import Database
from services.volume import access, states
from services.volume.attachments import Attachments
from services.volume.backups_manager import Backups
from services.volume.contract import FILE_NAME, OVERCAST_FILE, VolumeRequest, VolumeSummary
from services.volume.heartbeats import VOLUME_BINARY, Heartbeats
from services.volume.hosts import Hosts
from services.volume.interfaces import BackupStore, ImageSource, VolumeBackend
from services.volume.models import ServiceRecord, Volume
from services.volume.quotas import QuotaDefaults, Quotas
from services.volume.shared import Settings, Shared
from services.volume.snapshots import Snapshots
from services.volume.volume_types import VolumeTypes
from services.volume.volumes import Volumes
from services.volume.work import Background

logger = logging.getLogger(__name__)

GiB = 1 << 30
_ANY_ID = "00000000-0000-0000-0000-000000000000"  # a volume name, for the directory's path


def summary(record: dict[str, Any]) -> VolumeSummary:
    """What the compute side is told of a volume."""
    return VolumeSummary(id=record["id"], name=record["name"], size=record["size"],
                         status=record["status"], project_id=record["project_id"],
                         bootable=record["bootable"],
                         availability_zone=record["availability_zone"],
                         image_id=record["image_id"] or record["image_metadata"].get(
                             "image_id"))


class VolumeManager:
    def __init__(self, db: Database, *, backend: VolumeBackend,
                 settings: Settings | None = None, quota_defaults: QuotaDefaults | None = None,
                 images: ImageSource | None = None, backups: BackupStore | None = None
                 ) -> None:
        self.db = db
        self.work = Background()
        self.shared = Shared(db=db, backend=backend, quotas=Quotas(quota_defaults
                                                                   or QuotaDefaults()),
                             work=self.work, settings=settings or Settings(), images=images,
                             backups=backups)
        self.quotas = self.shared.quotas
        self.types = VolumeTypes(self.shared)
        self.heartbeats = Heartbeats(self.shared)
        self.volumes = Volumes(self.shared, self.types)
        self.snapshots = Snapshots(self.shared)
        self.backups = Backups(self.shared, self.types, self.heartbeats)
        self.attachments = Attachments(self.shared)
        self.hosts = Hosts(self.shared, self.heartbeats)

    @property
    def settings(self) -> Settings:
        return self.shared.settings

    # -- lifecycle -------------------------------------------------------------------------

    def bootstrap(self) -> None:
        """What must exist before the first request: the default type, the service rows."""
        self.types.ensure_default()
        self.heartbeats.ensure_rows()

    def recover(self) -> dict[str, int]:
        """Resume or settle what a stopped process left in flight (see each part)."""
        ctx = RequestContext.admin()
        counts = {"volumes": self.volumes.resume(ctx), "snapshots": self.snapshots.resume(),
                  "backups": self.backups.recover()}
        if any(counts.values()):
            logger.info("resumed after a restart: %s", counts)
        return counts

    async def drain(self) -> None:
        await self.work.drain()

    async def close(self) -> None:
        await self.work.close()

    # -- what the compute side asks (rpcapi.VolumeAPI) -------------------------------------

    def get_summary(self, ctx: RequestContext, volume_id: str) -> VolumeSummary:
        return summary(self.volumes.get(ctx, volume_id))

    async def create_for_compute(self, ctx: RequestContext, request: VolumeRequest
                                 ) -> VolumeSummary:
        """Create ``request.id`` (boot from volume), or return it when it exists."""
        if not FILE_NAME.fullmatch(f"volume-{request.id}"):
            raise errors.BadRequest(f"VolumeRequest: id {errors.excerpt(request.id)} is not a "
                                    "UUID")
        with self.db.session() as session:
            existing = session.get(Volume, request.id)
            if existing is not None:
                if not access.visible(ctx, existing.project_id):
                    raise errors.Conflict(f"Volume {request.id} already exists.")
                known = True
            else:
                known = False
        if known:
            return self.get_summary(ctx, request.id)
        record = await self.volumes.create(
            ctx, size=request.size, name=request.name or None,
            description=request.description or None, image_id=request.image_id,
            availability_zone=request.availability_zone, volume_id=request.id)
        return summary(record)

    def delete_for_compute(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete an available volume; a missing one, or one already going, is fine."""
        try:
            record = self.volumes.get(ctx, volume_id)
        except errors.NotFound:
            return
        if record["status"] in (states.DELETING,):
            return
        self.volumes.delete(ctx, volume_id)

    async def delete_when_made(self, ctx: RequestContext, volume_id: str, *,
                               poll: float = 0.2, deadline: float = 600.0) -> None:
        """``delete_for_compute`` once the volume is no longer ``creating`` (its creation
        runs in this process, so it ends: made, or ``error``); gives up after ``deadline``
        seconds with the volume left as it is."""
        waited = 0.0
        while True:
            try:
                status = self.volumes.get(ctx, volume_id)["status"]
            except errors.NotFound:
                return
            if status != states.CREATING or waited >= deadline:
                break
            await asyncio.sleep(poll)
            waited += poll
        self.delete_for_compute(ctx, volume_id)

    # -- quotas ----------------------------------------------------------------------------

    def quota_defaults(self) -> dict[str, int]:
        with self.db.session() as session:
            return self.quotas.default_limits(session)

    def quota_set(self, project_id: str, *, usage: bool = False) -> dict[str, Any]:
        with self.db.session() as session:
            return self.quotas.quota_set(session, project_id, usage=usage)

    def update_quotas(self, ctx: RequestContext, project_id: str, values: dict[str, Any]
                      ) -> dict[str, int]:
        access.require_admin(ctx, "volume_extension:quotas:update")
        with self.db.session() as session:
            limits = self.quotas.update(session, project_id, values)
        logger.info("quotas of project %s set: %s", project_id, values)
        return limits

    def quota_class(self, ctx: RequestContext, class_name: str) -> dict[str, int]:
        access.require_admin(ctx, "volume_extension:quota_classes")
        with self.db.session() as session:
            return self.quotas.class_limits(session, class_name)

    def update_quota_class(self, ctx: RequestContext, class_name: str,
                           values: dict[str, Any]) -> dict[str, int]:
        access.require_admin(ctx, "volume_extension:quota_classes:update")
        with self.db.session() as session:
            limits = self.quotas.update_class(session, class_name, values)
        logger.info("quota class %s set: %s", class_name, values)
        return limits

    def reset_quotas(self, ctx: RequestContext, project_id: str) -> None:
        access.require_admin(ctx, "volume_extension:quotas:delete")
        with self.db.session() as session:
            self.quotas.reset(session, project_id)

    # -- zones and pools -------------------------------------------------------------------

    def zone_available(self) -> bool:
        """The zone is available while its volume service is enabled and up."""
        with self.db.session() as session:
            rows = session.scalars(select(ServiceRecord).where(
                ServiceRecord.binary == VOLUME_BINARY)).all()
            return any(not r.disabled and self.heartbeats.is_up(r) for r in rows)

    async def pools(self) -> list[dict[str, Any]]:
        """The one pool (the volumes directory) as Cinder's scheduler stats show it."""
        root = self.shared.backend.volume_path(_ANY_ID).parent
        try:
            stats = await self.shared.blocking(os.statvfs, root)
            total = stats.f_blocks * stats.f_frsize / GiB
            free = stats.f_bavail * stats.f_frsize / GiB
        except OSError:
            total = free = 0.0
        with self.db.session() as session:
            allocated = session.scalar(select(func.sum(Volume.size))) or 0
        host = self.settings.volume_host
        return [{"name": f"{host}#file", "capabilities": {
            "pool_name": "file", "volume_backend_name": "file", "vendor_name": "Overcast",
            "driver_version": "1.0", "storage_protocol": OVERCAST_FILE,
            "total_capacity_gb": round(total, 2), "free_capacity_gb": round(free, 2),
            "allocated_capacity_gb": allocated, "reserved_percentage": 0,
            "thin_provisioning_support": True, "thick_provisioning_support": False,
            "multiattach": False, "QoS_support": False,
            "timestamp": iso(utcnow())}}]
