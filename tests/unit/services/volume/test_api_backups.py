"""/backups over REST: the caller's token reaches the backup store; restore creates the
named volume."""
from __future__ import annotations

from tests.unit.services.volume.api_helpers import ADMIN_H, DEMO_H, OTHER_H, V3, auth, fault
from tests.unit.services.volume.conftest import DEMO
from tests.unit.services.volume.helpers import attached, counts, volume


async def make_backup(client, manager, volume_id, **fields) -> dict:
    response = await client.post(f"{V3}/backups", headers=DEMO_H, json={"backup": {
        "volume_id": volume_id, **fields}})
    assert response.status_code == 202, response.text
    await manager.drain()
    return response.json()["backup"]


async def test_backup_create_show_list_and_restore_by_name(client, manager, store, backend):
    made = await volume(manager, DEMO)
    backend.write(made["id"], 1 << 20, b"data")
    created = await make_backup(client, manager, made["id"], name="b1",
                                description="first")
    assert set(created) == {"id", "name", "links"} and created["name"] == "b1"
    assert store.tokens == ["demo-token"]
    shown = (await client.get(f"{V3}/backups/{created['id']}",
                              headers=auth(version="3.43"))).json()["backup"]
    assert (shown["status"], shown["size"], shown["volume_id"], shown["container"]) == (
        "available", 1, made["id"], "volumebackups")
    assert shown["object_count"] == 2 and shown["is_incremental"] is False
    assert shown["has_dependent_backups"] is False and shown["metadata"] == {}
    assert "os-backup-project-attr:project_id" not in shown  # admins only
    admin_view = (await client.get(f"{V3}/backups/{created['id']}",
                                   headers={**ADMIN_H, "OpenStack-API-Version":
                                            "volume 3.56"})).json()["backup"]
    assert admin_view["os-backup-project-attr:project_id"] == "demo"
    assert admin_view["user_id"] == "demo-user"
    listed = (await client.get(f"{V3}/backups/detail", headers=DEMO_H)).json()["backups"]
    assert [b["name"] for b in listed] == ["b1"]
    restore = await client.post(f"{V3}/backups/{created['id']}/restore", headers=DEMO_H,
                                json={"restore": {"name": "data3"}})
    assert restore.status_code == 202
    answer = restore.json()["restore"]
    assert answer["backup_id"] == created["id"] and answer["volume_name"] == "data3"
    await manager.drain()
    new = (await client.get(f"{V3}/volumes/{answer['volume_id']}",
                            headers=DEMO_H)).json()["volume"]
    assert (new["name"], new["status"], new["size"]) == ("data3", "available", 1)
    assert backend.read(answer["volume_id"], 1 << 20, 4) == b"data"


async def test_backup_refusals_in_cinders_format(client, manager):
    fault(await client.post(f"{V3}/backups", headers=DEMO_H,
                            json={"backup": {"volume_id": "missing"}}), 404, "itemNotFound",
          "Volume missing could not be found.")
    made = await volume(manager, DEMO)
    fault(await client.post(f"{V3}/backups", headers=OTHER_H,
                            json={"backup": {"volume_id": made["id"]}}), 404, "itemNotFound")
    await attached(manager, DEMO, made["id"])
    fault(await client.post(f"{V3}/backups", headers=DEMO_H,
                            json={"backup": {"volume_id": made["id"]}}), 400, "badRequest",
          "Invalid volume: Backing up an in-use volume must use the force flag.")
    fault(await client.post(f"{V3}/backups", headers=DEMO_H,
                            json={"backup": {"volume_id": made["id"], "bogus": 1}}), 400,
          "badRequest")
    assert counts(manager)["backups"] == 0


async def test_incremental_delete_and_restore_into_an_existing_volume(client, manager):
    made = await volume(manager, DEMO)
    full = await make_backup(client, manager, made["id"])
    incremental = await make_backup(client, manager, made["id"], incremental=True)
    fault(await client.delete(f"{V3}/backups/{full['id']}", headers=DEMO_H), 400,
          "badRequest", "Invalid backup: Incremental backups exist for this backup.")
    small = await volume(manager, DEMO, size=1)
    into = await client.post(f"{V3}/backups/{incremental['id']}/restore", headers=DEMO_H,
                             json={"restore": {"volume_id": small["id"]}})
    assert into.status_code == 202 and into.json()["restore"]["volume_id"] == small["id"]
    await manager.drain()
    fault(await client.post(f"{V3}/backups/{full['id']}/restore", headers=DEMO_H,
                            json={"restore": {"volume_id": "missing"}}), 404, "itemNotFound")
    fault(await client.post(f"{V3}/backups/{full['id']}/restore", headers=DEMO_H,
                            json={"wrong": {}}), 400, "badRequest")
    assert (await client.delete(f"{V3}/backups/{incremental['id']}",
                                headers=DEMO_H)).status_code == 202
    await manager.drain()
    assert (await client.delete(f"{V3}/backups/{full['id']}",
                                headers=DEMO_H)).status_code == 202
    await manager.drain()
    assert (await client.get(f"{V3}/backups", headers=DEMO_H)).json()["backups"] == []


async def test_backup_update_needs_3_9(client, manager):
    made = await volume(manager, DEMO)
    created = await make_backup(client, manager, made["id"])
    path = f"{V3}/backups/{created['id']}"
    fault(await client.put(path, headers=DEMO_H, json={"backup": {"name": "x"}}), 404,
          "itemNotFound", "API version 3.0 is not supported on this method.")
    renamed = await client.put(path, headers=auth(version="3.9"),
                               json={"backup": {"name": "x"}})
    assert renamed.status_code == 200 and renamed.json()["backup"]["name"] == "x"


async def test_export_and_import_records_over_rest(client, manager):
    """As Cinder's backup-record API: admins export a record and import it back (with
    another id, as tempest does, both then name the same objects); 201 with the summary."""
    import base64
    import json
    made = await volume(manager, DEMO)
    done = await make_backup(client, manager, made["id"])
    url = f"{V3}/backups/{done['id']}/export_record"
    fault(await client.get(url, headers=DEMO_H), 403, "forbidden")
    exported = (await client.get(url, headers=ADMIN_H)).json()["backup-record"]
    record = json.loads(base64.b64decode(exported["backup_url"]))
    record["id"] = "5f0c2a52-7a8c-4b4e-9d55-2b8f3c1d0e9a"
    body = {"backup-record": {"backup_service": exported["backup_service"],
                              "backup_url": base64.b64encode(
                                  json.dumps(record).encode()).decode()}}
    imported = await client.post(f"{V3}/backups/import_record", headers=ADMIN_H, json=body)
    assert imported.status_code == 201
    assert imported.json()["backup"]["id"] == record["id"]
    shown = (await client.get(f"{V3}/backups/{record['id']}", headers=ADMIN_H)).json()
    assert shown["backup"]["status"] == "available"
    fault(await client.post(f"{V3}/backups/import_record", headers=ADMIN_H, json=body), 400,
          "badRequest")
    fault(await client.post(f"{V3}/backups/import_record", headers=ADMIN_H,
                            json={"backup-record": {"backup_service": "x"}}), 400,
          "badRequest")
