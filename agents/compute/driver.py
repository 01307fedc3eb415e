"""The virt driver interface: everything physical about a guest sits behind it.

Two drivers implement it: ``process`` (``agents/compute/process``), where a guest is a real
process tree in its own namespaces on its own disk, and ``fake`` (``fake.py``), where a guest
is a record, for scale tests. The compute manager calls nothing else to touch a guest.

Rules every driver keeps:

- Every method is idempotent where its docstring says so: messages can arrive twice.
- ``power_state`` in every ``GuestInfo`` is the truth as the driver sees it now (a guest
  whose init died is ``SHUTDOWN``), never what was last asked for.
- A method that fails raises; it never leaves a half-made guest that ``list_guests`` hides.
- A volume is mounted on this host only while its guest runs here: every way a guest stops
  (``destroy``, ``power_off``, ``cleanup_host``, its init dying) releases its volumes, and
  starting it again mounts them again. After an evacuation another host mounts the same
  file; two mounts of one filesystem would corrupt it.
"""
from __future__ import annotations

import abc
import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from agents.compute.contract import BlockDevice, InstancePayload
from services.volume.contract import ConnectionInfo

# Where a guest's disk lives (the flavor's ``overcast:disk_storage`` or the host's default).
LOCAL = "local"    # in the hypervisor's own state: dies with the host
SHARED = "shared"  # on storage every hypervisor mounts: survives evacuation
STORAGE_KINDS = (LOCAL, SHARED)


class SpawnError(Exception):
    """The guest could not be started; the driver left nothing behind."""


class GuestNotFound(Exception):
    """The driver runs no guest with this id."""


class VolumeError(Exception):
    """A volume could not be attached or detached (its file is missing or in use, its
    device name is taken, a root volume cannot be detached); the guest is left as it was."""


# What a volume's directory under the guest's /mnt/volumes may be called: a plain device name.
MOUNT_NAME = re.compile(r"^[a-z][a-z0-9]{0,31}$")


def checked_mount_name(block_device: BlockDevice) -> str:
    """``block_device.mount_name`` ("vdb" for "/dev/vdb"); ``VolumeError`` unless it is a
    plain device name (a host makes a directory of that name for the guest)."""
    name = block_device.mount_name
    if not MOUNT_NAME.match(name):
        raise VolumeError(f"Invalid device name {block_device.device_name[:64]!r}")
    return name


def check_volume(attached: Mapping[str, tuple[BlockDevice, ConnectionInfo]],
                 block_device: BlockDevice, connection: ConnectionInfo) -> str:
    """What every driver refuses before attaching a volume next to those ``attached`` (volume
    id -> attachment): a connection to no volume's file (``errors.BadRequest``), a bad device
    name, a name another volume of the guest has, a second root volume (``VolumeError``).
    Returns the volume's name under ``/mnt/volumes``."""
    connection.checked_file_name()
    name = checked_mount_name(block_device)
    for other, _ in attached.values():
        if other.volume_id == block_device.volume_id:
            continue
        if other.is_root and block_device.is_root:
            raise VolumeError("a guest has one root volume")
        if not (other.is_root or block_device.is_root) and other.mount_name == name:
            raise VolumeError(f"{block_device.device_name} is already volume "
                              f"{other.volume_id}'s")
    return name


class InvalidImage(SpawnError):
    """The image is not something this driver can boot (for ``process``: not a root
    filesystem archive)."""


@dataclasses.dataclass(frozen=True)
class GuestInfo:
    instance_id: str
    name: str
    power_state: int
    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0
    storage: str = LOCAL
    disk_used_bytes: int = 0  # what the guest has written to its own disk so far


