"""The in-memory driver: guests are records, so thousands fit in one process.

Its state is also written to a small JSON file, so that a restarted agent still knows which
guests it was running (as a real hypervisor would), which host-recovery logic depends on.
Every action of the contract is done honestly as a record: pause sets ``PAUSED``, suspend
``SUSPENDED``, rescue marks the guest rescued, each leaves a line in the guest's console
log, and a snapshot writes a real tar archive of a small fake root filesystem. Volumes are
records too: each guest's attached volumes (with the connection the volume service gave) are
kept, and saved, with the same checks and errors as a real driver's.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path

from agents.compute.contract import (
    PAUSED,
    RUNNING,
    SHUTDOWN,
    SUSPENDED,
    BlockDevice,
    InstancePayload,
)
from agents.compute.driver import (
    LOCAL,
    POWER_STATE_NAMES,
    SHARED,
    ComputeDriver,
    GuestDiagnostics,
    GuestInfo,
    GuestNotFound,
    SpawnError,
    SpawnResult,
    VolumeError,
    check_volume,
)
from services.volume.contract import ConnectionInfo

Attached = dict[str, tuple[BlockDevice, ConnectionInfo]]  # volume id -> its attachment


class FakeDriver(ComputeDriver):
    hypervisor_type = "fake"

    def __init__(self, *, state_file: Path, vcpus: int = 64, memory_mb: int = 131072,
                 local_gb: int = 2000, spawn_delay: float = 0.0, fail_spawn: bool = False
                 ) -> None:
        self.state_file = state_file
        self.resources = {"vcpus": vcpus, "memory_mb": memory_mb, "local_gb": local_gb,
                          "host_ip": "127.0.0.1", "limits_enforced": False}
        self.spawn_delay = spawn_delay
        self.fail_spawn = fail_spawn
        self.guests: dict[str, GuestInfo] = {}
        self.console: dict[str, list[str]] = {}
        self.rescued: set[str] = set()
        self.kept_disks: set[str] = set()  # destroyed with keep_disk (in memory only)
        self.volumes: dict[str, Attached] = {}  # instance id -> its attached volumes

    async def init_host(self, host: str) -> None:
        """Adopt the guests of the state file as a real hypervisor finds them after a
        restart: there, but not running (the manager starts those that should run), with
        their volumes attached."""
        if self.state_file.exists():
            for item in json.loads(self.state_file.read_text()):
                volumes = item.pop("volumes", [])
                self.guests[item["instance_id"]] = GuestInfo(**{**item,
                                                                "power_state": SHUTDOWN})
                self.volumes[item["instance_id"]] = {
                    v["block_device"]["volume_id"]: (
                        BlockDevice.from_wire(v["block_device"]),
                        ConnectionInfo.from_wire(v["connection"])) for v in volumes}

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([
            {**g.__dict__, "volumes": [
                {"block_device": bdm.to_wire(), "connection": conn.to_wire()}
                for bdm, conn in self.volumes.get(g.instance_id, {}).values()]}
            for g in self.guests.values()]))
        os.replace(tmp, self.state_file)

    def host_resources(self) -> dict:
        return dict(self.resources)

    def list_guests(self) -> list[GuestInfo]:
        return list(self.guests.values())

    def get_info(self, instance_id: str) -> GuestInfo:
        try:
            return self.guests[instance_id]
        except KeyError:
            raise GuestNotFound(instance_id) from None

    def get_diagnostics(self, instance_id: str) -> GuestDiagnostics:
        """A record uses nothing: its flavor's figures, and zeros for what it used."""
        guest = self.get_info(instance_id)
        return GuestDiagnostics(
            state=POWER_STATE_NAMES.get(guest.power_state, "pending"),
            driver=self.hypervisor_type, hypervisor=self.hypervisor_type,
            hypervisor_os="fake", uptime=0, config_drive=False, num_cpus=guest.vcpus,
            num_disks=1, num_nics=0, memory_max_mb=guest.memory_mb, memory_used_mb=0,
            cpu_time_ns=0, disk_read_bytes=0, disk_read_requests=0,
            disk_write_bytes=guest.disk_used_bytes, disk_write_requests=0, disk_errors=0)

    async def spawn(self, instance: InstancePayload, *, image: Path | None,
                    network_info: list[dict], storage: str = LOCAL,
                    reuse_disk: bool = False,
                    block_devices: Sequence[tuple[BlockDevice, ConnectionInfo]] = ()
                    ) -> SpawnResult:
        if self.spawn_delay:
            await asyncio.sleep(self.spawn_delay)
        if self.fail_spawn:
            raise SpawnError("the fake driver is configured to fail every spawn")
        attached: Attached = {}
        for bdm, connection in block_devices:
            check_volume(attached, bdm, connection)
            attached[bdm.volume_id] = (bdm, connection)
        self.volumes[instance.id] = attached
        flavor = instance.flavor
        self.guests[instance.id] = GuestInfo(
            instance_id=instance.id, name=instance.name, power_state=RUNNING,
            vcpus=flavor.vcpus, memory_mb=flavor.ram, disk_gb=flavor.disk, storage=storage)
        self.console[instance.id] = [
            "[    0.000000] Linux version 6.1.0-fake (overcast fake hypervisor)",
            f"[    0.100000] Command line: root=/dev/vda console=ttyS0 image={instance.image_ref}",
            "[    0.500000] Run /sbin/init as init process",
            f"Welcome to {instance.name}", f"{instance.name} login:"]
        self._save()
        # A shared disk is on storage every host reaches, so the fake reuses it when asked; a
        # local one only if this host kept it (a resize in place).
        kept = instance.id in self.kept_disks
        self.kept_disks.discard(instance.id)
        reused = reuse_disk and (storage == SHARED or kept)
        on_volume = any(bdm.is_root for bdm, _ in block_devices)  # its root is the volume's
        return SpawnResult(disk_reused=reused or on_volume)

    async def destroy(self, instance_id: str, *, keep_disk: bool = False) -> None:
        if keep_disk:
            self.kept_disks.add(instance_id)
        else:
            self.kept_disks.discard(instance_id)
        self.volumes.pop(instance_id, None)
        if self.guests.pop(instance_id, None) is not None:
            self.console.pop(instance_id, None)
            self.rescued.discard(instance_id)
            self._save()

    async def attach_volume(self, instance_id: str, *, block_device: BlockDevice,
                            connection: ConnectionInfo) -> None:
        self.get_info(instance_id)
        if block_device.is_root:
            raise VolumeError("a root volume is attached when the guest is spawned")
        attached = self.volumes.setdefault(instance_id, {})
        if block_device.volume_id in attached:
            return
        check_volume(attached, block_device, connection)
        attached[block_device.volume_id] = (block_device, connection)
        self.console.setdefault(instance_id, []).append(
            f"virtio_blk virtio2: [{block_device.mount_name}] attached "
            f"{block_device.volume_id}")
        self._save()

    async def detach_volume(self, instance_id: str, *, volume_id: str) -> None:
        self.get_info(instance_id)
        found = self.volumes.get(instance_id, {}).get(volume_id)
        if found is None:
            return
        if found[0].is_root:
            raise VolumeError(f"volume {volume_id} is the guest's root")
        del self.volumes[instance_id][volume_id]
        self._save()

    def attached_volumes(self, instance_id: str) -> list[BlockDevice]:
        self.get_info(instance_id)
        return [bdm for bdm, _ in self.volumes.get(instance_id, {}).values()]

    def _set_power(self, instance_id: str, power_state: int, note: str | None = None,
                   *, only_from: tuple[int, ...] | None = None) -> None:
        guest = self.get_info(instance_id)
        if only_from is not None and guest.power_state not in (power_state, *only_from):
            raise SpawnError(f"guest {instance_id} is in power state {guest.power_state}")
        self.guests[instance_id] = GuestInfo(**{**guest.__dict__, "power_state": power_state})
        if note:
            self.console.setdefault(instance_id, []).append(note)
        self._save()

    async def power_off(self, instance_id: str, *, grace: float = 10.0) -> None:
        self._set_power(instance_id, SHUTDOWN, "reboot: Power down")

    async def power_on(self, instance_id: str) -> None:
        self._set_power(instance_id, RUNNING, "[    0.000000] Linux version 6.1.0-fake")

    async def reboot(self, instance_id: str, *, hard: bool) -> None:
        self._set_power(instance_id, RUNNING, "reboot: Restarting system")

    async def pause(self, instance_id: str) -> None:
        self._set_power(instance_id, PAUSED, only_from=(RUNNING,))

    async def unpause(self, instance_id: str) -> None:
        self._set_power(instance_id, RUNNING, only_from=(PAUSED,))

    async def suspend(self, instance_id: str) -> None:
        self._set_power(instance_id, SUSPENDED, "PM: suspend entry (s2idle)",
                        only_from=(RUNNING,))

    async def resume(self, instance_id: str) -> None:
        self._set_power(instance_id, RUNNING, "PM: suspend exit", only_from=(SUSPENDED,))

    async def rescue(self, instance_id: str, *, image: Path | None) -> None:
        self._set_power(instance_id, RUNNING, "rescue: booted the rescue image, the "
                        "guest's disk is at /mnt/rescue")
        self.rescued.add(instance_id)

    async def unrescue(self, instance_id: str) -> None:
        self._set_power(instance_id, RUNNING, "rescue: back on the guest's own disk")
        self.rescued.discard(instance_id)

    async def snapshot(self, instance_id: str, target: Path) -> str:
        """A real tar archive of a small fake root: ``/etc/hostname``, ``/etc/os-release``
        and the guest's console log as ``/var/log/console.log``."""
        guest = self.get_info(instance_id)
        files = {"etc/hostname": f"{guest.name}\n",
                 "etc/os-release": 'NAME="Overcast fake guest"\nID=fake\n',
                 "var/log/console.log": "\n".join(self.console.get(instance_id, [])) + "\n"}
        tmp = target.with_name(target.name + ".part")
        with tarfile.open(tmp, "w") as archive:
            for directory in ("etc", "var", "var/log"):
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            for name, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                archive.addfile(info, io.BytesIO(data))
        os.replace(tmp, target)
        return "tar"

    async def get_console_output(self, instance_id: str, *, length: int | None = None) -> str:
        self.get_info(instance_id)
        lines = self.console.get(instance_id, [])
        return "\n".join(lines if length is None else lines[-length:] if length else [])

    def console_command(self, instance_id: str, command: Sequence[str] | None) -> list[str]:
        """A fake guest is a record with nothing to enter, so its console is never a shell:
        a fixed program (printf, each value a separate argument, no shell) prints the
        guest's name and then, one per line, the arguments it was asked to run."""
        guest = self.get_info(instance_id)
        if guest.power_state != RUNNING:
            raise SpawnError(f"guest {instance_id} is not running")
        asked = list(command) if command is not None else ["(login shell)"]
        return [shutil.which("printf") or "/usr/bin/printf", "%s\n",
                f"fake guest {guest.name}", *asked]

