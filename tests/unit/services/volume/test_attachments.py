"""The attach flow (reserve, update, complete, delete) as the REST API and the compute side
drive it: states, repeats, refusals and isolation."""
from __future__ import annotations

import pytest

from overcast import errors
from services.volume import faults
from services.volume.contract import OVERCAST_FILE, Connector
from tests.unit.services.volume.conftest import ADMIN, DEMO, OTHER
from tests.unit.services.volume.helpers import attached, counts, status, volume

HOST = Connector(host="hypervisor-1", mountpoint="/dev/vdb", instance_id="vm-1")


async def test_reserve_update_complete_delete(manager):
    made = await volume(manager, DEMO)
    reserved = manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id="vm-1")
    assert reserved["status"] == "reserved" and status(manager, made["id"]) == "reserved"
    assert manager.attachments.reserve(DEMO, volume_id=made["id"],
                                       instance_id="vm-1")["id"] == reserved["id"]
    record, info = manager.attachments.update(DEMO, reserved["id"], HOST)
    assert record["status"] == "attaching" and status(manager, made["id"]) == "attaching"
    assert (info.driver_volume_type, info.file_name, info.volume_id, info.attachment_id) == (
        OVERCAST_FILE, f"volume-{made['id']}", made["id"], reserved["id"])
    assert info.checked_file_name() == f"volume-{made['id']}"
    assert record["connection_info"]["file_name"] == info.file_name
    manager.attachments.complete(DEMO, reserved["id"])
    manager.attachments.complete(DEMO, reserved["id"])  # a repeat changes nothing
    shown = manager.volumes.get(DEMO, made["id"])
    assert (shown["status"], shown["attach_status"]) == ("in-use", "attached")
    [att] = shown["attachments"]
    assert (att["instance_id"], att["attached_host"], att["mountpoint"]) == (
        "vm-1", "hypervisor-1", "/dev/vdb")
    with pytest.raises(errors.Conflict, match="ConflictNovaUsingAttachment: Detach volume "
                                              "from instance vm-1 using the Compute API"):
        manager.attachments.delete(DEMO, reserved["id"])  # a guest still has it mounted
    volume_id, remaining = manager.attachments.delete(DEMO, reserved["id"], by_compute=True)
    assert (volume_id, remaining) == (made["id"], [])
    shown = manager.volumes.get(DEMO, made["id"])
    assert (shown["status"], shown["attach_status"], shown["attachments"]) == (
        "available", "detached", [])
    assert manager.attachments.delete(DEMO, reserved["id"], missing_ok=True) == (None, [])
    with pytest.raises(errors.NotFound):
        manager.attachments.delete(DEMO, reserved["id"])


async def test_a_reservation_no_host_took_is_deleted_by_anyone_who_sees_it(manager):
    made = await volume(manager, DEMO)
    reserved = manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id="vm-1")
    assert manager.attachments.delete(DEMO, reserved["id"]) == (made["id"], [])
    assert status(manager, made["id"]) == "available"


async def test_attaching_an_in_use_volume_is_refused_and_adds_nothing(manager):
    made = await volume(manager, DEMO)
    await attached(manager, DEMO, made["id"], instance_id="vm-1")
    before = counts(manager)
    with pytest.raises(faults.InvalidVolume) as refused:
        manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id="vm-2")
    assert refused.value.message == (
        f"Invalid volume: Volume {made['id']} status must be available or downloading to "
        "reserve, but the current status is in-use.")
    assert counts(manager) == before and status(manager, made["id"]) == "in-use"


async def test_a_new_host_of_an_attached_instance_keeps_it_in_use(manager):
    made = await volume(manager, DEMO)
    attachment = await attached(manager, DEMO, made["id"])
    moved = Connector(host="hypervisor-2", mountpoint="/dev/vdb")
    record, info = manager.attachments.update(DEMO, attachment["id"], moved)
    assert record["status"] == "attached" and record["attached_host"] == "hypervisor-2"
    assert status(manager, made["id"]) == "in-use" and info.file_name.endswith(made["id"])


