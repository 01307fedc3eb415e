"""openstacksdk's network proxy against the router: version discovery, find by name or id,
create/update/delete, filters, security group rules, tags and paging.

The SDK is synchronous, so uvicorn serves the app from a thread; a fake Keystone (only what
keystoneauth needs) hands out tokens and a catalog pointing at /network.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from services.api.app import create_app
from services.network.api import build_router
from tests.unit.services.network.network_helpers import FakeAuthenticator
from tests.unit.services.sdk_helpers import connect, fake_keystone, serving

pytest.importorskip("openstack")  # the SDK is a test extra

TOKENS = {"admin": "admin-token", "demo": "demo-token"}


@pytest.fixture
def cloud(booted) -> Iterator[str]:
    users = {name: (FakeAuthenticator.tokens[token], token) for name, token in TOKENS.items()}

    def make_app(base: str) -> FastAPI:
        keystone = fake_keystone(base, service_type="network", service_name="neutron",
                                 path="/network", users=users)
        return create_app(authenticator=FakeAuthenticator(),
                          routers=[("/identity", keystone), ("/network", build_router(booted))])

    with serving(make_app) as base:
        yield base


def test_openstacksdk_network_workflow(cloud: str):
    demo, admin = connect(cloud, "demo"), connect(cloud, "admin")
    assert {n.name for n in demo.network.networks()} == {"public", "private"}
    public = demo.network.find_network("public", ignore_missing=False)
    assert public.is_router_external and public.provider_network_type is None
    assert admin.network.get_network(public.id).provider_network_type == "flat"
    assert demo.network.find_extension("external-net", ignore_missing=False).alias == (
        "external-net")
    assert demo.network.find_extension("tag-ports-during-bulk-creation",
                                       ignore_missing=True) is None

    net = demo.network.create_network(name="sdk-net", description="made by sdk")
    assert (net.mtu, net.is_shared, net.status) == (1450, False, "ACTIVE")
    subnet = demo.network.create_subnet(network_id=net.id, cidr="192.168.77.0/24",
                                        ip_version=4, name="sdk-subnet")
    assert subnet.gateway_ip == "192.168.77.1"
    assert demo.network.find_subnet("sdk-subnet", ignore_missing=False).id == subnet.id
    port = demo.network.create_port(network_id=net.id, name="sdk-port")
    assert port.fixed_ips[0]["ip_address"] == "192.168.77.2"
    assert [p.id for p in demo.network.ports(network_id=net.id)] == [port.id]
    demo.network.update_port(port, name="renamed")
    assert demo.network.get_port(port.id).name == "renamed"

    group = demo.network.create_security_group(name="web", description="http")
    rule = demo.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="tcp", port_range_min=80,
        port_range_max=80, ether_type="IPv4", remote_ip_prefix="0.0.0.0/0")
    rules = {r.id for r in demo.network.security_group_rules(security_group_id=group.id)}
    assert rule.id in rules and len(rules) == 3

    demo.network.set_tags(net, ["blue", "green"])
    assert demo.network.get_network(net.id).tags == ["blue", "green"]
    assert [n.id for n in demo.network.networks(tags="blue")] == [net.id]
    assert len(list(demo.network.networks(limit=1))) == 3  # follows networks_links

    demo.network.delete_port(port)
    demo.network.delete_security_group(group)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(net)
    assert demo.network.find_network("sdk-net") is None
