"""Admission: check a boot request and the project's quota, then record the instances.

Everything is checked before anything is written, so a refused request leaves no
half-created instance. Building is the build task's business, after admission. Existing
volumes a request boots with are reserved by the caller between ``check`` and ``admit``
(``tasks/boot_volumes.py``), which records them.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid

from overcast import errors
from overcast.context import RequestContext
from services.conductor import actions, states
from services.conductor import block_devices as bdm
from services.conductor.contract import BootRequest
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore, instance_dict
from services.conductor.models import Instance
from services.conductor.resources import ComputeResources
from services.conductor.tasks.build import EVENT_SCHEDULE

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Admitted:
    """A boot request that passed every check: what is recorded for each instance."""

    flavor: dict
    key_data: str | None
    group_id: str | None
    count: int
    block_devices: list[dict]  # the templates of each instance's mappings (block_devices.py)


class Admission:
    def __init__(self, *, store: InstanceStore, hosts: HostTracker,
                 resources: ComputeResources) -> None:
        self.store = store
        self.hosts = hosts
        self.resources = resources

    # -- quota -----------------------------------------------------------------------------

    def usage(self, project_id: str) -> dict[str, int]:
        """What a project uses now, for quotas and limits."""
        return {**self.store.usage(project_id),
                "server_groups": self.resources.server_group_count(project_id)}

    def check_metadata_items(self, project_id: str, count: int) -> None:
        """Raise ``QuotaExceeded`` if an instance may not carry ``count`` metadata items."""
        limit = self.resources.quota_limits(project_id)["metadata_items"]
        if 0 <= limit < count:
            raise errors.QuotaExceeded("Quota exceeded for metadata_items")

    def _instance_count(self, project_id: str, *, request: BootRequest, flavor: dict) -> int:
        """How many instances fit the quota: ``max_count``, else ``min_count``, else raise."""
        count = int(request.max_count or 1)
        min_count = int(request.min_count or 1)
        try:
            self.resources.check_instance_quota(project_id, count=count, flavor=flavor,
                                                used=self.store.usage(project_id))
        except errors.QuotaExceeded:
            if min_count >= count:
                raise
            self.resources.check_instance_quota(project_id, count=min_count, flavor=flavor,
                                                used=self.store.usage(project_id))
            count = min_count
        return count

    # -- checks ----------------------------------------------------------------------------

    def check(self, ctx: RequestContext, request: BootRequest) -> Admitted:
        """Raise ``BadRequest`` or ``QuotaExceeded`` if the request may not boot."""
        templates = bdm.requested(request)
        flavor = self.resources.get_flavor_for_boot(ctx, request.flavor_id)
        image = request.image
        if image.min_ram and flavor["ram"] < image.min_ram:
            raise errors.BadRequest("Flavor's memory is too small for requested image.")
        root = bdm.root(templates)
        if root is None:
            if image.min_disk and flavor["disk"] and flavor["disk"] < image.min_disk:
                raise errors.BadRequest("Flavor's disk is too small for requested image.")
        elif image.min_disk and root["volume_size"] and root["volume_size"] < image.min_disk:
            # The volume is the root disk, whatever the flavor says (Nova skips its check).
            gib = 1024 ** 3
            raise errors.BadRequest(
                f"Volume is smaller than the minimum size specified in image metadata. "
                f"Volume size is {root['volume_size'] * gib} bytes, minimum size is "
                f"{image.min_disk * gib} bytes.")
        key_data = None
        if request.key_name:
            try:
                key_data = self.resources.get_keypair(ctx, request.key_name)["public_key"]
            except errors.NotFound:
                raise errors.BadRequest("Invalid key_name provided.") from None
        group = None
        if request.group_id:
            try:
                group = self.resources.get_group(ctx, request.group_id)
            except errors.NotFound:
                raise errors.BadRequest(f"Invalid server group {request.group_id}") from None
        zone = request.availability_zone
        if zone and zone not in self.hosts.zones():
            raise errors.BadRequest("The requested availability zone is not available")
        project_id = ctx.project_id or ""
        self.check_metadata_items(project_id, len(request.metadata))
        count = self._instance_count(project_id, request=request, flavor=flavor)
        if group is not None:
            group_limit = self.resources.quota_limits(project_id)["server_group_members"]
            if group_limit >= 0 and len(group["members"]) + count > group_limit:
                raise errors.QuotaExceeded("Quota exceeded, too many servers in group")
        return Admitted(flavor=flavor, key_data=key_data,
                        group_id=group["id"] if group else None, count=count,
                        block_devices=templates)

    # -- admit -----------------------------------------------------------------------------

    def admit(self, ctx: RequestContext, request: BootRequest, *,
              instance_id: str | None = None, block_devices: list[dict] | None = None
              ) -> list[dict]:
        """Check the request, then record its instances in BUILD; returns them. Given
        ``instance_id`` and its ``block_devices`` (with the existing volumes reserved for
        it), the one instance is recorded under that id with those mappings."""
        admitted = self.check(ctx, request)
        if instance_id is not None and admitted.count != 1:
            raise errors.BadRequest("Cannot attach one or more volumes to multiple instances")
        reservation_id = "r-" + uuid.uuid4().hex[:8]
        networks = (request.networks if isinstance(request.networks, str)
                    else [dict(item) for item in request.networks])
        created = []
        with self.store.create() as (session, added):
            for index in range(admitted.count):
                name = request.name
                if admitted.count > 1:
                    name = f"{name}-{index + 1}"
                mappings = (block_devices if block_devices is not None
                            else bdm.for_instance(admitted.block_devices))
                inst = Instance(
                    id=instance_id or str(uuid.uuid4()), name=name, project_id=ctx.project_id,
                    user_id=ctx.user_id, flavor=admitted.flavor, image_ref=request.image_ref,
                    key_name=request.key_name, key_data=admitted.key_data,
                    user_data=request.user_data, metadata_=dict(request.metadata),
                    tags=list(request.tags), description=request.description,
                    availability_zone=request.availability_zone, requested_networks=networks,
                    security_groups=list(request.security_groups) or ["default"],
                    server_group_id=admitted.group_id, reservation_id=reservation_id,
                    launch_index=index, vm_state=states.BUILDING,
                    task_state=states.SCHEDULING, block_device_mapping=mappings)
                session.add(inst)
                session.flush()
                actions.start_action(session, ctx, instance_id=inst.id, action="create")
                actions.start_event(session, instance_id=inst.id, action="create",
                                    event=EVENT_SCHEDULE, host=None)
                added.append(inst)
                created.append(instance_dict(inst))
        for inst in created:
            logger.info("instance %s (%s) accepted", inst["id"], inst["name"])
        return created