async def test_volumes_in_error_cannot_be_attached(manager, backend):
    backend.switches.fail["create"] = OSError("broken")
    broken = await volume(manager, DEMO)
    with pytest.raises(faults.InvalidVolume, match="can not be created if the volume is in an "
                                                   "error state"):
        manager.attachments.reserve(DEMO, volume_id=broken["id"], instance_id="vm-1")
    made = await volume(manager, DEMO)
    reserved = manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id="vm-1")
    manager.volumes.reset_status(ADMIN, made["id"], status="error")
    with pytest.raises(faults.ResourceConflict):
        manager.attachments.update(DEMO, reserved["id"], HOST)


async def test_another_projects_attachments_are_not_found(manager):
    made = await volume(manager, DEMO)
    attachment = await attached(manager, DEMO, made["id"])
    for attempt in (lambda: manager.attachments.get(OTHER, attachment["id"]),
                    lambda: manager.attachments.update(OTHER, attachment["id"], HOST),
                    lambda: manager.attachments.complete(OTHER, attachment["id"]),
                    lambda: manager.attachments.delete(OTHER, attachment["id"])):
        with pytest.raises(errors.NotFound, match="Volume attachment could not be found"):
            attempt()
    assert manager.attachments.delete(OTHER, attachment["id"], missing_ok=True) == (None, [])
    assert status(manager, made["id"]) == "in-use"
    assert manager.attachments.list(OTHER)[0] == []
    assert [a["id"] for a in manager.attachments.list(DEMO)[0]] == [attachment["id"]]
    with pytest.raises(errors.Forbidden):
        manager.attachments.for_instance(DEMO, "vm-1")
    assert [a["id"] for a in manager.attachments.for_instance(ADMIN, "vm-1")] == [
        attachment["id"]]


async def test_bad_instance_ids_and_modes_are_refused(manager):
    made = await volume(manager, DEMO)
    with pytest.raises(faults.InvalidInput):
        manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id=7)
    with pytest.raises(faults.InvalidInput):
        manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id="vm", mode="rx")
    assert status(manager, made["id"]) == "available"


async def test_read_only_attachments_say_so(manager):
    made = await volume(manager, DEMO)
    reserved = manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id="vm-1",
                                           mode="ro")
    _, info = manager.attachments.update(DEMO, reserved["id"], HOST)
    assert info.read_only is True


# -- the legacy volume actions (os-reserve, os-attach, os-detach, ...) ----------------------

VM = "0b5b7e4e-3c3e-4d7b-9d43-5a1c2f3e4d5f"


async def test_legacy_reserve_unreserve_and_detaching_follow_cinders_states(manager):
    made = await volume(manager, DEMO)
    manager.attachments.begin_attaching(DEMO, made["id"])
    assert status(manager, made["id"]) == "attaching"
    with pytest.raises(faults.InvalidVolume, match="must be available to reserve"):
        manager.attachments.begin_attaching(DEMO, made["id"])
    manager.attachments.unreserve(DEMO, made["id"])
    assert status(manager, made["id"]) == "available"
    manager.attachments.unreserve(DEMO, made["id"])  # not reserved: nothing to do
    assert status(manager, made["id"]) == "available"
    with pytest.raises(faults.InvalidVolume, match="must be 'in-use'"):
        manager.attachments.begin_detaching(DEMO, made["id"])
    manager.attachments.attach_record(DEMO, made["id"], instance_id=VM,
                                      mountpoint="/dev/vdb")
    manager.attachments.begin_detaching(DEMO, made["id"])
    assert status(manager, made["id"]) == "detaching"
    manager.attachments.roll_detaching(DEMO, made["id"])
    assert status(manager, made["id"]) == "in-use"
    with pytest.raises(errors.NotFound):
        manager.attachments.begin_attaching(OTHER, made["id"])


