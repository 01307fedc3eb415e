"""What a user asks of an existing server: power actions, delete, rename and metadata.

A power action or a delete is started here and finished by the host's report, which the
build task receives. Imports no transport.
"""
from __future__ import annotations

import dataclasses

from overcast import errors
from overcast.context import RequestContext
from services.conductor import actions, states
from services.conductor.admission import Admission
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore
from services.conductor.peers import Peers
from services.conductor.queries import Queries
from services.conductor.tasks.build import BuildTask

_POWER_TASK_STATES = {"stop": states.POWERING_OFF, "start": states.POWERING_ON,
                      "reboot": states.REBOOTING}


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Operations:
    store: InstanceStore
    hosts: HostTracker
    peers: Peers
    queries: Queries
    admission: Admission
    builds: BuildTask

    async def power_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           hard: bool = False) -> None:
        """Start ``stop``, ``start`` or ``reboot``; the host reports when it is done."""
        task_state = states.REBOOTING_HARD if action == "reboot" and hard \
            else _POWER_TASK_STATES[action]
        self.queries.visible(ctx, instance_id)
        with self.store.edit_existing(instance_id) as (session, inst):
            states.check_lock(locked=inst.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
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

    async def delete_server(self, ctx: RequestContext, *, instance_id: str) -> dict:
        """Mark the instance deleting and have its host destroy it (or delete it here).

        Returns ``{"shelved_image_id"}``: the snapshot of a shelved instance, which the
        caller (the API, which holds an image client) deletes with it, as Nova does."""
        self.queries.visible(ctx, instance_id)
        with self.store.edit_existing(instance_id) as (session, inst):
            states.check_lock(locked=inst.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
            inst.task_state = states.DELETING
            actions.start_action(session, ctx, instance_id=instance_id, action="delete")
            host = inst.host
            shelved = inst.shelved_image_id if inst.vm_state in (
                states.SHELVED, states.SHELVED_OFFLOADED) else None
        self.builds.cancel(instance_id)
        if host and self.hosts.compute_is_up(host):
            with self.store.edit(instance_id) as (session, _inst):
                actions.start_event(session, instance_id=instance_id, action="delete",
                                    event="compute_terminate_instance", host=host)
            await self.peers.compute.terminate_instance(ctx, host=host,
                                                        instance_id=instance_id)
        else:
            await self.builds.finish_delete(ctx, instance_id)
        return {"shelved_image_id": shelved}

    def update_server(self, ctx: RequestContext, *, instance_id: str, changes: dict) -> dict:
        self.queries.visible(ctx, instance_id)
        with self.store.edit(instance_id) as (_session, inst):
            for field in ("name", "description"):
                if field in changes:
                    setattr(inst, field, changes[field])
        return self.store.get_public(instance_id)

    def set_metadata(self, ctx: RequestContext, *, instance_id: str, metadata: dict,
                     replace: bool) -> dict:
        self.queries.visible(ctx, instance_id)
        with self.store.edit_existing(instance_id) as (_session, inst):
            states.check_lock(locked=inst.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
            merged = dict(metadata) if replace else {**(inst.metadata_ or {}), **metadata}
            self.admission.check_metadata_items(inst.project_id, len(merged))
            inst.metadata_ = merged
            return dict(merged)

    def delete_metadata(self, ctx: RequestContext, *, instance_id: str, key: str) -> None:
        self.queries.visible(ctx, instance_id)
        with self.store.edit_existing(instance_id) as (_session, inst):
            states.check_lock(locked=inst.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
            if key not in (inst.metadata_ or {}):
                raise errors.NotFound("Metadata item was not found")
            inst.metadata_ = {k: v for k, v in inst.metadata_.items() if k != key}
