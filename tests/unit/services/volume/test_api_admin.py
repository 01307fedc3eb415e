"""Types, quota sets, limits, services, zones, extensions and pools over REST."""
from __future__ import annotations

from tests.unit.services.volume.api_helpers import ADMIN_H, DEMO_H, OTHER_H, V3, auth, fault
from tests.unit.services.volume.conftest import DEMO
from tests.unit.services.volume.helpers import counts, volume


async def test_volume_types(client):
    listed = (await client.get(f"{V3}/types", headers=DEMO_H)).json()["volume_types"]
    assert [t["name"] for t in listed] == ["__DEFAULT__"]
    default = (await client.get(f"{V3}/types/default", headers=DEMO_H)).json()["volume_type"]
    assert default["id"] == listed[0]["id"] and default["is_public"] is True
    assert default["os-volume-type-access:is_public"] is True
    by_name = await client.get(f"{V3}/types/__DEFAULT__", headers=DEMO_H)
    assert by_name.json()["volume_type"]["id"] == default["id"]
    body = {"volume_type": {"name": "gold", "description": "fast",
                            "extra_specs": {"volume_backend_name": "file"}}}
    fault(await client.post(f"{V3}/types", headers=DEMO_H, json=body), 403, "forbidden")
    gold = (await client.post(f"{V3}/types", headers=ADMIN_H, json=body)).json()["volume_type"]
    assert gold["extra_specs"] == {"volume_backend_name": "file"}
    # Cinder's types-manage answers (v2 view): no qos_specs_id; the access flag on create.
    assert "qos_specs_id" not in gold and gold["os-volume-type-access:is_public"] is True
    shown = (await client.get(f"{V3}/types/{gold['id']}", headers=ADMIN_H)).json()
    assert shown["volume_type"]["qos_specs_id"] is None  # show and list: admins see it
    assert "qos_specs_id" not in (await client.get(f"{V3}/types/{gold['id']}",
                                                   headers=DEMO_H)).json()["volume_type"]
    fault(await client.post(f"{V3}/types", headers=ADMIN_H, json=body), 409,
          "conflictingRequest", "Volume Type gold already exists.")
    specs = f"{V3}/types/{gold['id']}/extra_specs"
    assert (await client.post(specs, headers=ADMIN_H, json={"extra_specs": {"a": "b"}})
            ).json() == {"extra_specs": {"a": "b"}}
    assert (await client.get(f"{specs}/a", headers=DEMO_H)).json() == {"a": "b"}
    assert (await client.put(f"{specs}/a", headers=ADMIN_H, json={"a": "c"})).json() == {
        "a": "c"}
    assert (await client.delete(f"{specs}/a", headers=ADMIN_H)).status_code == 202
    fault(await client.get(f"{specs}/a", headers=DEMO_H), 404, "itemNotFound")
    renamed = await client.put(f"{V3}/types/{gold['id']}", headers=ADMIN_H,
                               json={"volume_type": {"name": "platinum"}})
    assert renamed.json()["volume_type"]["name"] == "platinum"
    assert not {"qos_specs_id", "os-volume-type-access:is_public"} & set(
        renamed.json()["volume_type"])
    assert (await client.delete(f"{V3}/types/{gold['id']}", headers=ADMIN_H)
            ).status_code == 202
    fault(await client.delete(f"{V3}/types/{default['id']}", headers=ADMIN_H), 400,
          "badRequest", "Default volume type can not be deleted.")