async def test_legacy_attach_records_and_detach_forgets(manager):
    made = await volume(manager, DEMO)
    manager.attachments.begin_attaching(DEMO, made["id"])  # Nova reserved it first
    first = manager.attachments.attach_record(DEMO, made["id"], instance_id=VM,
                                              host_name="compute-1", mountpoint="/dev/vdb")
    again = manager.attachments.attach_record(DEMO, made["id"], instance_id=VM,
                                              mountpoint="/dev/vdb")
    assert again["id"] == first["id"]  # the same instance: the same attachment
    shown = manager.volumes.get(DEMO, made["id"])
    assert (shown["status"], shown["attach_status"]) == ("in-use", "attached")
    [att] = shown["attachments"]
    assert (att["instance_id"], att["mountpoint"], att["attached_host"], att["status"]) == (
        VM, "/dev/vdb", "compute-1", "attached")
    with pytest.raises(faults.InvalidVolume, match="already attached"):
        manager.attachments.attach_record(DEMO, made["id"], instance_id=VM.replace("0", "1"),
                                          mountpoint="/dev/vdc")
    with pytest.raises(faults.InvalidVolume):
        manager.volumes.delete(DEMO, made["id"])  # attached: refused
    manager.attachments.detach_record(DEMO, made["id"])  # its only attachment
    shown = manager.volumes.get(DEMO, made["id"])
    assert (shown["status"], shown["attach_status"], shown["attachments"]) == (
        "available", "detached", [])


async def test_legacy_attach_refusals_leave_nothing(manager):
    made = await volume(manager, DEMO)
    bad = [{"instance_id": VM},  # no mountpoint
           {"mountpoint": "/dev/vdb"},  # neither instance nor host
           {"instance_id": "not-a-uuid", "mountpoint": "/dev/vdb"},
           {"instance_id": VM, "mountpoint": "/dev/vdb", "mode": "rx"},
           {"host_name": ["h"], "mountpoint": "/dev/vdb"}]
    for args in bad:
        with pytest.raises(errors.BadRequest):
            manager.attachments.attach_record(DEMO, made["id"], **args)
    manager.volumes.set_readonly(DEMO, made["id"], True)
    with pytest.raises(faults.InvalidVolume, match="Invalid attaching mode 'rw'"):
        manager.attachments.attach_record(DEMO, made["id"], instance_id=VM,
                                          mountpoint="/dev/vdb")
    manager.volumes.set_readonly(DEMO, made["id"], False)
    manager.volumes.reset_status(ADMIN, made["id"], status="maintenance")
    with pytest.raises(faults.InvalidVolume, match="maintenance"):
        manager.attachments.attach_record(DEMO, made["id"], instance_id=VM,
                                          mountpoint="/dev/vdb")
    manager.volumes.reset_status(ADMIN, made["id"], status="error")
    with pytest.raises(faults.InvalidVolume, match="status must be available or attaching"):
        manager.attachments.attach_record(DEMO, made["id"], instance_id=VM,
                                          mountpoint="/dev/vdb")
    assert counts(manager)["attachments"] == 0
    assert status(manager, made["id"]) == "error"


async def test_legacy_detach_never_removes_what_a_host_is_connected_to(manager):
    """An attachment the compute side connected a host to is removed only by the compute
    side (409, Cinder's bug #2004555 rule), also for an admin's os-force_detach; a recorded
    one goes, whatever the volume's status (Cinder's volume_detached)."""
    made = await volume(manager, DEMO)
    connected = await attached(manager, DEMO, made["id"])
    for ctx in (DEMO, ADMIN):
        with pytest.raises(errors.Conflict, match="ConflictNovaUsingAttachment"):
            manager.attachments.detach_record(ctx, made["id"], connected["id"])
    assert status(manager, made["id"]) == "in-use"
    other = await volume(manager, DEMO)
    with pytest.raises(faults.InvalidInput, match="Mismatched volume and attachment"):
        manager.attachments.detach_record(DEMO, other["id"], connected["id"])
    recorded = manager.attachments.attach_record(DEMO, other["id"], instance_id=VM,
                                                 mountpoint="/dev/vdb")
    manager.volumes.reset_status(ADMIN, other["id"], status="error")
    manager.attachments.detach_record(ADMIN, other["id"], recorded["id"])
    shown = manager.volumes.get(DEMO, other["id"])
    assert (shown["status"], shown["attachments"]) == ("available", [])
