"""Backups in the manager: the state machine around the backup store (its twin), with the
caller's token, incremental parents, restore into a new or an existing volume, and refusals
that leave nothing behind."""
from __future__ import annotations

import asyncio

import pytest

from overcast import errors
from services.volume import faults
from tests.unit.services.volume.conftest import ADMIN, DEMO, OTHER, TOKEN, make_manager
from tests.unit.services.volume.helpers import GiB, attached, counts, snapshot, status, volume


async def backup(manager, ctx, volume_id, **kwargs) -> dict:
    record = manager.backups.create(ctx, token=TOKEN, volume_id=volume_id, **kwargs)
    await manager.drain()
    return manager.backups.get(ADMIN, record["id"])


async def test_a_backup_moves_the_data_with_the_callers_token(manager, backend, store):
    made = await volume(manager, DEMO)
    backend.write(made["id"], 5 * (1 << 20), b"precious")
    store.holds["backup"] = asyncio.Event()
    record = manager.backups.create(DEMO, token=TOKEN, volume_id=made["id"], name="b1",
                                    description="first")
    assert record["status"] == "creating" and record["container"] == "volumebackups"
    assert status(manager, made["id"]) == "backing-up"
    store.holds["backup"].set()
    await manager.drain()
    shown = manager.backups.get(DEMO, record["id"])
    assert (shown["status"], shown["size"], shown["is_incremental"]) == ("available", 1, False)
    assert shown["object_count"] == 2  # the header's chunk and the one written
    assert status(manager, made["id"]) == "available"
    assert store.tokens == [TOKEN]
    stored = [name for (account, container, name) in store.objects]
    assert all(n.startswith(f"volume_{made['id']}/{record['id']}/") for n in stored)
    assert all(a == "AUTH_demo" and c == "volumebackups" for a, c, _ in store.objects)


async def test_an_in_use_volume_needs_force_and_is_backed_up_from_a_copy(manager, backend,
                                                                         store):
    made = await volume(manager, DEMO)
    await attached(manager, DEMO, made["id"])
    with pytest.raises(faults.InvalidVolume, match="Backing up an in-use volume must use the "
                                                   "force flag"):
        manager.backups.create(DEMO, token=TOKEN, volume_id=made["id"])
    assert counts(manager)["backups"] == 0
    done = await backup(manager, DEMO, made["id"], force=True)
    assert done["status"] == "available" and status(manager, made["id"]) == "in-use"
    snapshots_taken = [c for c in backend.switches.calls if c[0] == "snapshot"]
    assert len(snapshots_taken) == 1
    assert not any(name.startswith("snapshot-") for name in backend.files())


async def test_refusals_name_the_problem_and_write_nothing(manager):
    with pytest.raises(errors.NotFound, match="Volume nope could not be found"):
        manager.backups.create(DEMO, token=TOKEN, volume_id="nope")
    theirs = await volume(manager, OTHER)
    with pytest.raises(errors.NotFound):
        manager.backups.create(DEMO, token=TOKEN, volume_id=theirs["id"])
    mine = await volume(manager, DEMO)
    with pytest.raises(faults.InvalidBackup, match="No backups available to do an "
                                                   "incremental backup"):
        manager.backups.create(DEMO, token=TOKEN, volume_id=mine["id"], incremental=True)
    manager.volumes.reset_status(ADMIN, mine["id"], status="error")
    with pytest.raises(faults.InvalidVolume, match='must be available or in-use, but the '
                                                   'current status is "error"'):
        manager.backups.create(DEMO, token=TOKEN, volume_id=mine["id"])
    assert counts(manager)["backups"] == 0
    assert status(manager, mine["id"]) == "error"


