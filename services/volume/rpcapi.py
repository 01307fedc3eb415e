"""The volume service's AMQP contract: topic ``volume`` (one shared queue). The conductor
and the compute agents import only this (and ``contract.py``, which it re-exports).

Every method acts under the caller's context: a volume of another project is NotFound
unless the context is an admin's (the conductor and the agents pass on the user's context,
signed by the process that authenticated the user).

Versions: 1.0 initial: get_volume, reserve, attachment_update, attachment_complete,
attachment_delete (a call) and attachment_delete_later (a durable cast: it waits in the
queue while the volume service is down, so a detach never gets lost), create_volume,
delete_volume, list_attachments. 1.1 delete_volume_later (a durable cast: deletes the
volume once it is no longer being created, so a server deleted while its build makes its
boot volume leaves none behind, even when the volume service is down meanwhile).
"""
from __future__ import annotations

from overcast.bus import RpcClient
from overcast.context import RequestContext
from services.volume.contract import (
    OVERCAST_FILE,
    Attachment,
    ConnectionInfo,
    Connector,
    VolumeRequest,
    VolumeSummary,
)

__all__ = ["OVERCAST_FILE", "Attachment", "ConnectionInfo", "Connector", "VolumeAPI",
           "VolumeRequest", "VolumeSummary"]


class VolumeAPI(RpcClient):
    topic = "volume"

    async def get_volume(self, ctx: RequestContext, *, volume_id: str) -> VolumeSummary:
        """The volume; NotFound when it is missing or another project's."""
        return VolumeSummary.from_wire(await self.call(ctx, "get_volume", volume_id=volume_id))

    async def reserve(self, ctx: RequestContext, *, volume_id: str, instance_id: str
                      ) -> Attachment:
        """Reserve an ``available`` volume for ``instance_id`` (Cinder's attachment_create
        without a connector); the same attachment when repeated. NotFound for a volume the
        caller cannot see; BadRequest (Cinder's InvalidVolume) when it is not available."""
        return Attachment.from_wire(await self.call(ctx, "reserve", volume_id=volume_id,
                                                    instance_id=instance_id))

    async def attachment_update(self, ctx: RequestContext, *, attachment_id: str,
                                connector: Connector) -> ConnectionInfo:
        """The host named by ``connector`` is attaching the volume: how it reaches it."""
        return ConnectionInfo.from_wire(await self.call(
            ctx, "attachment_update", attachment_id=attachment_id,
            connector=connector.to_wire()))

    async def attachment_complete(self, ctx: RequestContext, *, attachment_id: str) -> None:
        """The host has the volume mounted: the volume is ``in-use``."""
        await self.call(ctx, "attachment_complete", attachment_id=attachment_id)

    async def attachment_delete(self, ctx: RequestContext, *, attachment_id: str) -> None:
        """Forget the attachment (missing is fine); the volume is ``available`` once it has
        no other attachment."""
        await self.call(ctx, "attachment_delete", attachment_id=attachment_id)

    async def attachment_delete_later(self, ctx: RequestContext, *, attachment_id: str,
                                      delete_volume: bool = False) -> None:
        """As ``attachment_delete``, as a durable cast that survives the volume service being
        down; with ``delete_volume`` the volume is deleted afterwards (a server deleted
        with ``delete_on_termination``)."""
        await self.cast(ctx, "attachment_delete_later", attachment_id=attachment_id,
                        delete_volume=delete_volume)

    async def list_attachments(self, ctx: RequestContext, *, instance_id: str
                               ) -> list[Attachment]:
        """The attachments of ``instance_id`` (admin)."""
        return [Attachment.from_wire(item) for item in await self.call(
            ctx, "list_attachments", instance_id=instance_id)]

    async def create_volume(self, ctx: RequestContext, *, request: VolumeRequest
                            ) -> VolumeSummary:
        """Create the volume ``request.id`` in the caller's project (from an image when
        ``image_id`` is set), or return it when it exists; it is ``creating`` until the
        backend has made it. Quota is checked (QuotaExceeded)."""
        return VolumeSummary.from_wire(await self.call(ctx, "create_volume",
                                                       request=request.to_wire()))

    async def delete_volume(self, ctx: RequestContext, *, volume_id: str) -> None:
        """Delete an ``available`` volume (missing is fine)."""
        await self.call(ctx, "delete_volume", volume_id=volume_id)

    async def delete_volume_later(self, ctx: RequestContext, *, volume_id: str) -> None:
        """As ``delete_volume``, as a durable cast that waits in the queue while the volume
        service is down and, once received, waits for a volume still ``creating`` to be
        made before deleting it (missing is fine). 1.1."""
        await self.cast(ctx, "delete_volume_later", version="1.1", volume_id=volume_id)
