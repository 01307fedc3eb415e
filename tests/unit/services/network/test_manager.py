"""Project isolation, admin-only attributes, bootstrap and security groups."""
from __future__ import annotations

import pytest

from overcast import errors
from services.network import exceptions as exc
from services.network.query import ListQuery
from tests.unit.services.network.network_helpers import (
    ADMIN,
    ADMIN_PROJECT,
    DEMO,
    DEMO_PROJECT,
    OTHER,
    make_net,
)


def _names(page) -> set[str]:
    return {item["name"] for item in page.items}


async def test_bootstrap_is_idempotent(booted):
    booted.bootstrap(admin_project_id=ADMIN_PROJECT, demo_project_id=DEMO_PROJECT)
    nets = (await booted.list_networks(ADMIN)).items
    assert sorted(n["name"] for n in nets) == ["private", "public"]
    public = next(n for n in nets if n["name"] == "public")
    private = next(n for n in nets if n["name"] == "private")
    assert (public["router:external"], public["shared"], public["project_id"]) == (
        True, False, ADMIN_PROJECT)
    assert (public["provider:network_type"], public["provider:physical_network"],
            public["mtu"]) == ("flat", "public", 1500)
    assert (private["shared"], private["project_id"], private["provider:network_type"]) == (
        True, DEMO_PROJECT, "vxlan")
    subnets = {s["name"]: s for s in (await booted.list_subnets(ADMIN)).items}
    assert set(subnets) == {"public-subnet", "private-subnet"}
    assert (subnets["public-subnet"]["gateway_ip"], subnets["public-subnet"]["enable_dhcp"]) == (
        "172.24.4.1", False)
    assert (subnets["private-subnet"]["cidr"], subnets["private-subnet"]["gateway_ip"],
            subnets["private-subnet"]["dns_nameservers"]) == ("10.0.0.0/22", "10.0.0.1", [])
    groups = (await booted.list_security_groups(ADMIN)).items
    assert sorted((g["name"], g["project_id"]) for g in groups) == [
        ("default", ADMIN_PROJECT), ("default", DEMO_PROJECT)]


async def test_members_see_own_shared_and_external_networks_only(booted):
    await make_net(booted, ADMIN, "admin-private", "10.50.0.0/24")
    await make_net(booted, OTHER, "other-net", "10.60.0.0/24")
    assert _names(await booted.list_networks(DEMO)) == {"public", "private"}
    assert _names(await booted.list_networks(OTHER)) == {"public", "private", "other-net"}
    assert _names(await booted.list_networks(ADMIN)) == {
        "public", "private", "admin-private", "other-net"}
    assert _names(await booted.list_subnets(DEMO)) == {"public-subnet", "private-subnet"}


async def test_member_cannot_reach_admin_network_or_ports(booted):
    net, subnet = await make_net(booted, ADMIN, "admin-private", "10.50.0.0/24")
    port = await booted.create_port(ADMIN, {"network_id": net["id"]})
    with pytest.raises(exc.NetworkNotFound):
        await booted.get_network(DEMO, net["id"])
    with pytest.raises(exc.SubnetNotFound):
        await booted.get_subnet(DEMO, subnet["id"])
    with pytest.raises(exc.PortNotFound):
        await booted.get_port(DEMO, port["id"])
    with pytest.raises(exc.PortNotFound):
        await booted.delete_port(DEMO, port["id"])
    assert (await booted.list_ports(DEMO)).items == []
    with pytest.raises(exc.NetworkNotFound):
        await booted.create_port(DEMO, {"network_id": net["id"]})


async def test_member_cannot_change_a_shared_network_it_does_not_own(booted):
    private = next(n for n in (await booted.list_networks(OTHER)).items
                   if n["name"] == "private")
    with pytest.raises(exc.PolicyNotAuthorized) as caught:
        await booted.update_network(OTHER, private["id"], {"name": "mine"})
    assert caught.value.code == 403
    with pytest.raises(exc.PolicyNotAuthorized):
        await booted.delete_network(OTHER, private["id"])
    with pytest.raises(exc.PolicyNotAuthorized):
        await booted.create_subnet(OTHER, {"network_id": private["id"], "cidr": "10.9.0.0/24",
                                           "ip_version": 4})
    port = await booted.create_port(OTHER, {"network_id": private["id"]})
    assert port["project_id"] != DEMO_PROJECT
    # the network's owner sees ports others made on it, as in Neutron
    assert port["id"] in {p["id"] for p in (await booted.list_ports(DEMO)).items}


@pytest.mark.parametrize("body", [
    {"router:external": True}, {"shared": True}, {"provider:network_type": "flat",
                                                  "provider:physical_network": "x"},
    {"provider:segmentation_id": 4000},
])
async def test_admin_only_network_attributes(manager, body):
    with pytest.raises(exc.PolicyNotAuthorized) as caught:
        await manager.create_network(DEMO, {"name": "n", **body})
    assert caught.value.code == 403
    made = await manager.create_network(ADMIN, {"name": "n", **body})
    assert made["id"]


async def test_defaults_equal_to_policy_defaults_are_allowed(manager):
    made = await manager.create_network(DEMO, {"name": "n", "router:external": False,
                                               "shared": False})
    assert made["router:external"] is False and "provider:network_type" not in made


async def test_member_cannot_create_for_another_project(manager):
    with pytest.raises(errors.BadRequest):
        await manager.create_network(DEMO, {"name": "n", "project_id": ADMIN_PROJECT})
    made = await manager.create_network(ADMIN, {"name": "n", "tenant_id": DEMO_PROJECT})
    assert made["project_id"] == made["tenant_id"] == DEMO_PROJECT
    assert (await manager.get_network(DEMO, made["id"]))["name"] == "n"


