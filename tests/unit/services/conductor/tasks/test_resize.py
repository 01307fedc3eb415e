"""Resize, cold migration (confirmed or reverted) and rebuild with in-memory peers."""
from __future__ import annotations

import dataclasses

import pytest

from overcast import errors
from overcast.context import RequestContext, new_request_id
from overcast.testing import eventually
from tests.unit.services.conductor.twins import CTX, wait_status
from tests.unit.services.conductor.twins import boot_request as request

ADMIN = RequestContext.admin()


def _ctx() -> RequestContext:
    return dataclasses.replace(CTX, request_id=new_request_id())


def _server(conductor, instance_id):
    return conductor.queries.get_server(CTX, instance_id)


def _claim(conductor, consumer):
    alloc = conductor.peers.scheduler.manager.allocations.get(consumer)
    return alloc.host if alloc else None


async def _active(conductor, flavor_id="1") -> str:
    [inst] = await conductor.create_servers(CTX, request=request(flavor_id=flavor_id))
    await wait_status(conductor, inst["id"], "ACTIVE")
    return inst["id"]


def _migration(conductor, instance_id):
    [record] = conductor.queries.list_migrations(filters={"instance_uuid": instance_id})
    return record


async def test_resize_moves_to_another_host_then_confirm_frees_the_source(conductor):
    instance_id = await _active(conductor)
    source = _server(conductor, instance_id)["host"]
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await wait_status(conductor, instance_id, "VERIFY_RESIZE")
    server = _server(conductor, instance_id)
    dest = server["host"]
    assert dest != source and server["flavor"]["id"] == "2"
    migration = _migration(conductor, instance_id)
    assert (migration["migration_type"], migration["status"]) == ("resize", "finished")
    assert (migration["source_compute"], migration["dest_compute"]) == (source, dest)
    assert _claim(conductor, migration["uuid"]) == dest  # both claims held meanwhile
    assert _claim(conductor, instance_id) == source
    assert instance_id in conductor.queries.instances_on_host(source)  # kept for a revert
    # The local disk travelled as a temporary image, which the destination booted from.
    assert conductor.peers.compute.built[-1][1].image_ref == f"move-{instance_id[:8]}"
    await conductor.resizer.confirm(_ctx(), instance_id=instance_id)
    assert _server(conductor, instance_id)["status"] == "ACTIVE"
    assert _migration(conductor, instance_id)["status"] == "confirmed"
    assert _claim(conductor, instance_id) == dest and _claim(conductor, migration["uuid"]) \
        is None
    assert conductor.peers.compute.dropped == [(source, instance_id,
                                                f"move-{instance_id[:8]}")]
    assert instance_id not in conductor.queries.instances_on_host(source)


async def test_revert_goes_back_to_the_source_with_the_old_flavor(conductor):
    instance_id = await _active(conductor)
    source = _server(conductor, instance_id)["host"]
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await wait_status(conductor, instance_id, "VERIFY_RESIZE")
    consumer = _migration(conductor, instance_id)["uuid"]
    await conductor.resizer.revert(_ctx(), instance_id=instance_id)
    await wait_status(conductor, instance_id, "ACTIVE")
    server = _server(conductor, instance_id)
    assert (server["host"], server["flavor"]["id"]) == (source, "1")
    assert _migration(conductor, instance_id)["status"] == "reverted"
    assert _claim(conductor, consumer) is None and _claim(conductor, instance_id) == source
    sent = [a[2] for a in conductor.peers.compute.actions if a[1] == instance_id]
    assert sent == ["moveOut", "dropMovedGuest", "revertResize"]


async def test_a_shared_disk_stays_in_place(conductor):
    conductor.peers.compute.shared_disks = True
    instance_id = await _active(conductor)
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await wait_status(conductor, instance_id, "VERIFY_RESIZE")
    assert conductor.peers.compute.reuse_asked[-1] is True
    assert conductor.peers.compute.built[-1][1].image_ref == "img"


@pytest.mark.parametrize("flavor_id, message", [
    ("1", "When resizing, instances must change flavor!"), ("nope", "could not be found")])
async def test_bad_resizes_are_400(conductor, flavor_id, message):
    instance_id = await _active(conductor)
    with pytest.raises(errors.BadRequest, match=message):
        await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id=flavor_id)
    assert conductor.queries.list_migrations(filters={"instance_uuid": instance_id}) == []


async def test_a_smaller_disk_is_400(conductor):
    flavor = conductor.resources.create_flavor(ADMIN, flavor={
        "name": "tiny-disk", "vcpus": 1, "ram": 512, "disk": 0})
    instance_id = await _active(conductor)
    with pytest.raises(errors.BadRequest,
                       match=r"Resizing to a smaller disk flavor is not allowed\."):
        await conductor.resizer.start(_ctx(), instance_id=instance_id,
                                      flavor_id=flavor["id"])


async def test_no_host_for_the_new_flavor_leaves_it_active(conductor):
    flavor = conductor.resources.create_flavor(ADMIN, flavor={
        "name": "huge", "vcpus": 5000, "ram": 512, "disk": 1})
    instance_id = await _active(conductor)
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id=flavor["id"])
    await eventually(lambda: _server(conductor, instance_id)["task_state"] is None)
    server = _server(conductor, instance_id)
    assert (server["status"], server["fault"], server["flavor"]["id"]) == ("ACTIVE", None, "1")
    assert _migration(conductor, instance_id)["status"] == "error"


