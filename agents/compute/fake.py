"""The in-memory driver: guests are records, so thousands fit in one process.

Its state is also written to a small JSON file, so that a restarted agent still knows which
guests it was running (as a real hypervisor would), which host-recovery logic depends on.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from agents.compute.contract import RUNNING, SHUTDOWN, InstancePayload
from agents.compute.driver import (
    LOCAL,
    ComputeDriver,
    GuestInfo,
    GuestNotFound,
    SpawnError,
    SpawnResult,
)


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

    async def init_host(self, host: str) -> None:
        if self.state_file.exists():
            for item in json.loads(self.state_file.read_text()):
                self.guests[item["instance_id"]] = GuestInfo(**item)

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([g.__dict__ for g in self.guests.values()]))
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

    async def spawn(self, instance: InstancePayload, *, image: Path | None,
                    network_info: list[dict], storage: str = LOCAL,
                    reuse_disk: bool = False) -> SpawnResult:
        if self.spawn_delay:
            await asyncio.sleep(self.spawn_delay)
        if self.fail_spawn:
            raise SpawnError("the fake driver is configured to fail every spawn")
        flavor = instance.flavor
        self.guests[instance.id] = GuestInfo(
            instance_id=instance.id, name=instance.name, power_state=RUNNING,
            vcpus=flavor.vcpus, memory_mb=flavor.ram, disk_gb=flavor.disk, storage=storage)
        self.console[instance.id] = [f"{instance.name} login:"]
        self._save()
        return SpawnResult(disk_reused=False)

    async def destroy(self, instance_id: str, *, keep_disk: bool = False) -> None:
        if self.guests.pop(instance_id, None) is not None:
            self.console.pop(instance_id, None)
            self._save()

    def _set_power(self, instance_id: str, power_state: int) -> None:
        guest = self.get_info(instance_id)
        self.guests[instance_id] = GuestInfo(**{**guest.__dict__, "power_state": power_state})
        self._save()

    async def power_off(self, instance_id: str, *, grace: float = 10.0) -> None:
        self._set_power(instance_id, SHUTDOWN)

    async def power_on(self, instance_id: str) -> None:
        self._set_power(instance_id, RUNNING)

    async def reboot(self, instance_id: str, *, hard: bool) -> None:
        self._set_power(instance_id, RUNNING)

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
