"""The Neutron REST API through the api app: status codes, envelopes and NeutronError bodies."""
from __future__ import annotations

import pytest

from tests.unit.services.network.network_helpers import auth

ADMIN_H, DEMO_H, OTHER_H = auth("admin-token"), auth("demo-token"), auth("other-token")


def _error(response, code: int, kind: str | None = None) -> dict:
    assert response.status_code == code, response.text
    body = response.json()["NeutronError"]
    assert set(body) == {"type", "message", "detail"} and body["message"]
    if kind:
        assert body["type"] == kind, body
    return body


def _net_id(client, name: str, headers=ADMIN_H) -> str:
    nets = client.get("/network/v2.0/networks", params={"name": name}, headers=headers).json()
    return nets["networks"][0]["id"]


@pytest.mark.parametrize("path", ["/network", "/network/"])
def test_versions_document_is_public_with_absolute_links(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"versions": [{
        "id": "v2.0", "status": "CURRENT",
        "links": [{"href": "http://testserver/network/v2.0/", "rel": "self"}]}]}


def test_resources_and_extensions_need_a_token(client):
    _error(client.get("/network/v2.0/"), 401)
    _error(client.get("/network/v2.0/networks", headers=auth("bogus")), 401)
    resources = client.get("/network/v2.0", headers=DEMO_H).json()["resources"]
    assert {r["collection"] for r in resources} >= {"networks", "subnets", "ports",
                                                    "security_groups"}
    assert resources[0]["links"][0]["href"].startswith("http://testserver/network/v2.0/")
    aliases = {e["alias"] for e in client.get("/network/v2.0/extensions",
                                              headers=DEMO_H).json()["extensions"]}
    assert {"external-net", "binding", "security-group", "provider", "net-mtu",
            "standard-attr-tag", "project-id"} <= aliases
    shown = client.get("/network/v2.0/extensions/binding", headers=DEMO_H).json()["extension"]
    assert shown["name"] == "Port Binding"
    _error(client.get("/network/v2.0/extensions/quotas", headers=DEMO_H), 404)


def test_network_crud(client):
    made = client.post("/network/v2.0/networks", headers=DEMO_H,
                       json={"network": {"name": "web", "description": "front"}})
    assert made.status_code == 201, made.text
    net = made.json()["network"]
    assert (net["status"], net["shared"], net["router:external"], net["mtu"]) == (
        "ACTIVE", False, False, 1450)
    assert net["tenant_id"] == net["project_id"] and net["tags"] == [] and net["subnets"] == []
    assert net["created_at"].endswith("Z") and net["revision_number"] >= 1
    listed = client.get("/network/v2.0/networks", headers=DEMO_H).json()["networks"]
    assert {"web", "private", "public"} == {n["name"] for n in listed}
    shown = client.get(f"/network/v2.0/networks/{net['id']}", headers=DEMO_H,
                       params={"fields": ["id", "name"]}).json()
    assert shown == {"network": {"id": net["id"], "name": "web"}}
    updated = client.put(f"/network/v2.0/networks/{net['id']}", headers=DEMO_H,
                         json={"network": {"name": "web2"}})
    assert updated.status_code == 200 and updated.json()["network"]["name"] == "web2"
    assert client.delete(f"/network/v2.0/networks/{net['id']}", headers=DEMO_H
                         ).status_code == 204
    body = _error(client.get(f"/network/v2.0/networks/{net['id']}", headers=DEMO_H), 404,
                  "NetworkNotFound")
    assert net["id"] in body["message"]


def test_bad_requests_are_400_in_neutron_format(client):
    _error(client.post("/network/v2.0/networks", headers=DEMO_H, content=b"{nope",
                       ), 400, "MalformedRequestBody")
    _error(client.post("/network/v2.0/networks", headers=DEMO_H,
                       json={"net": {"name": "x"}}), 400, "HTTPBadRequest")
    body = _error(client.post("/network/v2.0/networks", headers=DEMO_H,
                              json={"network": {"name": "x", "colour": "red"}}), 400)
    assert "colour" in body["message"]
    _error(client.post("/network/v2.0/networks", headers=DEMO_H,
                       json={"network": {"name": "x" * 256}}), 400, "HTTPBadRequest")
    _error(client.post("/network/v2.0/networks", headers=DEMO_H,
                       json={"network": {"admin_state_up": "maybe"}}), 400)
    _error(client.post("/network/v2.0/ports", headers=DEMO_H,
                       json={"port": {"network_id": "not-a-uuid"}}), 400, "HTTPBadRequest")
    _error(client.put(f"/network/v2.0/networks/{_net_id(client, 'private', DEMO_H)}",
                      headers=DEMO_H, json={"network": {"id": "x"}}), 400)
    _error(client.get("/network/v2.0/networks", headers=DEMO_H, params={"colour": "red"}),
           400)
    _error(client.get("/network/v2.0/networks/not-a-uuid", headers=DEMO_H), 404,
           "NetworkNotFound")


