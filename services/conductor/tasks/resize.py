"""Resize and cold migration, confirmed or reverted: Nova's move operations in small.

1. ``start``: checked, recorded as a ``resize``/``migrate`` action and a migration record;
   the destination is scheduled with the new flavor (the source excluded unless it is the
   only host), its claim held under the migration's uuid, as Nova's placement does.
2. The source stops the guest, keeps it for a revert, and says how the disk travels
   (``moveOut``): shared storage stays where it is; a local disk goes as a temporary
   snapshot image.
3. The destination spawns it (from that image, or reusing the shared disk): VERIFY_RESIZE.
4. ``confirm`` frees the source (its guest, its claim, the temporary image); ``revert``
   destroys the destination's guest, then restarts the source's with the old flavor.

A move that fails before the destination runs the guest leaves the instance where it was,
with the migration in error and the event saying why (never ERROR, never stuck); one that
fails on the destination is reverted. Imports no transport.
"""
from __future__ import annotations

import dataclasses
import logging

from agents.compute.contract import SHUTDOWN
from overcast import errors
from overcast.context import RequestContext
from services.conductor import actions, migrations, states
from services.conductor import block_devices as bdm
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore
from services.conductor.peers import Peers
from services.conductor.queries import Queries
from services.conductor.resources import ComputeResources
from services.conductor.tasks.build import TRANSIENT, BuildTask, port_request
from services.conductor.tasks.resize_outcome import (
    EVENT_FINISH,
    EVENT_REVERT,
    IN_PLACE,
    ResizeOutcome,
    move_spec,
)

logger = logging.getLogger(__name__)

