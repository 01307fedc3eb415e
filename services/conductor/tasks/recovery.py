"""Recovery: drive instances whose work was lost (a conductor restart, a dead peer) to ACTIVE
or ERROR, and evacuate the hosts the failure detector declares down."""
from __future__ import annotations

from sqlalchemy import select

from overcast.clock import utcnow
from overcast.context import RequestContext
from overcast.db import Database
from services.conductor import states
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore, instance_dict
from services.conductor.models import Instance
from services.conductor.peers import Peers
from services.conductor.tasks.build import EVENT_SCHEDULE, BuildTask
from services.conductor.tasks.evacuate import Evacuator


class Recovery:
    def __init__(self, db: Database, *, store: InstanceStore, hosts: HostTracker,
                 builds: BuildTask, peers: Peers) -> None:
        self.db = db
        self.store = store
        self.hosts = hosts
        self.builds = builds
        self.peers = peers
        self.evacuator = Evacuator(store=store, hosts=hosts, builds=builds)

    async def recover_stuck(self, *, spawn_grace: float = 30.0) -> None:
        """Drive instances whose work was lost to ACTIVE or ERROR.

        Safe to run at any time: every step it repeats is idempotent.
        """
        ctx = RequestContext.admin()
        now = utcnow()
        with self.db.session() as session:
            rows = list(session.scalars(select(Instance).where(
                Instance.deleted.is_(False), Instance.task_state.is_not(None))))
            stuck = [(i.id, i.vm_state, i.task_state, i.host, i.created_at, i.updated_at)
                     for i in rows]
        for instance_id, vm_state, task_state, host, created, updated in stuck:
            if self.builds.is_running(instance_id):
                continue
            age = (now - created).total_seconds()
            idle = (now - updated).total_seconds()
            if vm_state == states.BUILDING and age > self.builds.limits.build_timeout:
                await self.builds.release(ctx, instance_id)
                await self.builds.set_error(ctx, instance_id, "Build timed out",
                                            action="create", event=EVENT_SCHEDULE)
            elif task_state in (states.SCHEDULING, states.NETWORKING):
                self.builds.start(ctx, instance_id)
            elif task_state == states.SPAWNING and idle > spawn_grace:
                await self._respawn(ctx, instance_id, host=host)
            elif task_state == states.REBUILDING:
                await self.evacuator.resume(instance_id, idle=idle, grace=spawn_grace)
            elif task_state == states.DELETING and idle > spawn_grace:
                if host and self.hosts.compute_is_up(host):
                    await self.peers.compute.terminate_instance(
                        ctx, host=host, instance_id=instance_id)
                else:
                    await self.builds.finish_delete(ctx, instance_id)

    async def _respawn(self, ctx: RequestContext, instance_id: str, *, host: str | None
                       ) -> None:
        """A build whose host never answered: ask again, or reschedule if the host is down."""
        if host and self.hosts.compute_is_up(host):
            with self.store.edit(instance_id) as (_session, inst):
                inst.updated_at = utcnow()
                payload = instance_dict(inst)
            await self.builds.send_to_host(ctx, host=host, instance=payload)
        elif host:
            await self.builds.build_failed(ctx, instance_id=instance_id, host=host,
                                           reason=f"host {host} is down")