def test_policy_errors(client):
    body = _error(client.post("/network/v2.0/networks", headers=DEMO_H,
                              json={"network": {"name": "x", "router:external": True}}),
                  403, "PolicyNotAuthorized")
    assert "router:external" in body["message"]
    made = client.post("/network/v2.0/networks", headers=ADMIN_H,
                       json={"network": {"name": "ext2", "router:external": True,
                                         "provider:network_type": "flat",
                                         "provider:physical_network": "ext2"}})
    assert made.status_code == 201
    assert made.json()["network"]["provider:network_type"] == "flat"
    _error(client.post("/network/v2.0/networks", headers=DEMO_H,
                       json={"network": {"name": "x", "project_id": "p-admin"}}), 400)


def test_other_projects_resources_are_404(client):
    made = client.post("/network/v2.0/networks", headers=ADMIN_H,
                       json={"network": {"name": "secret"}}).json()["network"]
    _error(client.get(f"/network/v2.0/networks/{made['id']}", headers=DEMO_H), 404)
    _error(client.delete(f"/network/v2.0/networks/{made['id']}", headers=DEMO_H), 404)
    port = client.post("/network/v2.0/ports", headers=ADMIN_H,
                       json={"port": {"network_id": made["id"]}}).json()["port"]
    _error(client.get(f"/network/v2.0/ports/{port['id']}", headers=DEMO_H), 404,
           "PortNotFound")
    assert client.get("/network/v2.0/ports", headers=DEMO_H).json() == {"ports": []}
    names = {n["name"] for n in client.get("/network/v2.0/networks",
                                           headers=DEMO_H).json()["networks"]}
    assert names == {"public", "private"}


