"""Volumes in the manager: the create/extend/delete state machines on real files, sources,
listing, metadata, isolation and refusals that leave nothing behind."""
from __future__ import annotations

import asyncio

import pytest

from overcast import errors
from overcast.testing import eventually
from services.volume import faults, paging
from tests.unit.services.volume.conftest import ADMIN, DEMO, OTHER
from tests.unit.services.volume.helpers import GiB, attached, counts, snapshot, status, volume
from tests.unit.services.volume.twins import rootfs_tar


async def test_create_is_creating_then_available_with_a_file_of_its_size(manager, backend):
    hold = backend.switches.hold("create")
    record = await manager.volumes.create(DEMO, size=2, name="data", description="d",
                                          metadata={"k": "v"})
    assert record["status"] == "creating" and record["project_id"] == "demo"
    assert record["volume_type"] == "__DEFAULT__" and record["bootable"] is False
    await asyncio.to_thread(backend.switches.entered["create"].wait, 5)
    assert status(manager, record["id"]) == "creating"
    hold.set()
    await manager.drain()
    shown = manager.volumes.get(DEMO, record["id"])
    assert shown["status"] == "available" and shown["metadata"] == {"k": "v"}
    assert backend.volume_path(record["id"]).stat().st_size == 2 * GiB


async def test_a_failed_create_is_error_and_can_be_deleted(manager, backend):
    backend.switches.fail["create"] = OSError("disk on fire")
    made = await volume(manager, DEMO)
    assert made["status"] == "error" and "disk on fire" in made["fail_reason"]
    manager.volumes.delete(DEMO, made["id"])
    await manager.drain()
    with pytest.raises(errors.NotFound):
        manager.volumes.get(DEMO, made["id"])
    assert backend.files() == set()


@pytest.mark.parametrize("size", [0, -1, "x", 1.5, None, True, "12345678901234567890"])
async def test_bad_sizes_are_refused_before_anything_is_written(manager, size):
    with pytest.raises(faults.InvalidInput, match="must be an integer and greater than 0"):
        await manager.volumes.create(DEMO, size=size)
    assert counts(manager)["volumes"] == 0


async def test_unknown_zone_type_or_source_is_refused_with_cinders_errors(manager):
    with pytest.raises(faults.InvalidAvailabilityZone, match="Availability zone 'mars'"):
        await manager.volumes.create(DEMO, size=1, availability_zone="mars")
    with pytest.raises(errors.NotFound, match="Volume type with name gold could not"):
        await manager.volumes.create(DEMO, size=1, volume_type="gold")
    with pytest.raises(errors.NotFound, match="Snapshot nope could not be found"):
        await manager.volumes.create(DEMO, size=1, snapshot_id="nope")
    with pytest.raises(errors.NotFound, match="Volume nope could not be found"):
        await manager.volumes.create(DEMO, size=1, source_volid="nope")
    with pytest.raises(errors.NotFound, match="Image nope could not be found"):
        await manager.volumes.create(DEMO, size=1, image_id="nope")
    assert counts(manager)["volumes"] == 0


async def test_a_volume_from_an_image_is_bootable_and_keeps_the_images_metadata(
        manager, images, backend, tmp_path):
    images.add("img-1", rootfs_tar(tmp_path), name="cirros", overcast_rootfs="true")
    made = await volume(manager, DEMO, image_id="img-1")
    assert made["status"] == "available" and made["bootable"] is True
    assert made["image_id"] == "img-1"
    meta = made["image_metadata"]
    assert meta["image_id"] == "img-1" and meta["image_name"] == "cirros"
    assert meta["overcast_rootfs"] == "true" and meta["checksum"]
    assert backend.read(made["id"], 0, 16) == b"ext4 from image "
    summary = manager.get_summary(DEMO, made["id"])
    assert summary.bootable and summary.image_id == "img-1"


