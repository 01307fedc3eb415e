"""Projects never see each other's resources, and admin-only APIs refuse members."""
from __future__ import annotations

import json

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


def _token(demo, cloud, *, scope: dict | None, user: str = "demo") -> str:
    """A token for ``user`` (demo or admin) from Keystone itself: unscoped, or with
    ``scope``."""
    auth_url = demo.session.auth.auth_url.rstrip("/")
    identity = {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"},
        "password": cloud.passwords[f"{user}_password"]}}}
    body = {"auth": {"identity": identity, **({"scope": scope} if scope else {})}}
    response = httpx.post(f"{auth_url}/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


@pytest.mark.parametrize("scope, user", [
    (None, "demo"), ({"domain": {"id": "default"}}, "demo"),
    ({"system": {"all": True}}, "admin")],
    ids=["unscoped", "domain-scoped", "system-scoped-admin"])
@pytest.mark.parametrize("service, path", [
    ("compute", "/servers/detail"), ("compute", "/os-keypairs"), ("image", "/v2/images"),
    ("network", "/v2.0/networks"), ("network", "/v2.0/ports")])
def test_a_token_without_a_project_sees_no_project_resources(demo, demo_server, cloud,
                                                             scope, user, service, path):
    """An unscoped or domain-scoped token once listed every project's servers. A
    system-scoped admin is refused too: Nova, Glance and Neutron's default policies take
    project scope only for these APIs."""
    token = _token(demo, cloud, scope=scope, user=user)
    endpoint = demo.endpoint_for(service).rstrip("/")
    if service == "image":
        endpoint = endpoint.removesuffix("/v2")
    response = httpx.get(endpoint + path, headers={"X-Auth-Token": token})
    assert response.status_code == 403, response.text
    assert demo_server.id not in response.text


def test_a_token_without_a_project_creates_nothing(demo, cloud):
    token = _token(demo, cloud, scope=None)
    headers = {"X-Auth-Token": token}
    server = httpx.post(demo.endpoint_for("compute").rstrip("/") + "/servers", headers=headers,
                        json={"server": {"name": "orphan", "imageRef": demo.image.find_image(
                            "cirros").id, "flavorRef": "1"}})
    assert server.status_code == 403, server.text
    image_url = demo.endpoint_for("image").rstrip("/").removesuffix("/v2") + "/v2/images"
    image = httpx.post(image_url, headers=headers, json={"name": "orphan"})
    assert image.status_code == 403, image.text
    assert "orphan" not in {s.name for s in demo.compute.servers()}
    assert "orphan" not in {i.name for i in demo.image.images()}


def test_a_system_scoped_admin_manages_identity_through_the_stock_client(cloud):
    """Keystone's system scope: the bootstrap admin holds admin on the system, and the
    ``openstack`` CLI works with ``--os-system-scope all``."""
    def run(*args: str) -> object:
        return json.loads(cloud.openstack(*args, "-f", "json", cloud="overcast-system").stdout)

    issued = run("token", "issue")
    assert "project_id" not in issued or not issued["project_id"], issued
    listed = run("project", "list")
    assert {"admin", "demo"} <= {p["Name"] for p in listed}
    compute = httpx.get(cloud.connect("overcast-demo").endpoint_for("compute").rstrip("/")
                        + "/servers", headers={"X-Auth-Token": issued["id"]})
    assert compute.status_code == 403, compute.text
    assignments = run("role", "assignment", "list", "--system", "all", "--names")
    assert any(a["Role"] == "admin" and a["User"].startswith("admin")
               and a["System"] == "all" for a in assignments)
