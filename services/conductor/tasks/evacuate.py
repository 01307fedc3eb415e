"""Host failure: fence the host, then rebuild each of its instances elsewhere.

An instance keeps its id, name, flavor, ports, IPs and metadata; only its host changes. Each
evacuation is a migration record and an ``evacuate`` instance action. The fenced host gets
back into the pool only after it has destroyed the guests that moved away (see
``HostTracker.unfence_if_reconciled``).

The evacuator drives its work through the build task (``Builds``, below): it knows nothing of
the conductor manager, the peers or the notifier.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Coroutine
from typing import Protocol

from overcast import errors
from overcast.context import RequestContext
from services.conductor import actions, migrations, states
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore
from services.conductor.tasks.build import BuildLimits, port_request, request_spec
from services.scheduler.contract import RequestSpec

logger = logging.getLogger(__name__)

EVENT_SCHEDULE = "conductor_rebuild_server"
EVENT_REBUILD = "compute_rebuild_instance"


class Builds(Protocol):
    """What the evacuator needs of the build task (``tasks.build.BuildTask``)."""

    limits: BuildLimits

    def run(self, instance_id: str, work: Coroutine, *, action: str, event: str) -> None: ...

    async def select_host(self, ctx: RequestContext, instance_id: str, spec: RequestSpec,
                          started: dt.datetime, *, action: str, event: str) -> str | None: ...

    async def bind_ports(self, ctx: RequestContext, instance_id: str, *, host: str,
                         project_id: str, requested_networks: object,
                         security_groups: list[str]) -> dict | None: ...

    async def send_to_host(self, ctx: RequestContext, *, host: str, instance: dict,
                           reuse_disk: bool = False, delete_image: str | None = None,
                           respawn: bool = False, stopped: bool = False) -> None: ...

    async def release(self, ctx: RequestContext, instance_id: str) -> None: ...

    async def set_error(self, ctx: RequestContext, instance_id: str, message: str, *,
                        action: str, event: str, code: int = 500,
                        host: str | None = None) -> None: ...

    async def build_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                           reason: str) -> None: ...

    async def finish_delete(self, ctx: RequestContext, instance_id: str) -> None: ...


class Evacuator:
    def __init__(self, *, store: InstanceStore, hosts: HostTracker, builds: Builds) -> None:
        self.store = store
        self.hosts = hosts
        self.builds = builds

    # -- a whole host ------------------------------------------------------------------------

    async def host_down(self, host: str) -> list[str]:
        """Fence ``host`` and evacuate everything on it. Returns the ids moved."""
        if not self.hosts.fence(host):
            return []
        ctx = RequestContext.admin()
        moving, rebuilding, deleting = [], [], []
        # One pass with no await: every instance of the host is claimed for evacuation
        # before anything else can act on it.
        for inst in [i for i in self.store.live() if i["host"] == host]:
            if inst["task_state"] == states.DELETING:
                deleting.append(inst["id"])
            elif inst["vm_state"] == states.BUILDING:
                rebuilding.append(inst["id"])
            elif self._claim(ctx, inst["id"], source=host):
                moving.append(inst["id"])
        logger.warning("host %s is down: evacuating %d instance(s)", host, len(moving))
        for instance_id in deleting:
            await self.builds.finish_delete(ctx, instance_id)
        for instance_id in rebuilding:
            await self.builds.build_failed(ctx, instance_id=instance_id, host=host,
                                           reason=f"host {host} went down during the build")
        for instance_id in moving:
            self._start(ctx, instance_id, source=host)
        return moving

    def _claim(self, ctx: RequestContext, instance_id: str, *, source: str | None) -> bool:
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.task_state == states.REBUILDING:
                return False
            inst.task_state = states.REBUILDING
            inst.tried_hosts = [source]
            migrations.start(session, instance_id=instance_id, source=source,
                             project_id=inst.project_id, user_id=ctx.user_id)
            actions.start_action(session, ctx, instance_id=instance_id, action="evacuate")
            actions.start_event(session, instance_id=instance_id, action="evacuate",
                                event=EVENT_SCHEDULE, host=None)
            return True

    def _start(self, ctx: RequestContext, instance_id: str, *, source: str | None,
               force_host: str | None = None) -> None:
        self.builds.run(instance_id, self.evacuate(ctx, instance_id, source=source,
                                                   force_host=force_host),
                        action="evacuate", event=EVENT_SCHEDULE)

    # -- by hand (the admin API) -------------------------------------------------------------

    async def evacuate_server(self, ctx: RequestContext, *, instance_id: str,
                              host: str | None = None) -> None:
        """``POST /servers/{id}/action {"evacuate": ...}``: the source host must be down."""
        inst = self.store.get(instance_id)
        if inst is None:
            raise errors.NotFound(f"Instance {instance_id} could not be found.")
        states.check_action("evacuate", vm_state=inst["vm_state"],
                            task_state=inst["task_state"], instance_id=instance_id)
        source = inst["host"]
        if source and self.hosts.compute_is_up(source):
            raise errors.Conflict(f"Compute service of {source} is still in use.")
        if host and host == source:
            raise errors.BadRequest("The target host can't be the same one.")
        if not self._claim(ctx, instance_id, source=source):
            raise errors.Conflict(f"Instance {instance_id} is already being evacuated")
        self._start(ctx, instance_id, source=source, force_host=host)

    # -- one instance ------------------------------------------------------------------------

    async def evacuate(self, ctx: RequestContext, instance_id: str, *, source: str | None,
                       force_host: str | None = None) -> None:
        """Schedule, move the ports and rebuild on the new host; ERROR with a fault if none."""
        inst = self.store.get(instance_id)
        if inst is None or inst["task_state"] != states.REBUILDING:
            return
        # No server group here: its other members' claims may still sit on the dead host,
        # where affinity would pin the rebuild. An evacuation has never applied the policy.
        spec = request_spec(inst, force_host=force_host)
        started = dt.datetime.fromisoformat(inst["updated_at"])
        dest = await self.builds.select_host(ctx, instance_id, spec, started,
                                             action="evacuate", event=EVENT_SCHEDULE)
        if dest is None:
            self._finish_migration(instance_id, "error")
            return
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.task_state != states.REBUILDING:
                await self.builds.release(ctx, instance_id)
                return
            row.host = dest
            row.tried_hosts = [*(row.tried_hosts or []), dest]
            migrations.set_destination(session, instance_id, dest)
            actions.finish_event(session, instance_id=instance_id, action="evacuate",
                                 event=EVENT_SCHEDULE, host=None)
            actions.start_event(session, instance_id=instance_id, action="evacuate",
                                event=EVENT_REBUILD, host=dest)
            ports = port_request(row)
        try:
            payload = await self.builds.bind_ports(ctx, instance_id, host=dest, **ports)
        except errors.OvercastError as exc:
            await self.builds.set_error(ctx, instance_id, f"Port binding failed: {exc.message}",
                                        action="evacuate", event=EVENT_REBUILD, host=dest)
            self._finish_migration(instance_id, "error")
            return
        if payload is None:
            return
        logger.info("evacuating %s from %s to %s", instance_id, source, dest)
        await self.builds.send_to_host(ctx, host=dest, instance=payload, reuse_disk=True)

    async def spawn_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                           reason: str) -> None:
        """The rebuild failed on its new host: try another, within the attempt bound."""
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.host != host or row.task_state != states.REBUILDING:
                return
            actions.finish_event(session, instance_id=instance_id, action="evacuate",
                                 event=EVENT_REBUILD, host=host, error=reason)
            retry = len(row.tried_hosts or []) <= self.builds.limits.max_attempts
            if retry:
                actions.start_event(session, instance_id=instance_id, action="evacuate",
                                    event=EVENT_SCHEDULE, host=None)
            source = (row.tried_hosts or [None])[0]
        if retry:
            self._start(ctx, instance_id, source=source)
            return
        await self.builds.release(ctx, instance_id)
        await self.builds.set_error(ctx, instance_id, f"Evacuation failed on every host tried. "
                                    f"Last error: {reason}", action="evacuate",
                                    event=EVENT_REBUILD, host=host)
        self._finish_migration(instance_id, "error")

    def _finish_migration(self, instance_id: str, status: str) -> None:
        with self.store.edit(instance_id) as (session, _row):
            migrations.finish(session, instance_id=instance_id, dest=None, status=status)

    async def resume(self, instance_id: str, *, idle: float, grace: float) -> None:
        """After a conductor restart: carry on with an evacuation that lost its task."""
        inst = self.store.get(instance_id)
        if inst is None or idle <= grace:
            return
        ctx = RequestContext.admin()
        host = inst["host"]
        source = inst["tried_hosts"][0] if inst["tried_hosts"] else None
        if host and host != source and self.hosts.compute_is_up(host):
            await self.builds.send_to_host(ctx, host=host, instance=inst, reuse_disk=True)
        else:
            self._start(ctx, instance_id, source=source)