async def test_image_problems_are_refused_or_end_in_error(manager, images, tmp_path):
    images.add("private", rootfs_tar(tmp_path), owner="other", visibility="private")
    images.add("queued", b"", status="queued")
    images.add("big", b"x", min_disk=5)
    images.add("junk", b"not an archive")
    with pytest.raises(errors.NotFound, match="Image private could not be found"):
        await manager.volumes.create(DEMO, size=1, image_id="private")
    with pytest.raises(faults.InvalidInput, match="Image queued is not active"):
        await manager.volumes.create(DEMO, size=1, image_id="queued")
    with pytest.raises(faults.InvalidInput, match="smaller than the image minDisk size 5GB"):
        await manager.volumes.create(DEMO, size=1, image_id="big")
    assert counts(manager)["volumes"] == 0
    junk = await volume(manager, DEMO, image_id="junk")
    assert junk["status"] == "error" and "not a root filesystem" in junk["fail_reason"]


async def test_volumes_from_a_snapshot_and_a_volume_carry_the_data(manager, backend):
    source = await volume(manager, DEMO, size=1)
    backend.write(source["id"], 4096, b"kept")
    snap = await snapshot(manager, DEMO, source["id"])
    backend.write(source["id"], 4096, b"LATE")
    from_snap = await volume(manager, DEMO, snapshot_id=snap["id"], size=2)
    from_volume = await volume(manager, DEMO, source_volid=source["id"])
    assert from_snap["status"] == from_volume["status"] == "available"
    assert backend.read(from_snap["id"], 4096, 4) == b"kept"
    assert backend.read(from_volume["id"], 4096, 4) == b"LATE"
    assert from_snap["size"] == 2 and from_volume["size"] == 1  # size defaults to the source
    assert from_snap["snapshot_id"] == snap["id"]
    assert from_volume["source_volid"] == source["id"]


async def test_a_volume_smaller_than_its_source_is_refused(manager):
    source = await volume(manager, DEMO, size=2)
    snap = await snapshot(manager, DEMO, source["id"])
    before = counts(manager)
    with pytest.raises(faults.InvalidInput, match="cannot be smaller than the snapshot size"):
        await manager.volumes.create(DEMO, size=1, snapshot_id=snap["id"])
    with pytest.raises(faults.InvalidInput, match="cannot be smaller than original volume"):
        await manager.volumes.create(DEMO, size=1, source_volid=source["id"])
    assert counts(manager) == before


async def test_another_projects_volume_is_not_found_for_every_operation(manager):
    mine = await volume(manager, DEMO)
    for attempt in (lambda: manager.volumes.get(OTHER, mine["id"]),
                    lambda: manager.volumes.update(OTHER, mine["id"], name="x"),
                    lambda: manager.volumes.delete(OTHER, mine["id"]),
                    lambda: manager.volumes.extend(OTHER, mine["id"], 5),
                    lambda: manager.volumes.set_metadata(OTHER, mine["id"], {"a": "b"},
                                                         replace=True),
                    lambda: manager.snapshots.create(OTHER, volume_id=mine["id"]),
                    lambda: manager.attachments.reserve(OTHER, volume_id=mine["id"],
                                                        instance_id="vm")):
        with pytest.raises(errors.NotFound, match=f"Volume {mine['id']} could not be found"):
            attempt()
    with pytest.raises(errors.NotFound):
        await manager.volumes.create(OTHER, size=1, source_volid=mine["id"])
    assert manager.volumes.get(DEMO, mine["id"])["name"] is None
    assert manager.volumes.get(ADMIN, mine["id"])["id"] == mine["id"]


async def test_lists_are_per_project_unless_an_admin_asks_for_all(manager):
    await volume(manager, DEMO, name="a")
    await volume(manager, OTHER, name="b")
    assert [v["name"] for v in manager.volumes.list(DEMO)[0]] == ["a"]
    assert [v["name"] for v in manager.volumes.list(OTHER)[0]] == ["b"]
    assert manager.volumes.list(ADMIN)[0] == []
    assert {v["name"] for v in manager.volumes.list(ADMIN, all_tenants=True)[0]} == {"a", "b"}
    only_other = manager.volumes.list(ADMIN, all_tenants=True,
                                      filters={"project_id": "other"})[0]
    assert [v["name"] for v in only_other] == ["b"]
    # A member's project_id filter never widens what it sees.
    assert [v["name"] for v in manager.volumes.list(DEMO, all_tenants=True,
                                                    filters={"project_id": "other"})[0]] == []


