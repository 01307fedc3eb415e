"""/volumes over REST: Cinder's documents, statuses and faults, for each bad input the issue
names."""
from __future__ import annotations

import pytest

from services.volume.contract import Connector
from tests.unit.services.volume.api_helpers import (
    ADMIN_H,
    DEMO_H,
    OTHER_H,
    V3,
    auth,
    fault,
)
from tests.unit.services.volume.conftest import DEMO
from tests.unit.services.volume.helpers import counts


async def create(client, manager, headers=DEMO_H, **fields) -> dict:
    fields.setdefault("size", 1)
    response = await client.post(f"{V3}/volumes", headers=headers, json={"volume": fields})
    assert response.status_code == 202, response.text
    await manager.drain()
    return response.json()["volume"]


async def show(client, volume_id, headers=DEMO_H) -> dict:
    response = await client.get(f"{V3}/volumes/{volume_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["volume"]


async def test_create_answers_202_creating_then_the_volume_is_available(client, manager):
    response = await client.post(f"{V3}/volumes", headers=DEMO_H, json={"volume": {
        "size": 1, "name": "data", "description": "d", "metadata": {"k": "v"}}})
    assert response.status_code == 202
    volume = response.json()["volume"]
    assert (volume["status"], volume["name"], volume["size"], volume["bootable"]) == (
        "creating", "data", 1, "false")
    assert volume["volume_type"] == "__DEFAULT__" and volume["attachments"] == []
    await manager.drain()
    shown = await show(client, volume["id"])
    assert shown["status"] == "available" and shown["metadata"] == {"k": "v"}
    assert shown["os-vol-tenant-attr:tenant_id"] == "demo"
    assert "os-vol-host-attr:host" not in shown  # admins only
    assert shown["created_at"] and "T" in shown["created_at"]
    as_admin = await show(client, volume["id"], ADMIN_H)
    assert as_admin["os-vol-host-attr:host"] == "volume@file#file"
    newer = (await client.get(f"{V3}/volumes/{volume['id']}",
                              headers=auth(version="3.65"))).json()["volume"]
    assert newer["volume_type_id"] and newer["consumes_quota"] is True
    assert newer["group_id"] is None and newer["shared_targets"] is False


async def test_extension_attributes_on_show_and_detail_only(client, manager, images,
                                                           tmp_path):
    """Cinder's extensions (tenant, host, migration, image metadata) extend the show and
    detailed-list answers, not those of create and update (tempest's schemas forbid them
    there)."""
    from tests.unit.services.volume.twins import rootfs_tar
    images.add("img", rootfs_tar(tmp_path), name="cirros")
    extension_keys = {"os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host",
                      "os-vol-mig-status-attr:migstat", "os-vol-mig-status-attr:name_id",
                      "volume_image_metadata"}
    made = await client.post(f"{V3}/volumes", headers=ADMIN_H,
                             json={"volume": {"size": 1, "imageRef": "img"}})
    assert made.status_code == 202
    volume = made.json()["volume"]
    assert not extension_keys & set(volume)
    assert volume["migration_status"] is None  # the base view's, for admins
    await manager.drain()
    updated = await client.put(f"{V3}/volumes/{volume['id']}", headers=ADMIN_H,
                               json={"volume": {"name": "renamed"}})
    assert updated.status_code == 200 and updated.json()["volume"]["name"] == "renamed"
    assert not extension_keys & set(updated.json()["volume"])
    shown = await show(client, volume["id"], ADMIN_H)
    assert extension_keys <= set(shown)
    [listed] = (await client.get(f"{V3}/volumes/detail", headers=ADMIN_H)).json()["volumes"]
    assert extension_keys <= set(listed)


async def test_list_summary_detail_filters_and_pages(client, manager):
    for name in ("a", "b", "c"):
        await create(client, manager, name=name)
    summary = (await client.get(f"{V3}/volumes", headers=DEMO_H)).json()
    assert [v["name"] for v in summary["volumes"]] == ["c", "b", "a"]
    assert set(summary["volumes"][0]) == {"id", "name", "links"}
    detail = (await client.get(f"{V3}/volumes/detail", headers=DEMO_H,
                               params={"name": "b"})).json()
    assert [v["status"] for v in detail["volumes"]] == ["available"]
    page = (await client.get(f"{V3}/volumes", headers=auth(version="3.45"),
                             params={"limit": 2, "sort": "name:asc",
                                     "with_count": "true"})).json()
    assert [v["name"] for v in page["volumes"]] == ["a", "b"] and page["count"] == 3
    [link] = page["volumes_links"]
    assert link["rel"] == "next" and f"marker={page['volumes'][1]['id']}" in link["href"]
    assert link["href"].startswith("http://testserver/volume/v3/volumes?")
    rest = (await client.get(link["href"], headers=auth(version="3.45"))).json()
    assert [v["name"] for v in rest["volumes"]] == ["c"] and "volumes_links" not in rest
    fault(await client.get(f"{V3}/volumes", headers=DEMO_H, params={"limit": "x"}), 400,
          "badRequest", "limit param must be an integer")
    fault(await client.get(f"{V3}/volumes", headers=DEMO_H, params={"marker": "gone"}), 404,
          "itemNotFound", "Marker gone could not be found.")
    meta = (await client.get(f"{V3}/volumes", headers=DEMO_H,
                             params={"metadata": '{"nope": "x"}'})).json()
    assert meta["volumes"] == []


async def test_bad_input_is_400_in_cinders_format_and_makes_nothing(client, manager):
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H, content=b"{nope"), 400,
          "badRequest")
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H, json={"vol": {}}), 400,
          "badRequest", "Missing required element 'volume' in request body.")
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H, json={"volume": {"size": 0}}),
          400, "badRequest",
          "Invalid input received: Volume size '0' must be an integer and greater than 0")
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H,
                            json={"volume": {"size": 1, "colour": "red"}}), 400, "badRequest")
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H,
                            json={"volume": {"size": 1, "multiattach": True}}), 400,
          "badRequest")
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H,
                            json={"volume": {"size": 1, "availability_zone": "mars"}}), 400,
          "badRequest", "Availability zone 'mars' is invalid.")
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H,
                            json={"volume": {"size": 1, "volume_type": "gold"}}), 404,
          "itemNotFound", "Volume type with name gold could not be found.")
    assert counts(manager)["volumes"] == 0