async def test_incremental_backups_chain_and_protect_their_parent(manager, backend, store):
    made = await volume(manager, DEMO)
    backend.write(made["id"], 3 << 20, b"one")
    full = await backup(manager, DEMO, made["id"])
    backend.write(made["id"], 7 << 20, b"two")
    incremental = await backup(manager, DEMO, made["id"], incremental=True)
    assert incremental["is_incremental"] and incremental["parent_id"] == full["id"]
    assert incremental["object_count"] == 1  # only the changed chunk went up
    assert manager.backups.get(DEMO, full["id"])["has_dependent_backups"] is True
    with pytest.raises(faults.InvalidBackup, match="Incremental backups exist for this "
                                                   "backup"):
        manager.backups.delete(DEMO, token=TOKEN, backup_id=full["id"])
    manager.backups.delete(DEMO, token=TOKEN, backup_id=incremental["id"])
    await manager.drain()
    manager.backups.delete(DEMO, token=TOKEN, backup_id=full["id"])
    await manager.drain()
    assert store.objects == {} and counts(manager)["backups"] == 0


async def test_restore_into_a_new_volume_named_as_asked(manager, backend, store):
    made = await volume(manager, DEMO, size=2)
    backend.write(made["id"], GiB + 4096, b"survives")
    done = await backup(manager, DEMO, made["id"], name="b1")
    manager.volumes.delete(DEMO, made["id"])
    await manager.drain()
    answer = manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"], name="data3")
    assert answer["backup_id"] == done["id"] and answer["volume_name"] == "data3"
    assert status(manager, answer["volume_id"]) == "restoring-backup"
    assert manager.backups.get(DEMO, done["id"])["status"] == "restoring"
    await manager.drain()
    restored = manager.volumes.get(DEMO, answer["volume_id"])
    assert (restored["status"], restored["size"], restored["name"]) == ("available", 2,
                                                                        "data3")
    assert backend.read(answer["volume_id"], GiB + 4096, 8) == b"survives"
    assert manager.backups.get(DEMO, done["id"])["status"] == "available"
    default = manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"])
    assert default["volume_name"] == f"restore_backup_{done['id']}"


async def test_restore_into_an_existing_volume_overwrites_it(manager, backend):
    made = await volume(manager, DEMO)
    backend.write(made["id"], 8192, b"original")
    done = await backup(manager, DEMO, made["id"])
    target = await volume(manager, DEMO, size=2)
    backend.write(target["id"], 8192, b"garbage!")
    manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"], volume_id=target["id"])
    await manager.drain()
    assert status(manager, target["id"]) == "available"
    assert backend.read(target["id"], 8192, 8) == b"original"
    # The filesystem grew back to the volume's size after a smaller backup.
    assert backend.volume_path(target["id"]).stat().st_size == 2 * GiB


async def test_restore_refusals(manager):
    made = await volume(manager, DEMO, size=2)
    done = await backup(manager, DEMO, made["id"])
    small = await volume(manager, DEMO, size=1)
    await attached(manager, DEMO, made["id"])
    before = counts(manager)
    with pytest.raises(faults.InvalidVolume, match="volume size 1 is too small to restore "
                                                   "backup of size 2"):
        manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"], volume_id=small["id"])
    with pytest.raises(faults.InvalidVolume, match="Volume to be restored to must be "
                                                   "available"):
        manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"], volume_id=made["id"])
    with pytest.raises(errors.NotFound, match="Backup nope could not be found"):
        manager.backups.restore(DEMO, token=TOKEN, backup_id="nope")
    with pytest.raises(errors.NotFound):
        manager.backups.restore(OTHER, token=TOKEN, backup_id=done["id"])
    assert counts(manager) == before
    assert manager.backups.get(DEMO, done["id"])["status"] == "available"


async def test_failures_end_in_error_states_and_release_the_volume(manager, store):
    made = await volume(manager, DEMO)
    store.fail["backup"] = ConnectionError("object store down")
    failed = await backup(manager, DEMO, made["id"])
    assert failed["status"] == "error" and "object store down" in failed["fail_reason"]
    assert status(manager, made["id"]) == "available"
    good = await backup(manager, DEMO, made["id"])
    store.fail["restore"] = ConnectionError("object store down")
    answer = manager.backups.restore(DEMO, token=TOKEN, backup_id=good["id"],
                                     volume_id=made["id"])
    await manager.drain()
    assert status(manager, answer["volume_id"]) == "error_restoring"
    assert manager.backups.get(DEMO, good["id"])["status"] == "available"
    store.fail["delete"] = ConnectionError("object store down")
    manager.backups.delete(DEMO, token=TOKEN, backup_id=good["id"])
    await manager.drain()
    assert manager.backups.get(DEMO, good["id"])["status"] == "error_deleting"


