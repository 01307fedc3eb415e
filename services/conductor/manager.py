"""The conductor's logic, composed of its parts; it owns every state change of an instance.

- ``admission``: checks a boot request and the quota, and records the instances;
- ``builds`` (``tasks/build.py``): schedules and builds them, reschedules failed builds and
  takes the hosts' reports;
- ``recovery`` (``tasks/recovery.py``), with its ``evacuator`` (``tasks/evacuate.py``):
  finishes work that was lost and evacuates failed hosts;
- ``operations``: power actions, delete, rename and metadata of existing servers;
- ``guests`` (``tasks/guest.py``): pause, suspend, rescue, snapshot, lock, the console log
  and the power states hosts see on their own;
- ``queries``: what the API reads;
- ``consoles``: console tokens, and where each host serves consoles;
- ``diagnostics``: a guest's real figures, from its host (admin only);
- ``volumes``: attaching and detaching volumes of existing servers, and the hosts' reports
  of it; the volumes a server boots with are the build task's (``tasks/boot_volumes.py``).

It imports no transport: the peers and the notifier are passed in, and unit tests pass
in-memory twins.
"""
from __future__ import annotations

import uuid

from overcast.context import RequestContext
from overcast.db import Database
from services.conductor import states
from services.conductor.admission import Admission
from services.conductor.consoles import DEFAULT_TTL, ConsoleTokens
from services.conductor.contract import BootRequest
from services.conductor.diagnostics import Diagnostics
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore
from services.conductor.operations import Operations
from services.conductor.peers import Peers
from services.conductor.queries import Queries
from services.conductor.resources import ComputeResources
from services.conductor.tasks.build import BuildLimits, BuildTask, Notifier
from services.conductor.tasks.guest import GuestActions
from services.conductor.tasks.rebuild import Rebuilder
from services.conductor.tasks.recovery import Recovery
from services.conductor.tasks.resize import Resizer
from services.conductor.tasks.shelve import Shelver
from services.conductor.volumes import Volumes


class ConductorManager:
    def __init__(self, db: Database, *, hosts: HostTracker, resources: ComputeResources,
                 peers: Peers, notify: Notifier, limits: BuildLimits | None = None,
                 console_token_ttl: float = DEFAULT_TTL, offload_at_once: bool = True
                 ) -> None:
        self.hosts = hosts
        self.resources = resources
        self.peers = peers
        self.store = InstanceStore(db)
        self.admission = Admission(store=self.store, hosts=hosts, resources=resources)
        self.builds = BuildTask(store=self.store, hosts=hosts, resources=resources,
                                peers=peers, notify=notify, limits=limits or BuildLimits())
        self.recovery = Recovery(db, store=self.store, hosts=hosts, builds=self.builds,
                                 peers=peers)
        self.evacuator = self.recovery.evacuator
        self.queries = Queries(db, store=self.store)
        self.operations = Operations(store=self.store, hosts=hosts, peers=peers,
                                     queries=self.queries, admission=self.admission,
                                     builds=self.builds)
        self.consoles = ConsoleTokens(db, queries=self.queries, hosts=hosts,
                                      ttl=console_token_ttl)
        self.diagnostics = Diagnostics(queries=self.queries, peers=peers)
        self.guests = GuestActions(store=self.store, hosts=hosts, peers=peers,
                                   queries=self.queries, notify=notify,
                                   release=self.builds.release,
                                   offload_at_once=offload_at_once)
        self.shelver = Shelver(store=self.store, hosts=hosts, queries=self.queries,
                               builds=self.builds, guests=self.guests)
        self.resizer = Resizer(store=self.store, hosts=hosts, queries=self.queries,
                               resources=resources, builds=self.builds, peers=peers)
        self.guests.hooks.update(self.resizer.hooks())
        self.rebuilder = Rebuilder(store=self.store, queries=self.queries, peers=peers,
                                   notify=notify)
        self.volumes = Volumes(store=self.store, hosts=hosts, peers=peers,
                               queries=self.queries)

    async def create_servers(self, ctx: RequestContext, *, request: BootRequest
                             ) -> list[dict]:
        """Admit the request (nothing is written, and no volume left reserved, if it is
        refused), then build each instance in the background. Returns the new instances, in
        BUILD."""
        admitted = self.admission.check(ctx, request)
        if any(t["source_type"] == "volume" for t in admitted.block_devices):
            instance_id = str(uuid.uuid4())
            reserved = await self.builds.volumes.reserve(ctx, admitted.block_devices,
                                                         instance_id=instance_id)
            try:
                created = self.admission.admit(ctx, request, instance_id=instance_id,
                                               block_devices=reserved)
            except BaseException:
                await self.builds.volumes.release(ctx, reserved, delete_volumes=False)
                raise
        else:
            created = self.admission.admit(ctx, request)
        for inst in created:
            self.builds.start(ctx, inst["id"])
        return created

    async def build_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                           reason: str) -> None:
        """A host could not spawn the guest: the evacuator retries a rebuild, the build task
        reschedules a build."""
        current = self.store.get(instance_id)
        if current is not None and current["task_state"] == states.REBUILDING:
            await self.evacuator.spawn_failed(ctx, instance_id=instance_id, host=host,
                                              reason=reason)
        elif current is not None and current["task_state"] == states.UNSHELVING:
            await self.shelver.spawn_failed(ctx, instance_id=instance_id, host=host,
                                            reason=reason)
        elif current is not None and current["task_state"] == states.RESIZE_FINISH:
            await self.resizer.finish_failed(ctx, instance_id=instance_id, host=host,
                                             reason=reason)
        elif current is not None and current["task_state"] == states.RESIZE_REVERTING:
            if current["host"] == host:
                await self.builds.set_error(ctx, instance_id, f"Revert failed: {reason}",
                                            action="revertResize",
                                            event="compute_finish_revert_resize", host=host)
        elif current is not None and current["task_state"] == states.REBUILD_SPAWNING:
            if current["host"] == host:
                await self.builds.set_error(ctx, instance_id, f"Rebuild failed: {reason}",
                                            action="rebuild",
                                            event="compute_rebuild_instance", host=host)
        else:
            await self.builds.build_failed(ctx, instance_id=instance_id, host=host,
                                           reason=reason)

    async def close(self) -> None:
        await self.builds.close()