def test_subnet_and_port_flow(client):
    net = client.post("/network/v2.0/networks", headers=DEMO_H,
                      json={"network": {"name": "app"}}).json()["network"]
    made = client.post("/network/v2.0/subnets", headers=DEMO_H, json={"subnet": {
        "network_id": net["id"], "cidr": "192.168.10.0/24", "ip_version": 4,
        "name": "app-subnet", "dns_nameservers": ["8.8.8.8"]}})
    assert made.status_code == 201, made.text
    subnet = made.json()["subnet"]
    assert subnet["allocation_pools"] == [{"start": "192.168.10.2", "end": "192.168.10.254"}]
    _error(client.post("/network/v2.0/subnets", headers=DEMO_H, json={"subnet": {
        "network_id": net["id"], "cidr": "300.1.1.0/24", "ip_version": 4}}), 400)
    port = client.post("/network/v2.0/ports", headers=DEMO_H, json={"port": {
        "network_id": net["id"], "name": "p1",
        "fixed_ips": [{"ip_address": "192.168.10.20"}]}})
    assert port.status_code == 201, port.text
    port = port.json()["port"]
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "192.168.10.20"}]
    assert port["status"] == "DOWN" and "binding:host_id" not in port
    _error(client.post("/network/v2.0/ports", headers=DEMO_H, json={"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "192.168.10.20"}]}}), 409,
        "IpAddressAlreadyAllocated")
    found = client.get("/network/v2.0/ports", headers=DEMO_H,
                       params={"fixed_ips": "ip_address=192.168.10.20"}).json()["ports"]
    assert [p["id"] for p in found] == [port["id"]]
    admin_view = client.get(f"/network/v2.0/ports/{port['id']}", headers=ADMIN_H).json()
    assert admin_view["port"]["binding:vif_type"] == "unbound"
    bound = client.put(f"/network/v2.0/ports/{port['id']}", headers=ADMIN_H,
                       json={"port": {"binding:host_id": "hypervisor-1"}}).json()["port"]
    assert (bound["binding:host_id"], bound["binding:vif_type"]) == ("hypervisor-1", "bridge")
    _error(client.put(f"/network/v2.0/ports/{port['id']}", headers=DEMO_H,
                      json={"port": {"binding:host_id": "x"}}), 403, "PolicyNotAuthorized")
    _error(client.delete(f"/network/v2.0/networks/{net['id']}", headers=DEMO_H), 409,
           "NetworkInUse")
    _error(client.delete(f"/network/v2.0/subnets/{subnet['id']}", headers=DEMO_H), 409,
           "SubnetInUse")
    assert client.delete(f"/network/v2.0/ports/{port['id']}", headers=DEMO_H
                         ).status_code == 204
    assert client.delete(f"/network/v2.0/networks/{net['id']}", headers=DEMO_H
                         ).status_code == 204


def test_security_groups_over_rest(client):
    groups = client.get("/network/v2.0/security-groups", headers=DEMO_H).json()
    assert [g["name"] for g in groups["security_groups"]] == ["default"]
    group = client.post("/network/v2.0/security-groups", headers=DEMO_H,
                        json={"security_group": {"name": "ssh"}}).json()["security_group"]
    rule = client.post("/network/v2.0/security-group-rules", headers=DEMO_H, json={
        "security_group_rule": {"security_group_id": group["id"], "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 22,
                                "port_range_max": 22, "ethertype": "IPv4",
                                "remote_ip_prefix": "0.0.0.0/0"}})
    assert rule.status_code == 201, rule.text
    rule = rule.json()["security_group_rule"]
    rules = client.get("/network/v2.0/security-group-rules", headers=DEMO_H,
                       params={"security_group_id": group["id"]}).json()
    assert rule["id"] in {r["id"] for r in rules["security_group_rules"]}
    _error(client.post("/network/v2.0/security-group-rules", headers=DEMO_H, json={
        "security_group_rule": {"security_group_id": group["id"], "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 22,
                                "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}}),
           409, "SecurityGroupRuleExists")
    _error(client.get(f"/network/v2.0/security-groups/{group['id']}", headers=OTHER_H), 404,
           "SecurityGroupNotFound")
    _error(client.put(f"/network/v2.0/security-group-rules/{rule['id']}", headers=DEMO_H,
                      json={"security_group_rule": {}}), 405)
    assert client.delete(f"/network/v2.0/security-group-rules/{rule['id']}",
                         headers=DEMO_H).status_code == 204
    assert client.delete(f"/network/v2.0/security-groups/{group['id']}",
                         headers=DEMO_H).status_code == 204


def test_tags(client):
    net_id = client.post("/network/v2.0/networks", headers=DEMO_H,
                         json={"network": {"name": "t"}}).json()["network"]["id"]
    base = f"/network/v2.0/networks/{net_id}/tags"
    assert client.put(base, headers=DEMO_H, json={"tags": ["a", "b"]}).json() == {
        "tags": ["a", "b"]}
    assert client.put(f"{base}/c", headers=DEMO_H).status_code == 201
    assert client.get(f"{base}/c", headers=DEMO_H).status_code == 204
    assert client.delete(f"{base}/a", headers=DEMO_H).status_code == 204
    _error(client.get(f"{base}/a", headers=DEMO_H), 404, "TagNotFound")
    assert client.get(base, headers=DEMO_H).json() == {"tags": ["b", "c"]}
    tagged = client.get("/network/v2.0/networks", headers=DEMO_H,
                        params={"tags": "b,c"}).json()["networks"]
    assert [n["id"] for n in tagged] == [net_id]
    untagged = client.get("/network/v2.0/networks", headers=DEMO_H,
                          params={"not-tags-any": "b"}).json()["networks"]
    assert net_id not in {n["id"] for n in untagged}
    assert client.delete(base, headers=DEMO_H).status_code == 204
    assert client.get(base, headers=DEMO_H).json() == {"tags": []}


def test_pagination_links_and_bulk_create(client):
    made = client.post("/network/v2.0/networks", headers=DEMO_H, json={"networks": [
        {"name": "bulk-1"}, {"name": "bulk-2"}]})
    assert made.status_code == 201
    assert [n["name"] for n in made.json()["networks"]] == ["bulk-1", "bulk-2"]
    failed = client.post("/network/v2.0/networks", headers=DEMO_H, json={"networks": [
        {"name": "bulk-3"}, {"name": "bulk-4", "router:external": True}]})
    _error(failed, 403)
    names = {n["name"] for n in client.get("/network/v2.0/networks",
                                           headers=DEMO_H).json()["networks"]}
    assert "bulk-3" not in names
    page = client.get("/network/v2.0/networks", headers=DEMO_H,
                      params={"limit": 2, "sort_key": "name", "sort_dir": "asc"}).json()
    assert [n["name"] for n in page["networks"]] == ["bulk-1", "bulk-2"]
    next_href = page["networks_links"][0]["href"]
    assert page["networks_links"][0]["rel"] == "next" and "marker=" in next_href
    rest = client.get(next_href.replace("http://testserver", ""), headers=DEMO_H).json()
    assert [n["name"] for n in rest["networks"]] == ["private", "public"]
    assert "networks_links" not in rest
