"""Attaching and detaching volumes of existing servers, the hosts' reports, what a delete
releases, and the sweeper of reports that never come (in-memory peers, no broker)."""
from __future__ import annotations

import dataclasses

import pytest

from agents.compute.contract import BlockDevice
from overcast import errors
from overcast.context import RequestContext, new_request_id
from overcast.testing import eventually
from services.conductor import block_devices as bdm
from services.conductor.contract import BlockDeviceRequest
from tests.unit.services.conductor.twins import CTX, wait_status
from tests.unit.services.conductor.twins import boot_request as request

ADMIN = RequestContext(user_id="admin", project_id="p0", roles=("admin",))


def _ctx() -> RequestContext:
    """The member's context for one request (its own request id, so its own action)."""
    return dataclasses.replace(CTX, request_id=new_request_id())


async def _active(conductor, **changes) -> dict:
    [inst] = await conductor.create_servers(_ctx(), request=request(**changes))
    await wait_status(conductor, inst["id"], "ACTIVE")
    return conductor.store.get(inst["id"])


def _mapping(conductor, instance_id: str, volume_id: str) -> dict | None:
    return bdm.find(bdm.of(conductor.store.get(instance_id)), volume_id)


def _status(conductor, instance_id: str, volume_id: str) -> str | None:
    mapping = _mapping(conductor, instance_id, volume_id)
    return None if mapping is None else mapping["status"]


def _events(conductor, instance_id: str, ctx: RequestContext) -> dict[str, str]:
    action = conductor.queries.get_action(CTX, instance_id=instance_id,
                                          request_id=ctx.request_id)
    return {e["event"]: e["result"] for e in action["events"]}


async def _attached(conductor, instance_id: str, **kwargs) -> str:
    volume_id = conductor.peers.volume.add()
    await conductor.volumes.attach(_ctx(), instance_id=instance_id, volume_id=volume_id,
                                   **kwargs)
    await eventually(lambda: _status(conductor, instance_id, volume_id) == bdm.ATTACHED,
                     timeout=5)
    return volume_id


def _host_down(conductor, host: str) -> None:
    [service] = conductor.hosts.list_services(host=host)
    conductor.hosts.update_service(service["id"], forced_down=True)


# -- attach --------------------------------------------------------------------------------


async def test_attach_reserves_records_and_casts_then_the_report_makes_it_attached(conductor):
    inst = await _active(conductor)
    volume_id = conductor.peers.volume.add()
    ctx = _ctx()
    mapping = await conductor.volumes.attach(ctx, instance_id=inst["id"], volume_id=volume_id,
                                             tag="data", delete_on_termination=True)
    assert (mapping["device_name"], mapping["status"]) == ("/dev/vdb", bdm.ATTACHING)
    assert conductor.peers.volume.status(volume_id) == "reserved"
    [(host, instance_id, device)] = conductor.peers.compute.attached
    assert (host, instance_id) == (inst["host"], inst["id"])
    assert device == BlockDevice(volume_id=volume_id, attachment_id=mapping["attachment_id"],
                                 device_name="/dev/vdb", delete_on_termination=True,
                                 tag="data")
    await eventually(lambda: _status(conductor, inst["id"], volume_id) == bdm.ATTACHED,
                     timeout=5)
    assert _mapping(conductor, inst["id"], volume_id)["attached_at"]
    assert _events(conductor, inst["id"], ctx) == {"compute_attach_volume": "Success"}
    second = await _attached(conductor, inst["id"])
    assert _mapping(conductor, inst["id"], second)["device_name"] == "/dev/vdc"


async def test_a_failed_attach_drops_the_mapping_and_frees_the_volume(conductor):
    inst = await _active(conductor)
    conductor.peers.compute.failing = {inst["host"]}
    volume_id = conductor.peers.volume.add()
    ctx = _ctx()
    await conductor.volumes.attach(ctx, instance_id=inst["id"], volume_id=volume_id)
    await eventually(lambda: _mapping(conductor, inst["id"], volume_id) is None, timeout=5)
    assert conductor.peers.volume.status(volume_id) == "available"
    assert _events(conductor, inst["id"], ctx) == {"compute_attach_volume": "Error"}


