from __future__ import annotations

import pytest

from overcast import errors
from services.conductor import states


@pytest.mark.parametrize("vm_state, task_state, expected", [
    ("building", "scheduling", "BUILD"), ("active", None, "ACTIVE"),
    ("active", "rebooting", "REBOOT"), ("active", "rebooting_hard", "HARD_REBOOT"),
    ("stopped", None, "SHUTOFF"), ("error", None, "ERROR"), ("active", "deleting", "ACTIVE"),
    ("weird", None, "UNKNOWN"),
])
def test_status(vm_state, task_state, expected):
    assert states.status(vm_state, task_state) == expected


def test_stop_requires_active():
    states.check_action("stop", vm_state="active", task_state=None, instance_id="i")
    with pytest.raises(errors.Conflict, match="vm_state stopped"):
        states.check_action("stop", vm_state="stopped", task_state=None, instance_id="i")


def test_nothing_while_a_task_runs():
    with pytest.raises(errors.Conflict, match="task_state powering-off"):
        states.check_action("start", vm_state="stopped", task_state="powering-off",
                            instance_id="i")


def test_soft_reboot_only_when_active_hard_also_when_stopped():
    with pytest.raises(errors.Conflict):
        states.check_action("reboot", vm_state="stopped", task_state=None, instance_id="i")
    states.check_action("reboot", vm_state="stopped", task_state=None, instance_id="i",
                        hard=True)


def test_status_filter():
    assert states.vm_states_for_status("shutoff") == {"stopped"}


@pytest.mark.parametrize("vm_state, task_state, expected", [
    ("paused", None, "PAUSED"), ("suspended", None, "SUSPENDED"), ("rescued", None, "RESCUE"),
    ("shelved", None, "SHELVED"), ("shelved_offloaded", None, "SHELVED_OFFLOADED"),
    ("resized", None, "VERIFY_RESIZE"), ("resized", "resize_reverting", "REVERT_RESIZE"),
    ("active", "resize_prep", "RESIZE"), ("stopped", "resize_migrating", "RESIZE"),
    ("active", "migrating", "MIGRATING"), ("paused", "migrating", "MIGRATING"),
    ("active", "image_snapshot", "ACTIVE"), ("active", "rebuild_spawning", "REBUILD"),
    ("active", "pausing", "ACTIVE"), ("active", "shelving", "ACTIVE"),
])
def test_status_of_the_other_states_as_novas_table(vm_state, task_state, expected):
    assert states.status(vm_state, task_state) == expected


@pytest.mark.parametrize("action, allowed", [
    ("pause", {"active"}), ("unpause", {"paused"}), ("suspend", {"active"}),
    ("resume", {"suspended"}), ("rescue", {"active", "stopped", "error"}),
    ("unrescue", {"rescued"}), ("createImage", {"active", "stopped", "paused", "suspended"}),
    ("shelve", {"active", "stopped", "paused", "suspended"}), ("shelveOffload", {"shelved"}),
    ("unshelve", {"shelved", "shelved_offloaded"}), ("rebuild", {"active", "stopped", "error"}),
    ("resize", {"active", "stopped"}), ("confirmResize", {"resized"}),
    ("revertResize", {"resized"}), ("stop", {"active", "rescued", "error"}),
])
def test_each_action_is_allowed_in_novas_vm_states_only(action, allowed):
    every = {"building", "active", "stopped", "paused", "suspended", "rescued", "resized",
             "shelved", "shelved_offloaded", "error"}
    for vm_state in every:
        if vm_state in allowed:
            states.check_action(action, vm_state=vm_state, task_state=None, instance_id="i")
        else:
            with pytest.raises(errors.Conflict, match=f"Cannot '{action}' instance i while "
                                                      f"it is in vm_state {vm_state}"):
                states.check_action(action, vm_state=vm_state, task_state=None,
                                    instance_id="i")


def test_the_vm_state_is_named_before_the_task_state():
    with pytest.raises(errors.Conflict, match="vm_state paused"):
        states.check_action("pause", vm_state="paused", task_state="pausing", instance_id="i")


def test_a_locked_instance_refuses_members_only():
    states.check_lock(locked=True, is_admin=True, instance_id="i")
    states.check_lock(locked=False, is_admin=False, instance_id="i")
    with pytest.raises(errors.Conflict, match="Instance i is locked"):
        states.check_lock(locked=True, is_admin=False, instance_id="i")