async def test_a_volume_larger_than_the_quota_is_413_overlimit(client, manager):
    response = await client.post(f"{V3}/volumes", headers=DEMO_H,
                                 json={"volume": {"size": 1001}})
    fault(response, 413, "overLimit",
          "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
          "gigabytes quota. Requested 1001G, quota is 1000G and 0G has been consumed.")
    assert response.json()["overLimit"]["retryAfter"] == "0"
    assert response.headers["Retry-After"] == "0"
    assert counts(manager)["volumes"] == 0


async def test_another_projects_volume_is_404(client, manager):
    mine = await create(client, manager)
    message = f"Volume {mine['id']} could not be found."
    for method, path, body in (("GET", "", None), ("PUT", "", {"volume": {"name": "x"}}),
                               ("DELETE", "", None), ("GET", "/metadata", None),
                               ("POST", "/action", {"os-extend": {"new_size": 2}})):
        response = await client.request(method, f"{V3}/volumes/{mine['id']}{path}",
                                        headers=OTHER_H, json=body)
        fault(response, 404, "itemNotFound", message)
    assert (await client.get(f"{V3}/volumes", headers=OTHER_H)).json()["volumes"] == []
    assert (await show(client, mine["id"]))["name"] is None


async def test_deleting_an_attached_volume_is_400_and_it_stays(client, manager):
    volume = await create(client, manager)
    attachment = manager.attachments.reserve(DEMO, volume_id=volume["id"], instance_id="vm")
    manager.attachments.update(DEMO, attachment["id"], Connector(host="h1"))
    manager.attachments.complete(DEMO, attachment["id"])
    fault(await client.delete(f"{V3}/volumes/{volume['id']}", headers=DEMO_H), 400,
          "badRequest",
          "Invalid volume: Volume status must be available or error or error_restoring or "
          "error_extending or error_managing and must not be migrating, attached, belong to "
          "a group, have snapshots, awaiting a transfer, or be disassociated from snapshots "
          "after volume transfer.")
    shown = await show(client, volume["id"])
    assert shown["status"] == "in-use"
    [att] = shown["attachments"]
    assert (att["server_id"], att["attachment_id"], att["volume_id"]) == (
        "vm", attachment["id"], volume["id"])


