"""Actions a host does to a guest in place: pause, unpause, suspend, resume, rescue, unrescue
and createImage (the snapshot); lock and unlock; the console log; and the power states hosts
report on their own.

An action is checked and recorded here (task_state, instance action, event), cast to the
instance's host, and finished by the host's ``guest_action_done`` report, which clears the
task_state whatever happened: a failed action leaves the vm_state it found, never a stuck
task. Imports no transport.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from agents.compute.contract import CRASHED, SHUTDOWN
from overcast import errors
from overcast.context import RequestContext
from services.conductor import actions, states
from services.conductor import block_devices as bdm
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore, instance_dict, notification
from services.conductor.peers import Peers
from services.conductor.queries import Queries
from services.conductor.tasks.build import Notifier

logger = logging.getLogger(__name__)

EVENTS = {"pause": "compute_pause_instance", "unpause": "compute_unpause_instance",
          "suspend": "compute_suspend_instance", "resume": "compute_resume_instance",
          "rescue": "compute_rescue_instance", "unrescue": "compute_unrescue_instance",
          "createImage": "compute_snapshot_instance", "shelve": "compute_shelve_instance",
          "shelveOffload": "compute_shelve_offload_instance",
          "unshelve": "compute_unshelve_instance"}
# The notification names Nova's legacy notifications use for each action.
_NOTIFY = {"createImage": "snapshot", "shelveOffload": "shelve_offload"}
_CARRIES_IMAGE = {"createImage", "shelve", "rescue"}
# Actions a locked instance still takes from its owner (Nova checks no lock on a snapshot).
_UNLOCKED = {"createImage"}
EVENT_POWER_SYNC = "compute_stop_instance"


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class GuestActions:
    store: InstanceStore
    hosts: HostTracker
    peers: Peers
    queries: Queries
    notify: Notifier
    release: Callable[[RequestContext, str], Awaitable[None]]  # drop a scheduler claim
    offload_at_once: bool = True  # Nova's shelved_offload_time 0: offload right after shelve
    hooks: dict[str, Callable[..., Awaitable[None]]] = dataclasses.field(default_factory=dict)

    async def start(self, ctx: RequestContext, *, instance_id: str, action: str,
                    image_id: str | None = None, rescue_image_ref: str | None = None
                    ) -> None:
        """Check, record and send ``action`` to the instance's host; Conflict (409) when
        the instance's state or lock refuses it, NotFound when ``ctx`` may not see it."""
        task_state, _final = states.TRANSITIONS[action]
        inst = self.queries.visible(ctx, instance_id)
        if action == "rescue" and bdm.is_volume_backed(inst):
            raise errors.BadRequest(f"Instance {instance_id} cannot be rescued: Cannot rescue "
                                    "a volume-backed instance")
        with self.store.edit(instance_id) as (session, inst):
            if action not in _UNLOCKED:
                states.check_lock(locked=inst.locked, is_admin=ctx.is_admin,
                                  instance_id=instance_id)
            states.check_action(action, vm_state=inst.vm_state, task_state=inst.task_state,
                                instance_id=instance_id)
            if inst.host is None:
                raise errors.Conflict(f"Instance {instance_id} has no host")
            inst.task_state = task_state
            if action == "shelve":
                inst.shelved_image_id = image_id
            actions.start_action(session, ctx, instance_id=instance_id, action=action)
            actions.start_event(session, instance_id=instance_id, action=action,
                                event=EVENTS[action], host=inst.host)
            host, payload = inst.host, instance_dict(inst)
            image_ref = rescue_image_ref or inst.image_ref
        await self._send(ctx, host=host, instance_id=instance_id, action=action,
                         payload=payload,
                         image_id=image_ref if action == "rescue" else image_id)

    async def _send(self, ctx: RequestContext, *, host: str, instance_id: str, action: str,
                    payload: dict, image_id: str | None) -> None:
        name = _NOTIFY.get(action, action)
        await self.notify(ctx, f"compute.instance.{name}.start", notification(payload))
        args = {"image_id": image_id} if action in _CARRIES_IMAGE else {}
        await self.peers.compute.guest_action(ctx, host=host, instance_id=instance_id,
                                              action=action, **args)

    async def _offload(self, ctx: RequestContext, instance_id: str) -> None:
        """Offload a just-shelved instance, as an event of its ``shelve`` action."""
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.vm_state != states.SHELVED or inst.task_state is not None:
                return
            inst.task_state = states.SHELVING_OFFLOADING
            actions.start_event(session, instance_id=instance_id, action="shelve",
                                event=EVENTS["shelveOffload"], host=inst.host)
            host, payload = inst.host, instance_dict(inst)
        await self._send(ctx, host=host, instance_id=instance_id, action="shelveOffload",
                         payload=payload, image_id=None)

    async def action_done(self, ctx: RequestContext, *, instance_id: str, host: str,
                          action: str, power_state: int, error: str | None = None,
                          result: dict | None = None) -> None:
        """``host`` finished ``action`` (with ``error`` if it failed). Idempotent: a report
        for an action the instance is no longer doing changes nothing. The steps of a move
        (``moveOut``, ``dropMovedGuest``, ``revertResize``) go to the hook registered for
        them (the resize task)."""
        hook = self.hooks.get(action)
        if hook is not None:
            await hook(ctx, instance_id=instance_id, host=host, power_state=power_state,
                       error=error, result=result or {})
            return
        task_state, final = states.TRANSITIONS[action]
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host or inst.task_state != task_state:
                return
            inst.task_state = None
            inst.power_state = power_state
            if error is None and final is not None:
                inst.vm_state = final
            if action == "shelve" and error is not None:
                inst.shelved_image_id = None  # the host deleted the half-made image
            if action == "shelveOffload" and error is None:
                inst.host = None  # nothing of it is left on any host
            owner = actions.open_event_action(session, instance_id=instance_id,
                                              event=EVENTS[action]) or action
            actions.finish_event(session, instance_id=instance_id, action=owner,
                                 event=EVENTS[action], host=host, error=error)
            payload = instance_dict(inst)
        name = _NOTIFY.get(action, action)
        if error is None:
            logger.info("instance %s: %s done on %s", instance_id, action, host)
            await self.notify(ctx, f"compute.instance.{name}.end", notification(payload))
            if action == "shelveOffload":
                await self.release(ctx, instance_id)
            elif action == "shelve" and self.offload_at_once:
                await self._offload(ctx, instance_id)
        else:
            logger.warning("instance %s: %s failed on %s: %s", instance_id, action, host,
                           error)
            await self.notify(ctx, f"compute.instance.{name}.error", notification(payload))

    # -- lock ------------------------------------------------------------------------------

    def lock(self, ctx: RequestContext, *, instance_id: str, reason: str | None = None
             ) -> None:
        """Lock the instance against non-admin actions (recorded as a ``lock`` action). As
        in Nova, a non-admin's lock of a locked instance changes nothing (an admin's lock is
        never turned into the owner's, which the owner could lift)."""
        self.queries.visible(ctx, instance_id)
        with self.store.edit_existing(instance_id) as (session, inst):
            if inst.locked and not ctx.is_admin:
                return
            inst.locked = True
            inst.locked_by = _locker(ctx, inst.project_id)
            inst.locked_reason = reason
            actions.start_action(session, ctx, instance_id=instance_id, action="lock")

    def unlock(self, ctx: RequestContext, *, instance_id: str) -> None:
        """Unlock; an instance an admin locked can be unlocked by an admin only (403)."""
        self.queries.visible(ctx, instance_id)
        with self.store.edit_existing(instance_id) as (session, inst):
            if inst.locked and inst.locked_by != _locker(ctx, inst.project_id) \
                    and not ctx.is_admin:
                raise errors.Forbidden("Policy doesn't allow "
                                       "os_compute_api:os-lock-server:unlock:unlock_override "
                                       "to be performed.")
            inst.locked = False
            inst.locked_by = None
            inst.locked_reason = None
            actions.start_action(session, ctx, instance_id=instance_id, action="unlock")

    # -- console ---------------------------------------------------------------------------

    async def console_output(self, ctx: RequestContext, *, instance_id: str,
                             length: int | None = None) -> str:
        """The guest's console log from its host (the last ``length`` lines, or all)."""
        inst = self.queries.visible(ctx, instance_id)
        if inst["host"] is None or inst["vm_state"] in (states.BUILDING,
                                                        states.SHELVED_OFFLOADED):
            raise errors.Conflict(f"Instance {instance_id} is not ready")
        return await self.peers.compute.get_console_output(
            ctx, host=inst["host"], instance_id=instance_id, length=length)

    # -- what hosts see on their own -------------------------------------------------------

    async def power_state_changed(self, ctx: RequestContext, *, instance_id: str, host: str,
                                  power_state: int, observed_at: str | None = None) -> None:
        """A host saw the guest's power state change outside any action (Nova's
        ``_sync_instance_power_state``): it is recorded, and an ACTIVE instance with no task
        whose guest stopped or crashed becomes STOPPED, with a ``stop`` instance action.

        A report seen before the instance last changed (a message redelivered after a
        conductor restart, overtaken by the build's own report) is stale and dropped; the
        host repeats what is not RUNNING now and then, so a guest that really died is still
        seen."""
        seen = dt.datetime.fromisoformat(observed_at) if observed_at else None
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host or inst.task_state is not None:
                return
            if seen is not None and inst.updated_at is not None and seen < inst.updated_at:
                return
            inst.power_state = power_state
            if inst.vm_state != states.ACTIVE or power_state not in (SHUTDOWN, CRASHED):
                return
            inst.vm_state = states.STOPPED
            actions.start_action(session, ctx, instance_id=instance_id, action="stop")
            actions.finish_event(session, instance_id=instance_id, action="stop",
                                 event=EVENT_POWER_SYNC, host=host)
            payload = instance_dict(inst)
        logger.warning("instance %s: its guest on %s stopped on its own (power state %d): "
                       "now SHUTOFF", instance_id, host, power_state)
        await self.notify(ctx, "compute.instance.power_off.end", notification(payload))


def _locker(ctx: RequestContext, project_id: str) -> str:
    """Nova's ``locked_by``: ``owner`` when the instance's own project locks it."""
    return "owner" if ctx.project_id == project_id else "admin"
