"""The services the conductor talks to: one definition for the process and its tests."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the rpcapi clients bring the bus in; the managers only name them
    from agents.compute.rpcapi import ComputeAgentAPI
    from services.network.rpcapi import NetworkAPI
    from services.scheduler.rpcapi import SchedulerAPI
    from services.volume.rpcapi import VolumeAPI


@dataclasses.dataclass(frozen=True, kw_only=True)
class Peers:
    """The rpcapi clients in the conductor process; unit tests pass in-memory twins that
    answer the same methods."""

    scheduler: SchedulerAPI
    compute: ComputeAgentAPI
    network: NetworkAPI
    volume: VolumeAPI
