"""The compute manager's part in volumes: attaching and detaching them, and connecting an
instance's volumes to this host whenever its guest is built here. Imports no transport.

Every call to the volume service is made under the context the message carried (the
user's), with this host's connector (``services/volume/contract.py`` has the whole flow):

- attach: ``attachment_update`` -> the driver mounts -> ``attachment_complete`` ->
  conductor ``volume_attached``; on any failure the mount is undone and the conductor told
  ``volume_attach_failed`` (it deletes the attachment).
- detach: the driver unmounts -> ``attachment_delete`` (``attachment_delete_later``, a
  durable cast, when that call fails) -> conductor ``volume_detached``.
- a build (``connect_volumes`` before the driver's spawn, ``complete_volumes`` after): every
  mapping of the instance is updated with this host's connector, so a moved, evacuated or
  unshelved instance takes its volumes along.

Each handler is idempotent: the driver's attach and detach are, and so are the volume
service's attachment calls.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from agents.compute.contract import BlockDevice, InstancePayload
from agents.compute.driver import ComputeDriver, GuestNotFound
from overcast import errors
from overcast.context import RequestContext
from services.volume.contract import ConnectionInfo, Connector

logger = logging.getLogger(__name__)


class VolumeHandlers:
    """Mixed into ``ComputeManager``, whose attributes these are."""

    host: str
    driver: ComputeDriver
    conductor: Any
    volumes: Any  # a VolumeAPI; None where no volume service is reachable
    fenced_guests: set[str] | None
    _terminated: set[str]

    def _reason(self, exc: BaseException) -> str:
        """What a failure says to the conductor (and so to the user)."""
        if isinstance(exc, errors.OvercastError):
            return exc.message
        if isinstance(exc, GuestNotFound):
            return f"guest {exc} is not on {self.host}"
        return str(exc) or type(exc).__name__

    def _volume_service(self) -> Any:
        if self.volumes is None:
            raise errors.ServiceUnavailable("this host has no volume service to attach with")
        return self.volumes

    def connector(self, instance_id: str, block_device: BlockDevice) -> Connector:
        """This host, as the volume service records where a volume is attached."""
        return Connector(host=self.host, mountpoint=block_device.device_name,
                         instance_id=instance_id)

    async def update_attachments(self, ctx: RequestContext, instance_id: str,
                                 block_devices: Sequence[BlockDevice]
                                 ) -> list[tuple[BlockDevice, ConnectionInfo]]:
        """Tell the volume service these volumes are being attached here: how to reach
        each (``attachment_update`` with this host's connector)."""
        service = self._volume_service() if block_devices else None
        return [(bdm, await service.attachment_update(
            ctx, attachment_id=bdm.attachment_id, connector=self.connector(instance_id, bdm)))
            for bdm in block_devices]

    async def complete_attachments(self, ctx: RequestContext,
                                   block_devices: Sequence[BlockDevice]) -> None:
        """The volumes are mounted here: ``attachment_complete`` (each volume ``in-use``)."""
        for bdm in block_devices:
            await self._volume_service().attachment_complete(
                ctx, attachment_id=bdm.attachment_id)

    async def connect_volumes(self, ctx: RequestContext, instance: InstancePayload
                              ) -> list[tuple[BlockDevice, ConnectionInfo]]:
        """Before a build: the instance's volumes with the connections this host mounts."""
        return await self.update_attachments(ctx, instance.id, instance.block_device_mapping)

    async def attach_volume(self, ctx: RequestContext, *, instance_id: str,
                            block_device: BlockDevice) -> None:
        """Attach a volume to a guest of this host and report it (see the module)."""
        volume_id = block_device.volume_id
        try:
            if instance_id in self._terminated:
                raise errors.Conflict(f"instance {instance_id} is being deleted")
            if self.fenced_guests is not None:
                raise errors.Conflict(f"host {self.host} is fenced")
            self.driver.get_info(instance_id)
            [(_, connection)] = await self.update_attachments(ctx, instance_id,
                                                              [block_device])
            await self.driver.attach_volume(instance_id, block_device=block_device,
                                            connection=connection)
            await self.complete_attachments(ctx, [block_device])
        except Exception as exc:  # noqa: BLE001 - any failure is reported
            reason = self._reason(exc)
            logger.warning("attaching volume %s to %s failed: %s", volume_id, instance_id,
                           reason)
            await self._undo_attach(instance_id, volume_id)
            await self.conductor.volume_attach_failed(ctx, instance_id=instance_id,
                                                      volume_id=volume_id, host=self.host,
                                                      reason=reason)
            return
        logger.info("volume %s attached to %s", volume_id, instance_id)
        await self.conductor.volume_attached(ctx, instance_id=instance_id,
                                             volume_id=volume_id, host=self.host)

    async def _undo_attach(self, instance_id: str, volume_id: str) -> None:
        try:
            await self.driver.detach_volume(instance_id, volume_id=volume_id)
        except GuestNotFound:
            pass
        except Exception as exc:  # noqa: BLE001 - the failure reported is the attach's
            logger.error("volume %s of %s could not be released after a failed attach: %s",
                         volume_id, instance_id, self._reason(exc))

    async def detach_volume(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                            attachment_id: str) -> None:
        """Detach a volume from a guest of this host and report it (see the module). When
        the driver cannot release it (the guest holds it), nothing is reported: the volume
        stays attached and a later detach is needed."""
        try:
            await self.driver.detach_volume(instance_id, volume_id=volume_id)
        except GuestNotFound:
            pass  # no guest here: nothing of it is mounted on this host
        except Exception as exc:  # noqa: BLE001 - the volume stays where it is
            logger.error("volume %s could not be detached from %s: %s", volume_id,
                         instance_id, self._reason(exc))
            return
        try:
            await self._volume_service().attachment_delete(ctx, attachment_id=attachment_id)
        except Exception as exc:  # noqa: BLE001 - the durable cast takes it over
            logger.warning("attachment %s not deleted now (%s): queued", attachment_id,
                           self._reason(exc))
            await self._volume_service().attachment_delete_later(
                ctx, attachment_id=attachment_id)
        logger.info("volume %s detached from %s", volume_id, instance_id)
        await self.conductor.volume_detached(ctx, instance_id=instance_id,
                                             volume_id=volume_id, host=self.host)

    async def reattach_here(self, ctx: RequestContext, instance_id: str, start: Any) -> None:
        """A guest kept here comes back (a reverted move): its volumes are attached to this
        host again (``attachment_update``), ``start()`` mounts them as the guest starts, and
        the attachments are completed."""
        block_devices = self.driver.attached_volumes(instance_id)
        await self.update_attachments(ctx, instance_id, block_devices)
        await start()
        await self.complete_attachments(ctx, block_devices)
