"""Recovery: drive instances whose work was lost (a conductor restart, a dead peer) to ACTIVE
or ERROR, and evacuate the hosts the failure detector declares down."""
from __future__ import annotations

from sqlalchemy import select

from overcast.clock import utcnow
from overcast.context import RequestContext
from overcast.db import Database
from services.conductor import actions, states
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore, instance_dict
from services.conductor.models import Instance
from services.conductor.peers import Peers
from services.conductor.tasks.build import EVENT_SCHEDULE, BuildTask
from services.conductor.tasks.evacuate import Evacuator
from services.conductor.tasks.guest import EVENTS

# Work a host does in place: when its report never comes, the task is given up and the
# instance keeps the vm_state it had (task_state -> the action it belongs to).
_IN_PLACE = {task: action for action, (task, _final) in states.TRANSITIONS.items()} | {
    states.POWERING_OFF: "stop", states.POWERING_ON: "start", states.REBOOTING: "reboot",
    states.REBOOTING_HARD: "reboot"}
# Work that remakes or moves the guest: when it never finishes, the instance is ERROR.
_REMAKING = {states.REBUILD_SPAWNING: "rebuild", states.UNSHELVING: "unshelve",
             states.RESIZE_PREP: "resize", states.RESIZE_MIGRATING: "resize",
             states.RESIZE_MIGRATED: "resize", states.RESIZE_FINISH: "resize",
             states.RESIZE_REVERTING: "revertResize"}


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
            elif task_state in _IN_PLACE and idle > self.builds.limits.build_timeout:
                self._give_up(instance_id, task_state)
            elif task_state in _REMAKING and idle > self.builds.limits.build_timeout:
                await self.builds.set_error(
                    ctx, instance_id, f"{_REMAKING[task_state]} timed out in {task_state}",
                    action=_REMAKING[task_state], event="conductor_recover_stuck")
            elif task_state == states.DELETING and idle > spawn_grace:
                if host and self.hosts.compute_is_up(host):
                    await self.peers.compute.terminate_instance(
                        ctx, host=host, instance_id=instance_id)
                else:
                    await self.builds.finish_delete(ctx, instance_id)

    def _give_up(self, instance_id: str, task_state: str) -> None:
        """The host never reported: clear the task, keep the vm_state, and say so."""
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.task_state != task_state:
                return
            inst.task_state = None
            action = _IN_PLACE[task_state]
            event = EVENTS.get(action, f"compute_{action}_instance")
            owner = actions.open_event_action(session, instance_id=instance_id, event=event)
            if owner is not None:
                actions.finish_event(session, instance_id=instance_id, action=owner,
                                     event=event, host=inst.host,
                                     error=f"the host did not report within the deadline "
                                           f"({task_state})")

    async def _respawn(self, ctx: RequestContext, instance_id: str, *, host: str | None
                       ) -> None:
        """A build whose host never answered: ask again, or reschedule if the host is down."""
        if host and self.hosts.compute_is_up(host):
            with self.store.edit(instance_id) as (_session, inst):
                if inst is None:
                    return  # deleted meanwhile
                inst.updated_at = utcnow()
                payload = instance_dict(inst)
            await self.builds.send_to_host(ctx, host=host, instance=payload)
        elif host:
            await self.builds.build_failed(ctx, instance_id=instance_id, host=host,
                                           reason=f"host {host} is down")
