"""Projects never see each other's resources, and admin-only APIs refuse members."""
from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module")
def demo_server(demo):
    image = demo.image.find_image("cirros")
    flavor = demo.compute.find_flavor("m1.tiny")
    server = demo.compute.create_server(name="demo-vm", image_id=image.id,
                                        flavor_id=flavor.id, networks="auto")
    server = demo.compute.wait_for_server(server, wait=60)
    yield server
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)


def _get(conn, path, service="compute"):
    endpoint = conn.endpoint_for(service)
    return httpx.get(endpoint.rstrip("/") + path,
                     headers={"X-Auth-Token": conn.auth_token,
                              "OpenStack-API-Version": "compute 2.79"})


def test_admin_does_not_list_other_projects_by_default(admin, demo_server):
    assert demo_server.id not in {s.id for s in admin.compute.servers()}
    assert demo_server.id in {s.id for s in admin.compute.servers(all_projects=True)}


def test_member_cannot_see_admins_server(admin, demo):
    image = admin.image.find_image("cirros")
    flavor = admin.compute.find_flavor("m1.tiny")
    server = admin.compute.create_server(name="admin-vm", image_id=image.id,
                                         flavor_id=flavor.id, networks="auto")
    try:
        assert server.id not in {s.id for s in demo.compute.servers()}
        assert server.id not in {s.id for s in demo.compute.servers(all_projects=True)}
        response = _get(demo, f"/servers/{server.id}")
        assert response.status_code == 404
        assert "itemNotFound" in response.json()
    finally:
        admin.compute.delete_server(server)
        admin.compute.wait_for_delete(server, wait=60)


@pytest.mark.parametrize("path", ["/os-services", "/os-hypervisors",
                                  "/os-hypervisors/detail", "/os-hypervisors/statistics",
                                  "/os-availability-zone/detail"])
def test_admin_only_compute_apis_refuse_members(demo, path):
    response = _get(demo, path)
    assert response.status_code == 403, response.text
    assert response.json()["forbidden"]["code"] == 403


def test_member_cannot_create_flavors_or_set_quotas(demo, admin):
    endpoint = demo.endpoint_for("compute").rstrip("/")
    headers = {"X-Auth-Token": demo.auth_token}
    created = httpx.post(f"{endpoint}/flavors", headers=headers, json={
        "flavor": {"name": "sneaky", "ram": 64, "vcpus": 1, "disk": 1}})
    assert created.status_code == 403
    quota = httpx.put(f"{endpoint}/os-quota-sets/{demo.current_project_id}", headers=headers,
                      json={"quota_set": {"instances": 1000}})
    assert quota.status_code == 403


def test_member_cannot_list_users_or_projects_of_others(demo):
    identity = demo.endpoint_for("identity").rstrip("/")
    response = httpx.get(f"{identity}/v3/users", headers={"X-Auth-Token": demo.auth_token})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == 403


def test_members_private_network_ports_are_hidden(admin, demo, demo_server):
    admin_view = {p.id for p in admin.network.ports(device_id=demo_server.id)}
    demo_view = {p.id for p in demo.network.ports(device_id=demo_server.id)}
    assert admin_view == demo_view and len(demo_view) == 1
    assert list(admin.network.ports(device_id=demo_server.id,
                                    project_id=admin.current_project_id)) == []
