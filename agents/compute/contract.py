"""What the conductor sends a compute host, and the power states a host reports.

``rpcapi.py`` re-exports these; this module imports no transport, so the conductor's
managers and the agent's own manager and drivers can use it too.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from overcast.wire import Wire

# power_state, as the hypervisor reports it (Nova's values, which stock clients show).
NOSTATE = 0
RUNNING = 1
PAUSED = 3
SHUTDOWN = 4
CRASHED = 6
SUSPENDED = 7


@dataclasses.dataclass(frozen=True, kw_only=True)
class FlavorSpec(Wire):
    """The size of a guest: what the host must give it."""

    id: str
    name: str
    vcpus: int
    ram: int  # MiB
    disk: int  # GiB, the root disk
    ephemeral: int = 0
    swap: int = 0
    extra_specs: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlockDevice(Wire):
    """One volume of an instance (Nova's block device mapping), as its host needs it.

    ``device_name`` is what Nova reports ("/dev/vdb"); the guest sees the volume's
    filesystem at ``/mnt/volumes/<basename>`` ("/mnt/volumes/vdb"). ``boot_index`` 0 is the
    root volume of a server booted from volume: its filesystem is the guest's root.
    ``attachment_id`` is the volume service's attachment the host completes with its own
    connector (``services/volume/contract.py``)."""

    volume_id: str
    attachment_id: str
    device_name: str
    boot_index: int | None = None
    delete_on_termination: bool = False
    tag: str | None = None

    @property
    def is_root(self) -> bool:
        return self.boot_index == 0

    @property
    def mount_name(self) -> str:
        """The directory under ``/mnt/volumes`` the guest sees the volume in."""
        return self.device_name.rsplit("/", 1)[-1]


@dataclasses.dataclass(frozen=True, kw_only=True)
class InstancePayload(Wire):
    """One instance as a host needs it to build the guest (``build_and_run_instance``)."""

    id: str
    name: str
    project_id: str
    user_id: str
    flavor: FlavorSpec
    image_ref: str = ""
    key_name: str | None = None
    key_data: str | None = None
    user_data: str | None = None
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    availability_zone: str | None = None
    launch_index: int = 0
    # The ports bound for this host, as the network service describes them (VIFs).
    network_info: tuple[Mapping[str, Any], ...] = ()
    # Its volumes (compute RPC 1.3), attached on every host it is built on.
    block_device_mapping: tuple[BlockDevice, ...] = ()

    @property
    def root_volume(self) -> BlockDevice | None:
        """The volume the guest boots from, or None when it boots from its image."""
        return next((bdm for bdm in self.block_device_mapping if bdm.is_root), None)