async def test_quota_sets_as_openstack_quota_show_reads_them(client, manager):
    await volume(manager, DEMO, size=2)
    plain = (await client.get(f"{V3}/os-quota-sets/demo", headers=DEMO_H,
                              params={"usage": "False"})).json()["quota_set"]
    assert plain["id"] == "demo" and plain["volumes"] == 10 and plain["gigabytes"] == 1000
    assert plain["volumes___DEFAULT__"] == -1 and plain["per_volume_gigabytes"] == -1
    used = (await client.get(f"{V3}/os-quota-sets/demo", headers=DEMO_H,
                             params={"usage": "True"})).json()["quota_set"]
    assert used["gigabytes"] == {"limit": 1000, "in_use": 2, "reserved": 0}
    defaults = (await client.get(f"{V3}/os-quota-sets/demo/defaults",
                                 headers=DEMO_H)).json()["quota_set"]
    assert defaults["backups"] == 10 and defaults["id"] == "demo"
    fault(await client.get(f"{V3}/os-quota-sets/demo", headers=OTHER_H), 403, "forbidden")
    fault(await client.put(f"{V3}/os-quota-sets/demo", headers=DEMO_H,
                           json={"quota_set": {"volumes": 1}}), 403, "forbidden")
    updated = await client.put(f"{V3}/os-quota-sets/demo", headers=ADMIN_H,
                               json={"quota_set": {"volumes": 1, "tenant_id": "demo"}})
    assert updated.status_code == 200 and updated.json()["quota_set"]["volumes"] == 1
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H, json={"volume": {"size": 1}}),
          413, "overLimit", "VolumeLimitExceeded: Maximum number of volumes allowed (1) "
                            "exceeded for quota 'volumes'.")
    fault(await client.put(f"{V3}/os-quota-sets/demo", headers=ADMIN_H,
                           json={"quota_set": {"gigabytes": 1}}), 400, "badRequest")
    assert (await client.delete(f"{V3}/os-quota-sets/demo", headers=ADMIN_H)
            ).status_code == 200
    assert (await client.get(f"{V3}/os-quota-sets/demo", headers=ADMIN_H)
            ).json()["quota_set"]["volumes"] == 10