async def test_filters_sorting_and_pages(manager):
    for name, size in (("a", 3), ("b", 1), ("c", 2)):
        await volume(manager, DEMO, name=name, size=size, metadata={"tier": name})
    manager.volumes.set_bootable(DEMO, manager.volumes.list(DEMO, filters={"name": "b"})[0][0]
                                 ["id"], True)
    assert [v["name"] for v in manager.volumes.list(DEMO)[0]] == ["c", "b", "a"]
    by_size = paging.parse({"sort": "size:asc"}, keys=("size", "name"))
    assert [v["name"] for v in manager.volumes.list(DEMO, page=by_size)[0]] == ["b", "c", "a"]
    first = manager.volumes.list(DEMO, page=paging.Page(limit=2))[0]
    rest, total = manager.volumes.list(DEMO, page=paging.Page(limit=2,
                                                              marker=first[-1]["id"]))
    assert [v["name"] for v in first + rest] == ["c", "b", "a"] and total == 3
    assert [v["name"] for v in manager.volumes.list(
        DEMO, filters={"metadata": {"tier": "c"}})[0]] == ["c"]
    assert [v["name"] for v in manager.volumes.list(DEMO, filters={"bootable": True})[0]] \
        == ["b"]
    with pytest.raises(errors.NotFound, match="Marker nope could not be found"):
        manager.volumes.list(DEMO, page=paging.Page(marker="nope"))
    with pytest.raises(faults.InvalidInput, match="Invalid sort key"):
        paging.parse({"sort": "password"}, keys=("size",))
    # Cinder's column names sort as the API's names (display_name is name).
    by_name = paging.parse({"sort_key": "display_name", "sort_dir": "asc"},
                           keys=("size", "name"))
    assert by_name.sort == (("name", "asc"),)
    assert [v["name"] for v in manager.volumes.list(DEMO, page=by_name)[0]] == ["a", "b", "c"]
    with pytest.raises(faults.InvalidInput, match="Invalid sort key display_name"):
        paging.parse({"sort": "display_name"}, keys=("size",))  # no name to sort by


async def test_update_and_metadata(manager):
    made = await volume(manager, DEMO, metadata={"a": "1"})
    updated = manager.volumes.update(DEMO, made["id"], name="new", description="about")
    assert (updated["name"], updated["description"], updated["metadata"]) == (
        "new", "about", {"a": "1"})
    assert manager.volumes.set_metadata(DEMO, made["id"], {"b": "2"}, replace=False) == {
        "a": "1", "b": "2"}
    assert manager.volumes.set_metadata(DEMO, made["id"], {"c": "3"}, replace=True) == {
        "c": "3"}
    manager.volumes.delete_metadata_key(DEMO, made["id"], "c")
    with pytest.raises(errors.NotFound, match="has no metadata with key c"):
        manager.volumes.delete_metadata_key(DEMO, made["id"], "c")
    with pytest.raises(errors.BadRequest):
        manager.volumes.set_metadata(DEMO, made["id"], {"k": 1}, replace=True)
    with pytest.raises(errors.BadRequest):
        manager.volumes.update(DEMO, made["id"], name="x" * 256)


async def test_extend_grows_the_file_through_extending(manager, backend):
    made = await volume(manager, DEMO, size=1)
    hold = backend.switches.hold("extend")
    manager.volumes.extend(DEMO, made["id"], 3)
    assert status(manager, made["id"]) == "extending"
    hold.set()
    await manager.drain()
    shown = manager.volumes.get(DEMO, made["id"])
    assert (shown["status"], shown["size"]) == ("available", 3)
    assert backend.volume_path(made["id"]).stat().st_size == 3 * GiB


async def test_extend_refusals_leave_the_volume_as_it_was(manager):
    made = await volume(manager, DEMO, size=2)
    with pytest.raises(faults.InvalidInput, match=r"must be greater than current size\. "
                                                  r"\(current: 2, extended: 1\)"):
        manager.volumes.extend(DEMO, made["id"], 1)
    with pytest.raises(faults.InvalidInput):
        manager.volumes.extend(DEMO, made["id"], 2)
    await attached(manager, DEMO, made["id"])
    with pytest.raises(faults.InvalidVolume, match="must be 'available' to extend, currently "
                                                   "in-use"):
        manager.volumes.extend(DEMO, made["id"], 3)
    shown = manager.volumes.get(DEMO, made["id"])
    assert (shown["status"], shown["size"]) == ("in-use", 2)


