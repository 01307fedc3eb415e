"""IPAM: pools, sequential allocation, requested addresses, exhaustion and release."""
from __future__ import annotations

import ipaddress

import pytest

from overcast import errors
from services.network import exceptions as exc
from services.network import ipam
from tests.unit.services.network.network_helpers import ADMIN, DEMO, make_net


def test_default_pools_skip_network_broadcast_and_gateway():
    net = ipaddress.ip_network("10.0.0.0/24")
    assert ipam.default_pools(net, "10.0.0.1") == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert ipam.default_pools(net, "10.0.0.100") == [
        {"start": "10.0.0.1", "end": "10.0.0.99"}, {"start": "10.0.0.101", "end": "10.0.0.254"}]
    assert ipam.default_pools(net, None) == [{"start": "10.0.0.1", "end": "10.0.0.254"}]


def test_pool_validation_matches_neutron():
    net = ipaddress.ip_network("10.0.0.0/24")
    with pytest.raises(exc.OutOfBoundsAllocationPool):
        ipam.validate_pools(net, [{"start": "10.0.0.10", "end": "10.0.1.5"}], "10.0.0.1")
    with pytest.raises(exc.InvalidAllocationPool):
        ipam.validate_pools(net, [{"start": "10.0.0.20", "end": "10.0.0.10"}], "10.0.0.1")
    with pytest.raises(exc.OverlappingAllocationPools):
        ipam.validate_pools(net, [{"start": "10.0.0.10", "end": "10.0.0.20"},
                                  {"start": "10.0.0.15", "end": "10.0.0.30"}], "10.0.0.1")
    with pytest.raises(exc.GatewayConflictWithAllocationPools):
        ipam.validate_pools(net, [{"start": "10.0.0.1", "end": "10.0.0.20"}], "10.0.0.1")


def test_mac_addresses_use_openstack_prefix():
    mac = ipam.random_mac()
    assert mac.startswith("fa:16:3e:") and len(mac) == 17


async def test_sequential_allocation_skips_gateway(manager):
    net, subnet = await make_net(manager, DEMO, "n1", "192.168.5.0/24")
    assert subnet["gateway_ip"] == "192.168.5.1"
    addresses = []
    for _ in range(3):
        port = await manager.create_port(DEMO, {"network_id": net["id"]})
        addresses.append(port["fixed_ips"][0]["ip_address"])
        assert port["mac_address"].startswith("fa:16:3e:")
        assert port["status"] == "DOWN"
    assert addresses == ["192.168.5.2", "192.168.5.3", "192.168.5.4"]


async def test_gateway_in_middle_is_skipped(manager):
    net = await manager.create_network(DEMO, {"name": "n"})
    await manager.create_subnet(DEMO, {"network_id": net["id"], "cidr": "10.9.0.0/29",
                                       "ip_version": 4, "gateway_ip": "10.9.0.2"})
    ips = [(await manager.create_port(DEMO, {"network_id": net["id"]}))["fixed_ips"][0]
           ["ip_address"] for _ in range(3)]
    assert ips == ["10.9.0.1", "10.9.0.3", "10.9.0.4"]


async def _port_at(manager, net: dict, ip: str, subnet_id: str | None = None) -> dict:
    fixed = {"ip_address": ip, **({"subnet_id": subnet_id} if subnet_id else {})}
    return await manager.create_port(DEMO, {"network_id": net["id"], "fixed_ips": [fixed]})


@pytest.mark.parametrize("ip, on_subnet, error, code", [
    ("10.1.0.50", True, exc.IpAddressAlreadyAllocated, 409),   # taken by the first port
    ("10.1.0.1", False, exc.IpAddressAlreadyAllocated, 409),   # the gateway's
    ("10.2.0.5", True, exc.InvalidIpForSubnet, 400),
    ("10.1.0.255", False, exc.InvalidIpForNetwork, 400),       # the broadcast address
])
async def test_requested_fixed_ip_is_honoured_and_then_refused(manager, ip, on_subnet, error,
                                                                code):
    net, subnet = await make_net(manager, DEMO, "n1", "10.1.0.0/24")
    port = await _port_at(manager, net, "10.1.0.50")
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.1.0.50"}]
    with pytest.raises(error) as caught:
        await _port_at(manager, net, ip, subnet["id"] if on_subnet else None)
    assert caught.value.code == code


async def test_exhausted_subnet_is_409_and_release_allows_reuse(manager):
    net, _ = await make_net(manager, DEMO, "tiny", "10.3.0.0/29")  # .2 - .6: five addresses
    ports = [await manager.create_port(DEMO, {"network_id": net["id"]}) for _ in range(5)]
    with pytest.raises(exc.IpAddressGenerationFailure) as caught:
        await manager.create_port(DEMO, {"network_id": net["id"]})
    assert caught.value.code == 409
    freed = ports[2]["fixed_ips"][0]["ip_address"]
    await manager.delete_port(DEMO, ports[2]["id"])
    again = await manager.create_port(DEMO, {"network_id": net["id"]})
    assert again["fixed_ips"][0]["ip_address"] == freed == "10.3.0.4"


