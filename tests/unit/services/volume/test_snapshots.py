"""Snapshots in the manager: creating -> available on a real copy, in-use rules, metadata,
delete, isolation."""
from __future__ import annotations

import pytest

from overcast import errors
from services.volume import faults
from tests.unit.services.volume.conftest import ADMIN, DEMO, OTHER
from tests.unit.services.volume.helpers import attached, counts, snapshot, volume


async def test_a_snapshot_is_creating_then_available_with_a_copy(manager, backend):
    made = await volume(manager, DEMO)
    backend.write(made["id"], 0, b"point in time")
    hold = backend.switches.hold("snapshot")
    record = manager.snapshots.create(DEMO, volume_id=made["id"], name="s1",
                                      metadata={"why": "test"})
    assert (record["status"], record["size"], record["name"]) == ("creating", 1, "s1")
    hold.set()
    await manager.drain()
    shown = manager.snapshots.get(DEMO, record["id"])
    assert (shown["status"], shown["progress"], shown["metadata"]) == (
        "available", "100%", {"why": "test"})
    assert backend.snapshot_path(record["id"]).read_bytes()[:13] == b"point in time"


async def test_a_snapshot_of_a_missing_or_foreign_volume_is_not_found(manager):
    with pytest.raises(errors.NotFound, match="Volume missing could not be found"):
        manager.snapshots.create(DEMO, volume_id="missing")
    theirs = await volume(manager, OTHER)
    with pytest.raises(errors.NotFound):
        manager.snapshots.create(DEMO, volume_id=theirs["id"])
    with pytest.raises(errors.NotFound):  # a null volume_id names no volume (Cinder: 404)
        manager.snapshots.create(DEMO, volume_id=None)
    assert counts(manager)["snapshots"] == 0


async def test_an_in_use_volume_needs_force_before_3_66(manager):
    made = await volume(manager, DEMO)
    await attached(manager, DEMO, made["id"])
    with pytest.raises(faults.InvalidVolume, match=f"Volume {made['id']} status must be "
                                                   "available, but current status is: in-use"):
        manager.snapshots.create(DEMO, volume_id=made["id"])
    forced = manager.snapshots.create(DEMO, volume_id=made["id"], force=True)
    later = manager.snapshots.create(DEMO, volume_id=made["id"], allow_in_use=True)
    await manager.drain()
    assert {manager.snapshots.get(DEMO, s["id"])["status"] for s in (forced, later)} == {
        "available"}


async def test_a_failed_snapshot_is_error_and_deletable(manager, backend):
    made = await volume(manager, DEMO)
    backend.switches.fail["snapshot"] = OSError("no space")
    snap = await snapshot(manager, DEMO, made["id"])
    assert snap["status"] == "error"
    manager.snapshots.delete(DEMO, snap["id"])
    await manager.drain()
    assert manager.snapshots.list(DEMO)[0] == []


async def test_delete_is_deleting_then_gone_and_refused_while_creating(manager, backend):
    made = await volume(manager, DEMO)
    hold = backend.switches.hold("snapshot")
    record = manager.snapshots.create(DEMO, volume_id=made["id"])
    with pytest.raises(faults.InvalidSnapshot, match="Snapshot status must be available or "
                                                     "error or error_deleting"):
        manager.snapshots.delete(DEMO, record["id"])
    hold.set()
    await manager.drain()
    manager.snapshots.delete(DEMO, record["id"])
    assert manager.snapshots.get(DEMO, record["id"])["status"] == "deleting"
    await manager.drain()
    with pytest.raises(errors.NotFound, match=f"Snapshot {record['id']} could not be found"):
        manager.snapshots.get(DEMO, record["id"])
    assert f"snapshot-{record['id']}" not in backend.files()


async def test_isolation_update_metadata_and_admin_actions(manager):
    made = await volume(manager, DEMO)
    snap = await snapshot(manager, DEMO, made["id"])
    for attempt in (lambda: manager.snapshots.get(OTHER, snap["id"]),
                    lambda: manager.snapshots.update(OTHER, snap["id"], name="x"),
                    lambda: manager.snapshots.delete(OTHER, snap["id"]),
                    lambda: manager.snapshots.metadata(OTHER, snap["id"])):
        with pytest.raises(errors.NotFound):
            attempt()
    assert manager.snapshots.list(OTHER)[0] == []
    assert manager.snapshots.update(DEMO, snap["id"], name="n", description="d")["name"] == "n"
    assert manager.snapshots.set_metadata(DEMO, snap["id"], {"a": "b"}, replace=False) == {
        "a": "b"}
    with pytest.raises(errors.Forbidden):
        manager.snapshots.reset_status(DEMO, snap["id"], "error")
    manager.snapshots.reset_status(ADMIN, snap["id"], "error")
    assert manager.snapshots.get(DEMO, snap["id"])["status"] == "error"
    assert len(manager.snapshots.list(ADMIN, all_tenants=True)[0]) == 1


async def test_an_admins_force_delete_takes_any_status_even_deleting(manager, backend):
    """Cinder's force delete skips the status check: a snapshot an admin reset to
    ``deleting`` (nothing removing it) or ``creating`` is removed, file and record."""
    made = await volume(manager, DEMO)
    for status_now in ("deleting", "creating", "error_deleting"):
        snap = await snapshot(manager, DEMO, made["id"])
        manager.snapshots.reset_status(ADMIN, snap["id"], status_now)
        if status_now == "deleting":
            with pytest.raises(faults.InvalidSnapshot):
                manager.snapshots.delete(DEMO, snap["id"])  # not without force
        manager.snapshots.delete(ADMIN, snap["id"], force=True)
        await manager.drain()
        with pytest.raises(errors.NotFound):
            manager.snapshots.get(ADMIN, snap["id"])
        assert not backend.snapshot_path(snap["id"]).exists()
