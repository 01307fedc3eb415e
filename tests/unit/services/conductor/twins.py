"""In-memory twins of the conductor's peers (scheduler, compute hosts, network, volumes)
and helpers the conductor's unit tests share."""
from __future__ import annotations

import asyncio
import uuid

import orjson

from agents.compute.contract import (
    PAUSED,
    RUNNING,
    SHUTDOWN,
    SUSPENDED,
    BlockDevice,
    InstancePayload,
)
from agents.compute.driver import GuestDiagnostics
from overcast import errors
from overcast.context import RequestContext
from overcast.testing import eventually
from services.conductor.contract import BootRequest
from services.scheduler.contract import RequestSpec
from services.scheduler.manager import SchedulerManager
from services.volume.contract import Attachment, VolumeRequest, VolumeSummary

CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


def over_the_wire(value):
    """``value.to_wire()`` after a JSON round trip, as the receiving service reads it."""
    return orjson.loads(orjson.dumps(value.to_wire()))


class SchedulerTwin:
    """The real scheduler manager, reached through the spec's wire form (so there is no copy
    of the spec to drift); ``available`` False makes it time out."""

    def __init__(self, db):
        self.manager = SchedulerManager(db)
        self.available = True
        self.refused = 0  # calls that timed out while unavailable
        self.specs: list[RequestSpec] = []

    async def select_destination(self, ctx, *, spec: RequestSpec, host_status,
                                 timeout=None) -> str:
        if not self.available:
            self.refused += 1
            raise TimeoutError("scheduler down")
        self.specs.append(spec)
        return self.manager.select_destination(RequestSpec.from_wire(over_the_wire(spec)),
                                               host_status)

    async def release(self, ctx, *, instance_id):
        self.manager.release(instance_id)


