"""Host filters and weighers. Each is a pure function of a host's state and the request."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from services.scheduler.contract import RequestSpec


@dataclasses.dataclass
class HostState:
    """A host as the scheduler sees it: inventory, usage and liveness."""

    host: str
    zone: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    reserved_memory_mb: int = 0
    vcpus_used: int = 0
    memory_mb_used: int = 0
    disk_gb_used: int = 0
    instances: set[str] = dataclasses.field(default_factory=set)
    up: bool = False
    disabled: bool = True

    @property
    def free_ram_mb(self) -> float:
        return (self.memory_mb * self.ram_allocation_ratio - self.reserved_memory_mb
                - self.memory_mb_used)

    @property
    def free_vcpus(self) -> float:
        return self.vcpus * self.cpu_allocation_ratio - self.vcpus_used

    @property
    def free_disk_gb(self) -> float:
        return self.disk_gb * self.disk_allocation_ratio - self.disk_gb_used


@dataclasses.dataclass(frozen=True)
class FilterRequest:
    """What the filters judge a host against: the spec, and the hosts that the other members
    of its server group hold (the scheduler knows these from its own claims)."""

    spec: RequestSpec
    group_hosts: frozenset[str] = frozenset()


Filter = Callable[[HostState, FilterRequest], bool]


def compute_filter(host: HostState, request: FilterRequest) -> bool:
    """The host's compute service is up and enabled."""
    return host.up and not host.disabled


def ram_filter(host: HostState, request: FilterRequest) -> bool:
    return host.free_ram_mb >= request.spec.memory_mb


def core_filter(host: HostState, request: FilterRequest) -> bool:
    return host.free_vcpus >= request.spec.vcpus


def disk_filter(host: HostState, request: FilterRequest) -> bool:
    return host.free_disk_gb >= request.spec.disk_gb


def availability_zone_filter(host: HostState, request: FilterRequest) -> bool:
    return not request.spec.availability_zone or host.zone == request.spec.availability_zone


def server_group_filter(host: HostState, request: FilterRequest) -> bool:
    """Affinity keeps a group on its members' host; anti-affinity keeps them apart."""
    if request.spec.group_policy == "affinity":
        return not request.group_hosts or host.host in request.group_hosts
    if request.spec.group_policy == "anti-affinity":
        return host.host not in request.group_hosts
    return True


def ignore_hosts_filter(host: HostState, request: FilterRequest) -> bool:
    """Hosts already tried for this instance (rescheduling) are skipped."""
    return host.host not in request.spec.ignore_hosts


def force_hosts_filter(host: HostState, request: FilterRequest) -> bool:
    return not request.spec.force_hosts or host.host in request.spec.force_hosts


DEFAULT_FILTERS: dict[str, Filter] = {
    "ComputeFilter": compute_filter,
    "IgnoreHostsFilter": ignore_hosts_filter,
    "ForceHostsFilter": force_hosts_filter,
    "AvailabilityZoneFilter": availability_zone_filter,
    "RamFilter": ram_filter,
    "CoreFilter": core_filter,
    "DiskFilter": disk_filter,
    "ServerGroupFilter": server_group_filter,
}


def ram_weigher(hosts: list[HostState]) -> dict[str, float]:
    """Spread: more free RAM weighs more (normalised to 0..1)."""
    if not hosts:
        return {}
    values = {h.host: h.free_ram_mb for h in hosts}
    low, high = min(values.values()), max(values.values())
    span = (high - low) or 1.0
    return {name: (value - low) / span for name, value in values.items()}
