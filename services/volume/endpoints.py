"""The AMQP entry points of topic ``volume`` (``rpcapi.VolumeAPI``), each calling the manager
under the caller's context, so a project reaches only its own volumes. Every one may be
delivered twice and is idempotent."""
from __future__ import annotations

import logging

from overcast import errors
from overcast.bus import rpc
from overcast.context import RequestContext
from services.volume.contract import Attachment, Connector, VolumeRequest
from services.volume.faults import QuotaError
from services.volume.manager import VolumeManager

logger = logging.getLogger(__name__)


def _attachment(record: dict) -> dict:
    return Attachment(id=record["id"], volume_id=record["volume_id"],
                      instance_id=record["instance_id"] or "", status=record["status"],
                      attached_host=record["attached_host"],
                      mountpoint=record["mountpoint"]).to_wire()


class VolumeEndpoint:
    def __init__(self, manager: VolumeManager) -> None:
        self.manager = manager

    @rpc("1.0")
    async def get_volume(self, ctx: RequestContext, *, volume_id: str) -> dict:
        return self.manager.get_summary(ctx, volume_id).to_wire()

    @rpc("1.0")
    async def reserve(self, ctx: RequestContext, *, volume_id: str, instance_id: str) -> dict:
        return _attachment(self.manager.attachments.reserve(ctx, volume_id=volume_id,
                                                            instance_id=instance_id))

    @rpc("1.0")
    async def attachment_update(self, ctx: RequestContext, *, attachment_id: str,
                                connector: dict) -> dict:
        _, info = self.manager.attachments.update(ctx, attachment_id,
                                                  Connector.from_wire(connector))
        return info.to_wire()

    @rpc("1.0")
    async def attachment_complete(self, ctx: RequestContext, *, attachment_id: str) -> None:
        self.manager.attachments.complete(ctx, attachment_id)

    @rpc("1.0")
    async def attachment_delete(self, ctx: RequestContext, *, attachment_id: str) -> None:
        self.manager.attachments.delete(ctx, attachment_id, missing_ok=True, by_compute=True)

    @rpc("1.0")
    async def attachment_delete_later(self, ctx: RequestContext, *, attachment_id: str,
                                      delete_volume: bool = False) -> None:
        volume_id, remaining = self.manager.attachments.delete(ctx, attachment_id,
                                                               missing_ok=True,
                                                               by_compute=True)
        if not delete_volume or volume_id is None or remaining:
            return
        try:
            self.manager.delete_for_compute(ctx, volume_id)
        except errors.OvercastError as exc:
            # Nova only logs a volume it could not delete with its server; so does this cast.
            logger.warning("volume %s of a deleted server was not deleted: %s", volume_id,
                           exc.message)

    @rpc("1.0")
    async def list_attachments(self, ctx: RequestContext, *, instance_id: str) -> list[dict]:
        return [_attachment(r) for r in self.manager.attachments.for_instance(ctx,
                                                                                instance_id)]

    @rpc("1.0")
    async def create_volume(self, ctx: RequestContext, *, request: dict) -> dict:
        try:
            made = await self.manager.create_for_compute(ctx, VolumeRequest.from_wire(request))
        except QuotaError as exc:
            # The compute side speaks of quotas as Nova does (403 OverQuota).
            raise errors.QuotaExceeded(exc.message) from None
        return made.to_wire()

    @rpc("1.0")
    async def delete_volume(self, ctx: RequestContext, *, volume_id: str) -> None:
        self.manager.delete_for_compute(ctx, volume_id)

    @rpc("1.1")
    async def delete_volume_later(self, ctx: RequestContext, *, volume_id: str) -> None:
        try:
            await self.manager.delete_when_made(ctx, volume_id)
        except errors.OvercastError as exc:
            logger.warning("volume %s of a deleted server was not deleted: %s", volume_id,
                           exc.message)
