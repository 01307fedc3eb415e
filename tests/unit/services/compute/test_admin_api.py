"""Services, hypervisors, migrations and availability zones: admin views over a twin."""
from __future__ import annotations

import pytest

from tests.unit.services.compute.compute_twins import auth

V21 = "/compute/v2.1"


@pytest.mark.parametrize("path", ["/os-services", "/os-hypervisors", "/os-hypervisors/detail",
                                  "/os-hypervisors/statistics", "/os-migrations",
                                  "/os-availability-zone/detail"])
async def test_admin_views_refuse_members(http, path):
    response = await http.get(V21 + path, headers=auth())
    assert response.status_code == 403 and "forbidden" in response.json()


async def test_services_are_listed_with_filters(http, conductor):
    listed = await http.get(f"{V21}/os-services?host=hv-2", headers=auth("admin"))
    assert [s["host"] for s in listed.json()["services"]] == ["hv-2"]
    assert conductor.asked("list_services") == [{"binary": None, "host": "hv-2"}]


async def test_updating_a_service_by_id(http, conductor):
    response = await http.put(f"{V21}/os-services/s-1", headers=auth("admin", "2.53"),
                              json={"status": "disabled", "disabled_reason": "why"})
    assert response.status_code == 200 and response.json()["service"]["status"] == "disabled"
    assert conductor.asked("update_service") == [{
        "service_id": "s-1", "disabled": True, "disabled_reason": "why", "forced_down": None}]


@pytest.mark.parametrize("body", [{}, {"status": "paused"}, {"forced_down": "yes"}])
async def test_bad_service_updates_are_400(http, conductor, body):
    response = await http.put(f"{V21}/os-services/s-1", headers=auth("admin"), json=body)
    assert response.status_code == 400 and conductor.asked("update_service") == []


async def test_legacy_service_actions_find_the_service_by_host_and_binary(http, conductor):
    response = await http.put(f"{V21}/os-services/disable", headers=auth("admin"),
                              json={"host": "hv-1", "binary": "nova-compute"})
    assert response.status_code == 200
    assert response.json()["service"] == {"host": "hv-1", "binary": "nova-compute",
                                          "status": "disabled", "disabled_reason": None,
                                          "forced_down": False}
    assert conductor.asked("update_service") == [
        {"service_id": "s-1", "disabled": True, "disabled_reason": None}]
    missing = await http.put(f"{V21}/os-services/enable", headers=auth("admin"),
                             json={"host": "hv-9", "binary": "nova-compute"})
    assert missing.status_code == 404


async def test_hypervisors_brief_detail_and_pattern(http):
    brief = (await http.get(f"{V21}/os-hypervisors", headers=auth("admin"))).json()
    assert brief["hypervisors"][0] == {"id": "n-1", "hypervisor_hostname": "hv-1",
                                       "state": "up", "status": "enabled"}
    detail = await http.get(f"{V21}/os-hypervisors/detail?hypervisor_hostname_pattern=hv-2",
                            headers=auth("admin", "2.28"))
    [node] = detail.json()["hypervisors"]
    assert node["hypervisor_hostname"] == "hv-2" and node["free_ram_mb"] == 3072
    assert node["cpu_info"] == {} and node["host_ip"] == "10.1.0.2"
    old = await http.get(f"{V21}/os-hypervisors/n-1", headers=auth("admin"))
    assert old.json()["hypervisor"]["cpu_info"] == "{}"
    by_host = await http.get(f"{V21}/os-hypervisors/hv-2", headers=auth("admin"))
    assert by_host.json()["hypervisor"]["id"] == "n-2"
    assert (await http.get(f"{V21}/os-hypervisors/n-9", headers=auth("admin"))).status_code \
        == 404


async def test_hypervisor_statistics_add_up(http):
    stats = (await http.get(f"{V21}/os-hypervisors/statistics",
                            headers=auth("admin"))).json()["hypervisor_statistics"]
    assert stats["count"] == 2 and stats["vcpus"] == 8 and stats["vcpus_used"] == 3
    assert stats["free_ram_mb"] == 8192 - 1536 and stats["free_disk_gb"] == 80 - 3


async def test_migrations_drop_fields_by_microversion(http, conductor):
    old = (await http.get(f"{V21}/os-migrations?status=completed",
                          headers=auth("admin"))).json()["migrations"][0]
    assert "uuid" not in old and "migration_type" not in old and "user_id" not in old
    assert old["old_instance_type_id"] is None
    new = (await http.get(f"{V21}/os-migrations", headers=auth("admin", "2.59"))).json()
    assert new["migrations"][0]["uuid"] == "m-1"
    assert new["migrations"][0]["migration_type"] == "evacuation"
    assert conductor.asked("list_migrations")[0] == {"filters": {"status": "completed"}}


async def test_availability_zones_for_members_and_in_detail_for_admins(http):
    zones = (await http.get(f"{V21}/os-availability-zone", headers=auth())).json()
    assert zones["availabilityZoneInfo"] == [
        {"zoneName": "az-2", "zoneState": {"available": True}, "hosts": None},
        {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    detail = (await http.get(f"{V21}/os-availability-zone/detail",
                             headers=auth("admin"))).json()["availabilityZoneInfo"]
    assert detail[0]["hosts"] == {"hv-2": {"nova-compute": {
        "available": False, "active": False, "updated_at": "2024-01-02T03:04:05"}}}


async def test_version_documents_are_public(http):
    versions = await http.get("/compute")
    assert versions.status_code == 200
    [version] = versions.json()["versions"]
    assert (version["id"], version["min_version"], version["version"]) == ("v2.1", "2.1", "2.79")
    assert version["links"][0]["href"] == "http://testserver/compute/v2.1/"
    assert (await http.get("/compute/v2.1/")).json()["version"]["id"] == "v2.1"


@pytest.mark.parametrize(("path", "body"), [
    ("/os-services/s-1", {"status": "disabled", "disabled_reason": 2**64}),
    ("/os-services/s-1", {"status": "disabled", "disabled_reason": ["why"]}),
    ("/os-services/disable", {"binary": 2**64, "host": "hv-1"}),
    ("/os-services/disable", {"binary": "nova-compute", "host": {}}),
    ("/os-services/disable-log-reason", {"binary": "nova-compute", "host": "hv-1",
                                         "disabled_reason": 2**64}),
])
async def test_service_update_with_a_number_past_64_bits_for_a_string_is_a_400_not_a_500(
        http, conductor, path, body):
    response = await http.put(V21 + path, headers=auth("admin", "2.53"), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["badRequest"]["code"] == 400
    assert conductor.asked("update_service") == []
