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
