"""openstacksdk's network proxy against the router: version discovery, find by name or id,
create/update/delete, filters, security group rules, tags and paging.

The SDK is synchronous, so uvicorn serves the app from a thread; a fake Keystone (only what
keystoneauth needs) hands out tokens and a catalog pointing at /network.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.api.app import create_app
from services.network.api import build_router
from tests.unit.services.network.network_helpers import FakeAuthenticator

openstack = pytest.importorskip("openstack")
uvicorn = pytest.importorskip("uvicorn")

TOKENS = {"admin": "admin-token", "demo": "demo-token"}


def _fake_keystone(base: str) -> APIRouter:
    router = APIRouter()

    @router.get("/v3")
    async def version() -> dict:
        return {"version": {"id": "v3.14", "status": "stable", "updated": "2020-01-01T00:00:00Z",
                            "links": [{"rel": "self", "href": f"{base}/identity/v3/"}]}}

    @router.post("/v3/auth/tokens")
    async def issue(request: Request) -> JSONResponse:
        name = (await request.json())["auth"]["identity"]["password"]["user"]["name"]
        token = TOKENS[name]
        ctx = FakeAuthenticator.tokens[token]
        domain = {"id": "default", "name": "Default"}
        endpoint = {"id": "e1", "interface": "public", "region": "RegionOne",
                    "region_id": "RegionOne", "url": f"{base}/network"}
        body = {"methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2020-01-01T00:00:00.000000Z",
                "user": {"id": ctx.user_id, "name": name, "domain": domain},
                "project": {"id": ctx.project_id, "name": name, "domain": domain},
                "roles": [{"id": r, "name": r} for r in ctx.roles],
                "catalog": [{"type": "network", "name": "neutron", "id": "s1",
                             "endpoints": [endpoint]}]}
        return JSONResponse({"token": body}, status_code=201, headers={"X-Subject-Token": token})

    return router


@pytest.fixture
def cloud(booted) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    app = create_app(authenticator=FakeAuthenticator(),
                     routers=[("/identity", _fake_keystone(base)),
                              ("/network", build_router(booted))])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


def _connect(base: str, user: str):
    return openstack.connect(
        auth_url=f"{base}/identity/v3", username=user, password="secret", project_name=user,
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
        identity_api_version="3", load_yaml_config=False, load_envvars=False)


def test_openstacksdk_network_workflow(cloud: str):
    demo, admin = _connect(cloud, "demo"), _connect(cloud, "admin")
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
