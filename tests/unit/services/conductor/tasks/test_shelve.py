"""Shelve, offload and unshelve with in-memory peers (no broker)."""
from __future__ import annotations

import dataclasses

import pytest

from overcast import errors
from overcast.context import RequestContext, new_request_id
from overcast.testing import eventually
from tests.unit.services.conductor.twins import CTX, wait_status
from tests.unit.services.conductor.twins import boot_request as request


def _ctx() -> RequestContext:
    return dataclasses.replace(CTX, request_id=new_request_id())


def _server(conductor, instance_id):
    return conductor.queries.get_server(CTX, instance_id)


def _claims(conductor):
    return conductor.peers.scheduler.manager.allocations


async def _shelved(conductor) -> str:
    [inst] = await conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    await conductor.guests.start(_ctx(), instance_id=inst["id"], action="shelve",
                                 image_id="shelved-img")
    await wait_status(conductor, inst["id"], "SHELVED_OFFLOADED")
    return inst["id"]


async def test_shelve_snapshots_then_offloads_freeing_the_host(conductor):
    instance_id = await _shelved(conductor)
    server = _server(conductor, instance_id)
    assert server["host"] is None and server["task_state"] is None
    assert instance_id not in _claims(conductor)
    sent = [a[2:] for a in conductor.peers.compute.actions if a[1] == instance_id]
    assert sent == [("shelve", "shelved-img"), ("shelveOffload", None)]
    [shelve] = [a for a in conductor.queries.list_actions(CTX, instance_id=instance_id)
                if a["action"] == "shelve"]
    events = conductor.queries.get_action(CTX, instance_id=instance_id,
                                          request_id=shelve["request_id"])["events"]
    assert {e["event"]: e["result"] for e in events} == {
        "compute_shelve_instance": "Success", "compute_shelve_offload_instance": "Success"}


async def test_shelving_a_shelved_server_is_409(conductor):
    instance_id = await _shelved(conductor)
    with pytest.raises(errors.Conflict, match=r"Cannot 'shelve' instance .* while it is in "
                                              r"vm_state shelved_offloaded"):
        await conductor.guests.start(_ctx(), instance_id=instance_id, action="shelve",
                                     image_id="again")


async def test_unshelve_schedules_anew_and_boots_from_the_shelved_image(conductor):
    instance_id = await _shelved(conductor)
    await conductor.shelver.unshelve(_ctx(), instance_id=instance_id)
    await wait_status(conductor, instance_id, "ACTIVE")
    server = _server(conductor, instance_id)
    assert server["host"] in ("h1", "h2") and server["image_ref"] == "img"
    host, payload = conductor.peers.compute.built[-1]
    assert (host, payload.id, payload.image_ref) == (server["host"], instance_id,
                                                     "shelved-img")
    assert conductor.peers.compute.deleted_images == ["shelved-img"]
    assert _claims(conductor)[instance_id].host == server["host"]


async def test_unshelve_into_a_zone_that_does_not_exist_is_400(conductor):
    instance_id = await _shelved(conductor)
    with pytest.raises(errors.BadRequest, match="availability zone"):
        await conductor.shelver.unshelve(_ctx(), instance_id=instance_id,
                                         availability_zone="mars")
    assert _server(conductor, instance_id)["status"] == "SHELVED_OFFLOADED"


async def test_a_failed_unshelve_leaves_it_offloaded(conductor):
    instance_id = await _shelved(conductor)
    conductor.peers.compute.failing = {"h1", "h2"}
    await conductor.shelver.unshelve(_ctx(), instance_id=instance_id)
    await eventually(lambda: _server(conductor, instance_id)["task_state"] is None)
    server = _server(conductor, instance_id)
    assert (server["status"], server["host"]) == ("SHELVED_OFFLOADED", None)
    assert instance_id not in _claims(conductor)


async def test_without_offload_at_once_shelved_stays_on_its_host(conductor):
    object.__setattr__(conductor.guests, "offload_at_once", False)
    [inst] = await conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    await conductor.guests.start(_ctx(), instance_id=inst["id"], action="shelve",
                                 image_id="s")
    await wait_status(conductor, inst["id"], "SHELVED")
    assert _server(conductor, inst["id"])["host"] is not None
    await conductor.shelver.unshelve(_ctx(), instance_id=inst["id"])  # in place
    await wait_status(conductor, inst["id"], "ACTIVE")
    await conductor.guests.start(_ctx(), instance_id=inst["id"], action="shelve",
                                 image_id="s2")
    await wait_status(conductor, inst["id"], "SHELVED")
    await conductor.guests.start(_ctx(), instance_id=inst["id"], action="shelveOffload")
    await wait_status(conductor, inst["id"], "SHELVED_OFFLOADED")
    assert _server(conductor, inst["id"])["host"] is None