async def test_a_requested_device_is_honoured_unless_taken(conductor):
    inst = await _active(conductor)
    volume_id = await _attached(conductor, inst["id"], device="/dev/vdd")
    assert _mapping(conductor, inst["id"], volume_id)["device_name"] == "/dev/vdd"
    other = conductor.peers.volume.add()
    with pytest.raises(errors.Conflict, match=r"\(/dev/vdd\) is in use"):
        await conductor.volumes.attach(_ctx(), instance_id=inst["id"], volume_id=other,
                                       device="vdd")
    with pytest.raises(errors.Conflict, match=r"\(/dev/vda\) is in use"):
        await conductor.volumes.attach(_ctx(), instance_id=inst["id"], volume_id=other,
                                       device="/dev/vda")
    assert conductor.peers.volume.status(other) == "available"


async def test_refused_attaches_leave_nothing_reserved(conductor):
    inst = await _active(conductor)
    volumes = conductor.peers.volume
    in_use = volumes.add(status="in-use")
    theirs = volumes.add(project_id="p2")
    mine = volumes.add()
    attach = conductor.volumes.attach
    with pytest.raises(errors.BadRequest, match="must be available"):
        await attach(_ctx(), instance_id=inst["id"], volume_id=in_use)
    with pytest.raises(errors.NotFound):
        await attach(_ctx(), instance_id=inst["id"], volume_id=theirs)
    conductor.guests.lock(ADMIN, instance_id=inst["id"])
    with pytest.raises(errors.Conflict, match="is locked"):
        await attach(_ctx(), instance_id=inst["id"], volume_id=mine)
    conductor.guests.unlock(ADMIN, instance_id=inst["id"])
    await conductor.guests.start(_ctx(), instance_id=inst["id"], action="suspend")
    await wait_status(conductor, inst["id"], "SUSPENDED")
    with pytest.raises(errors.Conflict, match=r"Cannot 'attach_volume' instance .* vm_state "
                                              r"suspended"):
        await attach(_ctx(), instance_id=inst["id"], volume_id=mine)
    await conductor.guests.start(_ctx(), instance_id=inst["id"], action="resume")
    await wait_status(conductor, inst["id"], "ACTIVE")
    _host_down(conductor, inst["host"])
    with pytest.raises(errors.Conflict, match="Service is unavailable"):
        await attach(_ctx(), instance_id=inst["id"], volume_id=mine)
    assert volumes.reserved() == set() and volumes.status(mine) == "available"
    assert bdm.of(conductor.store.get(inst["id"])) == []
    assert conductor.peers.compute.attached == []


async def test_attaching_the_same_volume_twice_keeps_the_first_attachment(conductor):
    inst = await _active(conductor)
    volume_id = await _attached(conductor, inst["id"])
    with pytest.raises(errors.BadRequest, match=f"volume {volume_id} already attached"):
        await conductor.volumes.attach(_ctx(), instance_id=inst["id"], volume_id=volume_id)
    assert conductor.peers.volume.reserved() == {volume_id}
    assert _status(conductor, inst["id"], volume_id) == bdm.ATTACHED


async def test_a_server_changed_while_its_volume_was_reserved_gets_no_reservation(conductor):
    inst = await _active(conductor)
    volume_id = conductor.peers.volume.add()
    reserve = conductor.peers.volume.reserve

    async def reserve_then_lock(ctx, **kwargs):
        attachment = await reserve(ctx, **kwargs)
        conductor.guests.lock(ADMIN, instance_id=inst["id"])
        return attachment

    conductor.peers.volume.reserve = reserve_then_lock
    with pytest.raises(errors.Conflict, match="is locked"):
        await conductor.volumes.attach(_ctx(), instance_id=inst["id"], volume_id=volume_id)
    assert conductor.peers.volume.status(volume_id) == "available"
    assert bdm.of(conductor.store.get(inst["id"])) == []