async def test_a_backup_of_a_snapshot_leaves_the_volume_alone(manager, backend):
    made = await volume(manager, DEMO)
    snap = await snapshot(manager, DEMO, made["id"])
    done = await backup(manager, DEMO, made["id"], snapshot_id=snap["id"])
    assert done["status"] == "available" and done["snapshot_id"] == snap["id"]
    assert manager.snapshots.get(DEMO, snap["id"])["status"] == "available"
    other = await volume(manager, DEMO)
    with pytest.raises(faults.InvalidVolume, match=r"does not match with snapshot\.volume_id"):
        manager.backups.create(DEMO, token=TOKEN, volume_id=other["id"],
                               snapshot_id=snap["id"])


async def test_no_backup_service_without_an_object_store(tmp_path, backend, images):
    bare = make_manager(tmp_path, backend, None, images)
    try:
        made = await volume(bare, DEMO)
        with pytest.raises(errors.NotFound, match="Service cinder-backup could not be found"):
            bare.backups.create(DEMO, token=TOKEN, volume_id=made["id"])
        assert counts(bare)["backups"] == 0
    finally:
        await bare.close()
        bare.db.close()


async def test_isolation_and_admin_listing(manager):
    made = await volume(manager, DEMO)
    done = await backup(manager, DEMO, made["id"], name="mine")
    with pytest.raises(errors.NotFound):
        manager.backups.get(OTHER, done["id"])
    with pytest.raises(errors.NotFound):
        manager.backups.delete(OTHER, token=TOKEN, backup_id=done["id"])
    assert manager.backups.list(OTHER)[0] == []
    assert [b["name"] for b in manager.backups.list(ADMIN, all_tenants=True)[0]] == ["mine"]
    assert manager.backups.update(DEMO, done["id"], name="renamed")["name"] == "renamed"


async def test_a_copy_that_cannot_be_removed_does_not_fail_the_backup(manager, backend):
    made = await volume(manager, DEMO)
    await attached(manager, DEMO, made["id"])
    backend.switches.fail["delete_snapshot"] = OSError("busy")
    done = await backup(manager, DEMO, made["id"], force=True)
    assert done["status"] == "available" and status(manager, made["id"]) == "in-use"


async def test_a_restore_gives_back_the_volumes_name_metadata_and_image_metadata(
        manager, images, tmp_path):
    """As Cinder's backup metadata: a volume made for the restore gets the backed-up
    volume's name and description unless the caller named it, and any volume restored into
    gets its metadata and image metadata (bootable with it)."""
    from tests.unit.services.volume.twins import rootfs_tar
    images.add("img", rootfs_tar(tmp_path), name="cirros")
    made = await volume(manager, DEMO, name="data", description="mine",
                        metadata={"k": "v"}, image_id="img")
    done = await backup(manager, DEMO, made["id"])
    manager.volumes.update(DEMO, made["id"], metadata={"k": "changed"})  # after the backup
    auto = manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"])
    await manager.drain()
    restored = manager.volumes.get(DEMO, auto["volume_id"])
    assert (restored["name"], restored["description"], restored["metadata"]) == (
        "data", "mine", {"k": "v"})
    assert restored["bootable"] is True
    assert restored["image_metadata"]["image_name"] == "cirros"
    named = manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"], name="mine2")
    await manager.drain()
    assert manager.volumes.get(DEMO, named["volume_id"])["name"] == "mine2"
    plain = await volume(manager, DEMO, name="target", metadata={"x": "y"})
    blank = await volume(manager, DEMO)
    bare = await backup(manager, DEMO, blank["id"])  # no metadata to give
    manager.backups.restore(DEMO, token=TOKEN, backup_id=bare["id"], volume_id=plain["id"])
    await manager.drain()
    kept = manager.volumes.get(DEMO, plain["id"])
    assert (kept["name"], kept["metadata"], kept["bootable"]) == ("target", {"x": "y"}, False)


