"""The manager as a whole: a restart resumes or settles what was in flight, heartbeats
decide up and down, the zone and the pool."""
from __future__ import annotations

import asyncio
import datetime as dt
import shutil

import pytest

from overcast.clock import utcnow
from services.volume.heartbeats import BACKUP_BINARY, VOLUME_BINARY
from services.volume.models import ServiceRecord
from tests.unit.services.volume.conftest import ADMIN, DEMO, TOKEN, make_manager
from tests.unit.services.volume.helpers import GiB, snapshot, status, volume
from tests.unit.services.volume.twins import data_chunks, rootfs_tar


async def restart(manager, tmp_path, backend, store, images):
    """Stop ``manager`` mid-work (its tasks cancelled) and start another on its database."""
    await manager.close()
    manager.db.close()
    again = make_manager(tmp_path, backend, store, images)
    again.recover()
    return again


async def test_a_restart_resumes_creations_deletions_and_extensions(tmp_path, backend, store,
                                                                    images):
    first = make_manager(tmp_path, backend, store, images)
    doomed = await volume(first, DEMO)
    growing = await volume(first, DEMO, size=1)
    snap_source = await volume(first, DEMO)
    snap_hold = backend.switches.hold("snapshot")
    snap = first.snapshots.create(DEMO, volume_id=snap_source["id"])
    hold = backend.switches.hold("create")
    new = await first.volumes.create(DEMO, size=2)
    extend_hold = backend.switches.hold("extend")
    first.volumes.extend(DEMO, growing["id"], 2)
    delete_hold = backend.switches.hold("delete")
    first.volumes.delete(DEMO, doomed["id"])
    await asyncio.to_thread(backend.switches.entered["create"].wait, 5)
    # The process dies here: its tasks are cancelled, the backend calls in threads end.
    for event in (hold, extend_hold, delete_hold, snap_hold):
        event.set()
    second = await restart(first, tmp_path, backend, store, images)
    try:
        await second.drain()
        assert status(second, new["id"]) == "available"
        assert backend.volume_path(new["id"]).stat().st_size == 2 * GiB
        grown = second.volumes.get(DEMO, growing["id"])
        assert (grown["status"], grown["size"]) == ("available", 2)
        assert second.snapshots.get(DEMO, snap["id"])["status"] == "available"
        assert [v["id"] for v in second.volumes.list(DEMO)[0]
                if v["id"] == doomed["id"]] == []
        assert f"volume-{doomed['id']}" not in backend.files()
    finally:
        await second.close()
        second.db.close()


async def test_a_restart_settles_backups_in_flight(tmp_path, backend, store, images):
    first = make_manager(tmp_path, backend, store, images)
    made = await volume(first, DEMO)
    spare = await volume(first, DEMO)
    target = await volume(first, DEMO)
    done = first.backups.create(DEMO, token=TOKEN, volume_id=made["id"])
    doomed = first.backups.create(DEMO, token=TOKEN, volume_id=spare["id"])
    await first.drain()
    for name in ("backup", "restore", "delete"):
        store.holds[name] = asyncio.Event()  # never set: the process stops first
    stuck = first.backups.create(DEMO, token=TOKEN, volume_id=made["id"])
    first.backups.restore(DEMO, token=TOKEN, backup_id=done["id"], volume_id=target["id"])
    first.backups.delete(DEMO, token=TOKEN, backup_id=doomed["id"])
    assert status(first, made["id"]) == "backing-up"
    second = await restart(first, tmp_path, backend, store, images)
    try:
        shown = second.backups.get(DEMO, stuck["id"])
        assert shown["status"] == "error" and "restart" in shown["fail_reason"]
        assert status(second, made["id"]) == "available"
        # The backup's data is whole; the volume's is not.
        assert second.backups.get(DEMO, done["id"])["status"] == "available"
        assert status(second, target["id"]) == "error_restoring"
        assert second.backups.get(DEMO, doomed["id"])["status"] == "error"
        second.backups.delete(DEMO, token=TOKEN, backup_id=doomed["id"])  # again, now
        store.holds.clear()
        await second.drain()
        assert [b["id"] for b in second.backups.list(DEMO)[0] if b["id"] == doomed["id"]] \
            == []
    finally:
        await second.close()
        second.db.close()


async def test_backup_records_survive_a_restart(tmp_path, backend, store, images):
    first = make_manager(tmp_path, backend, store, images)
    made = await volume(first, DEMO)
    record = first.backups.create(DEMO, token=TOKEN, volume_id=made["id"], name="kept")
    await first.drain()
    second = await restart(first, tmp_path, backend, store, images)
    try:
        shown = second.backups.get(DEMO, record["id"])
        assert (shown["name"], shown["status"]) == ("kept", "available")
        second.backups.restore(DEMO, token=TOKEN, backup_id=record["id"], name="back")
        await second.drain()
        assert [v["status"] for v in second.volumes.list(DEMO, filters={"name": "back"})[0]] \
            == ["available"]
    finally:
        await second.close()
        second.db.close()