async def test_a_failed_extend_is_error_extending_at_the_old_size(manager, backend):
    made = await volume(manager, DEMO, size=1)
    backend.switches.fail["extend"] = OSError("resize2fs failed")
    manager.volumes.extend(DEMO, made["id"], 2)
    await manager.drain()
    shown = manager.volumes.get(DEMO, made["id"])
    assert (shown["status"], shown["size"]) == ("error_extending", 1)


async def test_delete_is_deleting_then_gone_with_its_file(manager, backend):
    made = await volume(manager, DEMO)
    hold = backend.switches.hold("delete")
    manager.volumes.delete(DEMO, made["id"])
    assert status(manager, made["id"]) == "deleting"
    with pytest.raises(faults.InvalidVolume):
        manager.volumes.delete(DEMO, made["id"])  # already going
    hold.set()
    await manager.drain()
    with pytest.raises(errors.NotFound):
        manager.volumes.get(DEMO, made["id"])
    assert f"volume-{made['id']}" not in backend.files()


async def test_an_attached_or_reserved_volume_is_not_deleted(manager):
    made = await volume(manager, DEMO)
    manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id="vm-1")
    message = ("Invalid volume: Volume status must be available or error or error_restoring "
               "or error_extending or error_managing and must not be migrating, attached, "
               "belong to a group, have snapshots, awaiting a transfer, or be disassociated "
               "from snapshots after volume transfer.")
    with pytest.raises(faults.InvalidVolume) as refused:
        manager.volumes.delete(DEMO, made["id"])
    assert refused.value.message == message
    other = await volume(manager, DEMO)
    await attached(manager, DEMO, other["id"])
    for ctx, force in ((DEMO, False), (ADMIN, True)):  # not even a force delete
        with pytest.raises(faults.InvalidVolume):
            manager.volumes.delete(ctx, other["id"], force=force)
    assert status(manager, made["id"]) == "reserved"
    assert status(manager, other["id"]) == "in-use"


async def test_snapshots_block_a_delete_unless_it_cascades(manager, backend):
    made = await volume(manager, DEMO)
    snap = await snapshot(manager, DEMO, made["id"])
    with pytest.raises(faults.InvalidVolume, match="have snapshots"):
        manager.volumes.delete(DEMO, made["id"])
    manager.volumes.delete(DEMO, made["id"], cascade=True)
    await manager.drain()
    with pytest.raises(errors.NotFound):
        manager.snapshots.get(DEMO, snap["id"])
    assert backend.files() == set()


async def test_force_delete_and_reset_status_are_for_admins(manager, backend):
    made = await volume(manager, DEMO)
    with pytest.raises(errors.Forbidden):
        manager.volumes.delete(DEMO, made["id"], force=True)
    with pytest.raises(errors.Forbidden):
        manager.volumes.reset_status(DEMO, made["id"], status="error")
    manager.volumes.reset_status(ADMIN, made["id"], status="creating")
    with pytest.raises(faults.InvalidVolume):
        manager.volumes.delete(DEMO, made["id"])
    with pytest.raises(errors.BadRequest, match="valid status"):
        manager.volumes.reset_status(ADMIN, made["id"], status="sleeping")
    manager.volumes.delete(ADMIN, made["id"], force=True)
    await manager.drain()
    assert backend.files() == set()


async def test_reset_status_takes_cinders_statuses_but_not_deleting_or_a_bare_in_use(
        manager):
    """Any of Cinder's volume statuses (maintenance among them), except ``deleting`` (no
    deletion would ever run) and ``in-use`` for a volume with no attachment (Cinder's
    400s); a maintenance volume refuses what its status does not allow."""
    made = await volume(manager, DEMO)
    manager.volumes.reset_status(ADMIN, made["id"], status="maintenance")
    assert manager.volumes.get(DEMO, made["id"])["status"] == "maintenance"
    with pytest.raises(faults.InvalidVolume):
        manager.volumes.delete(DEMO, made["id"])
    with pytest.raises(faults.InvalidVolume):
        manager.attachments.reserve(DEMO, volume_id=made["id"], instance_id="vm")
    for refused in ("deleting", "in-use"):
        with pytest.raises(errors.BadRequest, match="Cannot reset-state"):
            manager.volumes.reset_status(ADMIN, made["id"], status=refused)
    assert manager.volumes.get(DEMO, made["id"])["status"] == "maintenance"
    manager.volumes.reset_status(ADMIN, made["id"], status="available")
    await attached(manager, DEMO, made["id"])
    manager.volumes.reset_status(ADMIN, made["id"], status="in-use")  # it has one now