EVENT_PREP = "conductor_migrate_server"
EVENT_MOVE_OUT = "compute_resize_instance"


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Resizer(ResizeOutcome):
    store: InstanceStore
    hosts: HostTracker
    queries: Queries
    resources: ComputeResources
    builds: BuildTask
    peers: Peers

    def hooks(self) -> dict:
        """The host reports (``guest_action_done``) of a move's steps, by action."""
        return {"moveOut": self.moved_out, "dropMovedGuest": self.dropped_on_dest,
                "revertResize": self.reverted_on_source}

    # -- start -----------------------------------------------------------------------------

    async def start(self, ctx: RequestContext, *, instance_id: str,
                    flavor_id: str | None = None, host: str | None = None) -> None:
        """Resize to ``flavor_id``, or cold-migrate (None; to ``host`` if given). 400 for
        the same flavor or a smaller disk, 409 for the wrong state or a lock."""
        action = "resize" if flavor_id is not None else "migrate"
        inst = self.queries.visible(ctx, instance_id)
        old = inst["flavor"]
        new = self.resources.get_flavor_for_boot(ctx, flavor_id) if flavor_id else old
        if flavor_id is not None:
            if new["id"] == old["id"]:
                raise errors.BadRequest("When resizing, instances must change flavor!")
            if new["disk"] < old["disk"] and not bdm.is_volume_backed(inst):
                raise errors.BadRequest("Resizing to a smaller disk flavor is not allowed.")
        if host is not None and host not in self.hosts.compute_status():
            raise errors.BadRequest(f"Compute host {host} could not be found.")
        with self.store.edit(instance_id) as (session, row):
            states.check_lock(locked=row.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
            states.check_action(action, vm_state=row.vm_state, task_state=row.task_state,
                                instance_id=instance_id)
            if row.host is None:
                raise errors.Conflict(f"Instance {instance_id} has no host")
            if host is not None and host == row.host:
                raise errors.BadRequest("The target host can't be the same one.")
            row.task_state = states.RESIZE_PREP
            record = migrations.start(
                session, instance_id=instance_id, source=row.host, project_id=row.project_id,
                user_id=ctx.user_id, migration_type="resize" if flavor_id else "migration",
                old_flavor_id=old["id"], new_flavor_id=new["id"])
            record.status = "pre-migrating"
            actions.start_action(session, ctx, instance_id=instance_id, action=action)
            actions.start_event(session, instance_id=instance_id, action=action,
                                event=EVENT_PREP, host=None)
            consumer = record.uuid
        self.builds.run(instance_id, self._schedule(ctx, instance_id, action=action,
                                                    flavor=new, consumer=consumer,
                                                    force_host=host),
                        action=action, event=EVENT_PREP)

    async def _schedule(self, ctx: RequestContext, instance_id: str, *, action: str,
                        flavor: dict, consumer: str, force_host: str | None) -> None:
        inst = self.store.get(instance_id)
        if inst is None or inst["task_state"] != states.RESIZE_PREP:
            return
        source = inst["host"]
        status = self.hosts.compute_status()
        usable = [h for h, s in status.items() if s["up"] and not s["disabled"]]
        ignore = () if usable == [source] else (source,)
        try:
            dest = await self.peers.scheduler.select_destination(
                ctx, spec=move_spec(consumer, inst, flavor, ignore=ignore,
                                force=(force_host,) if force_host else ()),
                host_status=status, timeout=self.builds.limits.scheduler_timeout)
        except (errors.NoValidHost, *TRANSIENT) as exc:
            await self._abort(ctx, instance_id, event=EVENT_PREP, host=None,
                              reason=getattr(exc, "message", None) or str(exc),
                              consumer=consumer)
            return
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.task_state != states.RESIZE_PREP:
                await self.peers.scheduler.release(ctx, instance_id=consumer)
                return
            row.task_state = states.RESIZE_MIGRATING
            migrations.set_status(session, instance_id, "migrating", dest=dest)
            actions.finish_event(session, instance_id=instance_id, action=action,
                                 event=EVENT_PREP, host=None)
            actions.start_event(session, instance_id=instance_id, action=action,
                                event=EVENT_MOVE_OUT, host=source)
        logger.info("moving %s from %s to %s (%s)", instance_id, source, dest, action)
        if dest == source:  # the only host: the guest is restarted on its own disk
            await self.moved_out(ctx, instance_id=instance_id, host=source,
                                 power_state=inst["power_state"], error=None,
                                 result={"storage": IN_PLACE})
            return
        await self.peers.compute.guest_action(ctx, host=source, instance_id=instance_id,
                                              action="moveOut")

    async def _abort(self, ctx: RequestContext, instance_id: str, *, event: str,
                     host: str | None, reason: str, consumer: str | None,
                     power_state: int | None = None) -> None:
        """The move failed before the destination ran the guest: it stays where it was."""
        with self.store.edit(instance_id) as (session, row):
            if row is None:
                return
            row.task_state = None
            if power_state is not None:
                row.power_state = power_state
                if power_state == SHUTDOWN and row.vm_state == states.ACTIVE:
                    row.vm_state = states.STOPPED  # the source stopped it: say so
            migrations.set_status(session, instance_id, "error")
            owner = actions.open_event_action(session, instance_id=instance_id, event=event)
            if owner:
                actions.finish_event(session, instance_id=instance_id, action=owner,
                                     event=event, host=host, error=reason)
        if consumer:
            await self.peers.scheduler.release(ctx, instance_id=consumer)
        logger.warning("move of %s failed: %s", instance_id, reason)

    # -- the source answered ---------------------------------------------------------------

    async def moved_out(self, ctx: RequestContext, *, instance_id: str, host: str,
                        power_state: int, error: str | None, result: dict) -> None:
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.host != host or row.task_state != states.RESIZE_MIGRATING:
                return
            record = migrations.current(session, instance_id)
            consumer, dest = record.uuid, record.dest_compute
            new_flavor_id, action = record.new_flavor_id, _action(record)
        if error is not None:
            await self._abort(ctx, instance_id, event=EVENT_MOVE_OUT, host=host, reason=error,
                              consumer=consumer, power_state=power_state)
            return
        flavor = self.resources.get_flavor(RequestContext.admin(), new_flavor_id)
        in_place = result.get("storage") == IN_PLACE
        shared = in_place or result.get("storage") == "shared"
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.task_state != states.RESIZE_MIGRATING:
                return
            row.old_flavor, row.flavor = row.flavor, flavor
            row.move_source, row.host = host, dest
            row.move_image_id = result.get("image_id")
            row.task_state = states.RESIZE_FINISH
            migrations.set_status(session, instance_id, "post-migrating")
            actions.finish_event(session, instance_id=instance_id, action=action,
                                 event=EVENT_MOVE_OUT, host=host)
            actions.start_event(session, instance_id=instance_id, action=action,
                                event=EVENT_FINISH, host=dest)
            ports = port_request(row)
        try:
            payload = await self.builds.bind_ports(ctx, instance_id, host=dest, **ports)
        except errors.OvercastError as exc:
            await self.finish_failed(ctx, instance_id=instance_id, host=dest,
                                     reason=f"Port binding failed: {exc.message}")
            return
        if payload is None:
            return
        image = payload["move_image_id"] or payload["image_ref"]
        await self.builds.send_to_host(ctx, host=dest, instance={**payload, "image_ref": image},
                                       reuse_disk=shared, respawn=in_place,
                                       stopped=payload["vm_state"] == states.STOPPED)

    async def finish_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                            reason: str) -> None:
        """The destination could not run the guest: back to the source, as a revert."""
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.host != host or row.task_state != states.RESIZE_FINISH:
                return
            owner = actions.open_event_action(session, instance_id=instance_id,
                                              event=EVENT_FINISH) or "resize"
            actions.finish_event(session, instance_id=instance_id, action=owner,
                                 event=EVENT_FINISH, host=host, error=reason)
            row.task_state = states.RESIZE_REVERTING
            actions.start_event(session, instance_id=instance_id, action=owner,
                                event=EVENT_REVERT, host=host)
        logger.warning("move of %s failed on %s (%s): reverting", instance_id, host, reason)
        await self.dropped_on_dest(ctx, instance_id=instance_id, host=host, power_state=0,
                                   error=None, result={}, status="error")

def _action(record: object) -> str:
    return "resize" if getattr(record, "migration_type", "") == "resize" else "migrate"
