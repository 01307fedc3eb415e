"""The volumes a server boots with: existing ones reserved when it is admitted, new ones
(from an image, or blank) made by its build, and all of them released when it is deleted.

- ``reserve`` (admission): each existing volume is checked (it must exist for the caller, and
  a root volume be bootable) and reserved for the new instance, all or nothing: on any
  refusal the reservations already made are deleted and the error raised.
- ``make`` (build, before scheduling): each volume the build makes is created (idempotent by
  its id), waited for until ``available`` within the build's deadline, and reserved.
- ``release`` (delete): every attachment is deleted by a durable cast, the volume with it
  when ``delete_on_termination``.

Imports no transport: the volume service is ``peers.volume``.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable

from overcast import errors
from overcast.clock import utcnow
from overcast.context import RequestContext
from services.conductor import block_devices as bdm
from services.conductor.instances import InstanceStore
from services.conductor.peers import Peers
from services.volume.contract import AVAILABLE, ERROR, VolumeRequest

logger = logging.getLogger(__name__)

TRANSIENT = (TimeoutError, ConnectionError, errors.ServiceUnavailable)


class VolumeNotReady(Exception):
    """A volume the build made did not become available: the build fails with this."""


def owner_context(ctx: RequestContext, instance: dict) -> RequestContext:
    """``ctx`` when it is the instance's project's; else (recovery acts as the system) a
    context of the instance's owner, so its volumes are made in its project."""
    if ctx.project_id == instance["project_id"]:
        return ctx
    return RequestContext(request_id=ctx.request_id, user_id=instance["user_id"],
                          project_id=instance["project_id"], roles=("member",),
                          global_request_id=ctx.global_request_id)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class BootVolumes:
    store: InstanceStore
    peers: Peers
    poll_interval: float = 1.0  # seconds between looks at a volume being made

    # -- admission -------------------------------------------------------------------------

    async def reserve(self, ctx: RequestContext, templates: list[dict], *, instance_id: str
                      ) -> list[dict]:
        """``templates`` with each existing volume reserved for ``instance_id``; nothing
        stays reserved when it raises (BadRequest, or the volume service's error)."""
        reserved: list[dict] = []
        try:
            for template in templates:
                if template["source_type"] != "volume":
                    reserved.append(template)
                    continue
                reserved.append(await self._reserve_one(ctx, template, instance_id))
        except BaseException:
            await self.release(ctx, reserved, delete_volumes=False)
            raise
        return reserved

    async def _reserve_one(self, ctx: RequestContext, template: dict, instance_id: str
                           ) -> dict:
        volume_id = template["volume_id"]
        invalid = errors.BadRequest(f"Block Device Mapping is Invalid: failed to get volume "
                                    f"{volume_id}.")
        try:
            volume = await self.peers.volume.get_volume(ctx, volume_id=volume_id)
        except errors.NotFound:
            raise invalid from None
        if template["boot_index"] == 0 and not volume.bootable:
            raise errors.BadRequest(f"Block Device {volume_id} is not bootable.")
        try:
            attachment = await self.peers.volume.reserve(ctx, volume_id=volume_id,
                                                         instance_id=instance_id)
        except errors.NotFound:
            raise invalid from None
        return {**template, "attachment_id": attachment.id, "volume_size": volume.size,
                "image_id": volume.image_id}

    # -- build -----------------------------------------------------------------------------

    async def make(self, ctx: RequestContext, instance_id: str, *, deadline: dt.datetime
                   ) -> None:
        """Make and reserve the instance's volumes that have no attachment yet (none when
        they all have one). Raises ``VolumeNotReady`` for a volume that failed or was not
        ready by ``deadline``, and the volume service's errors (QuotaExceeded...)."""
        inst = self.store.get(instance_id)
        if inst is None:
            return
        owner = owner_context(ctx, inst)
        for mapping in bdm.of(inst):
            if mapping.get("attachment_id"):
                continue
            if mapping["source_type"] != "volume":
                await self._create(owner, inst, mapping, deadline=deadline)
            attachment = await self._retrying(deadline, lambda m=mapping: self.peers.volume.
                                              reserve(owner, volume_id=m["volume_id"],
                                                      instance_id=instance_id))
            with self.store.edit(instance_id) as (_session, row):
                if row is None:  # deleted meanwhile: its delete found no attachment
                    await self.peers.volume.attachment_delete_later(
                        owner, attachment_id=attachment.id,
                        delete_volume=mapping["delete_on_termination"])
                    return
                row.block_device_mapping = bdm.changed(bdm.of(row), mapping["volume_id"],
                                                       attachment_id=attachment.id)
            logger.info("instance %s: volume %s made and reserved", instance_id,
                        mapping["volume_id"])

    async def _create(self, ctx: RequestContext, inst: dict, mapping: dict, *,
                      deadline: dt.datetime) -> None:
        volume_id = mapping["volume_id"]
        name = f"{inst['id']}-blank-vol" if mapping["source_type"] == "blank" else ""
        request = VolumeRequest(id=volume_id, size=int(mapping["volume_size"]), name=name,
                                image_id=mapping.get("image_id"))
        volume = await self._retrying(deadline, lambda: self.peers.volume.create_volume(
            ctx, request=request))
        started, attempts = utcnow(), 1
        while volume.status != AVAILABLE:
            if volume.status == ERROR or utcnow() > deadline:
                waited = int((utcnow() - started).total_seconds())
                raise VolumeNotReady(
                    f"Volume {volume_id} did not finish being created even after we waited "
                    f"{waited} seconds or {attempts} attempts. And its status is "
                    f"{volume.status}.")
            await asyncio.sleep(self.poll_interval)
            attempts += 1
            volume = await self._retrying(deadline, lambda: self.peers.volume.get_volume(
                ctx, volume_id=volume_id))

    async def _retrying(self, deadline: dt.datetime, call):  # noqa: ANN001, ANN202
        """``call()``, tried again while the volume service is unreachable, until
        ``deadline``."""
        delay = self.poll_interval
        while True:
            try:
                return await call()
            except TRANSIENT as exc:
                if utcnow() > deadline:
                    raise VolumeNotReady(f"The volume service did not answer before the "
                                         f"build's deadline ({exc})") from None
                logger.warning("volume service unavailable (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- delete ----------------------------------------------------------------------------

    async def release(self, ctx: RequestContext, mappings: Iterable[dict], *,
                      delete_volumes: bool = True) -> None:
        """Delete each mapping's attachment (durable casts), and with ``delete_volumes``
        the volumes marked ``delete_on_termination``; a volume the build made but never
        reserved is deleted directly, as far as the volume service lets it."""
        for mapping in mappings:
            delete = delete_volumes and bool(mapping.get("delete_on_termination"))
            if mapping.get("attachment_id"):
                await self.peers.volume.attachment_delete_later(
                    ctx, attachment_id=mapping["attachment_id"], delete_volume=delete)
            elif delete and mapping.get("volume_id") and mapping["source_type"] != "volume":
                # Possibly still being made: deleted once it is, even if the volume service
                # is down now.
                await self.peers.volume.delete_volume_later(ctx,
                                                            volume_id=mapping["volume_id"])
