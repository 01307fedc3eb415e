"""How a resize or cold migration ends: confirmed (the source forgets its guest, the claims
move to the destination) or reverted (the destination's guest destroyed, the source's
restarted with the old flavor). Mixed into ``tasks.resize.Resizer``; imports no transport.
"""
from __future__ import annotations

import logging
from typing import Any

from agents.compute.contract import SHUTDOWN
from overcast import errors
from overcast.context import RequestContext
from services.conductor import actions, migrations, states
from services.conductor import block_devices as bdm
from services.conductor.instances import instance_dict
from services.conductor.tasks.build import TRANSIENT
from services.scheduler.contract import RequestSpec

logger = logging.getLogger(__name__)

EVENT_FINISH = "compute_finish_resize"
EVENT_CONFIRM = "compute_confirm_resize"
EVENT_REVERT = "compute_revert_resize"
EVENT_FINISH_REVERT = "compute_finish_revert_resize"
IN_PLACE = "in-place"  # a move to the same host: the disk never leaves


def move_spec(consumer: str, inst: dict, flavor: dict, *, ignore: tuple[str, ...] = (),
              force: tuple[str, ...] = ()) -> RequestSpec:
    """What the scheduler is asked to claim for a move, under ``consumer`` (the migration's
    uuid while the move is open, the instance's own id after a confirm); no root disk for a
    server booted from a volume."""
    return RequestSpec(instance_id=consumer, vcpus=flavor["vcpus"], memory_mb=flavor["ram"],
                       disk_gb=0 if bdm.is_volume_backed(inst) else flavor["disk"],
                       availability_zone=inst["availability_zone"],
                       ignore_hosts=ignore, force_hosts=force)


class ResizeOutcome:
    """Confirm and revert, and the host reports of a revert's two steps."""

    store: Any
    hosts: Any
    queries: Any
    builds: Any
    peers: Any

    async def confirm(self, ctx: RequestContext, *, instance_id: str) -> None:
        """Keep the move: the source forgets its guest, the claims move to the destination."""
        self.queries.visible(ctx, instance_id)
        with self.store.edit(instance_id) as (session, row):
            states.check_lock(locked=row.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
            states.check_action("confirmResize", vm_state=row.vm_state,
                                task_state=row.task_state, instance_id=instance_id)
            source, image_id, dest = row.move_source, row.move_image_id, row.host
            record = migrations.set_status(session, instance_id, "confirmed")
            consumer = record.uuid if record is not None else None
            actions.start_action(session, ctx, instance_id=instance_id, action="confirmResize")
            actions.finish_event(session, instance_id=instance_id, action="confirmResize",
                                 event=EVENT_CONFIRM, host=source)
            row.vm_state = states.STOPPED if row.power_state == SHUTDOWN else states.ACTIVE
            row.move_source = row.old_flavor = row.move_image_id = None
            inst = instance_dict(row)
        scheduler = self.peers.scheduler
        await scheduler.release(ctx, instance_id=instance_id)  # the source's claim
        if consumer:
            await scheduler.release(ctx, instance_id=consumer)
        try:  # the destination's resources, now under the instance's own name
            await scheduler.select_destination(
                ctx, spec=move_spec(instance_id, inst, inst["flavor"], force=(dest,)),
                host_status=self.hosts.compute_status(),
                timeout=self.builds.limits.scheduler_timeout)
        except (errors.NoValidHost, *TRANSIENT) as exc:
            logger.warning("could not move the claim of %s to %s: %s", instance_id, dest, exc)
        if source and source != dest:
            await self.peers.compute.drop_guest(ctx, host=source, instance_id=instance_id,
                                                image_id=image_id)

    async def revert(self, ctx: RequestContext, *, instance_id: str) -> None:
        """Undo the move: the destination destroys its guest, then the source restarts its
        own with the old flavor."""
        self.queries.visible(ctx, instance_id)
        with self.store.edit(instance_id) as (session, row):
            states.check_lock(locked=row.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
            states.check_action("revertResize", vm_state=row.vm_state,
                                task_state=row.task_state, instance_id=instance_id)
            row.task_state = states.RESIZE_REVERTING
            actions.start_action(session, ctx, instance_id=instance_id, action="revertResize")
            actions.start_event(session, instance_id=instance_id, action="revertResize",
                                event=EVENT_REVERT, host=row.host)
            dest, image_id, source = row.host, row.move_image_id, row.move_source
        if dest == source:  # resized in place: nothing to drop there
            await self.dropped_on_dest(ctx, instance_id=instance_id, host=dest, power_state=0,
                                       error=None, result={})
            return
        await self.peers.compute.guest_action(ctx, host=dest, instance_id=instance_id,
                                              action="dropMovedGuest", image_id=image_id)

    async def dropped_on_dest(self, ctx: RequestContext, *, instance_id: str, host: str,
                              power_state: int, error: str | None, result: dict,
                              status: str = "reverted") -> None:
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.host != host or row.task_state != states.RESIZE_REVERTING:
                return
            owner = actions.open_event_action(session, instance_id=instance_id,
                                              event=EVENT_REVERT) or "revertResize"
            actions.finish_event(session, instance_id=instance_id, action=owner,
                                 event=EVENT_REVERT, host=host, error=error)
            source = row.move_source
            move_image = row.move_image_id
            row.host, row.flavor = source, row.old_flavor or row.flavor
            row.move_source = row.old_flavor = row.move_image_id = None
            record = migrations.set_status(session, instance_id, status)
            consumer = record.uuid if record is not None else None
            actions.start_event(session, instance_id=instance_id, action=owner,
                                event=EVENT_FINISH_REVERT, host=source)
            requested, project_id = row.requested_networks, row.project_id
            groups = list(row.security_groups or [])
        if consumer:
            await self.peers.scheduler.release(ctx, instance_id=consumer)
        if status == "error" and move_image and source != host:
            # The destination never ran the guest, so no revert deletes the temporary image
            # of its disk there: have that host forget the guest and delete the image.
            await self.peers.compute.drop_guest(ctx, host=host, instance_id=instance_id,
                                                image_id=move_image)
        if source == host:  # in place: restart the guest with the old flavor
            await self.builds.send_to_host(ctx, host=host,
                                           instance=self.store.get(instance_id), respawn=True)
            return
        try:
            network_info = await self.builds.allocate_network(
                ctx, instance_id, host=source, project_id=project_id,
                requested_networks=requested, security_groups=groups)
            with self.store.edit(instance_id) as (_session, row):
                if row is not None:
                    row.network_info = network_info
        except errors.OvercastError as exc:
            logger.warning("could not bind the ports of %s back to %s: %s", instance_id,
                           source, exc.message)
        await self.peers.compute.guest_action(ctx, host=source, instance_id=instance_id,
                                              action="revertResize")

    async def reverted_on_source(self, ctx: RequestContext, *, instance_id: str, host: str,
                                 power_state: int, error: str | None, result: dict) -> None:
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.host != host or row.task_state != states.RESIZE_REVERTING:
                return
            row.task_state = None
            row.power_state = power_state
            row.vm_state = states.STOPPED if error and power_state == SHUTDOWN \
                else states.ACTIVE
            owner = actions.open_event_action(session, instance_id=instance_id,
                                              event=EVENT_FINISH_REVERT) or "revertResize"
            actions.finish_event(session, instance_id=instance_id, action=owner,
                                 event=EVENT_FINISH_REVERT, host=host, error=error)