async def test_a_failed_spawn_on_the_destination_is_reverted(conductor):
    instance_id = await _active(conductor)
    source = _server(conductor, instance_id)["host"]
    conductor.peers.compute.failing = {"h1", "h2"} - {source}
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await eventually(lambda: _server(conductor, instance_id)["task_state"] is None
                     and _migration(conductor, instance_id)["status"] == "error")
    server = _server(conductor, instance_id)
    assert (server["status"], server["host"], server["flavor"]["id"]) == ("ACTIVE", source,
                                                                         "1")
    # The temporary image of the local disk is deleted on the destination that never ran it.
    (destination,) = {"h1", "h2"} - {source}
    await eventually(lambda: any(host == destination and image
                                 for host, _id, image in conductor.peers.compute.dropped))


async def test_migrate_is_a_resize_to_the_same_flavor(conductor):
    instance_id = await _active(conductor)
    source = _server(conductor, instance_id)["host"]
    await conductor.resizer.start(ADMIN, instance_id=instance_id)
    await wait_status(conductor, instance_id, "VERIFY_RESIZE")
    assert _server(conductor, instance_id)["host"] != source
    assert _migration(conductor, instance_id)["migration_type"] == "migration"
    assert "migrate" in {a["action"] for a in conductor.queries.list_actions(
        ADMIN, instance_id=instance_id)}


async def test_confirm_or_revert_without_a_resize_is_409(conductor):
    instance_id = await _active(conductor)
    with pytest.raises(errors.Conflict, match="vm_state active"):
        await conductor.resizer.confirm(_ctx(), instance_id=instance_id)
    with pytest.raises(errors.Conflict, match="vm_state active"):
        await conductor.resizer.revert(_ctx(), instance_id=instance_id)


async def test_rebuild_remakes_the_disk_on_the_same_host(conductor):
    instance_id = await _active(conductor)
    host = _server(conductor, instance_id)["host"]
    await conductor.rebuilder.rebuild(_ctx(), instance_id=instance_id, image_ref="img-2",
                                      name="renamed", metadata={"a": "b"})
    await wait_status(conductor, instance_id, "ACTIVE")
    server = _server(conductor, instance_id)
    assert (server["host"], server["image_ref"], server["name"], server["metadata"]) == (
        host, "img-2", "renamed", {"a": "b"})
    assert conductor.peers.compute.rebuilt == [(host, "img-2")]


async def test_a_failed_rebuild_is_error_with_the_reason(conductor):
    instance_id = await _active(conductor)
    conductor.peers.compute.failing = {"h1", "h2"}
    await conductor.rebuilder.rebuild(_ctx(), instance_id=instance_id, image_ref="img-2")
    await wait_status(conductor, instance_id, "ERROR")
    assert "Rebuild failed" in _server(conductor, instance_id)["fault"]["message"]


async def test_deleting_a_resized_server_frees_both_claims(conductor):
    instance_id = await _active(conductor)
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await wait_status(conductor, instance_id, "VERIFY_RESIZE")
    consumer = _migration(conductor, instance_id)["uuid"]
    await conductor.operations.delete_server(_ctx(), instance_id=instance_id)
    await eventually(lambda: conductor.store.get(instance_id) is None)
    assert _claim(conductor, instance_id) is None and _claim(conductor, consumer) is None


async def test_with_one_host_the_guest_is_resized_in_place_and_reverted_in_place(conductor):
    instance_id = await _active(conductor)
    host = _server(conductor, instance_id)["host"]
    other = next(s for s in conductor.hosts.list_services()
                 if s["host"] != host and s["binary"] == "nova-compute")
    conductor.hosts.update_service(other["id"], disabled=True)
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await wait_status(conductor, instance_id, "VERIFY_RESIZE")
    assert _server(conductor, instance_id)["host"] == host
    assert conductor.peers.compute.respawned[-1] is True
    assert "moveOut" not in [a[2] for a in conductor.peers.compute.actions]
    await conductor.resizer.revert(_ctx(), instance_id=instance_id)
    await wait_status(conductor, instance_id, "ACTIVE")
    server = _server(conductor, instance_id)
    assert (server["host"], server["flavor"]["id"]) == (host, "1")
    assert conductor.peers.compute.respawned[-1] is True
    assert conductor.peers.compute.built[-1][1].flavor.id == "1"
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await wait_status(conductor, instance_id, "VERIFY_RESIZE")
    await conductor.resizer.confirm(_ctx(), instance_id=instance_id)
    assert conductor.peers.compute.dropped == []  # the only guest is the resized one
    assert _claim(conductor, instance_id) == host


async def _stopped(conductor) -> str:
    instance_id = await _active(conductor)
    await conductor.operations.power_action(_ctx(), instance_id=instance_id, action="stop")
    await wait_status(conductor, instance_id, "SHUTOFF")
    return instance_id


async def test_a_stopped_server_stays_shutoff_after_a_rebuild(conductor):
    instance_id = await _stopped(conductor)
    await conductor.rebuilder.rebuild(_ctx(), instance_id=instance_id, image_ref="img-2")
    await wait_status(conductor, instance_id, "SHUTOFF")
    assert _server(conductor, instance_id)["image_ref"] == "img-2"


async def test_a_stopped_server_stays_shutoff_after_a_confirmed_resize(conductor):
    instance_id = await _stopped(conductor)
    await conductor.resizer.start(_ctx(), instance_id=instance_id, flavor_id="2")
    await wait_status(conductor, instance_id, "VERIFY_RESIZE")
    assert conductor.peers.compute.built[-1] and _server(conductor, instance_id)[
        "power_state"] == 4
    await conductor.resizer.confirm(_ctx(), instance_id=instance_id)
    assert _server(conductor, instance_id)["status"] == "SHUTOFF"
