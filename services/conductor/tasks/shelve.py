"""Unshelving an offloaded instance: schedule it anew, bind its ports to the new host and
boot it from its shelved image, which the host deletes once the guest runs. Same id, same
ports; only the host may change.

Shelving itself, the offload and the unshelve of an instance still on its host are actions
done in place (``tasks/guest.py``). Imports no transport.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from overcast import errors
from overcast.context import RequestContext
from services.conductor import actions, states
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore
from services.conductor.queries import Queries
from services.conductor.tasks.build import BuildTask, port_request, request_spec
from services.conductor.tasks.guest import GuestActions

logger = logging.getLogger(__name__)

EVENT_SCHEDULE = "conductor_unshelve_instance"
EVENT_SPAWN = "compute_unshelve_instance"


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Shelver:
    store: InstanceStore
    hosts: HostTracker
    queries: Queries
    builds: BuildTask
    guests: GuestActions

    async def unshelve(self, ctx: RequestContext, *, instance_id: str,
                       availability_zone: str | None = None) -> None:
        """Unshelve: in place when the guest is still on its host, else scheduled anew (in
        ``availability_zone`` when given: mv 2.77). 409 unless shelved; 400 for an unknown
        zone."""
        inst = self.queries.visible(ctx, instance_id)
        if inst["vm_state"] == states.SHELVED and inst["host"] and not availability_zone:
            await self.guests.start(ctx, instance_id=instance_id, action="unshelve")
            return
        if availability_zone is not None and availability_zone not in self.hosts.zones():
            raise errors.BadRequest(f"The requested availability zone is not available: "
                                    f"{availability_zone}")
        with self.store.edit(instance_id) as (session, row):
            states.check_lock(locked=row.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
            states.check_action("unshelve", vm_state=row.vm_state, task_state=row.task_state,
                                instance_id=instance_id)
            if row.vm_state != states.SHELVED_OFFLOADED:
                raise errors.Conflict(f"Instance {instance_id} is still on host {row.host}; "
                                      "it cannot move to another zone before it is offloaded")
            row.task_state = states.UNSHELVING
            row.tried_hosts = []
            if availability_zone is not None:
                row.availability_zone = availability_zone
            actions.start_action(session, ctx, instance_id=instance_id, action="unshelve")
            actions.start_event(session, instance_id=instance_id, action="unshelve",
                                event=EVENT_SCHEDULE, host=None)
        self.builds.run(instance_id, self._unshelve(ctx, instance_id), action="unshelve",
                        event=EVENT_SCHEDULE)

    async def _unshelve(self, ctx: RequestContext, instance_id: str) -> None:
        inst = self.store.get(instance_id)
        if inst is None or inst["task_state"] != states.UNSHELVING:
            return
        host = await self.builds.select_host(
            ctx, instance_id, request_spec(inst), dt.datetime.fromisoformat(inst["updated_at"]),
            action="unshelve", event=EVENT_SCHEDULE)
        if host is None:
            return
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.task_state != states.UNSHELVING:
                await self.builds.release(ctx, instance_id)
                return
            row.host = host
            row.tried_hosts = [host]
            actions.finish_event(session, instance_id=instance_id, action="unshelve",
                                 event=EVENT_SCHEDULE, host=None)
            actions.start_event(session, instance_id=instance_id, action="unshelve",
                                event=EVENT_SPAWN, host=host)
            ports = port_request(row)
        try:
            payload = await self.builds.bind_ports(ctx, instance_id, host=host, **ports)
        except errors.OvercastError as exc:
            await self.spawn_failed(ctx, instance_id=instance_id, host=host,
                                    reason=f"Port binding failed: {exc.message}")
            return
        if payload is None:
            return
        shelved = payload["shelved_image_id"]
        logger.info("unshelving %s on %s from image %s", instance_id, host, shelved)
        await self.builds.send_to_host(ctx, host=host,
                                       instance={**payload, "image_ref": shelved},
                                       delete_image=shelved)

    async def spawn_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                           reason: str) -> None:
        """The host could not boot the shelved image: the instance is offloaded again (its
        image kept, so unshelve can be tried again), and the event says why."""
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.host != host or row.task_state != states.UNSHELVING:
                return
            row.host = None
            row.task_state = None
            row.vm_state = states.SHELVED_OFFLOADED
            actions.finish_event(session, instance_id=instance_id, action="unshelve",
                                 event=EVENT_SPAWN, host=host, error=reason)
        await self.builds.release(ctx, instance_id)
        logger.warning("unshelve of %s failed on %s: %s", instance_id, host, reason)
