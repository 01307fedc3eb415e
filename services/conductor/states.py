"""The instance state machine: vm_state, task_state and the API status they show.

The values and the status table follow Nova's, so stock clients read them unchanged. The
power_state values are what hosts report: they are the compute agent's contract
(``agents.compute.contract``).
"""
from __future__ import annotations

from overcast import errors

# vm_state: what the instance is at rest.
BUILDING = "building"
ACTIVE = "active"
STOPPED = "stopped"
ERROR = "error"
DELETED = "deleted"

# task_state: what is being done to it now (None when nothing).
SCHEDULING = "scheduling"
NETWORKING = "networking"
SPAWNING = "spawning"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
REBUILDING = "rebuilding"
DELETING = "deleting"

_STATUS = {
    BUILDING: {None: "BUILD"},
    ACTIVE: {None: "ACTIVE", REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT",
             REBUILDING: "REBUILD"},
    STOPPED: {None: "SHUTOFF", REBOOTING_HARD: "HARD_REBOOT", REBUILDING: "REBUILD"},
    ERROR: {None: "ERROR", REBUILDING: "REBUILD"},
    DELETED: {None: "DELETED"},
}


def status(vm_state: str, task_state: str | None) -> str:
    """The API ``status`` of an instance, as Nova derives it."""
    table = _STATUS.get(vm_state)
    if table is None:
        return "UNKNOWN"
    return table.get(task_state, table[None])


def vm_states_for_status(name: str) -> set[str]:
    """The vm_states an API ``status`` filter selects."""
    name = name.upper()
    return {vm for vm, table in _STATUS.items() if table[None] == name}


# action -> (vm_states allowed, task_states allowed)
_ALLOWED = {
    "stop": ({ACTIVE, ERROR}, {None}),
    "start": ({STOPPED}, {None}),
    "reboot": ({ACTIVE, STOPPED, ERROR}, {None, REBOOTING, REBOOTING_HARD}),
    "evacuate": ({ACTIVE, STOPPED, ERROR}, {None, REBUILDING, POWERING_OFF, POWERING_ON,
                                            REBOOTING, REBOOTING_HARD, SPAWNING}),
}


def check_action(action: str, *, vm_state: str, task_state: str | None, instance_id: str,
                 hard: bool = False) -> None:
    """Raise ``Conflict`` (HTTP 409) if ``action`` is not allowed in the current state."""
    vm_ok, task_ok = _ALLOWED[action]
    if action == "reboot" and not hard:
        vm_ok = {ACTIVE}
    if vm_state not in vm_ok or task_state not in task_ok:
        raise errors.Conflict(
            f"Cannot '{action}' instance {instance_id} while it is in "
            + (f"task_state {task_state}" if task_state not in task_ok else f"vm_state {vm_state}"))