async def test_an_offloaded_server_keeps_the_volume_for_its_next_host(conductor):
    inst = await _active(conductor)
    await conductor.guests.start(_ctx(), instance_id=inst["id"], action="shelve",
                                 image_id="shelved-img")
    await wait_status(conductor, inst["id"], "SHELVED_OFFLOADED")
    volume_id = conductor.peers.volume.add()
    ctx = _ctx()
    with pytest.raises(errors.BadRequest, match="Tagged volume attachment"):
        await conductor.volumes.attach(ctx, instance_id=inst["id"], volume_id=volume_id,
                                       tag="t")
    mapping = await conductor.volumes.attach(ctx, instance_id=inst["id"], volume_id=volume_id)
    assert (mapping["status"], mapping["host"]) == (bdm.RESERVED, None)
    assert conductor.peers.compute.attached == []
    assert _events(conductor, inst["id"], ctx) == {"api_attach_volume": "Success"}
    await conductor.shelver.unshelve(_ctx(), instance_id=inst["id"])
    await wait_status(conductor, inst["id"], "ACTIVE")
    host, payload = conductor.peers.compute.built[-1]
    assert [d.volume_id for d in payload.block_device_mapping] == [volume_id]
    assert _mapping(conductor, inst["id"], volume_id)["status"] == bdm.ATTACHED
    assert _mapping(conductor, inst["id"], volume_id)["host"] == host


# -- detach --------------------------------------------------------------------------------


async def test_detach_is_done_by_the_host_then_frees_the_volume(conductor):
    inst = await _active(conductor)
    volume_id = await _attached(conductor, inst["id"])
    attachment_id = _mapping(conductor, inst["id"], volume_id)["attachment_id"]
    ctx = _ctx()
    await conductor.volumes.detach(ctx, instance_id=inst["id"], volume_id=volume_id)
    assert conductor.peers.compute.detached == [(inst["host"], inst["id"], volume_id,
                                                 attachment_id)]
    await eventually(lambda: _mapping(conductor, inst["id"], volume_id) is None, timeout=5)
    assert conductor.peers.volume.status(volume_id) == "available"
    assert _events(conductor, inst["id"], ctx) == {"compute_detach_volume": "Success"}
    with pytest.raises(errors.NotFound, match=f"is not attached to volume {volume_id}"):
        await conductor.volumes.detach(_ctx(), instance_id=inst["id"], volume_id=volume_id)


async def test_detach_refuses_a_root_volume_a_busy_volume_and_a_down_host(conductor):
    root = conductor.peers.volume.add(bootable=True)
    inst = await _active(conductor, image_ref="", block_device_mapping=(
        BlockDeviceRequest(source_type="volume", uuid=root, boot_index=0),))
    with pytest.raises(errors.BadRequest, match="Cannot detach a root device volume"):
        await conductor.volumes.detach(_ctx(), instance_id=inst["id"], volume_id=root)
    conductor.peers.compute.silent = {inst["host"]}
    busy = conductor.peers.volume.add()
    await conductor.volumes.attach(_ctx(), instance_id=inst["id"], volume_id=busy)
    with pytest.raises(errors.BadRequest, match=f"volume {busy} is attaching"):
        await conductor.volumes.detach(_ctx(), instance_id=inst["id"], volume_id=busy)
    conductor.peers.compute.silent = set()
    data = await _attached(conductor, inst["id"])
    _host_down(conductor, inst["host"])
    with pytest.raises(errors.Conflict, match="Service is unavailable"):
        await conductor.volumes.detach(_ctx(), instance_id=inst["id"], volume_id=data)
    assert _status(conductor, inst["id"], data) == bdm.ATTACHED
    assert conductor.peers.compute.detached == []


async def test_detach_from_an_offloaded_server_frees_the_volume_at_once(conductor):
    inst = await _active(conductor)
    volume_id = await _attached(conductor, inst["id"])
    await conductor.guests.start(_ctx(), instance_id=inst["id"], action="shelve",
                                 image_id="shelved-img")
    await wait_status(conductor, inst["id"], "SHELVED_OFFLOADED")
    ctx = _ctx()
    await conductor.volumes.detach(ctx, instance_id=inst["id"], volume_id=volume_id)
    assert _mapping(conductor, inst["id"], volume_id) is None
    assert conductor.peers.volume.status(volume_id) == "available"
    assert conductor.peers.compute.detached == []
    assert _events(conductor, inst["id"], ctx) == {"api_detach_volume": "Success"}


# -- delete --------------------------------------------------------------------------------


async def test_delete_frees_each_volume_and_deletes_those_marked(conductor):
    inst = await _active(conductor)
    kept = await _attached(conductor, inst["id"])
    doomed = await _attached(conductor, inst["id"], delete_on_termination=True)
    await conductor.operations.delete_server(_ctx(), instance_id=inst["id"])
    await eventually(lambda: conductor.store.get(inst["id"]) is None, timeout=5)
    volumes = conductor.peers.volume
    assert volumes.status(kept) == "available" and volumes.status(doomed) is None
    assert sorted(flag for _, flag in volumes.deleted_later) == [False, True]