async def test_limits(client, manager):
    await volume(manager, DEMO, size=3)
    absolute = (await client.get(f"{V3}/limits", headers=DEMO_H)).json()["limits"]["absolute"]
    assert absolute == {"maxTotalVolumes": 10, "maxTotalSnapshots": 10,
                        "maxTotalVolumeGigabytes": 1000, "maxTotalBackups": 10,
                        "maxTotalBackupGigabytes": 1000, "totalVolumesUsed": 1,
                        "totalGigabytesUsed": 3, "totalSnapshotsUsed": 0,
                        "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}
    other = (await client.get(f"{V3}/limits", headers=OTHER_H)).json()["limits"]["absolute"]
    assert other["totalVolumesUsed"] == 0
    asked = (await client.get(f"{V3}/limits", headers=auth("admin-token", "3.39"),
                              params={"project_id": "demo"})).json()["limits"]["absolute"]
    assert asked["totalGigabytesUsed"] == 3


async def test_services_zone_extensions_and_pools(client, manager):
    await manager.heartbeats.run_once()
    fault(await client.get(f"{V3}/os-services", headers=DEMO_H), 403, "forbidden")
    services = (await client.get(f"{V3}/os-services", headers=ADMIN_H)).json()["services"]
    assert [(s["binary"], s["host"], s["state"], s["status"], s["zone"]) for s in services] \
        == [("cinder-volume", "volume@file", "up", "enabled", "nova"),
            ("cinder-backup", "volume", "up", "enabled", "nova")]
    assert services[0]["updated_at"]
    disabled = await client.put(f"{V3}/os-services/disable", headers=ADMIN_H,
                                json={"host": "volume", "binary": "cinder-backup"})
    assert disabled.json()["status"] == "disabled" and disabled.json()["disabled"] is True
    only = (await client.get(f"{V3}/os-services", headers=ADMIN_H,
                             params={"binary": "cinder-backup"})).json()["services"]
    assert [s["status"] for s in only] == ["disabled"]
    fault(await client.put(f"{V3}/os-services/disable", headers=ADMIN_H,
                           json={"host": "nowhere", "binary": "cinder-backup"}), 404,
          "itemNotFound")
    zones = (await client.get(f"{V3}/os-availability-zone", headers=DEMO_H)).json()
    assert zones == {"availabilityZoneInfo": [{"zoneName": "nova",
                                               "zoneState": {"available": True}}]}
    aliases = {e["alias"] for e in (await client.get(f"{V3}/extensions",
                                                      headers=DEMO_H)).json()["extensions"]}
    assert {"os-quota-sets", "backups", "os-services", "os-volume-actions"} <= aliases
    assert "os-volume-transfer" not in aliases  # only what is implemented
    pools = (await client.get(f"{V3}/scheduler-stats/get_pools", headers=ADMIN_H,
                              params={"detail": "true"})).json()["pools"]
    assert pools[0]["name"] == "volume@file#file" and "capabilities" in pools[0]
    fault(await client.get(f"{V3}/scheduler-stats/get_pools", headers=DEMO_H), 403,
          "forbidden")


async def test_services_host_filter_and_update_answers_as_cinders(client):
    """``host`` filters as Cinder's _filter_host (a host names its backends and pools);
    enable/disable answer host, service, binary, status and disabled, and
    disable-log-reason its reason too, refusing a null or blank one."""
    async def hosts(**params):
        listed = (await client.get(f"{V3}/os-services", headers=ADMIN_H, params=params)
                  ).json()["services"]
        return sorted((s["binary"], s["host"]) for s in listed)
    both = [("cinder-backup", "volume"), ("cinder-volume", "volume@file")]
    assert await hosts(host="volume") == both
    assert await hosts(host="volume@file") == [("cinder-volume", "volume@file")]
    assert await hosts(host="volume@file#file") == []
    assert await hosts(host="volume", binary="cinder-volume") == [
        ("cinder-volume", "volume@file")]
    assert await hosts(host="volum") == []
    url = f"{V3}/os-services"
    enabled = await client.put(f"{url}/enable", headers=ADMIN_H,
                               json={"host": "volume", "service": "cinder-backup"})
    assert enabled.json() == {"host": "volume", "service": "cinder-backup", "binary": "",
                              "status": "enabled", "disabled": False}
    reasoned = await client.put(f"{url}/disable-log-reason", headers=ADMIN_H, json={
        "host": "volume", "binary": "cinder-backup", "disabled_reason": "maintenance"})
    assert reasoned.json() == {"host": "volume", "service": "", "binary": "cinder-backup",
                               "status": "disabled", "disabled": True,
                               "disabled_reason": "maintenance"}
    for bad in (None, "   ", "x" * 256):
        fault(await client.put(f"{url}/disable-log-reason", headers=ADMIN_H, json={
            "host": "volume", "binary": "cinder-volume", "disabled_reason": bad}), 400,
            "badRequest")
    listed = (await client.get(url, headers=ADMIN_H, params={"binary": "cinder-volume"})
              ).json()["services"]
    assert [s["status"] for s in listed] == ["enabled"]  # the refused ones changed nothing


async def test_hosts_and_capabilities_over_rest(client, manager):
    await manager.heartbeats.run_once()
    hosts = (await client.get(f"{V3}/os-hosts", headers=ADMIN_H)).json()["hosts"]
    assert {(h["host_name"], h["service"]) for h in hosts} == {
        ("volume", "cinder-backup"), ("volume@file", "cinder-volume")}
    assert set(hosts[0]) == {"host_name", "service", "zone", "service-status",
                             "service-state", "last-update"}
    assert "T" in hosts[0]["last-update"]
    fault(await client.get(f"{V3}/os-hosts", headers=DEMO_H), 403, "forbidden")
    shown = (await client.get(f"{V3}/os-hosts/volume@file", headers=ADMIN_H)).json()
    assert shown["host"][0]["resource"]["project"] == "(total)"
    fault(await client.get(f"{V3}/os-hosts/volume", headers=ADMIN_H), 404, "itemNotFound")
    caps = (await client.get(f"{V3}/capabilities/volume@file", headers=ADMIN_H)).json()
    pools = (await client.get(f"{V3}/scheduler-stats/get_pools", headers=ADMIN_H,
                              params={"detail": "true"})).json()["pools"]
    assert caps["namespace"] == "OS::Storage::Capabilities::volume@file"
    for key in ("vendor_name", "volume_backend_name", "storage_protocol", "driver_version"):
        assert caps[key] == pools[0]["capabilities"][key]
    assert caps["properties"]["thin_provisioning"]["type"] == "boolean"
    fault(await client.get(f"{V3}/capabilities/elsewhere", headers=ADMIN_H), 404,
          "itemNotFound")
    fault(await client.get(f"{V3}/capabilities/volume@file", headers=DEMO_H), 403,
          "forbidden")
    aliases = {e["alias"] for e in (await client.get(f"{V3}/extensions",
                                                      headers=DEMO_H)).json()["extensions"]}
    assert {"os-hosts", "capabilities"} <= aliases


async def test_quota_class_sets_over_rest(client):
    url = f"{V3}/os-quota-class-sets/default"
    shown = (await client.get(url, headers=ADMIN_H)).json()["quota_class_set"]
    assert shown["id"] == "default" and shown["volumes"] == 10
    fault(await client.get(url, headers=DEMO_H), 403, "forbidden")
    fault(await client.put(url, headers=DEMO_H, json={"quota_class_set": {"volumes": 1}}),
          403, "forbidden")
    updated = await client.put(url, headers=ADMIN_H,
                               json={"quota_class_set": {"volumes": 12}})
    assert updated.status_code == 200
    assert updated.json()["quota_class_set"]["volumes"] == 12
    assert "id" not in updated.json()["quota_class_set"]  # as Cinder's update answers
    defaults = (await client.get(f"{V3}/os-quota-sets/demo/defaults", headers=DEMO_H)
                ).json()["quota_set"]
    assert defaults["volumes"] == 12
    fault(await client.put(url, headers=ADMIN_H, json={"quota_class_set": {"x": 1}}), 400,
          "badRequest")
    fault(await client.put(url, headers=ADMIN_H, json={"volumes": 1}), 400, "badRequest")


async def test_type_access_over_rest(client):
    made = await client.post(f"{V3}/types", headers=ADMIN_H, json={"volume_type": {
        "name": "secret", "os-volume-type-access:is_public": False}})
    secret = made.json()["volume_type"]
    assert secret["os-volume-type-access:is_public"] is False
    action = f"{V3}/types/{secret['id']}/action"
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H, json={"volume": {
        "size": 1, "volume_type": secret["id"]}}), 404, "itemNotFound")
    added = await client.post(action, headers=ADMIN_H,
                              json={"addProjectAccess": {"project": "demo"}})
    assert added.status_code == 202
    fault(await client.post(action, headers=ADMIN_H,
                            json={"addProjectAccess": {"project": "demo"}}), 409,
          "conflictingRequest")
    fault(await client.post(action, headers=DEMO_H,
                            json={"addProjectAccess": {"project": "demo"}}), 403, "forbidden")
    fault(await client.post(action, headers=ADMIN_H, json={"addProjectAccess": {}}), 400,
          "badRequest")
    listed = (await client.get(f"{V3}/types/{secret['id']}/os-volume-type-access",
                               headers=ADMIN_H)).json()
    assert listed == {"volume_type_access": [{"volume_type_id": secret["id"],
                                              "project_id": "demo"}]}
    assert [t["name"] for t in (await client.get(f"{V3}/types", headers=DEMO_H)
                                ).json()["volume_types"]] == ["__DEFAULT__", "secret"]
    used = await client.post(f"{V3}/volumes", headers=DEMO_H, json={"volume": {
        "size": 1, "volume_type": secret["id"]}})
    assert used.status_code == 202 and used.json()["volume"]["volume_type"] == "secret"
    removed = await client.post(action, headers=ADMIN_H,
                                json={"removeProjectAccess": {"project": "other"}})
    fault(removed, 404, "itemNotFound")
    aliases = {e["alias"] for e in (await client.get(f"{V3}/extensions",
                                                      headers=DEMO_H)).json()["extensions"]}
    assert "os-volume-type-access" in aliases


