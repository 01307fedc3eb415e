"""NetworkEndpoint called directly (no broker), and its errors through the bus envelope."""
from __future__ import annotations

import inspect

import orjson
import pytest

from overcast import errors
from overcast.bus import envelope, remote
from services.network.rpcapi import NetworkAPI
from services.network.service import NetworkEndpoint
from tests.unit.services.network.network_helpers import DEMO, DEMO_PROJECT, make_net


def _rpc_methods(obj: object) -> set[str]:
    return {name for name, member in inspect.getmembers(obj, inspect.ismethod)
            if hasattr(member, "__rpc_version__")}


async def test_endpoint_allocates_binds_and_deallocates(booted):
    endpoint = NetworkEndpoint(booted)
    assert _rpc_methods(endpoint) == {"allocate_for_instance", "validate_networks",
                                      "deallocate_for_instance", "get_instance_nw_info",
                                      "bind_ports"}
    await endpoint.validate_networks(DEMO, project_id=DEMO_PROJECT, requested_networks="auto")
    vifs = await endpoint.allocate_for_instance(DEMO, instance_id="vm-1",
                                                project_id=DEMO_PROJECT,
                                                requested_networks="auto",
                                                security_groups=["default"])
    again = await endpoint.allocate_for_instance(DEMO, instance_id="vm-1",
                                                 project_id=DEMO_PROJECT,
                                                 requested_networks="auto",
                                                 security_groups=["default"])
    assert vifs == again and len(vifs) == 1
    orjson.dumps(vifs)  # what goes on the bus must be plain JSON
    bound = await endpoint.bind_ports(DEMO, instance_id="vm-1", host="hypervisor-1")
    assert bound[0]["status"] == "ACTIVE"
    info = await endpoint.get_instance_nw_info(DEMO, instance_id="vm-1")
    assert info == bound
    await endpoint.deallocate_for_instance(DEMO, instance_id="vm-1")
    await endpoint.deallocate_for_instance(DEMO, instance_id="vm-1")
    assert await endpoint.get_instance_nw_info(DEMO, instance_id="vm-1") == []


async def test_endpoint_errors_survive_the_bus_with_their_type(booted):
    endpoint = NetworkEndpoint(booted)
    tiny, _ = await make_net(booted, DEMO, "tiny", "10.30.0.0/30")
    await booted.create_port(DEMO, {"network_id": tiny["id"]})
    with pytest.raises(errors.Conflict) as caught:
        await endpoint.allocate_for_instance(DEMO, instance_id="vm-1", project_id=DEMO_PROJECT,
                                             requested_networks=[{"uuid": tiny["id"]}])
    reply = orjson.loads(envelope.encode_reply(error=caught.value))
    raised = remote.from_wire(reply["error"])
    assert type(raised) is errors.Conflict  # the nearest class every service knows
    assert "No more IP addresses available" in raised.message
    assert raised.details["error_type"] == "IpAddressGenerationFailure"


def test_rpcapi_mirrors_the_endpoint():
    client_methods = {name for name, _ in inspect.getmembers(NetworkAPI,
                                                             inspect.iscoroutinefunction)
                      if not name.startswith("_")} - {"call", "cast", "fanout"}
    assert client_methods == _rpc_methods(NetworkEndpoint(manager=None))  # type: ignore[arg-type]
    assert NetworkAPI.topic == "network"
    for name in client_methods:
        params = inspect.signature(getattr(NetworkAPI, name)).parameters
        assert all(p.kind is p.KEYWORD_ONLY for n, p in params.items()
                   if n not in ("self", "ctx")), name
