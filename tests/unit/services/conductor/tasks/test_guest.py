"""Actions done in place on a host (pause, suspend, rescue, snapshot), lock, the console log
and power states a host sees on its own, with in-memory peers (no broker)."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from agents.compute.contract import CRASHED, RUNNING, SHUTDOWN
from overcast import errors
from overcast.clock import utcnow
from overcast.context import RequestContext, new_request_id
from overcast.testing import eventually
from tests.unit.services.conductor.twins import CTX, wait_status
from tests.unit.services.conductor.twins import boot_request as request

ADMIN = RequestContext.admin()
OTHER = RequestContext(user_id="u2", project_id="p2", roles=("member",))


def _ctx() -> RequestContext:
    """The owner's context for one request (each request has its own id)."""
    return dataclasses.replace(CTX, request_id=new_request_id())


async def _active(conductor) -> str:
    [inst] = await conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    return inst["id"]


def _server(conductor, instance_id):
    return conductor.queries.get_server(CTX, instance_id)


def _events(conductor, instance_id, action):
    [record] = [a for a in conductor.queries.list_actions(CTX, instance_id=instance_id)
                if a["action"] == action][:1]
    return {e["event"]: e["result"] for e in conductor.queries.get_action(
        CTX, instance_id=instance_id, request_id=record["request_id"])["events"]}


@pytest.mark.parametrize("there, status, back, power", [
    ("pause", "PAUSED", "unpause", 3), ("suspend", "SUSPENDED", "resume", 7),
    ("rescue", "RESCUE", "unrescue", RUNNING)])
async def test_an_action_and_its_undo_reach_their_states(conductor, there, status, back,
                                                         power):
    instance_id = await _active(conductor)
    await conductor.guests.start(_ctx(), instance_id=instance_id, action=there)
    assert _server(conductor, instance_id)["task_state"] is not None
    await wait_status(conductor, instance_id, status)
    assert _server(conductor, instance_id)["power_state"] == power
    assert _events(conductor, instance_id, there) == {f"compute_{there}_instance": "Success"}
    await conductor.guests.start(_ctx(), instance_id=instance_id, action=back)
    await wait_status(conductor, instance_id, "ACTIVE")
    assert _server(conductor, instance_id)["task_state"] is None
    assert f"compute.instance.{back}.end" in conductor.events


async def test_actions_refused_in_the_wrong_state_with_novas_message(conductor):
    instance_id = await _active(conductor)
    with pytest.raises(errors.Conflict, match=f"Cannot 'unpause' instance {instance_id} "
                                              "while it is in vm_state active"):
        await conductor.guests.start(_ctx(), instance_id=instance_id, action="unpause")
    await conductor.guests.start(_ctx(), instance_id=instance_id, action="pause")
    with pytest.raises(errors.Conflict, match=r"task_state pausing|vm_state paused"):
        await conductor.guests.start(_ctx(), instance_id=instance_id, action="suspend")


async def test_a_failed_action_leaves_the_state_it_found_and_an_error_event(conductor):
    instance_id = await _active(conductor)
    conductor.peers.compute.failing = {_server(conductor, instance_id)["host"]}
    await conductor.guests.start(_ctx(), instance_id=instance_id, action="pause")
    await eventually(lambda: _server(conductor, instance_id)["task_state"] is None)
    server = _server(conductor, instance_id)
    assert (server["status"], server["fault"]) == ("ACTIVE", None)
    assert _events(conductor, instance_id, "pause") == {"compute_pause_instance": "Error"}


async def test_a_duplicate_report_changes_nothing(conductor):
    instance_id = await _active(conductor)
    await conductor.guests.start(_ctx(), instance_id=instance_id, action="pause")
    await wait_status(conductor, instance_id, "PAUSED")
    host = _server(conductor, instance_id)["host"]
    await conductor.guests.action_done(CTX, instance_id=instance_id, host=host,
                                       action="unpause", power_state=RUNNING)
    assert _server(conductor, instance_id)["status"] == "PAUSED"


async def test_a_snapshot_goes_to_the_host_and_keeps_the_state(conductor):
    instance_id = await _active(conductor)
    await conductor.guests.start(_ctx(), instance_id=instance_id, action="createImage",
                                 image_id="img-1")
    assert _server(conductor, instance_id)["task_state"] == "image_snapshot"
    await eventually(lambda: _server(conductor, instance_id)["task_state"] is None)
    assert _server(conductor, instance_id)["status"] == "ACTIVE"
    assert conductor.peers.compute.actions[-1][2:] == ("createImage", "img-1")


async def test_a_locked_server_refuses_its_owner_but_not_an_admin(conductor):
    instance_id = await _active(conductor)
    conductor.guests.lock(_ctx(), instance_id=instance_id, reason="audit")
    server = _server(conductor, instance_id)
    assert (server["locked"], server["locked_reason"]) == (True, "audit")
    for attempt in (lambda: conductor.guests.start(_ctx(), instance_id=instance_id,
                                                   action="pause"),
                    lambda: conductor.operations.power_action(_ctx(), instance_id=instance_id,
                                                              action="stop"),
                    lambda: conductor.operations.delete_server(_ctx(), instance_id=instance_id)):
        with pytest.raises(errors.Conflict, match=f"Instance {instance_id} is locked"):
            await attempt()
    await conductor.guests.start(ADMIN, instance_id=instance_id, action="pause")
    await wait_status(conductor, instance_id, "PAUSED")
    conductor.guests.unlock(_ctx(), instance_id=instance_id)
    assert _server(conductor, instance_id)["locked"] is False
    assert {"lock", "unlock"} <= {a["action"] for a in conductor.queries.list_actions(
        CTX, instance_id=instance_id)}


