"""Rebuild: the same instance (id, host, ports) with its disk made anew from an image, and
optionally a new name and metadata. The host reports as for a build; a failed rebuild is
ERROR with the reason, as Nova's. Imports no transport."""
from __future__ import annotations

import dataclasses

from overcast import errors
from overcast.context import RequestContext
from services.conductor import actions, states
from services.conductor import block_devices as bdm
from services.conductor.instances import InstanceStore, instance_dict, notification, payload_of
from services.conductor.peers import Peers
from services.conductor.queries import Queries
from services.conductor.tasks.build import Notifier

EVENT_REBUILD = "compute_rebuild_instance"


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Rebuilder:
    store: InstanceStore
    queries: Queries
    peers: Peers
    notify: Notifier

    async def rebuild(self, ctx: RequestContext, *, instance_id: str, image_ref: str,
                      name: str | None = None, metadata: dict[str, str] | None = None
                      ) -> dict:
        """Start the rebuild (409 for the wrong state or a lock); the server as the API
        shows it, in REBUILD."""
        root = bdm.root(bdm.of(self.queries.visible(ctx, instance_id)))
        if root is not None and image_ref != root.get("image_id"):
            # Nova before 2.93: the root volume is never remade from another image.
            raise errors.BadRequest(f"Image {image_ref} is unacceptable: Unable to rebuild "
                                    "with a different image for a volume-backed server.")
        with self.store.edit_existing(instance_id) as (session, inst):
            states.check_lock(locked=inst.locked, is_admin=ctx.is_admin,
                              instance_id=instance_id)
            states.check_action("rebuild", vm_state=inst.vm_state,
                                task_state=inst.task_state, instance_id=instance_id)
            if inst.host is None:
                raise errors.Conflict(f"Instance {instance_id} has no host")
            if root is None:  # a volume-backed server keeps its image_ref ("")
                inst.image_ref = image_ref
            if name is not None:
                inst.name = name
            if metadata is not None:
                inst.metadata_ = dict(metadata)
            inst.task_state = states.REBUILD_SPAWNING
            inst.fault = None
            actions.start_action(session, ctx, instance_id=instance_id, action="rebuild")
            actions.start_event(session, instance_id=instance_id, action="rebuild",
                                event=EVENT_REBUILD, host=inst.host)
            host, payload = inst.host, instance_dict(inst)
            stopped = inst.vm_state == states.STOPPED  # Nova leaves it SHUTOFF after
        await self.notify(ctx, "compute.instance.rebuild.start", notification(payload))
        await self.peers.compute.rebuild_instance(ctx, host=host, instance=payload_of(payload),
                                                  stopped=stopped)
        return self.store.get_public(instance_id)