async def test_a_server_deleted_while_an_attach_is_in_flight_frees_the_volume(conductor):
    inst = await _active(conductor)
    conductor.peers.compute.silent = {inst["host"]}
    volume_id = conductor.peers.volume.add()
    await conductor.volumes.attach(_ctx(), instance_id=inst["id"], volume_id=volume_id)
    await conductor.operations.delete_server(_ctx(), instance_id=inst["id"])
    await eventually(lambda: conductor.store.get(inst["id"]) is None, timeout=5)
    assert conductor.peers.volume.status(volume_id) == "available"
    await conductor.volumes.attached(CTX, instance_id=inst["id"], volume_id=volume_id,
                                     host=inst["host"])  # too late: ignored
    assert conductor.peers.volume.reserved() == set()


# -- the sweeper ---------------------------------------------------------------------------


async def test_an_unanswered_attach_is_sent_again_once_then_undone(conductor):
    inst = await _active(conductor)
    conductor.peers.compute.silent = {inst["host"]}
    volume_id = conductor.peers.volume.add()
    ctx = _ctx()
    await conductor.volumes.attach(ctx, instance_id=inst["id"], volume_id=volume_id)
    await conductor.volumes.sweep(timeout=60)  # not stuck yet
    assert len(conductor.peers.compute.attached) == 1
    await conductor.volumes.sweep(timeout=-1)
    assert len(conductor.peers.compute.attached) == 2
    assert _mapping(conductor, inst["id"], volume_id)["retried"]
    await conductor.volumes.sweep(timeout=-1)
    assert _mapping(conductor, inst["id"], volume_id) is None
    assert conductor.peers.volume.status(volume_id) == "available"
    assert _events(conductor, inst["id"], ctx) == {"compute_attach_volume": "Error"}


async def test_a_detach_whose_host_went_down_is_finished_without_it(conductor):
    inst = await _active(conductor)
    volume_id = await _attached(conductor, inst["id"])
    conductor.peers.compute.silent = {inst["host"]}
    ctx = _ctx()
    await conductor.volumes.detach(ctx, instance_id=inst["id"], volume_id=volume_id)
    _host_down(conductor, inst["host"])
    await conductor.volumes.sweep(timeout=-1)
    assert _mapping(conductor, inst["id"], volume_id) is None
    assert conductor.peers.volume.status(volume_id) == "available"
    assert len(conductor.peers.compute.detached) == 1  # not sent again to a down host
    assert _events(conductor, inst["id"], ctx) == {"compute_detach_volume": "Success"}


async def test_a_detach_a_live_host_never_answers_leaves_the_volume_attached(conductor):
    inst = await _active(conductor)
    volume_id = await _attached(conductor, inst["id"])
    conductor.peers.compute.silent = {inst["host"]}
    ctx = _ctx()
    await conductor.volumes.detach(ctx, instance_id=inst["id"], volume_id=volume_id)
    await conductor.volumes.sweep(timeout=-1)
    assert len(conductor.peers.compute.detached) == 2
    await conductor.volumes.sweep(timeout=-1)
    assert _status(conductor, inst["id"], volume_id) == bdm.ATTACHED
    assert conductor.peers.volume.status(volume_id) == "reserved"  # still the guest's
    assert _events(conductor, inst["id"], ctx) == {"compute_detach_volume": "Error"}


async def test_the_sweeper_leaves_a_server_being_worked_on_alone(conductor):
    inst = await _active(conductor)
    conductor.peers.compute.silent = {inst["host"]}
    volume_id = conductor.peers.volume.add()
    await conductor.volumes.attach(_ctx(), instance_id=inst["id"], volume_id=volume_id)
    with conductor.store.edit(inst["id"]) as (_session, row):
        row.task_state = "resize_prep"  # the move's build attaches it on the destination
    await conductor.volumes.sweep(timeout=-1)
    await conductor.volumes.sweep(timeout=-1)
    assert _status(conductor, inst["id"], volume_id) == bdm.ATTACHING
    assert len(conductor.peers.compute.attached) == 1