async def test_an_incremental_backup_in_another_container_restores_across_them(
        manager, backend, store):
    """As Cinder's: an incremental backup may go into another container than its parent
    (the default one when none is asked for); its unchanged chunks stay its parent's
    objects, read from the parent's container, and deleting it leaves them there."""
    made = await volume(manager, DEMO)
    backend.write(made["id"], 0, b"first")
    backend.write(made["id"], 3 * (1 << 20), b"unchanged")
    full = await backup(manager, DEMO, made["id"], container="mine")
    backend.write(made["id"], 0, b"second")
    incremental = await backup(manager, DEMO, made["id"], incremental=True)
    assert (incremental["status"], incremental["container"], incremental["is_incremental"]) \
        == ("available", "volumebackups", True)
    other = await backup(manager, DEMO, made["id"], incremental=True, container="theirs")
    assert other["status"] == "available"
    with manager.db.session() as session:
        from services.volume.models import Backup
        chunks = session.get(Backup, other["id"]).manifest["chunks"]
    assert {c.get("container") for c in chunks if c["object"]} == {"mine", "volumebackups"}
    for done in (incremental, other):
        answer = manager.backups.restore(DEMO, token=TOKEN, backup_id=done["id"])
        await manager.drain()
        assert backend.read(answer["volume_id"], 0, 6) == b"second"
        assert backend.read(answer["volume_id"], 3 * (1 << 20), 9) == b"unchanged"
    assert manager.backups.get(DEMO, full["id"])["has_dependent_backups"] is True
    in_mine = {k for k in store.objects if k[1] == "mine"}
    manager.backups.delete(DEMO, token=TOKEN, backup_id=other["id"])
    await manager.drain()
    assert {k for k in store.objects if k[1] == "mine"} == in_mine  # the parent's stay


async def test_an_exported_record_imports_back_as_a_backup_that_restores(manager, backend):
    """Cinder's export/import: the record (manifest included) survives the loss of the
    backup's row; imported into the caller's project under its id, it restores the same
    data. Refused: a taken id, another service, garbage, a forged manifest; admins only."""
    import base64
    import json
    made = await volume(manager, ADMIN)
    backend.write(made["id"], 4096, b"exported")
    done = await backup(manager, ADMIN, made["id"], name="b")
    with pytest.raises(errors.Forbidden):
        manager.backups.export_record(DEMO, done["id"])
    exported = manager.backups.export_record(ADMIN, done["id"])
    assert exported["backup_service"].startswith("cinder.backup.drivers")
    service, url = exported["backup_service"], exported["backup_url"]
    with pytest.raises(faults.InvalidBackup, match="already exists"):
        manager.backups.import_record(ADMIN, backup_service=service, backup_url=url)
    with manager.db.session() as session:  # the database loses the backup's row
        from services.volume.models import Backup
        session.delete(session.get(Backup, done["id"]))
    imported = manager.backups.import_record(ADMIN, backup_service=service, backup_url=url)
    assert (imported["id"], imported["status"], imported["name"]) == (done["id"],
                                                                      "available", "b")
    answer = manager.backups.restore(ADMIN, token=TOKEN, backup_id=done["id"])
    await manager.drain()
    assert backend.read(answer["volume_id"], 4096, 8) == b"exported"
    record = json.loads(base64.b64decode(url))

    def encoded(**changes) -> str:
        return base64.b64encode(json.dumps({**record, **changes}).encode()).decode()
    new_id = "5f0c2a52-7a8c-4b4e-9d55-2b8f3c1d0e9a"
    forged = {**record["driver_info"], "manifest": {**record["driver_info"]["manifest"],
                                                    "chunks": [{"offset": -1}]}}
    refusals = [{"backup_service": "cinder.backup.drivers.nfs", "backup_url": url},
                {"backup_service": service, "backup_url": "%%%"},
                {"backup_service": service, "backup_url": encoded(id="not-an-id")},
                {"backup_service": service, "backup_url": encoded(id=new_id,
                                                                driver_info=forged)}]
    before = counts(manager)["backups"]
    for refused in refusals:
        with pytest.raises(errors.BadRequest):
            manager.backups.import_record(ADMIN, **refused)
    with pytest.raises(errors.Forbidden):
        manager.backups.import_record(DEMO, backup_service=service,
                                      backup_url=encoded(id=new_id))
    assert counts(manager)["backups"] == before