class ComputeTwin:
    """Answers like a compute host; ``failing`` hosts fail every spawn."""

    def __init__(self):
        self.conductor = None
        self.failing: set[str] = set()
        self.guests: dict[str, set[str]] = {}
        self.built: list[tuple[str, InstancePayload]] = []
        self.actions: list[tuple] = []
        self.reuse_asked: list[bool] = []
        self.shared_disks = False
        self.deleted_images: list[str] = []
        self.rebuilt: list[tuple[str, str]] = []
        self.respawned: list[bool] = []
        self.dropped: list[tuple] = []
        self.attached: list[tuple[str, str, BlockDevice]] = []  # (host, instance, device)
        self.detached: list[tuple[str, str, str, str]] = []  # (host, instance, vol, att)
        self.silent: set[str] = set()  # hosts that never answer an attach or detach

    async def build_and_run_instance(self, ctx, *, host: str,
                                     instance: InstancePayload, reuse_disk: bool = False,
                                     delete_image: str | None = None,
                                     respawn: bool = False, stopped: bool = False) -> None:
        """Builds; a spawn asked to reuse a disk reuses it when ``shared_disks`` is set."""
        self.built.append((host, InstancePayload.from_wire(over_the_wire(instance))))
        self.reuse_asked.append(reuse_disk)
        self.respawned.append(respawn)
        if delete_image:
            self.deleted_images.append(delete_image)
        if host in self.failing:
            asyncio.get_running_loop().create_task(self.conductor.build_failed(
                ctx, instance_id=instance.id, host=host, reason="boom"))
            return
        self.guests.setdefault(host, set()).add(instance.id)
        asyncio.get_running_loop().create_task(self.conductor.builds.instance_built(
            ctx, instance_id=instance.id, host=host,
            power_state=SHUTDOWN if stopped else RUNNING,
            disk_reused=reuse_disk and self.shared_disks))

    async def power_action(self, ctx, *, host, instance_id, action,
                           hard=False):
        asyncio.get_running_loop().create_task(self.conductor.builds.instance_power_changed(
            ctx, instance_id=instance_id, host=host, action=action,
            power_state=SHUTDOWN if action == "stop" else RUNNING))

    async def guest_action(self, ctx, *, host, instance_id, action, image_id=None):
        """Answers as a host does: ``action`` done, or failed when ``host`` is failing."""
        self.actions.append((host, instance_id, action, image_id))
        power = {"pause": PAUSED, "suspend": SUSPENDED, "moveOut": SHUTDOWN,
                 "shelve": SHUTDOWN}.get(action, RUNNING)
        error = "boom" if host in self.failing else None
        result = None
        if action == "moveOut":
            result = {"storage": "shared"} if self.shared_disks else {
                "storage": "local", "image_id": f"move-{instance_id[:8]}"}
        asyncio.get_running_loop().create_task(self.conductor.guests.action_done(
            ctx, instance_id=instance_id, host=host, action=action,
            power_state=RUNNING if error else power, error=error, result=result))

    async def rebuild_instance(self, ctx, *, host, instance, stopped=False):
        self.rebuilt.append((host, instance.image_ref))
        await self.build_and_run_instance(ctx, host=host, instance=instance, stopped=stopped)

    async def drop_guest(self, ctx, *, host, instance_id, image_id=None):
        self.dropped.append((host, instance_id, image_id))
        self.guests.get(host, set()).discard(instance_id)

    async def get_console_output(self, ctx, *, host, instance_id, length=None):
        lines = [f"{instance_id} line {n}" for n in range(5)]
        return "\n".join(lines if length is None else lines[-length:] if length else [])

    async def get_diagnostics(self, ctx, *, host, instance_id, timeout=None):
        """A fake host's honest record, through its wire form; Conflict (as a host answers)
        when ``host`` runs no such guest."""
        if instance_id not in self.guests.get(host, set()):
            raise errors.Conflict(f"Instance {instance_id} is not ready")
        diag = GuestDiagnostics(state="running", driver="fake", num_cpus=1, num_disks=1,
                                memory_max_mb=512, memory_used_mb=0, cpu_time_ns=0)
        return GuestDiagnostics.from_wire(over_the_wire(diag))

    async def attach_volume(self, ctx, *, host: str, instance_id: str,
                            block_device: BlockDevice) -> None:
        """Records the device (through its wire form) and answers as a host does: attached,
        or failed on a ``failing`` host; a ``silent`` host never answers."""
        device = BlockDevice.from_wire(over_the_wire(block_device))
        self.attached.append((host, instance_id, device))
        if host in self.silent:
            return
        volumes = self.conductor.volumes
        report = (volumes.attach_failed(ctx, instance_id=instance_id,
                                        volume_id=device.volume_id, host=host, reason="boom")
                  if host in self.failing else
                  volumes.attached(ctx, instance_id=instance_id, volume_id=device.volume_id,
                                   host=host))
        asyncio.get_running_loop().create_task(report)

    async def detach_volume(self, ctx, *, host: str, instance_id: str, volume_id: str,
                            attachment_id: str) -> None:
        self.detached.append((host, instance_id, volume_id, attachment_id))
        if host in self.silent:
            return
        asyncio.get_running_loop().create_task(self.conductor.volumes.detached(
            ctx, instance_id=instance_id, volume_id=volume_id, host=host))

    async def terminate_instance(self, ctx, *, host, instance_id):
        self.guests.get(host, set()).discard(instance_id)
        asyncio.get_running_loop().create_task(self.conductor.builds.instance_destroyed(
            ctx, instance_id=instance_id, host=host))


class NetworkTwin:
    def __init__(self):
        self.ports: dict[str, list] = {}

    async def allocate_for_instance(self, ctx, *, instance_id, project_id,
                                    requested_networks, security_groups, host=None):
        self.ports.setdefault(instance_id, [{"port_id": "p-" + instance_id,
                                             "network_id": "n1", "network_name": "private",
                                             "mac_address": "fa:16:3e:00:00:01",
                                             "fixed_ips": [{"ip_address": "10.0.0.5",
                                                            "subnet_id": "s1"}]}])
        return self.ports[instance_id]

    async def bind_ports(self, ctx, *, instance_id, host):
        return None

    async def deallocate_for_instance(self, ctx, *, instance_id):
        self.ports.pop(instance_id, None)