async def test_a_force_delete_during_creation_waits_for_the_file_then_removes_it(
        manager, backend):
    hold = backend.switches.hold("create")
    record = await manager.volumes.create(DEMO, size=1)
    await asyncio.to_thread(backend.switches.entered["create"].wait, 5)
    manager.volumes.delete(ADMIN, record["id"], force=True)
    hold.set()
    await manager.drain()
    with pytest.raises(errors.NotFound):
        manager.volumes.get(ADMIN, record["id"])
    assert backend.files() == set()


async def test_bootable_and_readonly_flags(manager):
    made = await volume(manager, DEMO)
    manager.volumes.set_bootable(DEMO, made["id"], "true")
    manager.volumes.set_readonly(DEMO, made["id"], True)
    shown = manager.volumes.get(DEMO, made["id"])
    assert shown["bootable"] is True and shown["read_only"] is True
    with pytest.raises(faults.InvalidInput, match="Invalid value 'maybe' for bootable"):
        manager.volumes.set_bootable(DEMO, made["id"], "maybe")


async def test_create_for_compute_is_idempotent_by_id(manager):
    from services.volume.contract import VolumeRequest
    request = VolumeRequest(id="11111111-2222-3333-4444-555555555555", size=1, name="root")
    first = await manager.create_for_compute(DEMO, request)
    again = await manager.create_for_compute(DEMO, request)
    assert first.id == again.id == request.id and counts(manager)["volumes"] == 1
    with pytest.raises(errors.Conflict):
        await manager.create_for_compute(OTHER, request)
    await eventually(lambda: status(manager, request.id) == "available")


async def test_retype_changes_the_type_in_place_within_the_new_types_quotas(manager, backend):
    """Every type is on the one backend: a retype keeps the volume (file and all) and moves
    its per-type quota usage; refused for its own type, an unknown one, a bad policy, a
    volume neither available nor in use, or past the new type's quota."""
    made = await volume(manager, DEMO, size=2)
    before = backend.volume_path(made["id"]).stat().st_size
    gold = manager.types.create(ADMIN, name="gold")
    manager.volumes.retype(DEMO, made["id"], "gold", "never")
    shown = manager.volumes.get(DEMO, made["id"])
    assert (shown["volume_type"], shown["status"], shown["size"]) == ("gold", "available", 2)
    assert backend.volume_path(made["id"]).stat().st_size == before
    used = manager.quota_set("demo", usage=True)
    assert used["volumes_gold"]["in_use"] == 1 and used["gigabytes_gold"]["in_use"] == 2
    assert used["volumes___DEFAULT__"]["in_use"] == 0
    with pytest.raises(faults.InvalidVolume):
        manager.volumes.retype(DEMO, made["id"], gold["id"])  # its own type
    with pytest.raises(faults.InvalidInput, match="Invalid volume_type passed"):
        manager.volumes.retype(DEMO, made["id"], "nope")
    with pytest.raises(errors.BadRequest):
        manager.volumes.retype(DEMO, made["id"], "__DEFAULT__", "sometimes")
    manager.update_quotas(ADMIN, "demo", {"gigabytes___DEFAULT__": 1})
    with pytest.raises(faults.QuotaError):
        manager.volumes.retype(DEMO, made["id"], "__DEFAULT__")
    manager.volumes.reset_status(ADMIN, made["id"], status="error")
    manager.update_quotas(ADMIN, "demo", {"gigabytes___DEFAULT__": -1})
    with pytest.raises(faults.InvalidVolume):
        manager.volumes.retype(DEMO, made["id"], "__DEFAULT__")
    assert manager.volumes.get(DEMO, made["id"])["volume_type"] == "gold"
    with pytest.raises(errors.NotFound):
        manager.volumes.retype(OTHER, made["id"], "__DEFAULT__")