# Nova's names of power states (nova/compute/power_state.py), as diagnostics report them.
POWER_STATE_NAMES = {0: "pending", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed",
                     7: "suspended"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class GuestDiagnostics:
    """A guest's figures as its driver measures them now (Nova's ``Diagnostics``).

    ``None`` means the driver cannot measure that figure here (for ``process`` without a
    writable cgroup: the memory used), never zero. Units: memory in MiB, CPU time in
    nanoseconds summed over all the guest's vCPUs (a cgroup counts the guest as a whole, not
    per vCPU), uptime in whole seconds since the guest's init started, disk figures in bytes
    and requests of the root disk, the only one (``num_disks`` 1); ``disk_write_bytes`` is
    what the guest has written to it (``GuestInfo.disk_used_bytes``). Plain JSON types
    only, so ``to_wire`` is ``dataclasses.asdict``.
    """

    state: str                       # POWER_STATE_NAMES' value for the guest's power state
    driver: str                      # the driver's hypervisor_type
    hypervisor: str | None = None
    hypervisor_os: str | None = None
    uptime: int | None = None
    config_drive: bool = False
    num_cpus: int = 0
    num_disks: int = 0
    num_nics: int = 0
    memory_max_mb: int | None = None
    memory_used_mb: int | None = None
    cpu_time_ns: int | None = None
    disk_read_bytes: int | None = None
    disk_read_requests: int | None = None
    disk_write_bytes: int | None = None
    disk_write_requests: int | None = None
    disk_errors: int | None = None

    def to_wire(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, data: dict) -> GuestDiagnostics:
        """The figures of ``data``; keys this version does not know are ignored (a newer
        host may send more)."""
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclasses.dataclass(frozen=True)
class SpawnResult:
    """What ``spawn`` did with the disk: reused one that existed, or made it from the image.
    A guest booted from a root volume reports its disk reused: its data was kept."""

    disk_reused: bool


class ComputeDriver(abc.ABC):
    """One hypervisor's guests."""

    hypervisor_type = "abstract"
    # True when ``spawn`` needs the image's bytes (the manager fetches them into the host's
    # image cache first); the fake driver needs none.
    needs_image = False

    @abc.abstractmethod
    async def init_host(self, host: str) -> None:
        """Prepare the host and adopt the guests its state names, starting none of them.

        Guests that were running when the host went down are only recorded; the manager
        starts them with ``power_on`` once the conductor has confirmed they still belong
        here, so that no guest ever runs on two hosts.
        """

    async def cleanup_host(self) -> None:
        """The host is going away: stop every guest and release what it holds (mounts,
        cgroups, processes), keeping the disks. Idempotent."""
        return None

    @abc.abstractmethod
    def host_resources(self) -> dict:
        """What the host offers: ``vcpus``, ``memory_mb``, ``local_gb``, ``host_ip``, and
        ``limits_enforced`` (True when the flavor's RAM and vCPUs are enforced by cgroups)."""

    @abc.abstractmethod
    def list_guests(self) -> list[GuestInfo]:
        """The guests this driver has now, from its own state (not the database), with their
        true power states."""

    @abc.abstractmethod
    def get_info(self, instance_id: str) -> GuestInfo:
        """The guest's state; raises ``GuestNotFound``."""

    @abc.abstractmethod
    async def spawn(self, instance: InstancePayload, *, image: Path | None,
                    network_info: list[dict], storage: str = LOCAL,
                    reuse_disk: bool = False,
                    block_devices: Sequence[tuple[BlockDevice, ConnectionInfo]] = ()
                    ) -> SpawnResult:
        """Create the guest's disk and start it.

        ``image`` is the cached image file (None when ``needs_image`` is False, or when the
        guest boots from a root volume). The disk is made on ``storage`` (``LOCAL`` or
        ``SHARED``). With ``reuse_disk`` an existing disk of this instance is kept (an
        evacuation onto shared storage, a resize on the same host); otherwise, or when there
        is none, the disk is made anew from the image.

        ``block_devices`` are the guest's volumes with the connections the volume service
        gave this host; they are attached before the guest starts (as ``attach_volume``
        says) and become the guest's attached volumes, replacing any it had. A root volume
        (``boot_index`` 0) is the guest's root instead of a disk made from the image.

        Raises ``InvalidImage`` for an image the driver cannot boot, ``VolumeError`` for a
        volume it cannot attach and ``SpawnError`` for anything else, leaving nothing
        behind (no mount, no guest).
        """

    @abc.abstractmethod
    async def destroy(self, instance_id: str, *, keep_disk: bool = False) -> None:
        """Stop the guest and forget it; remove its disk unless ``keep_disk``. A shared disk
        that another host has since taken over is never removed. Idempotent: a missing guest
        is not an error."""

    @abc.abstractmethod
    async def power_off(self, instance_id: str, *, grace: float = 10.0) -> None:
        """Stop the guest, keeping its disk: SIGTERM to its init, SIGKILL after ``grace``
        seconds. Idempotent."""

    @abc.abstractmethod
    async def power_on(self, instance_id: str) -> None:
        """Start a stopped guest from its disk. Idempotent."""

    @abc.abstractmethod
    async def reboot(self, instance_id: str, *, hard: bool) -> None:
        """Restart the guest: soft asks its init to stop, hard kills it. Ends running."""

    async def pause(self, instance_id: str) -> None:
        """Freeze every process of the guest (``PAUSED``). Idempotent."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot pause")

    async def unpause(self, instance_id: str) -> None:
        """Thaw a paused guest (``RUNNING``). Idempotent."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot unpause")

    async def suspend(self, instance_id: str) -> None:
        """Suspend the guest (``SUSPENDED``): frozen, as pause, and reported as suspended."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot suspend")

    async def resume(self, instance_id: str) -> None:
        """Resume a suspended guest (``RUNNING``)."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot resume")

    async def snapshot(self, instance_id: str, target: Path) -> str:
        """Write the guest's root disk to ``target`` as an image file the driver can boot,
        quiescing a running guest meanwhile (freeze, copy, thaw). Returns the file's format
        (for ``process``: ``tar``), which becomes the image's ``overcast_rootfs``."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot snapshot")

    async def rescue(self, instance_id: str, *, image: Path | None) -> None:
        """Stop the guest and start it from ``image`` instead, with its own disk reachable
        inside at ``/mnt/rescue``."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot rescue")

    async def unrescue(self, instance_id: str) -> None:
        """Stop the rescue guest and start the guest from its own disk again."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot unrescue")

    async def get_console_output(self, instance_id: str, *, length: int | None = None) -> str:
        """The guest's console log so far: the last ``length`` lines, or all of it."""
        raise NotImplementedError(f"{self.hypervisor_type} has no console")

    def console_command(self, instance_id: str, command: Sequence[str] | None) -> list[str]:
        """The argv that, run on this hypervisor, runs ``command`` inside the guest (its
        namespaces, its root, its cgroup, a guest root's capabilities), or a login shell when
        ``command`` is None. Raises ``GuestNotFound``, or ``SpawnError`` when it is not
        running."""
        raise NotImplementedError(f"{self.hypervisor_type} has no console")

    def get_diagnostics(self, instance_id: str) -> GuestDiagnostics:
        """The running guest's figures now (see ``GuestDiagnostics``). Raises
        ``GuestNotFound``; a driver that cannot measure guests keeps this default, which the
        API answers as Nova does (501)."""
        raise NotImplementedError(f"{self.hypervisor_type} has no diagnostics")

    async def attach_volume(self, instance_id: str, *, block_device: BlockDevice,
                            connection: ConnectionInfo) -> None:
        """Attach a volume to the guest: its filesystem (the file
        ``connection.checked_file_name()`` in the shared volumes directory) appears in the
        guest at ``/mnt/volumes/<block_device.mount_name>``, at once when it runs, else when
        it starts. The guest keeps it through stops, reboots and restarts of the agent.

        Idempotent: a volume already attached at that name is fine. Raises
        ``GuestNotFound``; ``VolumeError`` when the name is another volume's, the file is
        missing or mounted elsewhere on this machine, or ``block_device`` is a root volume
        (those are attached by ``spawn`` only); ``errors.BadRequest`` for a connection that
        does not name a volume's file.
        """
        raise NotImplementedError(f"{self.hypervisor_type} cannot attach volumes")

    async def detach_volume(self, instance_id: str, *, volume_id: str) -> None:
        """Unmount the volume from the guest and forget it; its data is kept (flushed to its
        file). Idempotent: a volume not attached is fine. Raises ``GuestNotFound``;
        ``VolumeError`` for the guest's root volume, or when the guest still holds the
        filesystem open so that it could not be released (it then stays attached)."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot detach volumes")

    def attached_volumes(self, instance_id: str) -> list[BlockDevice]:
        """The volumes attached to the guest (mounted while it runs). Raises
        ``GuestNotFound``."""
        self.get_info(instance_id)
        return []
