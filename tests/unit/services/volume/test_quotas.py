"""Quotas: Cinder's resource names, usage counted from what exists, enforcement with
Cinder's messages on every kind of create and on extend, and the admin's updates."""
from __future__ import annotations

import pytest

from overcast import errors
from services.volume import faults
from services.volume.quotas import QuotaDefaults
from tests.unit.services.volume.conftest import ADMIN, DEMO, TOKEN, make_manager
from tests.unit.services.volume.helpers import counts, snapshot, volume


@pytest.fixture
async def tight(tmp_path, backend, store, images):
    made = make_manager(tmp_path, backend, store, images, quotas=QuotaDefaults(
        volumes=2, gigabytes=5, snapshots=1, backups=1, backup_gigabytes=2,
        per_volume_gigabytes=4))
    try:
        yield made
    finally:
        await made.close()
        made.db.close()


async def test_the_quota_set_has_cinders_names_and_counts_usage(manager):
    made = await volume(manager, DEMO, size=3)
    await snapshot(manager, DEMO, made["id"])
    limits = manager.quota_set("demo")
    assert limits == {"volumes": 10, "gigabytes": 1000, "snapshots": 10, "backups": 10,
                      "backup_gigabytes": 1000, "per_volume_gigabytes": -1, "groups": 10,
                      "volumes___DEFAULT__": -1, "gigabytes___DEFAULT__": -1,
                      "snapshots___DEFAULT__": -1}
    usage = manager.quota_set("demo", usage=True)
    assert usage["volumes"] == {"limit": 10, "in_use": 1, "reserved": 0}
    assert usage["gigabytes"]["in_use"] == 6  # the volume and its snapshot
    assert usage["snapshots___DEFAULT__"]["in_use"] == 1
    assert manager.quota_set("other", usage=True)["gigabytes"]["in_use"] == 0


async def test_a_volume_larger_than_the_quota_is_413_and_leaves_nothing(tight, backend):
    with pytest.raises(faults.QuotaError) as refused:
        await tight.volumes.create(DEMO, size=6)
    # per_volume_gigabytes (4) is checked before gigabytes, as Cinder does.
    assert refused.value.message == ("VolumeSizeExceedsLimit: Requested volume size 6G is "
                                     "larger than maximum allowed limit 4G.")
    assert refused.value.code == 413
    await volume(tight, DEMO, size=4)
    with pytest.raises(faults.QuotaError) as refused:
        await tight.volumes.create(DEMO, size=2)
    assert refused.value.message == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota. Requested 2G, quota is 5G and 4G has been consumed.")
    await volume(tight, DEMO, size=1)
    with pytest.raises(faults.QuotaError, match=r"VolumeLimitExceeded: Maximum number of "
                                                r"volumes allowed \(2\) exceeded for quota "
                                                r"'volumes'\."):
        await tight.volumes.create(DEMO, size=0 + 1)
    assert counts(tight)["volumes"] == 2 and len(backend.files()) == 2


async def test_snapshots_backups_and_extends_are_counted(tight):
    made = await volume(tight, DEMO, size=2)
    await snapshot(tight, DEMO, made["id"])
    with pytest.raises(faults.QuotaError, match="SnapshotLimitExceeded: Maximum number of "
                                                "snapshots allowed"):
        tight.snapshots.create(DEMO, volume_id=made["id"])
    with pytest.raises(faults.QuotaError, match="Requested 2G, quota is 5G and 4G has been "
                                                "consumed"):
        tight.volumes.extend(DEMO, made["id"], 4)
    assert tight.volumes.get(DEMO, made["id"])["status"] == "available"
    tight.backups.create(DEMO, token=TOKEN, volume_id=made["id"])
    await tight.drain()
    with pytest.raises(faults.QuotaError, match="BackupLimitExceeded: Maximum number of "
                                                "backups allowed"):
        tight.backups.create(DEMO, token=TOKEN, volume_id=made["id"])
    assert counts(tight)["backups"] == 1 and counts(tight)["snapshots"] == 1


async def test_admins_set_and_reset_limits_within_usage(manager):
    made = await volume(manager, DEMO, size=2)
    with pytest.raises(errors.Forbidden):
        manager.update_quotas(DEMO, "demo", {"volumes": 5})
    limits = manager.update_quotas(ADMIN, "demo", {"volumes": "3", "gigabytes_"
                                                   "__DEFAULT__": 2})
    assert limits["volumes"] == 3 and limits["gigabytes___DEFAULT__"] == 2
    with pytest.raises(faults.QuotaError, match="allowed gigabytes___DEFAULT__ quota"):
        manager.volumes.extend(DEMO, made["id"], 3)
    with pytest.raises(errors.BadRequest, match="Quota gigabytes limit must be equal or "
                                                "greater than existing resources\\. Current "
                                                "usage is 2 and the requested limit is 1"):
        manager.update_quotas(ADMIN, "demo", {"gigabytes": 1, "volumes": 7})
    assert manager.quota_set("demo")["volumes"] == 3  # nothing of a refused update stays
    for bad in ({"volumes": -2}, {"volumes": "lots"}, {"colour": 1}, {"volumes": True}):
        with pytest.raises(errors.BadRequest):
            manager.update_quotas(ADMIN, "demo", bad)
    manager.reset_quotas(ADMIN, "demo")
    assert manager.quota_set("demo")["volumes"] == 10
    assert manager.quota_defaults()["gigabytes"] == 1000


async def test_the_default_quota_class_sets_every_projects_defaults(tight):
    """The ``default`` class's limits replace the configuration's for every project that
    has none of its own, and are enforced; a project's own limits still win."""
    assert tight.quota_class(ADMIN, "default")["volumes"] == 2  # the configuration's
    gold = tight.types.create(ADMIN, name="gold")
    updated = tight.update_quota_class(ADMIN, "default", {"volumes": 3, "gigabytes": "6",
                                                          "volumes_gold": 1})
    assert (updated["volumes"], updated["gigabytes"], updated["volumes_gold"]) == (3, 6, 1)
    assert updated["snapshots"] == 1  # untouched: still the configuration's
    assert tight.quota_defaults()["volumes"] == 3
    assert tight.quota_set("a-new-project")["volumes"] == 3
    for _ in range(3):
        await volume(tight, DEMO, size=1)
    with pytest.raises(faults.QuotaError):
        await tight.volumes.create(DEMO, size=1)
    tight.update_quotas(ADMIN, "demo", {"volumes": 5})
    assert tight.quota_set("demo")["volumes"] == 5  # its own limit wins
    for bad in ({"nope": 1}, {"volumes": -2}, {"volumes": "many"}, {"volumes": True}):
        with pytest.raises(errors.BadRequest):
            tight.update_quota_class(ADMIN, "default", bad)
    assert tight.quota_class(ADMIN, "default")["volumes"] == 3  # the refusals wrote nothing
    with pytest.raises(errors.Forbidden):
        tight.update_quota_class(DEMO, "default", {"volumes": 100})
    with pytest.raises(errors.Forbidden):
        tight.quota_class(DEMO, "default")
    tight.types.update(ADMIN, gold["id"], name="platinum")
    assert tight.quota_class(ADMIN, "default")["volumes_platinum"] == 1  # follows the type
    tight.types.delete(ADMIN, gold["id"])
    assert "volumes_platinum" not in tight.quota_class(ADMIN, "default")
