"""/snapshots over REST."""
from __future__ import annotations

from tests.unit.services.volume.api_helpers import ADMIN_H, DEMO_H, OTHER_H, V3, auth, fault
from tests.unit.services.volume.conftest import DEMO
from tests.unit.services.volume.helpers import attached, counts, volume


async def test_snapshot_lifecycle(client, manager):
    made = await volume(manager, DEMO)
    response = await client.post(f"{V3}/snapshots", headers=DEMO_H, json={"snapshot": {
        "volume_id": made["id"], "name": "s1", "metadata": {"k": "v"}}})
    assert response.status_code == 202
    snap = response.json()["snapshot"]
    assert (snap["status"], snap["size"], snap["volume_id"]) == ("creating", 1, made["id"])
    extension_keys = {"os-extended-snapshot-attributes:project_id",
                      "os-extended-snapshot-attributes:progress"}
    assert not extension_keys & set(snap)  # show and detail only, as Cinder's extension
    await manager.drain()
    shown = (await client.get(f"{V3}/snapshots/{snap['id']}",
                              headers=auth(version="3.65"))).json()["snapshot"]
    assert shown["status"] == "available" and shown["metadata"] == {"k": "v"}
    assert shown["os-extended-snapshot-attributes:project_id"] == "demo"
    assert shown["os-extended-snapshot-attributes:progress"] == "100%"
    assert shown["user_id"] == "demo-user" and shown["consumes_quota"] is True
    listed = (await client.get(f"{V3}/snapshots", headers=DEMO_H)).json()["snapshots"]
    assert [s["id"] for s in listed] == [snap["id"]]
    assert "os-extended-snapshot-attributes:progress" not in listed[0]
    detail = (await client.get(f"{V3}/snapshots/detail", headers=DEMO_H)).json()
    assert detail["snapshots"][0]["os-extended-snapshot-attributes:progress"] == "100%"
    renamed = await client.put(f"{V3}/snapshots/{snap['id']}", headers=DEMO_H,
                               json={"snapshot": {"name": "s2"}})
    assert renamed.json()["snapshot"]["name"] == "s2"
    assert not extension_keys & set(renamed.json()["snapshot"])
    meta = await client.post(f"{V3}/snapshots/{snap['id']}/metadata", headers=DEMO_H,
                             json={"metadata": {"x": "y"}})
    assert meta.json() == {"metadata": {"k": "v", "x": "y"}}
    assert (await client.delete(f"{V3}/snapshots/{snap['id']}",
                                headers=DEMO_H)).status_code == 202
    await manager.drain()
    fault(await client.get(f"{V3}/snapshots/{snap['id']}", headers=DEMO_H), 404,
          "itemNotFound", f"Snapshot {snap['id']} could not be found.")


async def test_a_snapshot_of_a_missing_volume_is_404_and_makes_nothing(client, manager):
    fault(await client.post(f"{V3}/snapshots", headers=DEMO_H,
                            json={"snapshot": {"volume_id": "missing"}}), 404,
          "itemNotFound", "Volume missing could not be found.")
    theirs = await volume(manager, DEMO)
    fault(await client.post(f"{V3}/snapshots", headers=OTHER_H,
                            json={"snapshot": {"volume_id": theirs["id"]}}), 404,
          "itemNotFound")
    fault(await client.post(f"{V3}/snapshots", headers=DEMO_H, json={"snapshot": {}}), 400,
          "badRequest")
    assert counts(manager)["snapshots"] == 0


async def test_in_use_volumes_need_force_until_3_66(client, manager):
    made = await volume(manager, DEMO)
    await attached(manager, DEMO, made["id"])
    body = {"snapshot": {"volume_id": made["id"]}}
    fault(await client.post(f"{V3}/snapshots", headers=DEMO_H, json=body), 400, "badRequest",
          f"Invalid volume: Volume {made['id']} status must be available, but current "
          "status is: in-use.")
    forced = await client.post(f"{V3}/snapshots", headers=DEMO_H,
                               json={"snapshot": {"volume_id": made["id"], "force": True}})
    assert forced.status_code == 202
    newer = await client.post(f"{V3}/snapshots", headers=auth(version="3.66"), json=body)
    assert newer.status_code == 202


async def test_snapshot_admin_actions(client, manager):
    made = await volume(manager, DEMO)
    snap = manager.snapshots.create(DEMO, volume_id=made["id"])
    await manager.drain()
    action = f"{V3}/snapshots/{snap['id']}/action"
    fault(await client.post(action, headers=DEMO_H,
                            json={"os-reset_status": {"status": "error"}}), 403, "forbidden")
    assert (await client.post(action, headers=ADMIN_H, json={
        "os-reset_status": {"status": "error"}})).status_code == 202
    assert (await client.post(action, headers=ADMIN_H,
                              json={"os-force_delete": {}})).status_code == 202
    await manager.drain()
    assert counts(manager)["snapshots"] == 0


async def test_create_without_volume_id_is_400_and_a_null_one_404(client, manager):
    """Cinder's schema requires the key but allows null, which then names no volume."""
    fault(await client.post(f"{V3}/snapshots", headers=DEMO_H,
                            json={"snapshot": {"name": "s"}}), 400, "badRequest",
          "Invalid input for field/attribute snapshot. 'volume_id' is a required property")
    fault(await client.post(f"{V3}/snapshots", headers=DEMO_H,
                            json={"snapshot": {"volume_id": None, "name": "s"}}), 404,
          "itemNotFound")
    assert counts(manager)["snapshots"] == 0
