"""The virt driver interface: everything physical about a guest sits behind it."""
from __future__ import annotations

import abc
import dataclasses
from pathlib import Path

from agents.compute.contract import InstancePayload


class SpawnError(Exception):
    """The guest could not be started; the driver left nothing behind."""


class GuestNotFound(Exception):
    """The driver runs no guest with this id."""


@dataclasses.dataclass(frozen=True)
class GuestInfo:
    instance_id: str
    name: str
    power_state: int
    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0


class ComputeDriver(abc.ABC):
    """One hypervisor's guests. Every method is idempotent where its docstring says so."""

    hypervisor_type = "abstract"

    @abc.abstractmethod
    async def init_host(self, host: str) -> None:
        """Prepare the host (state directories, existing guests) before serving."""

    @abc.abstractmethod
    def host_resources(self) -> dict:
        """What the host offers: ``vcpus``, ``memory_mb``, ``local_gb``, ``host_ip``."""

    @abc.abstractmethod
    def list_guests(self) -> list[GuestInfo]:
        """The guests this driver runs now, from its own state (not the database)."""

    @abc.abstractmethod
    def get_info(self, instance_id: str) -> GuestInfo:
        """The guest's state; raises ``GuestNotFound``."""

    @abc.abstractmethod
    async def spawn(self, instance: InstancePayload, *, image: Path | None,
                    network_info: list[dict]) -> None:
        """Create and start the guest. On failure leave nothing behind and raise SpawnError."""

    @abc.abstractmethod
    async def destroy(self, instance_id: str) -> None:
        """Stop the guest and remove its disk. Idempotent: a missing guest is not an error."""

    @abc.abstractmethod
    async def power_off(self, instance_id: str) -> None:
        """Stop the guest, keeping its disk. Idempotent."""

    @abc.abstractmethod
    async def power_on(self, instance_id: str) -> None:
        """Start a stopped guest. Idempotent."""

    @abc.abstractmethod
    async def reboot(self, instance_id: str, *, hard: bool) -> None:
        """Restart the guest: soft asks it to, hard resets it. Ends running."""

    async def snapshot(self, instance_id: str, target: Path) -> None:
        """Write the guest's root disk contents to ``target`` (an image archive)."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot snapshot")

    async def attach_volume(self, instance_id: str, *, volume_id: str, device: Path) -> None:
        """Make a volume's backing file appear inside the guest."""
        raise NotImplementedError(f"{self.hypervisor_type} cannot attach volumes")

    async def detach_volume(self, instance_id: str, *, volume_id: str) -> None:
        raise NotImplementedError(f"{self.hypervisor_type} cannot detach volumes")

    async def get_console_output(self, instance_id: str) -> str:
        """The guest's console log so far."""
        raise NotImplementedError(f"{self.hypervisor_type} has no console")