async def test_update_delete_and_metadata_routes(client, manager):
    volume = await create(client, manager, metadata={"a": "1"})
    path = f"{V3}/volumes/{volume['id']}"
    updated = await client.put(path, headers=DEMO_H, json={"volume": {"name": "renamed"}})
    assert updated.status_code == 200 and updated.json()["volume"]["name"] == "renamed"
    fault(await client.put(path, headers=DEMO_H, json={"volume": {"size": 5}}), 400,
          "badRequest")
    assert (await client.get(f"{path}/metadata", headers=DEMO_H)).json() == {
        "metadata": {"a": "1"}}
    merged = await client.post(f"{path}/metadata", headers=DEMO_H,
                               json={"metadata": {"b": "2"}})
    assert merged.json() == {"metadata": {"a": "1", "b": "2"}}
    replaced = await client.put(f"{path}/metadata", headers=DEMO_H,
                                json={"metadata": {"c": "3"}})
    assert replaced.json() == {"metadata": {"c": "3"}}
    key = await client.put(f"{path}/metadata/d", headers=DEMO_H, json={"meta": {"d": "4"}})
    assert key.json() == {"meta": {"d": "4"}}
    fault(await client.put(f"{path}/metadata/d", headers=DEMO_H, json={"meta": {"e": "5"}}),
          400, "badRequest", "Request body and URI mismatch")
    assert (await client.get(f"{path}/metadata/d", headers=DEMO_H)).json() == {
        "meta": {"d": "4"}}
    assert (await client.delete(f"{path}/metadata/d", headers=DEMO_H)).status_code == 200
    fault(await client.get(f"{path}/metadata/d", headers=DEMO_H), 404, "itemNotFound")
    gone = await client.delete(path, headers=DEMO_H)
    assert gone.status_code == 202
    await manager.drain()
    fault(await client.get(path, headers=DEMO_H), 404, "itemNotFound")


async def test_actions(client, manager, backend):
    volume = await create(client, manager, size=1)
    action = f"{V3}/volumes/{volume['id']}/action"
    hold = backend.switches.hold("extend")
    extended = await client.post(action, headers=DEMO_H, json={"os-extend": {"new_size": 2}})
    assert extended.status_code == 202
    assert (await show(client, volume["id"]))["status"] == "extending"
    hold.set()
    await manager.drain()
    assert (await show(client, volume["id"]))["size"] == 2
    fault(await client.post(action, headers=DEMO_H, json={"os-extend": {"new_size": 1}}),
          400, "badRequest", "Invalid input received: New size for extend must be greater "
                             "than current size. (current: 2, extended: 1).")
    assert (await client.post(action, headers=DEMO_H,
                              json={"os-set_bootable": {"bootable": True}})).status_code == 200
    assert (await show(client, volume["id"]))["bootable"] == "true"
    assert (await client.post(action, headers=DEMO_H, json={
        "os-update_readonly_flag": {"readonly": True}})).status_code == 202
    fault(await client.post(action, headers=DEMO_H,
                            json={"os-reset_status": {"status": "error"}}), 403, "forbidden")
    fault(await client.post(action, headers=DEMO_H, json={"os-force_delete": {}}), 403,
          "forbidden")
    fault(await client.post(action, headers=DEMO_H, json={"os-fly": {}}), 400, "badRequest",
          "There is no such action: os-fly")
    fault(await client.post(action, headers=DEMO_H, json={"os-extend": 3}), 400,
          "badRequest")
    reset = await client.post(action, headers=ADMIN_H,
                              json={"os-reset_status": {"status": "error"}})
    assert reset.status_code == 202 and (await show(client, volume["id"]))["status"] == "error"
    forced = await client.post(action, headers=ADMIN_H, json={"os-force_delete": {}})
    assert forced.status_code == 202
    await manager.drain()
    fault(await client.get(f"{V3}/volumes/{volume['id']}", headers=DEMO_H), 404,
          "itemNotFound")


