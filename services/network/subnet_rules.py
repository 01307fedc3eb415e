"""What Neutron requires of a subnet before it is stored: its CIDR against its IP version and
DHCP, its gateway, DNS servers and host routes, and its IPv6 address modes.

These are Neutron's checks (``_validate_subnet`` in ``db_base_plugin_v2`` and the prefix-length
rule of ``_validate_subnet_cidr``), in Neutron's order and with its messages, so a subnet
Neutron refuses is refused here with the same 400: a loopback, multicast or ``0.0.0.0``-based
CIDR while DHCP is on, a ``/0``, IPv6 modes on an IPv4 subnet, and the like.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Protocol

from services.network import exceptions as exc
from services.network.ipam import IPNetwork

# Neutron's defaults for max_dns_nameservers and max_subnet_host_routes.
MAX_DNS_NAMESERVERS = 5
MAX_HOST_ROUTES = 20
# The IPv6 modes whose addresses are EUI-64, which needs a /64.
_AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")


class StoredSubnet(Protocol):
    """What an update is checked against: the subnet as it is stored."""

    id: str
    enable_dhcp: bool
    ipv6_ra_mode: str | None
    ipv6_address_mode: str | None


def _invalid(message: str) -> exc.InvalidInput:
    return exc.InvalidInput(error_message=message)


def _check_version(version: int, address: str, name: str) -> None:
    if ipaddress.ip_network(address, strict=False).version != version:
        raise _invalid(f"{name} '{address}' does not match the ip_version '{version}'")


def check_subnet(attrs: Mapping[str, Any], *, cidr: IPNetwork, version: int,
                 current: StoredSubnet | None = None) -> None:
    """``InvalidInput`` (or Neutron's ``...Exhausted``) unless a subnet of ``cidr`` with the
    requested ``attrs`` is one Neutron would store; ``current`` is the stored subnet when
    ``attrs`` is an update of it."""
    if current is None:
        _check_version(version, str(cidr), "cidr")
    if version == 6 and cidr.network_address == ipaddress.IPv6Address("::"):
        raise _invalid("IPv6 subnet '::' is not supported")
    dhcp_was_enabled = current is not None and current.enable_dhcp
    if attrs.get("enable_dhcp", current is None) and not dhcp_was_enabled:
        _check_dhcp_capable(cidr, version)
    gateway = attrs.get("gateway_ip")
    if gateway:
        _check_version(version, gateway, "gateway_ip")
    subnet_id = current.id if current is not None else "new subnet"
    nameservers = attrs.get("dns_nameservers") or []
    if len(nameservers) > MAX_DNS_NAMESERVERS:
        raise exc.DNSNameServersExhausted(subnet_id=subnet_id, quota=MAX_DNS_NAMESERVERS)
    for nameserver in nameservers:
        _check_version(version, nameserver, "dns_nameserver")
    routes = attrs.get("host_routes") or []
    if len(routes) > MAX_HOST_ROUTES:
        raise exc.HostRoutesExhausted(subnet_id=subnet_id, quota=MAX_HOST_ROUTES)
    for route in routes:
        _check_version(version, route["nexthop"], "nexthop")
        _check_version(version, route["destination"], "destination")
    if version == 4:
        for mode in ("ipv6_ra_mode", "ipv6_address_mode"):
            if attrs.get(mode) is not None:
                raise _invalid(f"{mode} is not valid when ip_version is 4")
    elif current is None:
        _check_ipv6_modes(attrs, cidr)
    else:
        _check_ipv6_dhcp_kept(attrs, current)
    if cidr.prefixlen == 0:
        raise _invalid("0 is not allowed as CIDR prefix length")


def _check_dhcp_capable(cidr: IPNetwork, version: int) -> None:
    """A subnet DHCP is (being) enabled on: long enough a prefix, and an address range DHCP
    can serve."""
    if cidr.prefixlen > (30 if version == 4 else 126):
        raise _invalid("Subnet has a prefix length that is incompatible with DHCP service "
                       "enabled")
    if cidr.is_multicast:
        raise _invalid("Multicast IP subnet is not supported if enable_dhcp is True")
    if cidr.is_loopback:
        raise _invalid("Loopback IP subnet is not supported if enable_dhcp is True")
    if version == 4 and int(cidr.network_address) == 0:
        raise _invalid("First IP '0.0.0.0' of network is not supported if enable_dhcp is "
                       "True.")


def _check_ipv6_modes(attrs: Mapping[str, Any], cidr: IPNetwork) -> None:
    ra_mode, address_mode = attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")
    if (ra_mode or address_mode) and not attrs.get("enable_dhcp", True):
        raise _invalid("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is "
                       "set to False")
    if ra_mode and address_mode and ra_mode != address_mode:
        raise _invalid(f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to "
                       f"'{address_mode}' is not valid. If both attributes are set, they "
                       "must be the same value")
    if (ra_mode in _AUTO_ADDRESS_MODES or address_mode in _AUTO_ADDRESS_MODES) \
            and cidr.prefixlen != 64:
        raise _invalid(f"Invalid CIDR {cidr} for IPv6 address mode. OpenStack uses the "
                       "EUI-64 address format, which requires the prefix to be /64")


def _check_ipv6_dhcp_kept(attrs: Mapping[str, Any], current: StoredSubnet) -> None:
    if "enable_dhcp" in attrs and not attrs["enable_dhcp"] and (
            current.ipv6_ra_mode or current.ipv6_address_mode):
        raise _invalid("Cannot disable enable_dhcp with ipv6 attributes set")