async def test_default_security_group_rules(manager):
    groups = (await manager.list_security_groups(DEMO)).items
    assert [g["name"] for g in groups] == ["default"]
    group = groups[0]
    rules = {(r["direction"], r["ethertype"], r["remote_group_id"], r["protocol"])
             for r in group["security_group_rules"]}
    assert rules == {("egress", "IPv4", None, None), ("egress", "IPv6", None, None),
                     ("ingress", "IPv4", group["id"], None),
                     ("ingress", "IPv6", group["id"], None)}
    again = (await manager.list_security_groups(DEMO)).items
    assert [g["id"] for g in again] == [group["id"]]
    with pytest.raises(exc.SecurityGroupCannotRemoveDefault):
        await manager.delete_security_group(DEMO, group["id"])
    with pytest.raises(exc.SecurityGroupNotFound):
        await manager.get_security_group(OTHER, group["id"])


async def test_security_group_rules_are_validated(manager):
    group = await manager.create_security_group(DEMO, {"name": "web"})
    assert [r["direction"] for r in group["security_group_rules"]] == ["egress", "egress"]
    rule = await manager.create_security_group_rule(DEMO, {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
    assert (rule["protocol"], rule["port_range_min"], rule["ethertype"]) == ("tcp", 22, "IPv4")
    with pytest.raises(exc.SecurityGroupRuleExists):
        await manager.create_security_group_rule(DEMO, {
            "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
    for bad in ({"protocol": "tcp", "port_range_min": 30, "port_range_max": 20},
                {"port_range_min": 22, "port_range_max": 22},
                {"protocol": "bogus"},
                {"remote_ip_prefix": "::/0"},
                {"direction": "sideways"}):
        with pytest.raises(errors.BadRequest):
            await manager.create_security_group_rule(DEMO, {
                "security_group_id": group["id"], "direction": "ingress", **bad})
    with pytest.raises(exc.SecurityGroupNotFound):
        await manager.create_security_group_rule(OTHER, {
            "security_group_id": group["id"], "direction": "ingress"})
    shown = await manager.get_security_group(DEMO, group["id"])
    assert len(shown["security_group_rules"]) == 3
    await manager.delete_security_group_rule(DEMO, rule["id"])
    await manager.delete_security_group(DEMO, group["id"])


async def test_security_group_in_use_cannot_be_deleted(booted):
    group = await booted.create_security_group(DEMO, {"name": "web"})
    private = next(n for n in (await booted.list_networks(DEMO)).items
                   if n["name"] == "private")
    port = await booted.create_port(DEMO, {"network_id": private["id"],
                                           "security_groups": [group["id"]]})
    assert port["security_groups"] == [group["id"]]
    with pytest.raises(exc.SecurityGroupInUse):
        await booted.delete_security_group(DEMO, group["id"])
    await booted.update_port(DEMO, port["id"], {"security_groups": []})
    await booted.delete_security_group(DEMO, group["id"])


async def test_list_filters_sorting_and_pages(booted):
    for name in ("b", "a", "c"):
        await booted.create_network(DEMO, {"name": name})
    page = await booted.list_networks(DEMO, ListQuery.from_params([
        ("router:external", "false"), ("sort_key", "name"), ("sort_dir", "desc"),
        ("limit", "2")]))
    assert [n["name"] for n in page.items] == ["private", "c"]
    rest = await booted.list_networks(DEMO, ListQuery.from_params([
        ("router:external", "False"), ("sort_key", "name"), ("sort_dir", "desc"),
        ("limit", "2"), ("marker", page.next_marker)]))
    assert [n["name"] for n in rest.items] == ["b", "a"] and rest.next_marker is None
    named = await booted.list_networks(DEMO, ListQuery.from_params([("name", "a"),
                                                                    ("name", "b")]))
    assert _names(named) == {"a", "b"}
    with pytest.raises(errors.BadRequest):
        await booted.list_networks(DEMO, ListQuery.from_params([("colour", "blue")]))


async def test_admin_may_delete_a_default_group_and_groups_used_as_remote(manager):
    web = await manager.create_security_group(DEMO, {"name": "web"})
    db_group = await manager.create_security_group(DEMO, {"name": "db"})
    rule = await manager.create_security_group_rule(DEMO, {
        "security_group_id": db_group["id"], "direction": "ingress",
        "remote_group_id": web["id"]})
    await manager.delete_security_group(DEMO, web["id"])
    with pytest.raises(exc.SecurityGroupRuleNotFound):
        await manager.get_security_group_rule(DEMO, rule["id"])
    default = next(g for g in (await manager.list_security_groups(DEMO)).items
                   if g["name"] == "default")
    await manager.delete_security_group(ADMIN, default["id"])
    again = next(g for g in (await manager.list_security_groups(DEMO)).items
                 if g["name"] == "default")
    assert again["id"] != default["id"]  # made afresh on the next need


async def test_subnet_with_only_a_dhcp_port_can_be_deleted(manager):
    net, subnet = await make_net(manager, ADMIN, "n", "10.8.0.0/24")
    dhcp = await manager.create_port(ADMIN, {"network_id": net["id"],
                                             "device_owner": "network:dhcp"})
    await manager.delete_subnet(ADMIN, subnet["id"])
    assert (await manager.get_port(ADMIN, dhcp["id"]))["fixed_ips"] == []