async def test_heartbeats_follow_the_backend_and_the_object_store(manager, backend, tmp_path,
                                                                  store, images):
    rows = {r["binary"]: r for r in manager.heartbeats.list(ADMIN)}
    assert rows[VOLUME_BINARY]["host"] == "volume@file" and rows[BACKUP_BINARY]["host"] == \
        "volume"
    assert {r["state"] for r in rows.values()} == {"down"}  # never heard from yet
    await manager.heartbeats.run_once()
    rows = {r["binary"]: r for r in manager.heartbeats.list(ADMIN)}
    assert {r["state"] for r in rows.values()} == {"up"}
    assert manager.zone_available() is True
    backend.switches.fail["check"] = OSError("volumes directory gone")
    await manager.heartbeats.run_once()
    with manager.db.session() as session:
        volume_row = session.query(ServiceRecord).filter_by(binary=VOLUME_BINARY).one()
        assert volume_row.last_error == "volumes directory gone"
        later = utcnow() + dt.timedelta(seconds=11)
        assert manager.heartbeats.is_up(volume_row) is True  # not yet: 10 s to go down
        assert manager.heartbeats.is_up(volume_row, later) is False


async def test_disabled_services_and_the_zone(manager):
    await manager.heartbeats.run_once()
    with pytest.raises(Exception, match="Policy doesn't allow"):
        manager.heartbeats.set_enabled(DEMO, host="volume", binary=BACKUP_BINARY,
                                       enabled=False)
    answer = manager.heartbeats.set_enabled(ADMIN, host="volume", binary=BACKUP_BINARY,
                                            enabled=False, reason="maintenance")
    assert answer["status"] == "disabled" and answer["disabled_reason"] == "maintenance"
    made = await volume(manager, DEMO)
    with pytest.raises(Exception, match="Service cinder-backup could not be found"):
        manager.backups.create(DEMO, token=TOKEN, volume_id=made["id"])
    with pytest.raises(Exception, match="Service cinder-volume could not be found on host "
                                        "nowhere"):
        manager.heartbeats.set_enabled(ADMIN, host="nowhere", binary=VOLUME_BINARY,
                                       enabled=True)
    manager.heartbeats.set_enabled(ADMIN, host="volume@file", binary=VOLUME_BINARY,
                                   enabled=False)
    assert manager.zone_available() is False


async def test_the_pool_reports_capacity_and_allocation(manager):
    await volume(manager, DEMO, size=3)
    [pool] = await manager.pools()
    assert pool["name"] == "volume@file#file"
    caps = pool["capabilities"]
    assert caps["allocated_capacity_gb"] == 3 and caps["total_capacity_gb"] > 0
    assert caps["storage_protocol"] == "overcast_file"


async def test_snapshot_helper_and_admin_see_everything(manager):
    made = await volume(manager, DEMO)
    snap = await snapshot(manager, DEMO, made["id"])
    assert manager.snapshots.get(ADMIN, snap["id"])["project_id"] == "demo"


@pytest.mark.skipif(shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin") is None,
                    reason="e2fsprogs is not installed")
async def test_the_manager_on_the_real_file_backend(tmp_path, store, images):
    from services.volume.backend import FileBackend
    (tmp_path / "real").mkdir()
    real = FileBackend(tmp_path / "real")
    manager = make_manager(tmp_path, real, store, images)
    try:
        images.add("img", rootfs_tar(tmp_path / "build"), name="tiny")
        made = await volume(manager, DEMO, image_id="img")
        assert made["status"] == "available" and made["bootable"]
        snap = await snapshot(manager, DEMO, made["id"])
        clone = await volume(manager, DEMO, snapshot_id=snap["id"], size=2)
        assert clone["status"] == "available"
        assert real.volume_path(clone["id"]).stat().st_size == 2 * GiB
        manager.volumes.extend(DEMO, made["id"], 2)
        await manager.drain()
        assert manager.volumes.get(DEMO, made["id"])["size"] == 2
        done = manager.backups.create(DEMO, token=TOKEN, volume_id=clone["id"])
        await manager.drain()
        answer = manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"], name="back")
        await manager.drain()
        assert status(manager, answer["volume_id"]) == "available"
        original = dict(data_chunks(real.volume_path(clone["id"])))
        restored = dict(data_chunks(real.volume_path(answer["volume_id"])))
        assert {k: v for k, v in restored.items() if v.strip(b"\0")} == {
            k: v for k, v in original.items() if v.strip(b"\0")}
    finally:
        await manager.close()
        manager.db.close()