class VolumeTwin:
    """The volume service's rpcapi over a dict, with Cinder's reserve rules: a volume must be
    ``available`` and visible to the caller (its project's, or the caller an admin); a
    repeated reserve for the same instance answers the same attachment. A volume made by
    ``create_volume`` stays ``creating`` for ``ready_after`` looks, then is ``available``
    (or ``error`` with ``fail_creates``)."""

    def __init__(self) -> None:
        self.volumes: dict[str, dict] = {}
        self.attachments: dict[str, Attachment] = {}
        self.deleted_later: list[tuple[str, bool]] = []  # (attachment, delete_volume)
        self.created: list[VolumeRequest] = []
        self.volumes_deleted_later: list[str] = []
        self.ready_after = 0
        self.fail_creates = False
        self.refuse_creates: errors.OvercastError | None = None

    def add(self, *, project_id: str = "p1", size: int = 1, bootable: bool = False,
            status: str = "available", image_id: str | None = None) -> str:
        volume_id = str(uuid.uuid4())
        self.volumes[volume_id] = {"id": volume_id, "project_id": project_id, "size": size,
                                   "bootable": bootable, "status": status,
                                   "image_id": image_id, "looks": 0}
        return volume_id

    def status(self, volume_id: str) -> str | None:
        volume = self.volumes.get(volume_id)
        return None if volume is None else volume["status"]

    def reserved(self) -> set[str]:
        """The volumes that have an attachment now."""
        return {a.volume_id for a in self.attachments.values()}

    def _visible(self, ctx: RequestContext, volume_id: str) -> dict:
        volume = self.volumes.get(volume_id)
        if volume is None or (volume["project_id"] != ctx.project_id and not ctx.is_admin):
            raise errors.NotFound(f"Volume {volume_id} could not be found.")
        return volume

    def _summary(self, volume: dict) -> VolumeSummary:
        summary = VolumeSummary(id=volume["id"], name="", size=volume["size"],
                                status=volume["status"], project_id=volume["project_id"],
                                bootable=volume["bootable"], image_id=volume["image_id"])
        return VolumeSummary.from_wire(over_the_wire(summary))

    async def get_volume(self, ctx, *, volume_id: str) -> VolumeSummary:
        volume = self._visible(ctx, volume_id)
        if volume["status"] == "creating":
            volume["looks"] += 1
            if volume["looks"] >= self.ready_after:
                volume["status"] = "error" if self.fail_creates else "available"
        return self._summary(volume)

    async def reserve(self, ctx, *, volume_id: str, instance_id: str) -> Attachment:
        volume = self._visible(ctx, volume_id)
        for attachment in self.attachments.values():
            if attachment.volume_id == volume_id and attachment.instance_id == instance_id:
                return attachment
        if volume["status"] != "available":
            raise errors.BadRequest(f"Invalid volume: Volume {volume_id} status must be "
                                    f"available, but current status is: {volume['status']}")
        volume["status"] = "reserved"
        attachment = Attachment(id=str(uuid.uuid4()), volume_id=volume_id,
                                instance_id=instance_id, status="reserved")
        self.attachments[attachment.id] = attachment
        return attachment

    async def attachment_delete_later(self, ctx, *, attachment_id: str,
                                      delete_volume: bool = False) -> None:
        self.deleted_later.append((attachment_id, delete_volume))
        attachment = self.attachments.pop(attachment_id, None)
        if attachment is None:
            return
        if delete_volume:
            self.volumes.pop(attachment.volume_id, None)
        elif attachment.volume_id not in self.reserved():
            self.volumes[attachment.volume_id]["status"] = "available"

    async def create_volume(self, ctx, *, request: VolumeRequest) -> VolumeSummary:
        request = VolumeRequest.from_wire(over_the_wire(request))
        if self.refuse_creates is not None:
            raise self.refuse_creates
        self.created.append(request)
        if request.id not in self.volumes:
            self.volumes[request.id] = {
                "id": request.id, "project_id": ctx.project_id, "size": request.size,
                "bootable": request.image_id is not None, "image_id": request.image_id,
                "status": "creating", "looks": 0}
        return self._summary(self.volumes[request.id])

    async def delete_volume_later(self, ctx, *, volume_id: str) -> None:
        """The durable cast: the volume goes once it is made (here: at once)."""
        self.volumes_deleted_later.append(volume_id)
        self.volumes.pop(volume_id, None)

    async def delete_volume(self, ctx, *, volume_id: str) -> None:
        volume = self.volumes.get(volume_id)
        if volume is not None and volume["status"] not in ("available", "error"):
            raise errors.BadRequest(f"Invalid volume: Volume {volume_id} is {volume['status']}")
        self.volumes.pop(volume_id, None)


def boot_request(**changes) -> BootRequest:
    """A valid boot request (flavor 1, any image, automatic network), changed as asked."""
    return BootRequest(**{"name": "vm", "flavor_id": "1", "image_ref": "img",
                          "networks": "auto", **changes})


async def wait_status(manager, instance_id: str, status: str) -> None:
    await eventually(lambda: manager.queries.get_server(CTX, instance_id)["status"] == status,
                     timeout=5, message=f"{instance_id} never {status}")
