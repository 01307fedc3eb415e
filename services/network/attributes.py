"""Request attribute maps: which attributes each resource takes on create and update, how each
is checked and converted, and which only an admin may set (Neutron's RESOURCE_ATTRIBUTE_MAP).

``prepare(resource, body, ctx, update=...)`` returns the converted attributes or raises
``HTTPBadRequest`` / ``PolicyNotAuthorized`` with Neutron's wording.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Any

from overcast.context import RequestContext
from overcast.errors import excerpt
from services.network import exceptions as exc

NAME_MAX = 255
DESCRIPTION_MAX = 255
TAG_MAX = 60
_UNSET = object()

Converter = Callable[[str, Any], Any]


def bad(attr: str, reason: str) -> exc.HTTPBadRequest:
    return exc.HTTPBadRequest(f"Invalid input for {attr}. Reason: {reason}.")


def string(max_len: int, *, nullable: bool = False) -> Converter:
    def convert(attr: str, value: Any) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise bad(attr, f"'{excerpt(value)}' is not a valid string")
        if len(value) > max_len:
            raise bad(attr, f"'{excerpt(value)}' exceeds maximum length of {max_len}")
        return value
    return convert


def boolean(attr: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise bad(attr, f"'{excerpt(value)}' cannot be converted to boolean")


def integer(attr: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise bad(attr, f"'{excerpt(value)}' is not an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad(attr, f"'{excerpt(value)}' is not an integer") from None


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def uuid_value(attr: str, value: Any) -> str:
    if not is_uuid(value):
        raise bad(attr, f"'{excerpt(value)}' is not a valid UUID")
    return str(value)


def uuid_or_none(attr: str, value: Any) -> str | None:
    return None if value is None else uuid_value(attr, value)


def uuid_list(attr: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(attr, f"'{excerpt(value)}' is not a list")
    for item in value:
        if not is_uuid(item):
            raise bad(attr, f"'{item}' is not a valid UUID")
    return list(dict.fromkeys(value))


def one_of(*values: Any) -> Converter:
    def convert(attr: str, value: Any) -> Any:
        if value not in values:
            raise bad(attr, f"'{excerpt(value)}' is not in {list(values)}")
        return value
    return convert


def ip_address(attr: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except (TypeError, ValueError):
        raise bad(attr, f"'{excerpt(value)}' is not a valid IP address") from None


def ip_network_text(attr: str, value: Any) -> str | None:
    """A CIDR as given (host bits allowed); ``subnets.py`` decides what it means."""
    if value is None:
        return None
    if not isinstance(value, str) or "/" not in value:
        raise bad(attr, f"'{excerpt(value)}' is not a valid IP subnet")
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise bad(attr, f"'{excerpt(value)}' is not a valid IP subnet") from None
    return value


_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def mac_address(attr: str, value: Any) -> str:
    text = value.lower().replace("-", ":") if isinstance(value, str) else ""
    if not _MAC.match(text) or text == "00:00:00:00:00:00" or int(text[:2], 16) & 1:
        raise bad(attr, f"'{excerpt(value)}' is not a valid MAC address")
    return text


def list_of_dicts(keys: tuple[str, ...], item: Converter | None = None) -> Converter:
    def convert(attr: str, value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            raise bad(attr, f"'{excerpt(value)}' is not a list")
        out = []
        for entry in value:
            if not isinstance(entry, dict) or set(entry) - set(keys):
                raise bad(attr, f"'{entry}' is not a valid entry; allowed keys: {list(keys)}")
            out.append(item(attr, entry) if item else dict(entry))
        return out
    return convert


def _pool(attr: str, entry: dict) -> dict:
    if set(entry) != {"start", "end"}:
        raise bad(attr, f"'{entry}' needs 'start' and 'end'")
    return {"start": ip_address(attr, entry["start"]), "end": ip_address(attr, entry["end"])}


def _route(attr: str, entry: dict) -> dict:
    if set(entry) != {"destination", "nexthop"}:
        raise bad(attr, f"'{entry}' needs 'destination' and 'nexthop'")
    dest = ip_network_text(attr, entry["destination"])
    return {"destination": str(ipaddress.ip_network(dest, strict=False)),
            "nexthop": ip_address(attr, entry["nexthop"])}


def _fixed_ip(attr: str, entry: dict) -> dict:
    out: dict[str, str] = {}
    if "subnet_id" in entry:
        out["subnet_id"] = uuid_value(attr, entry["subnet_id"])
    if "ip_address" in entry:
        out["ip_address"] = ip_address(attr, entry["ip_address"])
    if not out:
        raise bad(attr, "a fixed IP needs a subnet_id or an ip_address")
    return out


def nameservers(attr: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(attr, f"'{excerpt(value)}' is not a list")
    out = [ip_address(attr, v) for v in value]
    if len(set(out)) != len(out):
        raise bad(attr, f"Duplicate nameserver in {excerpt(value)}")
    return out


def dict_or_none(attr: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad(attr, f"'{excerpt(value)}' is not a dictionary")
    return value


def passthrough(attr: str, value: Any) -> Any:
    """Checked later by the manager, where the other attributes are known."""
    return value


def tags(attr: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise bad(attr, f"'{excerpt(value)}' is not a list")
    for tag in value:
        if not isinstance(tag, str) or not tag or len(tag) > TAG_MAX or "," in tag:
            raise bad(attr, f"'{tag}' is not a valid tag")
    return list(dict.fromkeys(value))


@dataclasses.dataclass(frozen=True)
class Attr:
    """One request attribute. ``admin_only`` attributes may only be set by an admin, except
    on create when the value equals ``default`` (as Neutron's policy engine decides)."""

    convert: Converter
    put: bool = True
    admin_only: bool = False
    default: Any = _UNSET


_OWNER = {"project_id": Attr(string(255), put=False), "tenant_id": Attr(string(255), put=False)}
_COMMON = {"name": Attr(string(NAME_MAX)), "description": Attr(string(DESCRIPTION_MAX)),
           "tags": Attr(tags, put=False), **_OWNER}

NETWORK = {
    **_COMMON,
    "admin_state_up": Attr(boolean),
    "shared": Attr(boolean, admin_only=True, default=False),
    "router:external": Attr(boolean, admin_only=True, default=False),
    "provider:network_type": Attr(string(32, nullable=True), put=False, admin_only=True),
    "provider:physical_network": Attr(string(64, nullable=True), put=False, admin_only=True),
    "provider:segmentation_id": Attr(integer, put=False, admin_only=True),
    "mtu": Attr(integer),
    "port_security_enabled": Attr(boolean),
}

SUBNET = {
    **_COMMON,
    "network_id": Attr(uuid_value, put=False),
    "ip_version": Attr(one_of(4, 6, "4", "6"), put=False),
    "cidr": Attr(ip_network_text, put=False),
    "gateway_ip": Attr(ip_address),
    "allocation_pools": Attr(list_of_dicts(("start", "end"), _pool)),
    "dns_nameservers": Attr(nameservers),
    "host_routes": Attr(list_of_dicts(("destination", "nexthop"), _route)),
    "enable_dhcp": Attr(boolean),
    "ipv6_ra_mode": Attr(one_of(None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless"),
                         put=False),
    "ipv6_address_mode": Attr(one_of(None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless"),
                              put=False),
    "subnetpool_id": Attr(one_of(None), put=False),
}

PORT = {
    **_COMMON,
    "network_id": Attr(uuid_value, put=False),
    "admin_state_up": Attr(boolean),
    "mac_address": Attr(mac_address),
    "fixed_ips": Attr(list_of_dicts(("subnet_id", "ip_address"), _fixed_ip)),
    "device_id": Attr(string(255)),
    "device_owner": Attr(string(255)),
    "security_groups": Attr(uuid_list),
    "port_security_enabled": Attr(boolean),
    "binding:host_id": Attr(string(255, nullable=True), admin_only=True),
    "binding:profile": Attr(dict_or_none, admin_only=True),
    "binding:vnic_type": Attr(one_of("normal")),
}

SECURITY_GROUP = {**_COMMON, "stateful": Attr(boolean)}

SECURITY_GROUP_RULE = {
    "description": Attr(string(DESCRIPTION_MAX), put=False),
    **_OWNER,
    "security_group_id": Attr(uuid_value, put=False),
    "remote_group_id": Attr(uuid_or_none, put=False),
    "remote_address_group_id": Attr(one_of(None), put=False),
    "direction": Attr(one_of("ingress", "egress"), put=False),
    "protocol": Attr(passthrough, put=False),
    "port_range_min": Attr(integer, put=False),
    "port_range_max": Attr(integer, put=False),
    "ethertype": Attr(passthrough, put=False),
    "remote_ip_prefix": Attr(ip_network_text, put=False),
}

MAPS: dict[str, dict[str, Attr]] = {
    "network": NETWORK, "subnet": SUBNET, "port": PORT, "security_group": SECURITY_GROUP,
    "security_group_rule": SECURITY_GROUP_RULE,
}


def prepare(resource: str, body: Any, ctx: RequestContext, *, update: bool = False) -> dict:
    """Check ``body`` (the inner dict of ``{"network": {...}}``) and return converted values.

    On create, ``project_id`` is always filled in (``tenant_id`` is folded into it); naming
    another project than the caller's needs admin, as in Neutron.
    """
    if not isinstance(body, dict):
        raise exc.HTTPBadRequest(f"Invalid format for {resource}: expected an object")
    attrs = MAPS[resource]
    unknown = sorted(k for k in body if k not in attrs)
    if unknown:
        raise exc.HTTPBadRequest(
            "Unrecognized attribute(s) '" + excerpt(", ".join(unknown)) + "'")
    out: dict[str, Any] = {}
    for key, value in body.items():
        spec = attrs[key]
        if update and not spec.put:
            raise exc.HTTPBadRequest(f"Cannot update read-only attribute {key}")
        value = spec.convert(key, value)
        if spec.admin_only and not ctx.is_admin:
            explicit = update or (value is not None and
                                  (spec.default is _UNSET or value != spec.default))
            if explicit:
                verb = "update" if update else "create"
                raise exc.PolicyNotAuthorized(action=f"{verb}_{resource}:{key}")
        out[key] = value
    if not update:
        _fold_project(out, ctx)
    return out


def _fold_project(out: dict[str, Any], ctx: RequestContext) -> None:
    tenant = out.pop("tenant_id", None)
    project = out.get("project_id")
    if tenant and project and tenant != project:
        raise exc.HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    project = project or tenant or ctx.project_id
    if not project:
        raise exc.HTTPBadRequest("Failed to parse request. Required attribute 'project_id' "
                                 "not specified")
    if project != ctx.project_id and not ctx.is_admin:
        raise exc.HTTPBadRequest(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in "
            "request requires admin privileges")
    out["project_id"] = project
