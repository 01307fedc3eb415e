"""Attaching and detaching volumes of existing servers (Nova's ``attach_volume`` and
``detach_volume``), the hosts' reports of them, and a sweeper for reports that never come.

1. ``attach``: the server's state, lock and host checked (409), the volume reserved for it
   under the caller's context (the volume service's 400 or 404 passes through), a device name
   chosen, the mapping recorded ``attaching`` with an ``attach_volume`` action, and
   ``compute.attach_volume`` cast to its host, which answers ``volume_attached`` or
   ``volume_attach_failed``. An offloaded server (no host) keeps the mapping ``reserved``:
   its next host attaches it.
2. ``detach``: the mapping ``detaching`` with a ``detach_volume`` action, and
   ``compute.detach_volume`` cast; the host unmounts, deletes the attachment and answers
   ``volume_detached``. Without a host the attachment is deleted here at once.
3. ``sweep``: a mapping left ``attaching`` or ``detaching`` past the timeout has its cast
   sent once more, then is given up: an attach is undone (mapping dropped, attachment
   deleted); a detach whose host is down or gone is finished without it; one whose host is
   up but silent goes back to ``attached``.

Nothing is ever left reserved: whatever fails after the reservation deletes the attachment.
Imports no transport.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from agents.compute.contract import BlockDevice
from overcast import errors
from overcast.clock import iso, utcnow
from overcast.context import RequestContext
from services.conductor import actions, states
from services.conductor import block_devices as bdm
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore
from services.conductor.peers import Peers
from services.conductor.queries import Queries

logger = logging.getLogger(__name__)

ATTACH = "attach_volume"
DETACH = "detach_volume"
EVENT_ATTACH = "compute_attach_volume"
EVENT_DETACH = "compute_detach_volume"
EVENT_API_ATTACH = "api_attach_volume"  # Nova's, for a server with no host
EVENT_API_DETACH = "api_detach_volume"
STUCK_AFTER = 120.0  # seconds a host has to answer an attach or detach


def _not_attached(instance_id: str, volume_id: str) -> errors.NotFound:
    return errors.NotFound(f"Instance {instance_id} is not attached to volume {volume_id}")


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Volumes:
    store: InstanceStore
    hosts: HostTracker
    peers: Peers
    queries: Queries

    # -- attach ----------------------------------------------------------------------------

    async def attach(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                     device: str | None = None, tag: str | None = None,
                     delete_on_termination: bool = False) -> dict:
        """Attach ``volume_id`` (see the module's docstring); the recorded mapping."""
        inst = self.queries.visible(ctx, instance_id)
        self._check(ctx, inst, ATTACH)
        if tag and inst["vm_state"] == states.SHELVED_OFFLOADED:
            raise errors.BadRequest("Tagged volume attachment is not supported for "
                                    "shelved-offloaded instances.")
        mappings = bdm.of(inst)
        if bdm.find(mappings, volume_id) is not None:
            raise errors.BadRequest(f"Invalid volume: volume {volume_id} already attached")
        if device is not None:
            bdm.checked_free(mappings, device, volume_backed=bdm.root(mappings) is not None)
        if inst["host"] and not self.hosts.compute_is_up(inst["host"]):
            raise errors.Conflict("Service is unavailable at this time.")
        attachment = await self.peers.volume.reserve(ctx, volume_id=volume_id,
                                                     instance_id=instance_id)
        try:
            mapping = self._record_attach(ctx, instance_id, volume_id=volume_id,
                                          attachment_id=attachment.id, device=device,
                                          tag=tag, delete_on_termination=delete_on_termination)
        except BaseException:
            # A repeated reserve answers the same attachment: delete it only if no mapping
            # (a concurrent attach of the same volume) holds it.
            if not self._holds(instance_id, attachment.id):
                await self.peers.volume.attachment_delete_later(ctx,
                                                                attachment_id=attachment.id)
            raise
        if mapping["status"] == bdm.ATTACHING:
            await self._cast_attach(ctx, instance_id, mapping)
        logger.info("instance %s: volume %s %s as %s", instance_id, volume_id,
                    mapping["status"], mapping["device_name"])
        return mapping

    def _check(self, ctx: RequestContext, inst: dict, action: str) -> None:
        states.check_lock(locked=inst["locked"], is_admin=ctx.is_admin,
                          instance_id=inst["id"])
        states.check_action(action, vm_state=inst["vm_state"], task_state=inst["task_state"],
                            instance_id=inst["id"])

    def _holds(self, instance_id: str, attachment_id: str) -> bool:
        inst = self.store.get(instance_id)
        return inst is not None and any(m.get("attachment_id") == attachment_id
                                        for m in bdm.of(inst))

    def _record_attach(self, ctx: RequestContext, instance_id: str, *, volume_id: str,
                       attachment_id: str, device: str | None, tag: str | None,
                       delete_on_termination: bool) -> dict:
        with self.store.edit_existing(instance_id) as (session, row):
            # Checked again: the instance may have changed while the volume was reserved.
            self._check(ctx, self.store.get(instance_id), ATTACH)
            mappings = bdm.of(row)
            if bdm.find(mappings, volume_id) is not None:
                raise errors.BadRequest(f"Invalid volume: volume {volume_id} already attached")
            backed = bdm.root(mappings) is not None
            device = (bdm.checked_free(mappings, device, volume_backed=backed)
                      if device is not None else bdm.next_device(mappings))
            mapping = bdm.new_mapping(
                volume_id=volume_id, attachment_id=attachment_id, device_name=device,
                status=bdm.ATTACHING if row.host else bdm.RESERVED, host=row.host, tag=tag,
                delete_on_termination=delete_on_termination)
            mapping["request_id"] = ctx.request_id
            row.block_device_mapping = [*mappings, mapping]
            actions.start_action(session, ctx, instance_id=instance_id, action=ATTACH)
            if row.host:
                actions.start_event(session, instance_id=instance_id, action=ATTACH,
                                    event=EVENT_ATTACH, host=row.host)
            else:
                actions.finish_event(session, instance_id=instance_id, action=ATTACH,
                                     event=EVENT_API_ATTACH, host=None,
                                     request_id=ctx.request_id)
            return mapping

    async def _cast_attach(self, ctx: RequestContext, instance_id: str, mapping: dict
                           ) -> None:
        try:
            await self.peers.compute.attach_volume(
                ctx, host=mapping["host"], instance_id=instance_id,
                block_device=BlockDevice.from_wire(mapping))
        except (errors.OvercastError, TimeoutError, ConnectionError) as exc:
            # Recorded already: the sweeper sends it again.
            logger.warning("attach of %s to %s not sent to %s yet: %s", mapping["volume_id"],
                           instance_id, mapping["host"], exc)

    # -- detach ----------------------------------------------------------------------------

    async def detach(self, ctx: RequestContext, *, instance_id: str, volume_id: str) -> None:
        """Start detaching ``volume_id``: 404 when it is not attached, 400 for the root
        volume or one still being attached or detached, 409 for the state, a lock, or a
        host that is down."""
        inst = self.queries.visible(ctx, instance_id)
        mapping = bdm.find(bdm.of(inst), volume_id)
        if mapping is None:
            raise _not_attached(instance_id, volume_id)
        if mapping.get("boot_index") == 0:
            raise errors.BadRequest("Cannot detach a root device volume")
        self._check(ctx, inst, DETACH)
        if mapping["status"] in (bdm.ATTACHING, bdm.DETACHING):
            raise errors.BadRequest(f"Invalid volume: volume {volume_id} is "
                                    f"{mapping['status']}")
        host = inst["host"]
        if host and not self.hosts.compute_is_up(host):
            raise errors.Conflict("Service is unavailable at this time.")
        with self.store.edit_existing(instance_id) as (session, row):
            mappings = bdm.of(row)
            mapping = bdm.find(mappings, volume_id)
            if mapping is None:
                raise _not_attached(instance_id, volume_id)
            if mapping["status"] in (bdm.ATTACHING, bdm.DETACHING) or row.host != host:
                raise errors.Conflict(f"Instance {instance_id} changed meanwhile: try again")
            actions.start_action(session, ctx, instance_id=instance_id, action=DETACH)
            if host:
                row.block_device_mapping = bdm.changed(
                    mappings, volume_id, status=bdm.DETACHING, host=host, retried=False,
                    request_id=ctx.request_id)
                actions.start_event(session, instance_id=instance_id, action=DETACH,
                                    event=EVENT_DETACH, host=host)
            else:
                row.block_device_mapping = bdm.without(mappings, volume_id)
                actions.finish_event(session, instance_id=instance_id, action=DETACH,
                                     event=EVENT_API_DETACH, host=None,
                                     request_id=ctx.request_id)
        if host:
            await self.peers.compute.detach_volume(
                ctx, host=host, instance_id=instance_id, volume_id=volume_id,
                attachment_id=mapping["attachment_id"])
        elif mapping.get("attachment_id"):
            await self.peers.volume.attachment_delete_later(
                ctx, attachment_id=mapping["attachment_id"])
        logger.info("instance %s: volume %s detaching", instance_id, volume_id)

    # -- what hosts report -----------------------------------------------------------------

    def _pending(self, inst: object, volume_id: str, status: str, host: str) -> dict | None:
        """The mapping of ``volume_id`` if it waits for ``host``'s report of ``status``."""
        if inst is None:
            return None
        mapping = bdm.find(bdm.of(inst), volume_id)
        if mapping is None or mapping["status"] != status or mapping.get("host") != host:
            return None
        return mapping

    async def attached(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                       host: str) -> None:
        """``host`` mounted the volume. Idempotent: a report nobody waits for is ignored."""
        with self.store.edit(instance_id) as (session, row):
            mapping = self._pending(row, volume_id, bdm.ATTACHING, host)
            if mapping is None:
                return
            row.block_device_mapping = bdm.changed(
                bdm.of(row), volume_id, status=bdm.ATTACHED, attached_at=iso(utcnow()),
                retried=False)
            actions.finish_event(session, instance_id=instance_id, action=ATTACH,
                                 event=EVENT_ATTACH, host=host,
                                 request_id=mapping.get("request_id"))
        logger.info("instance %s: volume %s attached on %s", instance_id, volume_id, host)

    async def attach_failed(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                            host: str, reason: str) -> None:
        """``host`` could not attach the volume: the mapping is dropped and the attachment
        deleted, so the volume is available again."""
        with self.store.edit(instance_id) as (session, row):
            mapping = self._pending(row, volume_id, bdm.ATTACHING, host)
            if mapping is None:
                return
            row.block_device_mapping = bdm.without(bdm.of(row), volume_id)
            actions.finish_event(session, instance_id=instance_id, action=ATTACH,
                                 event=EVENT_ATTACH, host=host, error=reason,
                                 request_id=mapping.get("request_id"))
        await self.peers.volume.attachment_delete_later(
            ctx, attachment_id=mapping["attachment_id"])
        logger.warning("instance %s: attach of volume %s failed on %s: %s", instance_id,
                       volume_id, host, reason)

    async def detached(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                       host: str) -> None:
        """``host`` unmounted the volume and deleted its attachment."""
        with self.store.edit(instance_id) as (session, row):
            mapping = self._pending(row, volume_id, bdm.DETACHING, host)
            if mapping is None:
                return
            row.block_device_mapping = bdm.without(bdm.of(row), volume_id)
            actions.finish_event(session, instance_id=instance_id, action=DETACH,
                                 event=EVENT_DETACH, host=host,
                                 request_id=mapping.get("request_id"))
        # The host deleted it; repeated in case it could not (deleting twice is harmless).
        await self.peers.volume.attachment_delete_later(
            ctx, attachment_id=mapping["attachment_id"])
        logger.info("instance %s: volume %s detached from %s", instance_id, volume_id, host)

    # -- reports that never come -----------------------------------------------------------

    async def sweep(self, *, timeout: float = STUCK_AFTER) -> None:
        """Resend, then give up, attaches and detaches no host answered within ``timeout``
        seconds (see the module's docstring). Safe to run at any time."""
        ctx = RequestContext.admin()
        now = utcnow()
        for inst in self.store.live():
            if inst["task_state"] is not None:
                continue  # a delete releases every volume; a build or move attaches them
            for mapping in bdm.of(inst):
                if mapping["status"] not in (bdm.ATTACHING, bdm.DETACHING):
                    continue
                since = dt.datetime.fromisoformat(mapping["updated_at"])
                if (now - since).total_seconds() > timeout:
                    await self._unstick(ctx, inst, mapping)

    async def _unstick(self, ctx: RequestContext, inst: dict, mapping: dict) -> None:
        host, volume_id = mapping.get("host"), mapping["volume_id"]
        here = inst["host"]
        up = bool(here) and self.hosts.compute_is_up(here)
        if mapping["status"] == bdm.ATTACHING:
            if not here:
                self._set(inst["id"], mapping, status=bdm.RESERVED, host=None)  # offloaded
            elif up and not mapping.get("retried"):
                resent = self._set(inst["id"], mapping, retried=True, host=here)
                if resent is not None:
                    await self._cast_attach(ctx, inst["id"], resent)
            else:
                await self.attach_failed(ctx, instance_id=inst["id"], volume_id=volume_id,
                                         host=host, reason=f"host {host} did not attach the "
                                         "volume in time")
            return
        if host != here or not up:  # the guest is gone from that host, or the host is down
            await self._finish_detach(ctx, inst["id"], mapping,
                                      details=f"host {host} is down or no longer runs the "
                                      "guest: the volume was detached without it")
        elif not mapping.get("retried"):
            if self._set(inst["id"], mapping, retried=True) is not None:
                await self.peers.compute.detach_volume(
                    ctx, host=host, instance_id=inst["id"], volume_id=volume_id,
                    attachment_id=mapping["attachment_id"])
        else:
            self._detach_failed(inst["id"], mapping, f"host {host} did not detach the volume "
                                "in time")

    def _set(self, instance_id: str, seen: dict, **changes: object) -> dict | None:
        """Change the mapping if it is still as ``seen``; the new mapping, else None."""
        with self.store.edit(instance_id) as (_session, row):
            if row is None:
                return None
            current = bdm.find(bdm.of(row), seen["volume_id"])
            if current is None or current["updated_at"] != seen["updated_at"]:
                return None
            row.block_device_mapping = bdm.changed(bdm.of(row), seen["volume_id"], **changes)
            return bdm.find(row.block_device_mapping, seen["volume_id"])

    async def _finish_detach(self, ctx: RequestContext, instance_id: str, seen: dict, *,
                             details: str) -> None:
        with self.store.edit(instance_id) as (session, row):
            if row is None or bdm.find(bdm.of(row), seen["volume_id"]) != seen:
                return
            row.block_device_mapping = bdm.without(bdm.of(row), seen["volume_id"])
            actions.finish_event(session, instance_id=instance_id, action=DETACH,
                                 event=EVENT_DETACH, host=seen.get("host"), details=details,
                                 request_id=seen.get("request_id"))
        await self.peers.volume.attachment_delete_later(ctx,
                                                        attachment_id=seen["attachment_id"])
        logger.warning("instance %s: volume %s: %s", instance_id, seen["volume_id"], details)

    def _detach_failed(self, instance_id: str, seen: dict, reason: str) -> None:
        with self.store.edit(instance_id) as (session, row):
            if row is None or bdm.find(bdm.of(row), seen["volume_id"]) != seen:
                return
            row.block_device_mapping = bdm.changed(bdm.of(row), seen["volume_id"],
                                                   status=bdm.ATTACHED, retried=False)
            actions.finish_event(session, instance_id=instance_id, action=DETACH,
                                 event=EVENT_DETACH, host=seen.get("host"), error=reason,
                                 request_id=seen.get("request_id"))
        logger.warning("instance %s: volume %s: %s; it stays attached", instance_id,
                       seen["volume_id"], reason)
