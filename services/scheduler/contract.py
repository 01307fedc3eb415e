"""What the conductor asks the scheduler to place: the request spec of one instance.

``rpcapi.py`` re-exports it; this module imports no transport, so the scheduler's manager and
filters, the conductor's build task and the tests all use this one definition.
"""
from __future__ import annotations

import dataclasses

from overcast.wire import Wire


@dataclasses.dataclass(frozen=True, kw_only=True)
class RequestSpec(Wire):
    """What one instance needs, and where it may or may not go."""

    instance_id: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    availability_zone: str | None = None
    # A hard server-group policy ("affinity" or "anti-affinity") and the group's members;
    # the scheduler finds the members' hosts from its own claims.
    group_policy: str | None = None
    group_members: tuple[str, ...] = ()
    # Hosts already tried (a reschedule, or the host an evacuation leaves).
    ignore_hosts: tuple[str, ...] = ()
    # Only these hosts, when given (an admin's evacuation to a named host).
    force_hosts: tuple[str, ...] = ()