async def test_freeze_and_thaw_a_backend(client, manager):
    """Cinder's freeze_host/thaw_host: a frozen backend refuses deletions and snapshots
    (400) until thawed; os-services shows it; an unknown host, or freezing twice, is 400."""
    await manager.heartbeats.run_once()
    made = await volume(manager, DEMO)
    url = f"{V3}/os-services"
    fault(await client.put(f"{url}/freeze", headers=DEMO_H, json={"host": "volume"}), 403,
          "forbidden")
    fault(await client.put(f"{url}/freeze", headers=ADMIN_H, json={"host": "invalid_host"}),
          400, "badRequest")
    frozen = await client.put(f"{url}/freeze", headers=ADMIN_H, json={"host": "volume@file"})
    assert frozen.status_code == 200
    fault(await client.put(f"{url}/freeze", headers=ADMIN_H, json={"host": "volume"}), 400,
          "badRequest")  # frozen already
    listed = (await client.get(url, headers=ADMIN_H, params={"binary": "cinder-volume"})
              ).json()["services"]
    assert [s["frozen"] for s in listed] == [True]
    fault(await client.delete(f"{V3}/volumes/{made['id']}", headers=DEMO_H), 400,
          "badRequest", "Invalid input received: Modification operations are not allowed "
                        "on frozen storage backends.")
    fault(await client.post(f"{V3}/snapshots", headers=DEMO_H, json={"snapshot": {
        "volume_id": made["id"]}}), 400, "badRequest")
    assert counts(manager)["snapshots"] == 0
    fault(await client.put(f"{url}/thaw", headers=ADMIN_H, json={"host": "invalid_host"}),
          400, "badRequest")
    assert (await client.put(f"{url}/thaw", headers=ADMIN_H, json={"host": "volume"})
            ).status_code == 200
    assert (await client.delete(f"{V3}/volumes/{made['id']}", headers=DEMO_H)
            ).status_code == 202
