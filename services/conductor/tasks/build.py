"""The build task: schedule an instance, bind its ports, have a host build it, and act on
what hosts report (built; failed, so rescheduled; powered; destroyed).

Nova's ``ComputeTaskManager`` in small: every piece of work on an instance runs here, one at
a time per instance, and whatever goes wrong ends with the instance in ERROR, never stuck.
It imports no transport: the peers and the notifier are passed in.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine

from agents.compute.contract import SHUTDOWN
from overcast import errors
from overcast.clock import iso, utcnow
from overcast.context import RequestContext
from services.conductor import actions, migrations, states
from services.conductor import block_devices as bdm
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore, instance_dict, notification, payload_of
from services.conductor.models import Instance
from services.conductor.peers import Peers
from services.conductor.resources import ComputeResources
from services.conductor.tasks.boot_volumes import BootVolumes, VolumeNotReady
from services.scheduler.contract import RequestSpec

logger = logging.getLogger(__name__)

Notifier = Callable[[RequestContext, str, dict], Awaitable[None]]
TRANSIENT = (TimeoutError, ConnectionError, errors.ServiceUnavailable)

EVENT_SCHEDULE = "conductor_schedule_and_build_instances"
EVENT_BUILD = "compute__do_build_and_run_instance"


def port_request(row: Instance) -> dict:
    """What ``bind_ports`` (and ``allocate_network``) need of an instance row."""
    return {"project_id": row.project_id, "requested_networks": row.requested_networks,
            "security_groups": list(row.security_groups or [])}


def request_spec(instance: dict, *, group: dict | None = None,
                 force_host: str | None = None) -> RequestSpec:
    """What the scheduler is asked to place for ``instance`` (an ``instance_dict``).

    Only a hard group policy is sent: soft policies are preferences, not filters, and are not
    enforced. The hosts already tried are ignored. A server booted from a volume asks for
    no root disk (as Nova's placement request for it).
    """
    flavor = instance["flavor"]
    hard = group is not None and not group["policy"].startswith("soft-")
    return RequestSpec(
        instance_id=instance["id"], vcpus=flavor["vcpus"], memory_mb=flavor["ram"],
        disk_gb=0 if bdm.is_volume_backed(instance) else flavor["disk"],
        availability_zone=instance["availability_zone"],
        group_policy=group["policy"] if hard else None,
        group_members=tuple(group["members"]) if group is not None else (),
        ignore_hosts=tuple(instance["tried_hosts"]),
        force_hosts=(force_host,) if force_host else ())


@dataclasses.dataclass(frozen=True, kw_only=True)
class BuildLimits:
    """How hard a build is tried."""

    max_attempts: int = 3  # hosts a build is tried on before it is ERROR
    build_timeout: float = 180.0  # seconds a build may wait out a scheduler outage
    scheduler_timeout: float = 10.0  # seconds one scheduler call may take
    volume_poll: float = 1.0  # seconds between looks at a volume a build is making


@dataclasses.dataclass(kw_only=True, eq=False)
class BuildTask:
    store: InstanceStore
    hosts: HostTracker
    resources: ComputeResources
    peers: Peers
    notify: Notifier
    limits: BuildLimits = BuildLimits()
    _tasks: dict[str, asyncio.Task] = dataclasses.field(default_factory=dict, init=False,
                                                        repr=False)
    volumes: BootVolumes = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.volumes = BootVolumes(store=self.store, peers=self.peers,
                                   poll_interval=self.limits.volume_poll)

    # -- the task runner -------------------------------------------------------------------

    def start(self, ctx: RequestContext, instance_id: str) -> None:
        """Schedule and build the instance in the background."""
        self.run(instance_id, self._schedule_and_build(ctx, instance_id))

    def run(self, instance_id: str, work: Coroutine, *, action: str = "create",
            event: str = EVENT_SCHEDULE) -> None:
        """Run ``work`` for the instance in the background, one piece of work at a time.

        While earlier work on the instance still runs, ``work`` is dropped. Whatever goes
        wrong in it ends with the instance in ERROR, never stuck.
        """
        if self.is_running(instance_id):
            work.close()
            return
        task = asyncio.get_running_loop().create_task(
            self._guarded(instance_id, work, action=action, event=event))
        self._tasks[instance_id] = task
        task.add_done_callback(lambda done: self._done(instance_id, done, work))

    def _done(self, instance_id: str, task: asyncio.Task, work: Coroutine) -> None:
        # Newer work may already run for the instance: forget only this task.
        if self._tasks.get(instance_id) is task:
            del self._tasks[instance_id]
        work.close()  # a task cancelled before it started never ran its work: drop it

    def is_running(self, instance_id: str) -> bool:
        return instance_id in self._tasks and not self._tasks[instance_id].done()

    def cancel(self, instance_id: str) -> None:
        """Stop the work on the instance, if any (it is being deleted)."""
        task = self._tasks.get(instance_id)
        if task is not None:
            task.cancel()

    async def _guarded(self, instance_id: str, work: Coroutine, *, action: str,
                       event: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("%s of %s failed", action, instance_id)
            await self.set_error(RequestContext.admin(), instance_id, f"{action} failed: {exc}",
                                 action=action, event=event)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=5)

    # -- schedule and build ----------------------------------------------------------------

    async def _schedule_and_build(self, ctx: RequestContext, instance_id: str) -> None:
        # The schedule event was opened when the instance was accepted (or rescheduled).
        inst = self.store.get(instance_id)
        if inst is None or inst["task_state"] == states.DELETING:
            return
        group = (self.resources.get_group(RequestContext.admin(), inst["server_group_id"])
                 if inst["server_group_id"] else None)
        created_at = dt.datetime.fromisoformat(inst["created_at"])
        if not await self._make_volumes(ctx, instance_id, created_at):
            return
        inst = self.store.get(instance_id)
        if inst is None or inst["task_state"] == states.DELETING:
            return
        host = await self.select_host(ctx, instance_id, request_spec(inst, group=group),
                                      created_at)
        if host is None:
            return
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.task_state == states.DELETING:
                await self.release(ctx, instance_id)
                return
            row.host = host
            row.attempts += 1
            row.tried_hosts = [*(row.tried_hosts or []), host]
            row.task_state = states.NETWORKING
            requested = row.requested_networks
            project_id, groups = row.project_id, list(row.security_groups or [])
        try:
            network_info = await self.allocate_network(
                ctx, instance_id, host=host, project_id=project_id,
                requested_networks=requested, security_groups=groups)
        except errors.OvercastError as exc:
            await self.release(ctx, instance_id)
            await self.set_error(ctx, instance_id, f"Network allocation failed: {exc.message}",
                                 action="create", event=EVENT_SCHEDULE, code=exc.code)
            return
        with self.store.edit(instance_id) as (session, row):
            if row is None or row.task_state == states.DELETING:
                return
            row.network_info = network_info
            row.task_state = states.SPAWNING
            actions.finish_event(session, instance_id=instance_id, action="create",
                                 event=EVENT_SCHEDULE, host=None)
            payload = instance_dict(row)
        await self.notify(ctx, "compute.instance.create.start", notification(payload))
        await self.send_to_host(ctx, host=host, instance=payload)
        logger.info("instance %s sent to %s", instance_id, host)

    async def _make_volumes(self, ctx: RequestContext, instance_id: str,
                            created_at: dt.datetime) -> bool:
        """Make the volumes the instance boots with (from an image, or blank) before it is
        scheduled; False, with the instance in ERROR saying why, if that failed."""
        deadline = created_at + dt.timedelta(seconds=self.limits.build_timeout)
        try:
            await self.volumes.make(ctx, instance_id, deadline=deadline)
        except VolumeNotReady as exc:
            await self.set_error(ctx, instance_id, f"Build of instance {instance_id} aborted: "
                                 f"{exc}", action="create", event=EVENT_SCHEDULE)
            return False
        except errors.OvercastError as exc:
            await self.set_error(ctx, instance_id, f"Build of instance {instance_id} aborted: "
                                 f"{exc.message}", action="create", event=EVENT_SCHEDULE,
                                 code=exc.code)
            return False
        return True

    async def select_host(self, ctx: RequestContext, instance_id: str, spec: RequestSpec,
                          started: dt.datetime, *, action: str = "create",
                          event: str = EVENT_SCHEDULE) -> str | None:
        """A host from the scheduler, waiting out a scheduler outage up to the deadline.

        When there is none, the instance is set to ERROR with a fault saying why, and None
        is returned.
        """
        delay = 0.5
        while True:
            try:
                return await self.peers.scheduler.select_destination(
                    ctx, spec=spec, host_status=self.hosts.compute_status(),
                    timeout=self.limits.scheduler_timeout)
            except errors.NoValidHost as exc:
                await self.set_error(ctx, instance_id, exc.message, action=action, event=event)
                return None
            except TRANSIENT as exc:
                if (utcnow() - started).total_seconds() > self.limits.build_timeout:
                    await self.set_error(
                        ctx, instance_id, f"No valid host was found. The scheduler did not "
                        f"answer before the deadline ({exc})", action=action, event=event)
                    return None
                logger.warning("scheduler unavailable for %s (%s); retrying", instance_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def bind_ports(self, ctx: RequestContext, instance_id: str, *, host: str,
                         project_id: str, requested_networks: object,
                         security_groups: list[str]) -> dict | None:
        """Bind the instance's ports to ``host`` (a move's destination) and record them; the
        instance as a host is sent it, or None when it was deleted or moved meanwhile.
        Raises the network service's errors."""
        network_info = await self.allocate_network(
            ctx, instance_id, host=host, project_id=project_id,
            requested_networks=requested_networks, security_groups=security_groups)
        with self.store.edit(instance_id) as (_session, row):
            if row is None or row.host != host:
                return None
            row.network_info = network_info
            return instance_dict(row)

    async def allocate_network(self, ctx: RequestContext, instance_id: str, *, host: str,
                               project_id: str, requested_networks: object,
                               security_groups: list[str]) -> list[dict]:
        """Ports for the instance, bound to ``host``; raises the network service's errors."""
        return await self.peers.network.allocate_for_instance(
            ctx, instance_id=instance_id, project_id=project_id,
            requested_networks=requested_networks, security_groups=security_groups,
            host=host)

    async def send_to_host(self, ctx: RequestContext, *, host: str, instance: dict,
                           reuse_disk: bool = False, delete_image: str | None = None,
                           respawn: bool = False, stopped: bool = False) -> None:
        """Have ``host`` build ``instance`` (an ``instance_dict``), keeping an existing disk
        of it with ``reuse_disk``, deleting the image ``delete_image`` once it runs,
        restarting an existing guest with ``respawn`` and leaving it off with ``stopped``;
        it reports back."""
        if reuse_disk or delete_image or respawn or stopped:
            await self.peers.compute.build_and_run_instance(
                ctx, host=host, instance=payload_of(instance), reuse_disk=reuse_disk,
                delete_image=delete_image, respawn=respawn, stopped=stopped)
            return
        await self.peers.compute.build_and_run_instance(ctx, host=host,
                                                        instance=payload_of(instance))

    async def release(self, ctx: RequestContext, instance_id: str) -> None:
        """Drop the scheduler's claim for the instance (idempotent)."""
        await self.peers.scheduler.release(ctx, instance_id=instance_id)

    async def set_error(self, ctx: RequestContext, instance_id: str, message: str, *,
                        action: str, event: str, code: int = 500,
                        host: str | None = None) -> None:
        """The instance is ERROR with ``message`` as its fault; ``event`` closes as failed."""
        with self.store.edit(instance_id) as (session, inst):
            if inst is None:
                return
            inst.vm_state = states.ERROR
            inst.task_state = None
            inst.fault = {"code": code, "message": message[:255], "details": message,
                          "created": iso(utcnow())}
            actions.finish_event(session, instance_id=instance_id, action=action, event=event,
                                 host=host, error=message)
            payload = instance_dict(inst)
        logger.warning("instance %s is ERROR: %s", instance_id, message)
        await self.notify(ctx, f"compute.instance.{action}.error", notification(payload))

    # -- reports from compute hosts --------------------------------------------------------

    async def instance_built(self, ctx: RequestContext, *, instance_id: str, host: str,
                             power_state: int, disk_reused: bool = False) -> None:
        """The guest runs on ``host``: a build, or the rebuild of an evacuation, is done.

        An evacuation whose disk could not be reused says so in its event's details (the
        data of a local disk died with the failed host); the instance carries no fault."""
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host:
                return
            final = states.ACTIVE
            if inst.vm_state == states.BUILDING:
                action, event = "create", EVENT_BUILD
            elif inst.task_state == states.REBUILDING and migrations.finish(
                    session, instance_id=instance_id, dest=host, status="done"):
                action, event = "evacuate", "compute_rebuild_instance"
            elif inst.task_state == states.UNSHELVING:
                action, event = "unshelve", "compute_unshelve_instance"
                inst.shelved_image_id = None  # the host deletes it
            elif inst.task_state == states.REBUILD_SPAWNING:
                action, event = "rebuild", "compute_rebuild_instance"
                final = states.STOPPED if power_state == SHUTDOWN else states.ACTIVE
            elif inst.task_state == states.RESIZE_FINISH:  # a resize or cold migration
                record = migrations.set_status(session, instance_id, "finished")
                action = "resize" if record is not None and record.migration_type == "resize" \
                    else "migrate"
                event, final = "compute_finish_resize", states.RESIZED
            elif inst.task_state == states.RESIZE_REVERTING:  # reverted on the same host
                event = "compute_finish_revert_resize"
                action = actions.open_event_action(session, instance_id=instance_id,
                                                   event=event) or "revertResize"
            else:
                return
            inst.vm_state = final
            inst.task_state = None
            inst.power_state = power_state
            inst.launched_at = utcnow()
            inst.block_device_mapping = bdm.built_on(bdm.of(inst), host)  # it attached them
            details = None
            if action == "evacuate" and not disk_reused:
                details = (f"disk rebuilt from image {inst.image_ref}: data on the failed "
                           "host's local storage was lost")
            actions.finish_event(session, instance_id=instance_id, action=action, event=event,
                                 host=host, details=details)
            payload = instance_dict(inst)
        logger.info("instance %s ACTIVE on %s", instance_id, host)
        kind = {"create": "create", "unshelve": "unshelve", "resize": "finish_resize",
                "migrate": "finish_resize"}.get(action, "rebuild")
        await self.notify(ctx, f"compute.instance.{kind}.end", notification(payload))

    async def build_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                           reason: str) -> None:
        """A build failed on ``host``: reschedule to another host, or set ERROR once the
        attempts are used up. (A failed evacuation rebuild is the evacuator's to handle.)"""
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host or inst.vm_state != states.BUILDING:
                return
            actions.finish_event(session, instance_id=instance_id, action="create",
                                 event=EVENT_BUILD, host=host, error=reason)
            retry = inst.attempts < self.limits.max_attempts
            if retry:
                inst.task_state = states.SCHEDULING
                inst.host = None
                actions.start_event(session, instance_id=instance_id, action="create",
                                    event=EVENT_SCHEDULE, host=None)
        if retry:
            logger.warning("spawn of %s failed on %s (%s); rescheduling", instance_id, host,
                           reason)
            self.start(ctx, instance_id)
            return
        await self.release(ctx, instance_id)
        await self.set_error(
            ctx, instance_id, f"Exceeded maximum number of retries. Exhausted all hosts "
            f"available for retrying build failures for instance {instance_id}. "
            f"Last error: {reason}", action="create", event=EVENT_BUILD, host=host)

    async def instance_power_changed(self, ctx: RequestContext, *, instance_id: str, host: str,
                                     action: str, power_state: int,
                                     error: str | None = None) -> None:
        """A stop, start or reboot finished on ``host``."""
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host:
                return
            inst.power_state = power_state
            inst.task_state = None
            if error is None:
                inst.vm_state = states.STOPPED if power_state == SHUTDOWN else states.ACTIVE
            actions.finish_event(session, instance_id=instance_id, action=action,
                                 event=f"compute_{action}_instance", host=host, error=error)
            payload = instance_dict(inst)
        suffix = {"stop": "power_off", "start": "power_on"}.get(action, action)
        await self.notify(ctx, f"compute.instance.{suffix}.end", notification(payload))

    async def instance_destroyed(self, ctx: RequestContext, *, instance_id: str, host: str
                                 ) -> None:
        """``host`` destroyed the guest of a deleted instance."""
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host:
                return
            actions.finish_event(session, instance_id=instance_id, action="delete",
                                 event="compute_terminate_instance", host=host)
        await self.finish_delete(ctx, instance_id)

    async def finish_delete(self, ctx: RequestContext, instance_id: str) -> None:
        """Give back what the build took (ports, the scheduler's claims, a resize's on its
        destination too, its volumes' attachments, deleting the volumes marked
        delete_on_termination); mark it deleted. Called once no host runs its guest."""
        inst = self.store.get(instance_id)
        if inst is not None:
            await self.volumes.release(ctx, bdm.of(inst))
        await self.peers.network.deallocate_for_instance(ctx, instance_id=instance_id)
        await self.release(ctx, instance_id)
        with self.store.edit(instance_id) as (session, inst):
            record = migrations.current(session, instance_id) if inst is not None else None
            consumer = None
            if record is not None and record.migration_type in ("resize", "migration"):
                record.status = "error"
                consumer = record.uuid  # the destination's claim
        if consumer:
            await self.release(ctx, consumer)
        with self.store.edit(instance_id) as (_session, inst):
            if inst is None:
                return
            inst.deleted = True
            inst.vm_state = states.DELETED
            inst.task_state = None
            inst.terminated_at = utcnow()
            payload = instance_dict(inst)
        logger.info("instance %s deleted", instance_id)
        await self.notify(ctx, "compute.instance.delete.end", notification(payload))
