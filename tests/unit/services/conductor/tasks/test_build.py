"""The build task: the spec it asks for, rescheduling a failed build, and its bounds."""
from __future__ import annotations

import dataclasses

import pytest

from overcast import errors
from services.conductor import states
from services.conductor.tasks.build import request_spec
from tests.unit.services.conductor.twins import CTX, boot_request, wait_status

INSTANCE = {"id": "i1", "flavor": {"vcpus": 2, "ram": 1024, "disk": 10},
            "availability_zone": "az1", "tried_hosts": ["h1"]}


def test_request_spec_carries_size_zone_and_tried_hosts():
    spec = request_spec(INSTANCE, force_host="h3")
    assert (spec.instance_id, spec.vcpus, spec.memory_mb, spec.disk_gb) == ("i1", 2, 1024, 10)
    assert spec.availability_zone == "az1"
    assert spec.ignore_hosts == ("h1",) and spec.force_hosts == ("h3",)
    assert spec.group_policy is None and spec.group_members == ()


@pytest.mark.parametrize("policy, sent", [("anti-affinity", "anti-affinity"),
                                          ("affinity", "affinity"),
                                          ("soft-anti-affinity", None)])
def test_only_hard_group_policies_are_sent(policy, sent):
    spec = request_spec(INSTANCE, group={"policy": policy, "members": ["i0", "i1"]})
    assert spec.group_policy == sent
    assert spec.group_members == ("i0", "i1")


def build_events(conductor, instance_id):
    action = conductor.queries.get_action(CTX, instance_id=instance_id,
                                          request_id=CTX.request_id)
    return [(e["event"], e["result"], e["host"]) for e in action["events"]]


async def test_a_failed_spawn_is_rescheduled_away_from_the_host_that_failed(conductor):
    conductor.peers.compute.failing = {"h1"}
    # h2 is busier, so the scheduler's first choice is h1, the failing host.
    [filler] = await conductor.create_servers(CTX, request=boot_request(flavor_id="3"))
    await wait_status(conductor, filler["id"], "ACTIVE")
    assert conductor.queries.get_server(CTX, filler["id"])["host"] == "h2"
    [inst] = await conductor.create_servers(CTX, request=boot_request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    specs = [s for s in conductor.peers.scheduler.specs if s.instance_id == inst["id"]]
    assert [s.ignore_hosts for s in specs] == [(), ("h1",)]
    assert [h for h, p in conductor.peers.compute.built if p.id == inst["id"]] == ["h1", "h2"]
    assert conductor.peers.scheduler.manager.allocations[inst["id"]].host == "h2"
    assert ("compute__do_build_and_run_instance", "Error", "h1") in build_events(
        conductor, inst["id"])


async def test_reschedules_stop_at_the_attempt_bound(conductor):
    conductor.builds.limits = dataclasses.replace(conductor.builds.limits, max_attempts=1)
    conductor.peers.compute.failing = {"h1", "h2"}
    [inst] = await conductor.create_servers(CTX, request=boot_request())
    await wait_status(conductor, inst["id"], "ERROR")
    fault = conductor.queries.get_server(CTX, inst["id"])["fault"]
    assert "Exceeded maximum number of retries" in fault["message"]
    assert "boom" in fault["details"]
    assert len(conductor.peers.compute.built) == 1
    assert inst["id"] not in conductor.peers.scheduler.manager.allocations


async def test_a_report_from_a_host_the_instance_left_is_ignored(conductor):
    [inst] = await conductor.create_servers(CTX, request=boot_request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    host = conductor.queries.get_server(CTX, inst["id"])["host"]
    other = {"h1": "h2", "h2": "h1"}[host]
    await conductor.builds.build_failed(CTX, instance_id=inst["id"], host=other, reason="late")
    await conductor.builds.instance_built(CTX, instance_id=inst["id"], host=other,
                                          power_state=1)
    server = conductor.queries.get_server(CTX, inst["id"])
    assert (server["status"], server["host"]) == ("ACTIVE", host)


async def test_a_network_failure_ends_the_build_with_its_code(conductor):
    async def refuse(ctx, **kwargs):
        raise errors.Conflict("No more IP addresses available on network n1")

    conductor.peers.network.allocate_for_instance = refuse
    [inst] = await conductor.create_servers(CTX, request=boot_request())
    await wait_status(conductor, inst["id"], "ERROR")
    fault = conductor.queries.get_server(CTX, inst["id"])["fault"]
    assert fault["code"] == 409 and "No more IP addresses" in fault["message"]
    assert inst["id"] not in conductor.peers.scheduler.manager.allocations
    assert conductor.peers.compute.built == []


async def test_the_host_is_sent_the_typed_instance(conductor):
    [inst] = await conductor.create_servers(CTX, request=boot_request(metadata={"a": "b"}))
    await wait_status(conductor, inst["id"], "ACTIVE")
    [(_host, payload)] = conductor.peers.compute.built
    assert payload.id == inst["id"] and payload.flavor.name == "m1.tiny"
    assert payload.metadata == {"a": "b"}
    assert payload.network_info[0]["port_id"] == "p-" + inst["id"]
    assert conductor.store.get(inst["id"])["task_state"] is None
    assert conductor.store.get(inst["id"])["vm_state"] == states.ACTIVE