@pytest.mark.parametrize("query", ["all_tenants=1", "all_tenants=true"])
async def test_admins_list_every_project_with_all_tenants(client, manager, query):
    await create(client, manager, name="mine")
    await create(client, manager, OTHER_H, name="theirs")
    own = (await client.get(f"{V3}/volumes", headers=ADMIN_H)).json()["volumes"]
    everyone = (await client.get(f"{V3}/volumes?{query}", headers=ADMIN_H)).json()["volumes"]
    assert own == [] and {v["name"] for v in everyone} == {"mine", "theirs"}
    member = (await client.get(f"{V3}/volumes?{query}", headers=DEMO_H)).json()["volumes"]
    assert [v["name"] for v in member] == ["mine"]


async def test_image_metadata_actions(client, manager, images, tmp_path):
    from tests.unit.services.volume.twins import rootfs_tar
    images.add("img", rootfs_tar(tmp_path), name="cirros")
    volume = await create(client, manager, imageRef="http://image.example/v2/images/img")
    shown = await show(client, volume["id"])
    assert shown["bootable"] == "true"
    assert shown["volume_image_metadata"]["image_name"] == "cirros"
    action = f"{V3}/volumes/{volume['id']}/action"
    added = await client.post(action, headers=DEMO_H,
                              json={"os-set_image_metadata": {"metadata": {"os_distro": "x"}}})
    assert added.status_code == 200 and added.json()["metadata"]["os_distro"] == "x"
    assert (await client.post(action, headers=DEMO_H, json={
        "os-unset_image_metadata": {"key": "os_distro"}})).status_code == 200
    listed = await client.post(action, headers=DEMO_H, json={"os-show_image_metadata": None})
    assert "os_distro" not in listed.json()["metadata"]
    fault(await client.post(action, headers=DEMO_H, json={
        "os-unset_image_metadata": {"key": "os_distro"}}), 404, "itemNotFound")


async def test_volumes_summary_counts_sizes_and_metadata_by_microversion(client, manager):
    await create(client, manager, size=1, metadata={"tier": "gold", "app": "db"})
    await create(client, manager, size=2, metadata={"tier": "silver"})
    await create(client, manager, size=3, metadata={"tier": "gold"})
    await create(client, manager, OTHER_H, size=5)
    url = f"{V3}/volumes/summary"
    fault(await client.get(url, headers=DEMO_H), 404, "itemNotFound")  # 3.12+
    plain = await client.get(url, headers=auth(version="3.12"))
    assert plain.status_code == 200
    assert plain.json() == {"volume-summary": {"total_count": 3, "total_size": 6}}
    summary = (await client.get(url, headers=auth(version="3.36"))).json()["volume-summary"]
    assert (summary["total_count"], summary["total_size"]) == (3, 6)
    assert {k: sorted(v) for k, v in summary["metadata"].items()} == {
        "tier": ["gold", "silver"], "app": ["db"]}
    # all_tenants counts for admins only.
    everyone = (await client.get(url, params={"all_tenants": "1"},
                                 headers=auth("admin-token", "3.12"))).json()
    assert everyone["volume-summary"] == {"total_count": 4, "total_size": 11}
    member = (await client.get(url, params={"all_tenants": "1"},
                               headers=auth(version="3.12"))).json()
    assert member["volume-summary"]["total_count"] == 3


