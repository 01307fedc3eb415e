"""openstacksdk's block-storage proxy (what the openstack CLI calls) against the volume app:
version discovery on the catalog's /volume/v3, volumes, extend, snapshots, a volume from a
snapshot, backups and restore to a new volume by name, quota sets as ``openstack quota show
--volumes`` reads them, types and services.

The SDK is synchronous: the app (and the manager's background work) run on uvicorn's loop in
a thread; a fake Keystone hands out the catalog."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from overcast.testing import wait_until
from services.volume.api import build_app
from tests.unit.services.sdk_helpers import connect, fake_keystone, serving
from tests.unit.services.volume.api_helpers import FakeValidator
from tests.unit.services.volume.conftest import ADMIN, DEMO, make_manager
from tests.unit.services.volume.twins import TwinBackend, TwinBackupStore, TwinImages

openstack = pytest.importorskip("openstack")


@pytest.fixture
def cloud(tmp_path) -> Iterator[str]:
    (tmp_path / "volumes").mkdir()
    manager = make_manager(tmp_path, TwinBackend(tmp_path / "volumes"), TwinBackupStore(),
                           TwinImages())
    users = {"demo": (DEMO, "demo-token"), "admin": (ADMIN, "admin-token")}

    def make_app(base: str) -> FastAPI:
        app = build_app(manager, authenticator=FakeValidator())
        app.include_router(fake_keystone(base, service_type="block-storage",
                                         service_name="cinderv3", path="/volume/v3",
                                         users=users), prefix="/identity")
        return app

    try:
        with serving(make_app) as base:
            yield base
    finally:
        manager.db.close()


def _wait(conn, getter, status: str):
    return wait_until(lambda: (found := getter()) is not None and found.status == status
                      and found, timeout=20,
                      message=lambda: f"not {status}: {getter()}")


def test_volume_snapshot_backup_restore_with_the_sdk(cloud):
    conn = connect(cloud, "demo")
    bs = conn.block_storage
    volume = bs.create_volume(size=1, name="data")
    volume = _wait(conn, lambda: bs.get_volume(volume.id), "available")
    assert bs.find_volume("data").id == volume.id
    assert [v.name for v in bs.volumes(details=True)] == ["data"]
    bs.extend_volume(volume, 2)
    volume = _wait(conn, lambda: bs.get_volume(volume.id), "available")
    assert volume.size == 2
    snap = bs.create_snapshot(volume_id=volume.id, name="snap1")
    _wait(conn, lambda: bs.get_snapshot(snap.id), "available")
    data2 = bs.create_volume(snapshot_id=snap.id, name="data2")
    assert _wait(conn, lambda: bs.get_volume(data2.id), "available").size == 2
    backup = bs.create_backup(volume_id=volume.id, name="b1")
    backup = _wait(conn, lambda: bs.get_backup(backup.id), "available")
    assert bs.find_volume("data3", ignore_missing=True) is None
    restore = bs.restore_backup(backup.id, name="data3")
    data3 = _wait(conn, lambda: bs.find_volume("data3"), "available")
    assert restore.volume_id == data3.id and data3.size == 2
    bs.delete_backup(backup)
    wait_until(lambda: bs.find_backup("b1", ignore_missing=True) is None, timeout=20)
    bs.delete_snapshot(snap)
    wait_until(lambda: bs.find_snapshot("snap1", ignore_missing=True) is None, timeout=20)
    for item in (volume, data2, data3):
        bs.delete_volume(item)
    wait_until(lambda: list(bs.volumes()) == [], timeout=20)


def test_quotas_types_and_services_with_the_sdk(cloud):
    demo = connect(cloud, "demo")
    quota = demo.block_storage.get_quota_set(DEMO.project_id, usage=False)
    assert (quota.volumes, quota.gigabytes, quota.snapshots, quota.backups) == (
        10, 1000, 10, 10)
    used = demo.block_storage.get_quota_set(DEMO.project_id, usage=True)
    assert used.usage["volumes"] == 0 and used.reservation["volumes"] == 0
    defaults = demo.block_storage.get_quota_set_defaults(DEMO.project_id)
    assert defaults.per_volume_gigabytes == -1
    assert [t.name for t in demo.block_storage.types()] == ["__DEFAULT__"]
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(demo.block_storage.services())
    admin = connect(cloud, "admin")
    assert {s.binary for s in admin.block_storage.services()} == {"cinder-volume",
                                                                   "cinder-backup"}
    admin.block_storage.update_quota_set(DEMO.project_id, volumes=3)
    assert demo.block_storage.get_quota_set(DEMO.project_id).volumes == 3
