"""Instance lifecycle: create, schedule, build, power actions, delete and recovery.

The conductor owns the compute database, so every state change of an instance happens here.
It imports no transport: the scheduler, compute and network clients and the notifier are
passed in, and unit tests pass in-memory twins.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.clock import iso
from overcast.context import RequestContext
from overcast.db import Database
from services.conductor import actions, migrations, states
from services.conductor.evacuation import Evacuator
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore, instance_dict
from services.conductor.models import Instance, utcnow
from services.conductor.resources import ComputeResources

logger = logging.getLogger(__name__)

Notifier = Callable[[RequestContext, str, dict], Awaitable[None]]
TRANSIENT = (TimeoutError, ConnectionError, errors.ServiceUnavailable)


class Unreachable(Exception):
    """A peer service did not answer (timeout or lost connection)."""


class Peers(Protocol):
    """The clients the conductor uses; rpcapi objects in production, twins in tests."""

    scheduler: Any
    compute: Any
    network: Any


class ConductorManager:
    def __init__(self, db: Database, *, hosts: HostTracker, resources: ComputeResources,
                 peers: Peers, notify: Notifier, max_attempts: int = 3,
                 build_timeout: float = 180.0, scheduler_timeout: float = 10.0) -> None:
        self.db = db
        self.hosts = hosts
        self.resources = resources
        self.peers = peers
        self.notify = notify
        self.max_attempts = max_attempts
        self.build_timeout = build_timeout
        self.scheduler_timeout = scheduler_timeout
        self.store = InstanceStore(db)
        self.evacuator = Evacuator(self)
        self._tasks: dict[str, asyncio.Task] = {}

    def usage(self, project_id: str) -> dict[str, int]:
        """What a project uses now, for quotas and limits."""
        return {**self.store.usage(project_id),
                "server_groups": self.resources.server_group_count(project_id)}

    def instance_usage(self, project_id: str) -> dict[str, int]:
        """Instances, cores and RAM in use: what a boot's quota check needs."""
        return self.store.usage(project_id)

    # -- reading ---------------------------------------------------------------------------

    def _visible(self, ctx: RequestContext, instance_id: str) -> dict:
        """The live instance if ``ctx`` may see it; ``NotFound`` otherwise."""
        inst = self.store.get(instance_id)
        if inst is None or (not ctx.is_admin and inst["project_id"] != ctx.project_id):
            raise errors.NotFound(f"Instance {instance_id} could not be found.")
        return inst

    def get_server(self, ctx: RequestContext, instance_id: str) -> dict:
        self._visible(ctx, instance_id)
        return self.store.get_public(instance_id)

    def instances_on_host(self, host: str) -> list[str]:
        """The instances that should run on ``host``: not those being evacuated from it."""
        return [i["id"] for i in self.store.live() if i["host"] == host
                and not (i["task_state"] == states.REBUILDING and i["tried_hosts"][:1] == [host])]

    def list_servers(self, ctx: RequestContext, *, filters: dict) -> list[dict]:
        """Servers visible to ``ctx``, newest first, with Nova's common filters."""
        if not (ctx.is_admin and filters.get("all_tenants")):
            wanted = {"project_id": ctx.project_id}
        else:
            wanted = {"project_id": filters.get("project_id")}
        if ctx.is_admin:
            wanted["host"] = filters.get("host")
        wanted["image_ref"] = filters.get("image")
        wanted["availability_zone"] = filters.get("availability_zone")
        wanted = {k: v for k, v in wanted.items() if v}
        vm_states = (states.vm_states_for_status(filters["status"])
                     if filters.get("status") else None)
        result = [i for i in self.store.live_public()
                  if all(i[k] == v for k, v in wanted.items())
                  and (vm_states is None or i["vm_state"] in vm_states)]
        result.sort(key=lambda i: (i["created_at"], i["id"]), reverse=True)
        if filters.get("name"):
            try:
                pattern = re.compile(filters["name"])
            except re.error:
                raise errors.BadRequest(f"Invalid regular expression {filters['name']!r}")
            result = [s for s in result if pattern.search(s["name"])]
        if filters.get("flavor"):
            result = [s for s in result if s["flavor"]["id"] == filters["flavor"]]
        if filters.get("marker"):
            ids = [s["id"] for s in result]
            if filters["marker"] not in ids:
                raise errors.BadRequest(f"marker [{filters['marker']}] not found")
            result = result[ids.index(filters["marker"]) + 1:]
        if filters.get("limit") is not None:
            result = result[:int(filters["limit"])]
        return result

    # -- create ----------------------------------------------------------------------------

    def create_servers(self, ctx: RequestContext, *, request: dict) -> list[dict]:
        """Validate, check quota and record the instances in BUILD; building goes on after.

        Everything is checked before anything is written, so a refused request leaves no
        half-created instance. Returns the new instances.
        """
        flavor = self.resources.get_flavor_for_boot(ctx, request["flavor_id"])
        image = request.get("image") or {}
        if image.get("min_ram") and flavor["ram"] < image["min_ram"]:
            raise errors.BadRequest("Flavor's memory is too small for requested image.")
        if image.get("min_disk") and flavor["disk"] and flavor["disk"] < image["min_disk"]:
            raise errors.BadRequest("Flavor's disk is too small for requested image.")
        key_data = None
        if request.get("key_name"):
            try:
                key_data = self.resources.get_keypair(ctx, request["key_name"])["public_key"]
            except errors.NotFound:
                raise errors.BadRequest("Invalid key_name provided.") from None
        group = None
        if request.get("group_id"):
            try:
                group = self.resources.get_group(ctx, request["group_id"])
            except errors.NotFound:
                raise errors.BadRequest(
                    f"Invalid server group {request['group_id']}") from None
        zone = request.get("availability_zone")
        if zone and zone not in self.hosts.zones():
            raise errors.BadRequest("The requested availability zone is not available")
        limits = self.resources.quota_limits(ctx.project_id or "")
        if len(request.get("metadata") or {}) > limits["metadata_items"] >= 0:
            raise errors.QuotaExceeded("Quota exceeded for metadata_items")
        count = int(request.get("max_count") or 1)
        min_count = int(request.get("min_count") or 1)
        try:
            self.resources.check_instance_quota(ctx.project_id or "", count=count, flavor=flavor,
                                                used=self.instance_usage(ctx.project_id or ""))
        except errors.QuotaExceeded:
            if min_count >= count:
                raise
            self.resources.check_instance_quota(ctx.project_id or "", count=min_count,
                                                flavor=flavor,
                                                used=self.instance_usage(ctx.project_id or ""))
            count = min_count
        if group is not None:
            group_limit = limits["server_group_members"]
            if group_limit >= 0 and len(group["members"]) + count > group_limit:
                raise errors.QuotaExceeded("Quota exceeded, too many servers in group")
        reservation_id = "r-" + uuid.uuid4().hex[:8]
        created = []
        with self.store.create() as (session, added):
            for index in range(count):
                name = request["name"]
                if count > 1:
                    name = f"{name}-{index + 1}"
                inst = Instance(
                    id=str(uuid.uuid4()), name=name, project_id=ctx.project_id,
                    user_id=ctx.user_id, flavor=flavor, image_ref=request.get("image_ref", ""),
                    key_name=request.get("key_name"), key_data=key_data,
                    user_data=request.get("user_data"), metadata_=request.get("metadata") or {},
                    tags=request.get("tags") or [], description=request.get("description"),
                    availability_zone=zone, requested_networks=request.get("networks", "auto"),
                    security_groups=request.get("security_groups") or ["default"],
                    server_group_id=group["id"] if group else None,
                    reservation_id=reservation_id, launch_index=index,
                    vm_state=states.BUILDING, task_state=states.SCHEDULING)
                session.add(inst)
                session.flush()
                actions.start_action(session, ctx, instance_id=inst.id, action="create")
                actions.start_event(session, instance_id=inst.id, action="create",
                                    event="conductor_schedule_and_build_instances", host=None)
                added.append(inst)
                created.append(instance_dict(inst))
        for inst in created:
            logger.info("instance %s (%s) accepted", inst["id"], inst["name"])
            self._start_build(ctx, inst["id"])
        return created

    def _start_build(self, ctx: RequestContext, instance_id: str) -> None:
        self.start_task(instance_id, self._schedule_and_build(ctx, instance_id))

    def start_task(self, instance_id: str, work: Coroutine, *, action: str = "create",
                   event: str = "conductor_schedule_and_build_instances") -> None:
        """Run ``work`` for the instance in the background, one piece of work at a time.

        Whatever goes wrong in it ends with the instance in ERROR, never stuck.
        """
        if instance_id in self._tasks and not self._tasks[instance_id].done():
            work.close()
            return
        task = asyncio.get_running_loop().create_task(
            self._guarded(instance_id, work, action=action, event=event))
        self._tasks[instance_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(instance_id, None))

    async def _guarded(self, instance_id: str, work: Coroutine, *, action: str,
                       event: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an instance must end ACTIVE or ERROR
            logger.exception("%s of %s failed", action, instance_id)
            await self.set_error(RequestContext.admin(), instance_id, f"{action} failed: {exc}",
                                 action=action, event=event)

    async def _schedule_and_build(self, ctx: RequestContext, instance_id: str) -> None:
        # The schedule event was opened when the instance was accepted (or rescheduled).
        inst = self.store.get(instance_id)
        if inst is None or inst["task_state"] == states.DELETING:
            return
        flavor = inst["flavor"]
        spec = {"instance_id": instance_id, "vcpus": flavor["vcpus"],
                "memory_mb": flavor["ram"], "disk_gb": flavor["disk"],
                "availability_zone": inst["availability_zone"],
                "ignore_hosts": list(inst["tried_hosts"])}
        if inst["server_group_id"]:
            group = self.resources.get_group(RequestContext.admin(), inst["server_group_id"])
            # Soft policies are preferences, not filters; they are not enforced.
            hard = not group["policy"].startswith("soft-")
            spec["group_policy"] = group["policy"] if hard else None
            spec["group_members"] = group["members"]
        created_at = dt.datetime.fromisoformat(inst["created_at"])
        host = await self.select_host(ctx, instance_id, spec, created_at)
        if host is None:
            return
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.task_state == states.DELETING:
                await self.peers.scheduler.release(ctx, instance_id=instance_id)
                return
            inst.host = host
            inst.attempts += 1
            inst.tried_hosts = [*(inst.tried_hosts or []), host]
            inst.task_state = states.NETWORKING
            requested = inst.requested_networks
            project_id, groups = inst.project_id, list(inst.security_groups or [])
        try:
            network_info = await self.peers.network.allocate_for_instance(
                ctx, instance_id=instance_id, project_id=project_id,
                requested_networks=requested, security_groups=groups, host=host)
        except errors.OvercastError as exc:
            await self.peers.scheduler.release(ctx, instance_id=instance_id)
            await self.set_error(ctx, instance_id, f"Network allocation failed: {exc.message}",
                                  action="create", event="conductor_schedule_and_build_instances",
                                  code=exc.code)
            return
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.task_state == states.DELETING:
                return
            inst.network_info = network_info
            inst.task_state = states.SPAWNING
            actions.finish_event(session, instance_id=instance_id, action="create",
                                 event="conductor_schedule_and_build_instances", host=None)
            payload = instance_dict(inst)
        await self.notify(ctx, "compute.instance.create.start", _notification(payload))
        await self.peers.compute.build_and_run_instance(ctx, host=host, instance=payload)
        logger.info("instance %s sent to %s", instance_id, host)

    async def select_host(self, ctx: RequestContext, instance_id: str, spec: dict,
                          started: dt.datetime, *, action: str = "create",
                          event: str = "conductor_schedule_and_build_instances") -> str | None:
        """A host from the scheduler, waiting out a scheduler outage up to the deadline.

        When there is none, the instance is set to ERROR with a fault saying why, and None
        is returned.
        """
        delay = 0.5
        while True:
            try:
                return await self.peers.scheduler.select_destination(
                    ctx, spec=spec, host_status=self.hosts.compute_status(),
                    timeout=self.scheduler_timeout)
            except errors.NoValidHost as exc:
                await self.set_error(ctx, instance_id, exc.message, action=action, event=event)
                return None
            except TRANSIENT as exc:
                if (utcnow() - started).total_seconds() > self.build_timeout:
                    await self.set_error(
                        ctx, instance_id, f"No valid host was found. The scheduler did not "
                        f"answer before the deadline ({exc})", action=action, event=event)
                    return None
                logger.warning("scheduler unavailable for %s (%s); retrying", instance_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def set_error(self, ctx: RequestContext, instance_id: str, message: str, *,
                         action: str, event: str, code: int = 500,
                         host: str | None = None) -> None:
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
        await self.notify(ctx, f"compute.instance.{action}.error", _notification(payload))

    # -- reports from compute hosts --------------------------------------------------------

    async def instance_built(self, ctx: RequestContext, *, instance_id: str, host: str,
                             power_state: int) -> None:
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host:
                return
            if inst.vm_state == states.BUILDING:
                action, event = "create", "compute__do_build_and_run_instance"
            elif inst.task_state == states.REBUILDING and migrations.finish(
                    session, instance_id=instance_id, dest=host, status="done"):
                action, event = "evacuate", "compute_rebuild_instance"
            else:
                return
            inst.vm_state = states.ACTIVE
            inst.task_state = None
            inst.power_state = power_state
            inst.launched_at = utcnow()
            actions.finish_event(session, instance_id=instance_id, action=action, event=event,
                                 host=host)
            payload = instance_dict(inst)
        logger.info("instance %s ACTIVE on %s", instance_id, host)
        await self.notify(ctx, f"compute.instance.{'create' if action == 'create' else 'rebuild'}"
                          ".end", _notification(payload))

    async def build_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                           reason: str) -> None:
        """Reschedule to another host, or set ERROR once the attempts are used up."""
        current = self.store.get(instance_id)
        if current is not None and current["task_state"] == states.REBUILDING:
            await self.evacuator.spawn_failed(ctx, instance_id=instance_id, host=host,
                                              reason=reason)
            return
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host \
                    or inst.vm_state != states.BUILDING:
                return
            actions.finish_event(session, instance_id=instance_id, action="create",
                                 event="compute__do_build_and_run_instance", host=host,
                                 error=reason)
            attempts = inst.attempts
            if attempts < self.max_attempts:
                inst.task_state = states.SCHEDULING
                inst.host = None
                actions.start_event(session, instance_id=instance_id, action="create",
                                    event="conductor_schedule_and_build_instances", host=None)
        if attempts < self.max_attempts:
            logger.warning("spawn of %s failed on %s (%s); rescheduling", instance_id, host,
                           reason)
            self._start_build(ctx, instance_id)
            return
        await self.peers.scheduler.release(ctx, instance_id=instance_id)
        await self.set_error(
            ctx, instance_id, f"Exceeded maximum number of retries. Exhausted all hosts "
            f"available for retrying build failures for instance {instance_id}. "
            f"Last error: {reason}", action="create",
            event="compute__do_build_and_run_instance", host=host)

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
                inst.vm_state = states.STOPPED if power_state == states.SHUTDOWN \
                    else states.ACTIVE
            actions.finish_event(session, instance_id=instance_id, action=action,
                                 event=f"compute_{action}_instance", host=host, error=error)
            payload = instance_dict(inst)
        suffix = {"stop": "power_off", "start": "power_on"}.get(action, action)
        await self.notify(ctx, f"compute.instance.{suffix}.end", _notification(payload))

    async def instance_destroyed(self, ctx: RequestContext, *, instance_id: str, host: str
                                 ) -> None:
        with self.store.edit(instance_id) as (session, inst):
            if inst is None or inst.host != host:
                return
            actions.finish_event(session, instance_id=instance_id, action="delete",
                                 event="compute_terminate_instance", host=host)
        await self.finish_delete(ctx, instance_id)

    # -- actions ---------------------------------------------------------------------------

    async def power_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           hard: bool = False) -> None:
        """Start ``stop``, ``start`` or ``reboot``; the host reports when it is done."""
        task_state = {"stop": states.POWERING_OFF, "start": states.POWERING_ON,
                      "reboot": states.REBOOTING_HARD if hard else states.REBOOTING}[action]
        self._visible(ctx, instance_id)
        with self.store.edit(instance_id) as (session, inst):
            states.check_action(action, vm_state=inst.vm_state, task_state=inst.task_state,
                                instance_id=instance_id, hard=hard)
            if inst.host is None:
                raise errors.Conflict(f"Instance {instance_id} has no host")
            inst.task_state = task_state
            actions.start_action(session, ctx, instance_id=instance_id, action=action)
            actions.start_event(session, instance_id=instance_id, action=action,
                                event=f"compute_{action}_instance", host=inst.host)
            host = inst.host
        await self.peers.compute.power_action(ctx, host=host, instance_id=instance_id,
                                              action=action, hard=hard)

    async def delete_server(self, ctx: RequestContext, *, instance_id: str) -> None:
        """Mark the instance deleting and have its host destroy it (or delete it here)."""
        self._visible(ctx, instance_id)
        with self.store.edit(instance_id) as (session, inst):
            inst.task_state = states.DELETING
            actions.start_action(session, ctx, instance_id=instance_id, action="delete")
            host = inst.host
        building = self._tasks.get(instance_id)
        if building is not None:
            building.cancel()
        if host and self.host_is_up(host):
            with self.store.edit(instance_id) as (session, _inst):
                actions.start_event(session, instance_id=instance_id, action="delete",
                                    event="compute_terminate_instance", host=host)
            await self.peers.compute.terminate_instance(ctx, host=host,
                                                        instance_id=instance_id)
        else:
            await self.finish_delete(ctx, instance_id)

    def host_is_up(self, host: str) -> bool:
        return self.hosts.compute_status().get(host, {}).get("up", False)

    async def finish_delete(self, ctx: RequestContext, instance_id: str) -> None:
        await self.peers.network.deallocate_for_instance(ctx, instance_id=instance_id)
        await self.peers.scheduler.release(ctx, instance_id=instance_id)
        with self.store.edit(instance_id) as (session, inst):
            if inst is None:
                return
            inst.deleted = True
            inst.vm_state = states.DELETED
            inst.task_state = None
            inst.terminated_at = utcnow()
            payload = instance_dict(inst)
        logger.info("instance %s deleted", instance_id)
        await self.notify(ctx, "compute.instance.delete.end", _notification(payload))

    def update_server(self, ctx: RequestContext, *, instance_id: str, changes: dict) -> dict:
        self._visible(ctx, instance_id)
        with self.store.edit(instance_id) as (session, inst):
            for field in ("name", "description"):
                if field in changes:
                    setattr(inst, field, changes[field])
        return self.store.get_public(instance_id)

    def set_metadata(self, ctx: RequestContext, *, instance_id: str, metadata: dict,
                     replace: bool) -> dict:
        self._visible(ctx, instance_id)
        with self.store.edit(instance_id) as (session, inst):
            merged = dict(metadata) if replace else {**(inst.metadata_ or {}), **metadata}
            limit = self.resources.quota_limits(inst.project_id)["metadata_items"]
            if 0 <= limit < len(merged):
                raise errors.QuotaExceeded("Quota exceeded for metadata_items")
            inst.metadata_ = merged
            return dict(merged)

    def delete_metadata(self, ctx: RequestContext, *, instance_id: str, key: str) -> None:
        self._visible(ctx, instance_id)
        with self.store.edit(instance_id) as (session, inst):
            if key not in (inst.metadata_ or {}):
                raise errors.NotFound("Metadata item was not found")
            inst.metadata_ = {k: v for k, v in inst.metadata_.items() if k != key}

    def list_actions(self, ctx: RequestContext, *, instance_id: str) -> list[dict]:
        with self.db.session() as session:
            self._load_any(session, ctx, instance_id)
            return actions.list_actions(session, instance_id)

    def get_action(self, ctx: RequestContext, *, instance_id: str, request_id: str) -> dict:
        with self.db.session() as session:
            self._load_any(session, ctx, instance_id)
            return actions.get_action(session, instance_id, request_id)

    def list_migrations(self, *, filters: dict) -> list[dict]:
        with self.db.session() as session:
            return migrations.list_migrations(session, filters=filters)

    def _load_any(self, session: Session, ctx: RequestContext, instance_id: str) -> Instance:
        """Like ``_visible`` but deleted instances count too (their history stays readable)."""
        inst = session.get(Instance, instance_id)
        if inst is None or (not ctx.is_admin and inst.project_id != ctx.project_id):
            raise errors.NotFound(f"Instance {instance_id} could not be found.")
        return inst

    # -- recovery --------------------------------------------------------------------------

    async def recover_stuck(self, *, spawn_grace: float = 30.0) -> None:
        """Drive instances whose work was lost (a restart, a dead peer) to ACTIVE or ERROR.

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
            if instance_id in self._tasks:
                continue
            age = (now - created).total_seconds()
            idle = (now - updated).total_seconds()
            if vm_state == states.BUILDING and age > self.build_timeout:
                await self.peers.scheduler.release(ctx, instance_id=instance_id)
                await self.set_error(ctx, instance_id, "Build timed out", action="create",
                                      event="conductor_schedule_and_build_instances")
            elif task_state in (states.SCHEDULING, states.NETWORKING):
                self._start_build(ctx, instance_id)
            elif task_state == states.SPAWNING and idle > spawn_grace:
                if host and self.host_is_up(host):
                    with self.store.edit(instance_id) as (session, inst):
                        inst.updated_at = utcnow()
                        payload = instance_dict(inst)
                    await self.peers.compute.build_and_run_instance(ctx, host=host,
                                                                    instance=payload)
                elif host:
                    await self.build_failed(ctx, instance_id=instance_id, host=host,
                                            reason=f"host {host} is down")
            elif task_state == states.REBUILDING:
                await self.evacuator.resume(instance_id, idle=idle, grace=spawn_grace)
            elif task_state == states.DELETING and idle > spawn_grace:
                if host and self.host_is_up(host):
                    await self.peers.compute.terminate_instance(ctx, host=host,
                                                                instance_id=instance_id)
                else:
                    await self.finish_delete(ctx, instance_id)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=5)


def _notification(instance: dict) -> dict:
    keys = ("id", "name", "project_id", "user_id", "host", "vm_state", "task_state",
            "power_state", "status", "image_ref", "availability_zone", "fault")
    payload = {k: instance.get(k) for k in keys}
    payload["flavor"] = instance["flavor"]["name"]
    return payload