async def test_port_update_moves_fixed_ip(manager):
    net, subnet = await make_net(manager, DEMO, "n", "10.4.0.0/24")
    port = await manager.create_port(DEMO, {"network_id": net["id"]})
    moved = await manager.update_port(DEMO, port["id"], {"fixed_ips": [
        {"subnet_id": subnet["id"], "ip_address": "10.4.0.77"}]})
    assert [ip["ip_address"] for ip in moved["fixed_ips"]] == ["10.4.0.77"]
    other = await manager.create_port(DEMO, {"network_id": net["id"]})
    assert other["fixed_ips"][0]["ip_address"] == "10.4.0.2"  # the old address was released
    assert moved["revision_number"] == port["revision_number"] + 1


@pytest.mark.parametrize("body, error", [
    ({"cidr": "10.0.0.0/33"}, errors.BadRequest),
    ({"cidr": "banana"}, errors.BadRequest),
    ({"cidr": "10.0.0.5/24"}, errors.BadRequest),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.0"}, errors.BadRequest),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.1.1"}, errors.BadRequest),
    ({"cidr": "10.0.0.0/24", "ip_version": 6}, errors.BadRequest),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.5",
      "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.10"}]},
     exc.GatewayConflictWithAllocationPools),
])
async def test_bad_subnets_are_rejected(manager, body, error):
    net = await manager.create_network(DEMO, {"name": "n"})
    with pytest.raises(error):
        await manager.create_subnet(DEMO, {"network_id": net["id"], **body})


async def test_overlapping_subnets_on_one_network_are_400(manager):
    net, _ = await make_net(manager, DEMO, "n", "10.5.0.0/24")
    with pytest.raises(exc.InvalidInput):
        await manager.create_subnet(DEMO, {"network_id": net["id"], "cidr": "10.5.0.128/25",
                                           "ip_version": 4})
    other = await manager.create_network(DEMO, {"name": "other"})
    await manager.create_subnet(DEMO, {"network_id": other["id"], "cidr": "10.5.0.0/24",
                                       "ip_version": 4})  # overlapping across networks is fine


async def test_subnet_in_use_cannot_be_deleted(manager):
    net, subnet = await make_net(manager, DEMO, "n", "10.6.0.0/24")
    port = await manager.create_port(DEMO, {"network_id": net["id"]})
    with pytest.raises(exc.SubnetInUse):
        await manager.delete_subnet(DEMO, subnet["id"])
    await manager.delete_port(DEMO, port["id"])
    await manager.delete_subnet(DEMO, subnet["id"])
    assert (await manager.get_network(DEMO, net["id"]))["subnets"] == []


async def test_network_in_use_cannot_be_deleted_except_for_dhcp_ports(manager):
    net, _ = await make_net(manager, ADMIN, "n", "10.7.0.0/24")
    dhcp = await manager.create_port(ADMIN, {"network_id": net["id"],
                                             "device_owner": "network:dhcp"})
    assert dhcp["security_groups"] == []
    vm = await manager.create_port(ADMIN, {"network_id": net["id"],
                                           "device_owner": "compute:nova"})
    with pytest.raises(exc.NetworkInUse) as caught:
        await manager.delete_network(ADMIN, net["id"])
    assert caught.value.code == 409
    await manager.delete_port(ADMIN, vm["id"])
    await manager.delete_network(ADMIN, net["id"])
    with pytest.raises(exc.PortNotFound):
        await manager.get_port(ADMIN, dhcp["id"])


async def test_vnis_are_allocated_from_1000_and_reused(manager):
    first = await manager.create_network(ADMIN, {"name": "a"})
    second = await manager.create_network(ADMIN, {"name": "b"})
    assert (first["provider:segmentation_id"], second["provider:segmentation_id"]) == (1000, 1001)
    assert first["provider:network_type"] == "vxlan" and first["mtu"] == 1450
    await manager.delete_network(ADMIN, first["id"])
    third = await manager.create_network(ADMIN, {"name": "c"})
    assert third["provider:segmentation_id"] == 1000
    flat = await manager.create_network(ADMIN, {"name": "f", "provider:network_type": "flat",
                                                "provider:physical_network": "ext"})
    assert (flat["mtu"], flat["provider:segmentation_id"]) == (1500, None)
    with pytest.raises(exc.FlatNetworkInUse):
        await manager.create_network(ADMIN, {"name": "g", "provider:network_type": "flat",
                                             "provider:physical_network": "ext"})