async def test_only_an_admin_unlocks_what_an_admin_locked(conductor):
    instance_id = await _active(conductor)
    conductor.guests.lock(ADMIN, instance_id=instance_id)
    with pytest.raises(errors.Forbidden):
        conductor.guests.unlock(_ctx(), instance_id=instance_id)
    conductor.guests.unlock(ADMIN, instance_id=instance_id)


async def test_another_project_sees_no_such_server(conductor):
    instance_id = await _active(conductor)
    with pytest.raises(errors.NotFound):
        await conductor.guests.start(OTHER, instance_id=instance_id, action="pause")
    with pytest.raises(errors.NotFound):
        conductor.guests.lock(OTHER, instance_id=instance_id)
    with pytest.raises(errors.NotFound):
        await conductor.guests.console_output(OTHER, instance_id=instance_id)


async def test_console_output_comes_from_the_host(conductor):
    instance_id = await _active(conductor)
    output = await conductor.guests.console_output(CTX, instance_id=instance_id, length=2)
    assert output.splitlines() == [f"{instance_id} line 3", f"{instance_id} line 4"]


@pytest.mark.parametrize("power", [SHUTDOWN, CRASHED])
async def test_a_guest_that_stopped_on_its_own_makes_the_server_shutoff(conductor, power):
    instance_id = await _active(conductor)
    host = _server(conductor, instance_id)["host"]
    await conductor.guests.power_state_changed(_ctx(), instance_id=instance_id, host=host,
                                               power_state=power)
    server = _server(conductor, instance_id)
    assert (server["status"], server["power_state"]) == ("SHUTOFF", power)
    assert _events(conductor, instance_id, "stop") == {"compute_stop_instance": "Success"}


async def test_power_reports_are_ignored_from_another_host_or_during_a_task(conductor):
    instance_id = await _active(conductor)
    host = _server(conductor, instance_id)["host"]
    other = "h2" if host == "h1" else "h1"
    await conductor.guests.power_state_changed(_ctx(), instance_id=instance_id, host=other,
                                               power_state=SHUTDOWN)
    assert _server(conductor, instance_id)["status"] == "ACTIVE"
    with conductor.store.edit(instance_id) as (_session, inst):
        inst.task_state = "pausing"
    await conductor.guests.power_state_changed(_ctx(), instance_id=instance_id, host=host,
                                               power_state=SHUTDOWN)
    assert _server(conductor, instance_id)["vm_state"] == "active"


async def test_a_power_report_seen_before_the_last_change_is_stale(conductor):
    """A SHUTDOWN seen mid-build, redelivered after the build's own report, is dropped."""
    instance_id = await _active(conductor)
    host = _server(conductor, instance_id)["host"]
    before = (utcnow() - dt.timedelta(seconds=5)).isoformat()
    await conductor.guests.power_state_changed(_ctx(), instance_id=instance_id, host=host,
                                               power_state=SHUTDOWN, observed_at=before)
    assert _server(conductor, instance_id)["status"] == "ACTIVE"
    await conductor.guests.power_state_changed(_ctx(), instance_id=instance_id, host=host,
                                               power_state=SHUTDOWN,
                                               observed_at=utcnow().isoformat())
    assert _server(conductor, instance_id)["status"] == "SHUTOFF"


async def test_placements_say_which_guests_should_run(conductor):
    instance_id = await _active(conductor)
    host = _server(conductor, instance_id)["host"]
    assert conductor.queries.placements_on_host(host) == [{"id": instance_id,
                                                           "running": True}]
    await conductor.operations.power_action(_ctx(), instance_id=instance_id, action="stop")
    await wait_status(conductor, instance_id, "SHUTOFF")
    assert conductor.queries.placements_on_host(host) == [{"id": instance_id,
                                                           "running": False}]


async def test_an_action_whose_report_never_comes_is_given_up_not_stuck(conductor):
    instance_id = await _active(conductor)
    conductor.peers.compute.guest_action = _never_answers
    await conductor.guests.start(_ctx(), instance_id=instance_id, action="pause")
    assert _server(conductor, instance_id)["task_state"] == "pausing"
    conductor.builds.limits = dataclasses.replace(conductor.builds.limits, build_timeout=0)
    await conductor.recovery.recover_stuck()
    server = _server(conductor, instance_id)
    assert (server["status"], server["task_state"], server["fault"]) == ("ACTIVE", None, None)
    assert _events(conductor, instance_id, "pause") == {"compute_pause_instance": "Error"}


async def test_a_move_that_never_finishes_ends_in_error(conductor):
    instance_id = await _active(conductor)
    conductor.peers.compute.guest_action = _never_answers
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await eventually(lambda: _server(conductor, instance_id)["task_state"]
                     == "resize_migrating")
    conductor.builds.limits = dataclasses.replace(conductor.builds.limits, build_timeout=0)
    await conductor.recovery.recover_stuck()
    server = _server(conductor, instance_id)
    assert (server["status"], server["task_state"]) == ("ERROR", None)
    assert "timed out" in server["fault"]["message"]


async def _never_answers(ctx, **kwargs):
    return None  # the cast went to a host that never reports
