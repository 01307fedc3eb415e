"""The conductor's instance lifecycle with in-memory peers (no broker)."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from overcast import errors
from overcast.context import RequestContext
from overcast.testing import eventually
from tests.unit.services.conductor.twins import CTX, wait_status
from tests.unit.services.conductor.twins import boot_request as request


async def test_boot_goes_active_with_network_and_notifications(conductor):
    [inst] = await conductor.create_servers(CTX, request=request())
    assert inst["status"] == "BUILD"
    await wait_status(conductor, inst["id"], "ACTIVE")
    server = conductor.queries.get_server(CTX, inst["id"])
    assert server["host"] in ("h1", "h2")
    assert server["addresses"] == [{"network": "private", "ip": "10.0.0.5",
                                    "mac": "fa:16:3e:00:00:01", "type": "fixed"}]
    assert "key_data" not in server
    assert "compute.instance.create.end" in conductor.events
    action = conductor.queries.get_action(CTX, instance_id=inst["id"], request_id=CTX.request_id)
    assert {e["event"]: e["result"] for e in action["events"]} == {
        "conductor_schedule_and_build_instances": "Success",
        "compute__do_build_and_run_instance": "Success"}


async def test_refused_requests_create_nothing(conductor):
    for bad, error in ((request(flavor_id="nope"), errors.BadRequest),
                       (request(key_name="missing"), errors.BadRequest),
                       (request(max_count=11, min_count=11), errors.QuotaExceeded),
                       (request(availability_zone="mars"), errors.BadRequest)):
        with pytest.raises(error):
            await conductor.create_servers(CTX, request=bad)
    assert conductor.queries.list_servers(CTX, filters={}) == []


async def test_quota_counts_existing_instances(conductor):
    await conductor.create_servers(CTX, request=request(max_count=10, min_count=10))
    with pytest.raises(errors.QuotaExceeded, match="already used 10 of 10"):
        await conductor.create_servers(CTX, request=request())


async def test_spawn_failure_reschedules_then_errors(conductor):
    conductor.peers.compute.failing = {"h1"}
    made = await conductor.create_servers(CTX, request=request(max_count=4, min_count=4))
    for inst in made:
        await wait_status(conductor, inst["id"], "ACTIVE")
        assert conductor.queries.get_server(CTX, inst["id"])["host"] == "h2"
    conductor.peers.compute.failing = {"h1", "h2"}
    [doomed] = await conductor.create_servers(CTX, request=request(name="doomed"))
    await wait_status(conductor, doomed["id"], "ERROR")
    fault = conductor.queries.get_server(CTX, doomed["id"])["fault"]
    assert "No valid host" in fault["message"]
    assert not conductor.peers.scheduler.manager.allocations.get(doomed["id"])


async def test_scheduler_outage_is_waited_out(conductor):
    conductor.peers.scheduler.available = False
    [inst] = await conductor.create_servers(CTX, request=request())
    await eventually(lambda: conductor.peers.scheduler.refused >= 2)  # it retried, and waits
    assert conductor.queries.get_server(CTX, inst["id"])["status"] == "BUILD"
    conductor.peers.scheduler.available = True
    await wait_status(conductor, inst["id"], "ACTIVE")


async def test_scheduler_outage_past_deadline_ends_in_error(conductor):
    conductor.peers.scheduler.available = False
    conductor.builds.limits = dataclasses.replace(conductor.builds.limits, build_timeout=0.5)
    [inst] = await conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ERROR")
    assert "scheduler did not answer" in conductor.queries.get_server(CTX, inst["id"])["fault"][
        "message"]


async def test_power_actions_and_conflicts(conductor):
    [inst] = await conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    await conductor.operations.power_action(CTX, instance_id=inst["id"], action="stop")
    await wait_status(conductor, inst["id"], "SHUTOFF")
    with pytest.raises(errors.Conflict):
        await conductor.operations.power_action(CTX, instance_id=inst["id"], action="stop")
    await conductor.operations.power_action(CTX, instance_id=inst["id"], action="start")
    await wait_status(conductor, inst["id"], "ACTIVE")


async def test_delete_releases_everything(conductor):
    [inst] = await conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    await conductor.operations.delete_server(CTX, instance_id=inst["id"])
    await eventually(lambda: conductor.queries.list_servers(CTX, filters={}) == [], timeout=5)
    assert inst["id"] not in conductor.peers.network.ports
    assert inst["id"] not in conductor.peers.scheduler.manager.allocations
    assert all(inst["id"] not in g for g in conductor.peers.compute.guests.values())
    assert [a["action"] for a in conductor.queries.list_actions(CTX, instance_id=inst["id"])] == [
        "delete", "create"]


async def test_other_projects_see_nothing(conductor):
    [inst] = await conductor.create_servers(CTX, request=request())
    other = RequestContext(user_id="u2", project_id="p2", roles=("member",))
    with pytest.raises(errors.NotFound):
        conductor.queries.get_server(other, inst["id"])
    assert conductor.queries.list_servers(other, filters={"all_tenants": True}) == []
    admin = RequestContext(user_id="a", project_id="p0", roles=("admin",))
    assert conductor.queries.list_servers(admin, filters={}) == []
    assert len(conductor.queries.list_servers(admin, filters={"all_tenants": True})) == 1


async def test_recovery_restarts_lost_builds(conductor):
    [inst] = await conductor.create_servers(CTX, request=request())
    # Simulate a conductor restart: the in-memory build task is gone.
    task = conductor.builds._tasks.get(inst["id"])
    if task:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await conductor.recovery.recover_stuck(spawn_grace=0)
    await wait_status(conductor, inst["id"], "ACTIVE")


async def boot_on(conductor, host, count):
    other = {"h1": "h2", "h2": "h1"}[host]
    svc = next(s for s in conductor.hosts.list_services() if s["host"] == other)
    conductor.hosts.update_service(svc["id"], disabled=True)
    made = await conductor.create_servers(CTX, request=request(max_count=count, min_count=count))
    for inst in made:
        await wait_status(conductor, inst["id"], "ACTIVE")
    conductor.hosts.update_service(svc["id"], disabled=False)
    return made


async def test_host_down_fences_then_evacuates_keeping_ids_and_ports(conductor):
    made = await boot_on(conductor, "h1", 3)
    ports_before = {i["id"]: conductor.peers.network.ports[i["id"]] for i in made}
    moved = await conductor.evacuator.host_down("h1")
    assert sorted(moved) == sorted(i["id"] for i in made)
    h1 = next(s for s in conductor.hosts.list_services() if s["host"] == "h1")
    assert h1["forced_down"] and h1["status"] == "disabled"
    assert conductor.queries.instances_on_host("h1") == []
    for inst in made:
        await wait_status(conductor, inst["id"], "ACTIVE")
        server = conductor.queries.get_server(CTX, inst["id"])
        assert server["host"] == "h2" and server["name"] == inst["name"]
        assert conductor.peers.network.ports[inst["id"]] == ports_before[inst["id"]]
    admin = RequestContext(roles=("admin",))
    records = conductor.queries.list_migrations(filters={"host": "h1"})
    assert {(m["source_compute"], m["dest_compute"], m["status"]) for m in records} == {
        ("h1", "h2", "done")}
    assert "evacuate" in [a["action"] for a in conductor.queries.list_actions(
        admin, instance_id=made[0]["id"])]
    # A second detection of the same failure does nothing.
    assert await conductor.evacuator.host_down("h1") == []


async def test_fenced_host_rejoins_only_after_reconciling(conductor):
    await boot_on(conductor, "h1", 1)
    await conductor.evacuator.host_down("h1")
    hosts = conductor.hosts
    hosts.report_state(host="h1", binary="nova-compute", topic="compute")
    assert not hosts.unfence_if_reconciled("h1")
    hosts.report_state(host="h1", binary="nova-compute", topic="compute",
                       reconciled_at=(dt.datetime.utcnow() + dt.timedelta(seconds=1)).isoformat())
    assert hosts.unfence_if_reconciled("h1")
    h1 = next(s for s in hosts.list_services() if s["host"] == "h1")
    assert not h1["forced_down"] and h1["status"] == "enabled" and h1["state"] == "up"


async def test_evacuation_without_capacity_ends_in_error_with_fault(conductor):
    made = await boot_on(conductor, "h1", 1)
    svc = next(s for s in conductor.hosts.list_services() if s["host"] == "h2")
    conductor.hosts.update_service(svc["id"], disabled=True)
    await conductor.evacuator.host_down("h1")
    await wait_status(conductor, made[0]["id"], "ERROR")
    assert "No valid host" in conductor.queries.get_server(CTX, made[0]["id"])["fault"]["message"]
    assert conductor.queries.list_migrations(filters={})[0]["status"] == "error"


async def test_a_failed_rebuild_goes_to_the_evacuator_not_the_reschedule(conductor):
    [inst] = await boot_on(conductor, "h1", 1)
    conductor.peers.compute.failing = {"h2"}
    await conductor.evacuator.host_down("h1")
    await wait_status(conductor, inst["id"], "ERROR")
    admin = RequestContext(roles=("admin",))
    evacuate = next(a for a in conductor.queries.list_actions(admin, instance_id=inst["id"])
                    if a["action"] == "evacuate")
    events = conductor.queries.get_action(admin, instance_id=inst["id"],
                                          request_id=evacuate["request_id"])["events"]
    assert ("compute_rebuild_instance", "Error", "h2") in [
        (e["event"], e["result"], e["host"]) for e in events]
    assert conductor.queries.list_migrations(filters={})[0]["status"] == "error"


@pytest.mark.parametrize("shared", [False, True])
async def test_an_evacuation_says_when_the_disk_was_rebuilt_from_the_image(conductor,
                                                                           shared):
    conductor.peers.compute.shared_disks = shared
    [inst] = await boot_on(conductor, "h1", 1)
    await conductor.evacuator.host_down("h1")
    await wait_status(conductor, inst["id"], "ACTIVE")
    assert conductor.peers.compute.reuse_asked[-1] is True
    admin = RequestContext(roles=("admin",))
    evacuate = next(a for a in conductor.queries.list_actions(admin, instance_id=inst["id"])
                    if a["action"] == "evacuate")
    [event] = [e for e in conductor.queries.get_action(
        admin, instance_id=inst["id"], request_id=evacuate["request_id"])["events"]
        if e["event"] == "compute_rebuild_instance"]
    assert event["result"] == "Success"
    assert event["details"] == (None if shared else "disk rebuilt from image img: data on "
                                "the failed host's local storage was lost")
    assert conductor.queries.get_server(CTX, inst["id"])["fault"] is None
