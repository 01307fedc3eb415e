"""Volume types: the default at bootstrap, admin-only management, extra specs, and the
rules that keep a type in use or the default from going away."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from overcast import errors
from services.volume import faults
from services.volume.models import VolumeTypeAccess
from tests.unit.services.volume.conftest import ADMIN, DEMO, OTHER
from tests.unit.services.volume.helpers import volume


async def test_the_default_type_exists_once_and_is_used(manager):
    manager.types.ensure_default()
    listed = manager.types.list(DEMO)
    assert [t["name"] for t in listed] == ["__DEFAULT__"]
    assert manager.types.default(DEMO)["id"] == listed[0]["id"]
    assert manager.types.get(DEMO, "__DEFAULT__")["id"] == listed[0]["id"]
    made = await volume(manager, DEMO)
    assert made["volume_type"] == "__DEFAULT__"
    with pytest.raises(errors.BadRequest, match="Default volume type can not be deleted"):
        manager.types.delete(ADMIN, listed[0]["id"])


async def test_admins_manage_types_and_extra_specs(manager):
    with pytest.raises(errors.Forbidden):
        manager.types.create(DEMO, name="gold")
    gold = manager.types.create(ADMIN, name="gold", description="fast",
                                extra_specs={"volume_backend_name": "file"})
    with pytest.raises(errors.Conflict, match="Volume Type gold already exists"):
        manager.types.create(ADMIN, name="gold")
    with pytest.raises(errors.BadRequest, match="name can not be empty"):
        manager.types.create(ADMIN, name=" ")
    assert manager.types.set_extra_specs(ADMIN, gold["id"], {"tier": 1}) == {"tier": "1"}
    assert manager.types.extra_specs(DEMO, gold["id"]) == {"volume_backend_name": "file",
                                                           "tier": "1"}
    manager.types.delete_extra_spec(ADMIN, gold["id"], "tier")
    with pytest.raises(errors.NotFound, match="has no extra specs with key tier"):
        manager.types.delete_extra_spec(ADMIN, gold["id"], "tier")
    renamed = manager.types.update(ADMIN, gold["id"], name="platinum")
    assert renamed["name"] == "platinum"
    made = await volume(manager, DEMO, volume_type="platinum")
    assert made["volume_type"] == "platinum"
    assert manager.quota_set("demo", usage=True)["volumes_platinum"]["in_use"] == 1
    with pytest.raises(errors.BadRequest, match="Target volume type is still in use"):
        manager.types.delete(ADMIN, gold["id"])
    manager.volumes.delete(DEMO, made["id"])
    await manager.drain()
    manager.types.delete(ADMIN, gold["id"])
    with pytest.raises(errors.NotFound, match=f"Volume type {gold['id']} could not be found"):
        manager.types.get(DEMO, gold["id"])


async def test_private_types_are_for_admins(manager):
    secret = manager.types.create(ADMIN, name="secret", is_public=False)
    assert [t["name"] for t in manager.types.list(DEMO)] == ["__DEFAULT__"]
    assert {t["name"] for t in manager.types.list(ADMIN, is_public=None)} == {
        "__DEFAULT__", "secret"}
    with pytest.raises(errors.NotFound):
        manager.types.get(DEMO, secret["id"])
    with pytest.raises(errors.NotFound):
        await manager.volumes.create(DEMO, size=1, volume_type="secret")


def grants(manager) -> int:
    with manager.db.session() as session:
        return session.scalar(select(func.count()).select_from(VolumeTypeAccess))


async def test_an_admin_gives_projects_access_to_a_private_type(manager):
    """Cinder's type access: a project given access lists, shows and uses the private
    type; another does not; the list of projects is the admin's; public types have none."""
    secret = manager.types.create(ADMIN, name="secret", is_public=False)
    manager.types.add_access(ADMIN, secret["id"], "demo")
    with pytest.raises(errors.Conflict):
        manager.types.add_access(ADMIN, secret["id"], "demo")
    assert [t["name"] for t in manager.types.list(DEMO)] == ["__DEFAULT__", "secret"]
    assert [t["name"] for t in manager.types.list(OTHER)] == ["__DEFAULT__"]
    assert manager.types.get(DEMO, "secret")["id"] == secret["id"]
    made = await volume(manager, DEMO, volume_type="secret")
    assert made["volume_type"] == "secret"
    with pytest.raises(errors.NotFound):
        await manager.volumes.create(OTHER, size=1, volume_type=secret["id"])
    assert manager.types.access_list(ADMIN, secret["id"]) == ["demo"]
    with pytest.raises(errors.Forbidden):
        manager.types.access_list(DEMO, secret["id"])
    with pytest.raises(errors.Forbidden):
        manager.types.add_access(DEMO, secret["id"], "other")
    default = manager.types.default(ADMIN)
    with pytest.raises(errors.NotFound, match="public volume types"):
        manager.types.access_list(ADMIN, default["id"])
    with pytest.raises(faults.InvalidVolumeType):
        manager.types.add_access(ADMIN, default["id"], "demo")
    manager.types.remove_access(ADMIN, secret["id"], "demo")
    with pytest.raises(errors.NotFound):
        manager.types.remove_access(ADMIN, secret["id"], "demo")
    with pytest.raises(errors.NotFound):
        manager.types.get(DEMO, secret["id"])
    other_secret = manager.types.create(ADMIN, name="other-secret", is_public=False)
    manager.types.add_access(ADMIN, other_secret["id"], "other")
    assert grants(manager) == 1
    manager.types.delete(ADMIN, other_secret["id"])  # its grants go with it
    assert grants(manager) == 0
