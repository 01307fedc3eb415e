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
