"""The instance state machine: vm_state, task_state and the API status they show.

The values, the status table and the states each action is allowed in follow Nova's
(``nova/compute/vm_states.py``, ``task_states.py``, ``nova/api/openstack/common.py`` and the
``check_instance_state`` decorators of ``nova/compute/api.py``), so stock clients read them
unchanged. The power_state values are what hosts report: they are the compute agent's
contract (``agents.compute.contract``).
"""
from __future__ import annotations

from overcast import errors

# vm_state: what the instance is at rest.
BUILDING = "building"
ACTIVE = "active"
STOPPED = "stopped"
PAUSED = "paused"
SUSPENDED = "suspended"
RESCUED = "rescued"
RESIZED = "resized"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"
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
REBUILD_SPAWNING = "rebuild_spawning"
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"
RESCUING = "rescuing"
UNRESCUING = "unrescuing"
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"
SHELVING = "shelving"
SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_MIGRATED = "resize_migrated"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
MIGRATING = "migrating"
DELETING = "deleting"

_RESIZING = {RESIZE_PREP: "RESIZE", RESIZE_MIGRATING: "RESIZE", RESIZE_MIGRATED: "RESIZE",
             RESIZE_FINISH: "RESIZE"}
_REBUILDING = {REBUILDING: "REBUILD", REBUILD_SPAWNING: "REBUILD"}

_STATUS = {
    BUILDING: {None: "BUILD"},
    ACTIVE: {None: "ACTIVE", REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT",
             MIGRATING: "MIGRATING", **_REBUILDING, **_RESIZING},
    STOPPED: {None: "SHUTOFF", REBOOTING_HARD: "HARD_REBOOT", **_REBUILDING, **_RESIZING},
    RESIZED: {None: "VERIFY_RESIZE", RESIZE_REVERTING: "REVERT_RESIZE"},
    PAUSED: {None: "PAUSED", MIGRATING: "MIGRATING"},
    SUSPENDED: {None: "SUSPENDED"},
    RESCUED: {None: "RESCUE"},
    SHELVED: {None: "SHELVED"},
    SHELVED_OFFLOADED: {None: "SHELVED_OFFLOADED"},
    ERROR: {None: "ERROR", **_REBUILDING},
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


_IDLE = {None}
_SOFT_REBOOT = {ACTIVE}
_HARD_REBOOT = {ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR}
_ALLOW_REBOOT = {None, REBOOTING, REBOOTING_HARD}
# Nova's attach_volume and detach_volume (SOFT_DELETED aside, which Overcast has not).
_VOLUME_STATES = {ACTIVE, PAUSED, STOPPED, RESIZED, SHELVED, SHELVED_OFFLOADED}

# action -> (vm_states allowed, task_states allowed); None allows any task_state.
_ALLOWED: dict[str, tuple[set[str], set[str | None] | None]] = {
    "stop": ({ACTIVE, RESCUED, ERROR}, _IDLE),
    "start": ({STOPPED}, _IDLE),
    "reboot": (_HARD_REBOOT, _ALLOW_REBOOT),
    "pause": ({ACTIVE}, _IDLE),
    "unpause": ({PAUSED}, _IDLE),
    "suspend": ({ACTIVE}, _IDLE),
    "resume": ({SUSPENDED}, _IDLE),
    "rescue": ({ACTIVE, STOPPED, ERROR}, _IDLE),
    "unrescue": ({RESCUED}, _IDLE),
    "createImage": ({ACTIVE, STOPPED, PAUSED, SUSPENDED}, _IDLE),
    "shelve": ({ACTIVE, STOPPED, PAUSED, SUSPENDED}, _IDLE),
    "shelveOffload": ({SHELVED}, _IDLE),
    "unshelve": ({SHELVED, SHELVED_OFFLOADED}, _IDLE),
    "rebuild": ({ACTIVE, STOPPED, ERROR}, _IDLE),
    "resize": ({ACTIVE, STOPPED}, _IDLE),
    "migrate": ({ACTIVE, STOPPED}, _IDLE),
    "confirmResize": ({RESIZED}, _IDLE),
    "revertResize": ({RESIZED}, _IDLE),
    "evacuate": ({ACTIVE, STOPPED, ERROR}, {None, REBUILDING, POWERING_OFF, POWERING_ON,
                                            REBOOTING, REBOOTING_HARD, SPAWNING}),
    "attach_volume": (_VOLUME_STATES, _IDLE),
    "detach_volume": (_VOLUME_STATES, _IDLE),
}

# What each action leaves the instance in once the host has done it: the task_state it
# runs under and the vm_state it ends in (None: the vm_state it had).
TRANSITIONS: dict[str, tuple[str, str | None]] = {
    "pause": (PAUSING, PAUSED),
    "unpause": (UNPAUSING, ACTIVE),
    "suspend": (SUSPENDING, SUSPENDED),
    "resume": (RESUMING, ACTIVE),
    "rescue": (RESCUING, RESCUED),
    "unrescue": (UNRESCUING, ACTIVE),
    "createImage": (IMAGE_SNAPSHOT, None),
    "shelve": (SHELVING, SHELVED),
    "shelveOffload": (SHELVING_OFFLOADING, SHELVED_OFFLOADED),
    "unshelve": (UNSHELVING, ACTIVE),  # shelved but not offloaded: its guest is still there
}


def actions() -> list[str]:
    """Every action with a state check."""
    return list(_ALLOWED)


def allowed_vm_states(action: str) -> set[str]:
    return set(_ALLOWED[action][0])


def check_action(action: str, *, vm_state: str, task_state: str | None, instance_id: str,
                 hard: bool = False) -> None:
    """Raise ``Conflict`` (HTTP 409, Nova's message) unless ``action`` is allowed now.

    As Nova's ``check_instance_state``, the vm_state is checked before the task_state.
    """
    vm_ok, task_ok = _ALLOWED[action]
    if action == "reboot" and not hard:
        vm_ok = _SOFT_REBOOT
    if vm_state not in vm_ok:
        raise errors.Conflict(f"Cannot '{action}' instance {instance_id} while it is in "
                              f"vm_state {vm_state}")
    if task_ok is not None and task_state not in task_ok:
        raise errors.Conflict(f"Cannot '{action}' instance {instance_id} while it is in "
                              f"task_state {task_state}")


def check_lock(*, locked: bool, is_admin: bool, instance_id: str) -> None:
    """Nova's ``check_instance_lock``: a locked instance refuses every action of a non-admin
    (409); lock and unlock themselves are not checked."""
    if locked and not is_admin:
        raise errors.Conflict(f"Instance {instance_id} is locked")