async def test_legacy_attach_actions_over_rest(client, manager):
    """os-reserve/os-unreserve/os-attach/os-detach/os-force_detach answer 202 and move the
    volume as Cinder's do; bad bodies are 400, force_detach is an admin's."""
    vm = "0b5b7e4e-3c3e-4d7b-9d43-5a1c2f3e4d5f"
    volume = await create(client, manager)
    action = f"{V3}/volumes/{volume['id']}/action"

    async def act(body, headers=DEMO_H):
        return await client.post(action, headers=headers, json=body)

    assert (await act({"os-reserve": None})).status_code == 202
    assert (await show(client, volume["id"]))["status"] == "attaching"
    assert (await act({"os-unreserve": {}})).status_code == 202
    assert (await show(client, volume["id"]))["status"] == "available"
    fault(await act({"os-attach": {"instance_uuid": vm}}), 400, "badRequest")
    fault(await act({"os-attach": {"instance_uuid": vm, "mountpoint": "/dev/vdb",
                                   "extra": 1}}), 400, "badRequest")
    made = await act({"os-attach": {"instance_uuid": vm, "mountpoint": "/dev/vdb"}})
    assert made.status_code == 202 and made.content == b""
    shown = await show(client, volume["id"])
    [att] = shown["attachments"]
    assert (shown["status"], att["server_id"], att["device"], att["id"]) == (
        "in-use", vm, "/dev/vdb", volume["id"])
    fault(await act({"os-force_detach": {"attachment_id": att["attachment_id"]}}), 403,
          "forbidden")
    fault(await act({"os-detach": {"attachment_id": "nope"}}), 400, "badRequest")
    assert (await act({"os-detach": {"attachment_id": att["attachment_id"]}})
            ).status_code == 202
    assert (await show(client, volume["id"]))["status"] == "available"
    await act({"os-attach": {"instance_uuid": vm, "mountpoint": "/dev/vdb"}})
    forced = await act({"os-force_detach": {"connector": None}}, ADMIN_H)
    assert forced.status_code == 202
    shown = await show(client, volume["id"])
    assert (shown["status"], shown["attachments"]) == ("available", [])


async def test_the_readonly_flag_and_attached_mode_show_among_the_metadata(client, manager):
    """Cinder's visible admin metadata: ``readonly`` once set, ``attached_mode`` while an
    os-attach lasts, shown (over user metadata) by show, detail and update, never stored
    as user metadata."""
    volume = await create(client, manager, metadata={"k": "v"})
    assert "readonly" not in (await show(client, volume["id"]))["metadata"]  # never set
    action = f"{V3}/volumes/{volume['id']}/action"
    for flag in (True, False):
        done = await client.post(action, headers=DEMO_H,
                                 json={"os-update_readonly_flag": {"readonly": flag}})
        assert done.status_code == 202
        assert (await show(client, volume["id"]))["metadata"] == {"k": "v",
                                                                 "readonly": str(flag)}
    vm = "0b5b7e4e-3c3e-4d7b-9d43-5a1c2f3e4d5f"
    await client.post(action, headers=DEMO_H, json={"os-attach": {
        "instance_uuid": vm, "mountpoint": "/dev/vdb", "mode": "rw"}})
    [listed] = (await client.get(f"{V3}/volumes/detail", headers=DEMO_H)).json()["volumes"]
    assert listed["metadata"] == {"k": "v", "readonly": "False", "attached_mode": "rw"}
    own = (await client.get(f"{V3}/volumes/{volume['id']}/metadata", headers=DEMO_H)).json()
    assert own == {"metadata": {"k": "v"}}
    await client.post(action, headers=DEMO_H, json={"os-detach": {}})
    updated = await client.put(f"{V3}/volumes/{volume['id']}", headers=DEMO_H,
                               json={"volume": {"name": "n"}})
    assert updated.json()["volume"]["metadata"] == {"k": "v", "readonly": "False"}


async def test_retype_over_rest(client, manager):
    volume = await create(client, manager)
    await client.post(f"{V3}/types", headers=ADMIN_H, json={"volume_type": {"name": "gold"}})
    action = f"{V3}/volumes/{volume['id']}/action"
    fault(await client.post(action, headers=DEMO_H, json={"os-retype": {}}), 400,
          "badRequest")
    done = await client.post(action, headers=DEMO_H, json={"os-retype": {
        "new_type": "gold", "migration_policy": "on-demand"}})
    assert done.status_code == 202
    assert (await show(client, volume["id"]))["volume_type"] == "gold"
