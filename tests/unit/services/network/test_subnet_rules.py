"""Subnets Neutron refuses are refused here with its 400 and message: loopback, multicast and
0.0.0.0-based CIDRs while DHCP is on, a /0, IPv6 modes on IPv4, addresses of the other IP
version, too many DNS servers or routes; and none of the hostile bodies gives a 500."""
from __future__ import annotations

import pytest

from tests.unit.services.network.network_helpers import auth

DEMO_H = auth("demo-token")
SUBNETS = "/network/v2.0/subnets"


@pytest.fixture
def net_id(client) -> str:
    made = client.post("/network/v2.0/networks", headers=DEMO_H,
                       json={"network": {"name": "rules"}})
    assert made.status_code == 201, made.text
    return made.json()["network"]["id"]


def _create(client, net_id: str, **subnet):
    return client.post(SUBNETS, headers=DEMO_H, json={"subnet": {"network_id": net_id,
                                                               **subnet}})


def _invalid_input(response, message: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()["NeutronError"]
    assert body["type"] == "InvalidInput", body
    assert body["message"] == f"Invalid input for operation: {message}."


@pytest.mark.parametrize(("subnet", "message"), [
    ({"cidr": "127.0.0.0/8", "ip_version": 4},
     "Loopback IP subnet is not supported if enable_dhcp is True"),
    ({"cidr": "224.0.0.0/24", "ip_version": 4},
     "Multicast IP subnet is not supported if enable_dhcp is True"),
    ({"cidr": "239.1.0.0/16", "ip_version": 4},
     "Multicast IP subnet is not supported if enable_dhcp is True"),
    ({"cidr": "ff05::/64", "ip_version": 6},
     "Multicast IP subnet is not supported if enable_dhcp is True"),
    ({"cidr": "0.0.0.0/8", "ip_version": 4},
     "First IP '0.0.0.0' of network is not supported if enable_dhcp is True."),
    ({"cidr": "0.0.0.0/0", "ip_version": 4},
     "First IP '0.0.0.0' of network is not supported if enable_dhcp is True."),
    ({"cidr": "0.0.0.0/0", "ip_version": 4, "enable_dhcp": False},
     "0 is not allowed as CIDR prefix length"),
    ({"cidr": "::/0", "ip_version": 6}, "IPv6 subnet '::' is not supported"),
    ({"cidr": "10.9.0.0/31", "ip_version": 4},
     "Subnet has a prefix length that is incompatible with DHCP service enabled"),
    ({"cidr": "10.9.0.0/24", "ip_version": 4, "ipv6_ra_mode": "slaac"},
     "ipv6_ra_mode is not valid when ip_version is 4"),
    ({"cidr": "10.9.0.0/24", "ip_version": 4, "ipv6_address_mode": "dhcpv6-stateful"},
     "ipv6_address_mode is not valid when ip_version is 4"),
    ({"cidr": "fd00:1::/64", "ip_version": 6, "ipv6_ra_mode": "slaac",
      "ipv6_address_mode": "dhcpv6-stateful"},
     "ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not "
     "valid. If both attributes are set, they must be the same value"),
    ({"cidr": "fd00:1::/80", "ip_version": 6, "ipv6_address_mode": "slaac"},
     "Invalid CIDR fd00:1::/80 for IPv6 address mode. OpenStack uses the EUI-64 address "
     "format, which requires the prefix to be /64"),
    ({"cidr": "fd00:1::/64", "ip_version": 6, "ipv6_ra_mode": "slaac", "enable_dhcp": False},
     "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"),
    ({"cidr": "10.9.0.0/24", "ip_version": 6}, "cidr '10.9.0.0/24' does not match the "
                                               "ip_version '6'"),
    ({"cidr": "10.9.0.0/24", "ip_version": 4, "gateway_ip": "fd00::1"},
     "gateway_ip 'fd00::1' does not match the ip_version '4'"),
    ({"cidr": "10.9.0.0/24", "ip_version": 4, "dns_nameservers": ["fd00::53"]},
     "dns_nameserver 'fd00::53' does not match the ip_version '4'"),
    ({"cidr": "10.9.0.0/24", "ip_version": 4,
      "host_routes": [{"destination": "fd00::/64", "nexthop": "10.9.0.1"}]},
     "destination 'fd00::/64' does not match the ip_version '4'"),
    ({"cidr": "10.9.0.0/24", "ip_version": 4,
      "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "fd00::1"}]},
     "nexthop 'fd00::1' does not match the ip_version '4'"),
    ({"cidr": "10.9.0.0/24", "ip_version": 4, "gateway_ip": "10.9.0.255"},
     "Gateway is not valid on subnet"),
    ({"cidr": "10.9.0.0/24", "ip_version": 4, "gateway_ip": "10.9.0.0"},
     "Gateway is not valid on subnet"),
])
def test_subnet_accepted_what_neutron_refuses(client, net_id, subnet, message):
    _invalid_input(_create(client, net_id, **subnet), message)
    assert client.get(SUBNETS, headers=DEMO_H, params={"network_id": net_id}).json()[
        "subnets"] == []


def test_subnet_accepted_more_dns_servers_and_routes_than_neutron_allows(client, net_id):
    too_many_dns = _create(client, net_id, cidr="10.9.0.0/24", ip_version=4,
                           dns_nameservers=[f"10.0.0.{i}" for i in range(1, 7)])
    assert too_many_dns.status_code == 400
    assert too_many_dns.json()["NeutronError"] == {
        "type": "DNSNameServersExhausted", "detail": "",
        "message": "Unable to complete operation for new subnet. The number of DNS "
                   "nameservers exceeds the limit 5."}
    routes = [{"destination": f"10.{i}.0.0/16", "nexthop": "10.9.0.1"} for i in range(10, 31)]
    too_many_routes = _create(client, net_id, cidr="10.9.0.0/24", ip_version=4,
                              host_routes=routes)
    assert too_many_routes.status_code == 400
    assert too_many_routes.json()["NeutronError"]["type"] == "HostRoutesExhausted"


@pytest.mark.parametrize("subnet", [
    {"cidr": "127.0.0.0/8", "ip_version": 4, "enable_dhcp": False},  # as Neutron allows
    {"cidr": "fd00:1::/64", "ip_version": 6, "ipv6_ra_mode": "slaac",
     "ipv6_address_mode": "slaac"},
    {"cidr": "fd00:2::/80", "ip_version": 6, "ipv6_address_mode": "dhcpv6-stateful"},
    {"cidr": "10.9.0.0/24", "ip_version": 4,
     "dns_nameservers": [f"10.0.0.{i}" for i in range(1, 6)]},
])
def test_subnets_neutron_accepts_are_still_accepted(client, net_id, subnet):
    made = _create(client, net_id, **subnet)
    assert made.status_code == 201, made.text


def test_enabling_dhcp_on_a_loopback_subnet_is_refused(client, net_id):
    made = _create(client, net_id, cidr="127.0.0.0/24", ip_version=4, enable_dhcp=False)
    assert made.status_code == 201, made.text
    subnet_id = made.json()["subnet"]["id"]
    _invalid_input(client.put(f"{SUBNETS}/{subnet_id}", headers=DEMO_H,
                              json={"subnet": {"enable_dhcp": True}}),
                   "Loopback IP subnet is not supported if enable_dhcp is True")
    renamed = client.put(f"{SUBNETS}/{subnet_id}", headers=DEMO_H,
                         json={"subnet": {"name": "still-no-dhcp"}})
    assert renamed.status_code == 200, renamed.text


def test_disabling_dhcp_on_an_ipv6_subnet_with_modes_is_refused(client, net_id):
    made = _create(client, net_id, cidr="fd00:1::/64", ip_version=6, ipv6_ra_mode="slaac",
                   ipv6_address_mode="slaac")
    subnet_id = made.json()["subnet"]["id"]
    _invalid_input(client.put(f"{SUBNETS}/{subnet_id}", headers=DEMO_H,
                              json={"subnet": {"enable_dhcp": False}}),
                   "Cannot disable enable_dhcp with ipv6 attributes set")


def test_updating_to_an_address_of_the_other_version_is_refused(client, net_id):
    made = _create(client, net_id, cidr="10.9.0.0/24", ip_version=4)
    subnet_id = made.json()["subnet"]["id"]
    _invalid_input(client.put(f"{SUBNETS}/{subnet_id}", headers=DEMO_H,
                              json={"subnet": {"dns_nameservers": ["fd00::53"]}}),
                   "dns_nameserver 'fd00::53' does not match the ip_version '4'")


@pytest.mark.parametrize("subnet", [
    {"cidr": "10.9.0.0/24", "allocation_pools": [{"start": "10.9.1.1", "end": "10.9.1.9"}]},
    {"cidr": "10.9.0.0/24", "allocation_pools": [{"start": "10.9.0.9", "end": "10.9.0.1"}]},
    {"cidr": "10.9.0.0/24", "allocation_pools": [{"start": "10.9.0.5", "end": "fd00::1"}]},
    {"cidr": "10.9.0.0/24", "allocation_pools": [{"start": "10.9.0.0", "end": "10.9.0.255"}]},
    {"cidr": "10.9.0.0/24", "gateway_ip": "192.0.2.1"},
    {"cidr": "10.9.0.0/24", "gateway_ip": ""},
    {"cidr": "10.9.0.0/24", "ip_version": 5},
    {"cidr": "10.9.0.0/33"},
    {"cidr": "10.9.0.0/24", "host_routes": [{"destination": "x", "nexthop": "10.9.0.1"}]},
    {"cidr": "10.9.0.0/24", "host_routes": [{}]},
    {"cidr": "10.9.0.0/24", "dns_nameservers": "8.8.8.8"},
    {"cidr": "10.9.0.0/24", "enable_dhcp": "maybe"},
    {"cidr": "10.9.0.0/24", "ipv6_ra_mode": "bogus"},
    {"cidr": "10.9.0.5/24"},
    {"cidr": ["10.9.0.0/24"]},
])
def test_hostile_subnet_bodies_get_a_400_not_a_500(client, net_id, subnet):
    response = _create(client, net_id, **subnet)
    assert response.status_code == 400, response.text
    assert response.json()["NeutronError"]["message"]


@pytest.mark.parametrize(("pools", "gateway", "kind"), [
    ([{"start": "10.9.0.2", "end": "10.9.0.9"}, {"start": "10.9.0.5", "end": "10.9.0.20"}],
     "10.9.0.1", "OverlappingAllocationPools"),
    ([{"start": "10.9.0.2", "end": "10.9.0.9"}], "10.9.0.5",
     "GatewayConflictWithAllocationPools"),
])
def test_conflicting_pools_are_409_as_in_neutron(client, net_id, pools, gateway, kind):
    response = _create(client, net_id, cidr="10.9.0.0/24", gateway_ip=gateway,
                       allocation_pools=pools)
    assert response.status_code == 409, response.text
    assert response.json()["NeutronError"]["type"] == kind


@pytest.mark.parametrize("changes", [
    {"allocation_pools": [{"start": "10.9.1.1", "end": "10.9.1.9"}]},
    {"allocation_pools": [{"start": "10.9.0.9", "end": "10.9.0.1"}]},
    {"allocation_pools": [{"start": "fd00::1", "end": "fd00::9"}]},
    {"gateway_ip": "fd00::1"},
    {"gateway_ip": "10.9.0.255"},
    {"gateway_ip": "10.8.0.1"},
    {"dns_nameservers": [f"10.0.0.{i}" for i in range(1, 7)]},
    {"host_routes": [{"destination": "fd00::/64", "nexthop": "10.9.0.1"}]},
    {"enable_dhcp": "no"},
    {"cidr": "10.10.0.0/24"},
    {"ip_version": 6},
    {"ipv6_ra_mode": "slaac"},
])
def test_hostile_subnet_updates_get_a_4xx_not_a_500(client, net_id, changes):
    made = _create(client, net_id, cidr="10.9.0.0/24", ip_version=4)
    subnet_id = made.json()["subnet"]["id"]
    response = client.put(f"{SUBNETS}/{subnet_id}", headers=DEMO_H, json={"subnet": changes})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["NeutronError"]["message"]
