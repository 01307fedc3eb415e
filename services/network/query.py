"""Neutron list semantics over API dicts: filters, tag filters, sorting, marker pagination
and ``fields`` selection.

Filters are exact matches; a key given several times matches any of its values. Unknown
filter keys are a 400, as with Neutron's filter-validation extension.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from overcast.errors import excerpt
from overcast.rest import paging
from services.network import exceptions as exc
from services.network.attributes import boolean

_STANDARD = {"id", "project_id", "tenant_id", "description", "created_at", "updated_at",
             "revision_number"}
KEYS: dict[str, set[str]] = {
    "network": _STANDARD | {"name", "admin_state_up", "status", "shared", "router:external",
                            "mtu", "port_security_enabled", "subnets", "tags",
                            "provider:network_type", "provider:physical_network",
                            "provider:segmentation_id"},
    "subnet": _STANDARD | {"name", "network_id", "ip_version", "cidr", "gateway_ip",
                           "allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp",
                           "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "tags"},
    "port": _STANDARD | {"name", "network_id", "admin_state_up", "mac_address", "status",
                         "device_id", "device_owner", "fixed_ips", "security_groups",
                         "port_security_enabled", "binding:vnic_type", "binding:host_id",
                         "binding:vif_type", "binding:vif_details", "binding:profile", "tags"},
    "security_group": _STANDARD | {"name", "stateful", "shared", "security_group_rules",
                                   "tags"},
    "security_group_rule": _STANDARD | {"security_group_id", "direction", "ethertype",
                                        "protocol", "port_range_min", "port_range_max",
                                        "remote_ip_prefix", "remote_group_id",
                                        "remote_address_group_id"},
}
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
_CONTROL = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"}


@dataclasses.dataclass(frozen=True)
class ListQuery:
    """A parsed list request. ``filters`` maps an attribute to the values it may take."""

    filters: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    fields: tuple[str, ...] = ()
    sorts: tuple[tuple[str, bool], ...] = ()  # (key, ascending)
    limit: int | None = None
    marker: str | None = None

    @classmethod
    def from_params(cls, params: Iterable[tuple[str, str]]) -> ListQuery:
        filters: dict[str, list[str]] = {}
        fields: list[str] = []
        keys: list[str] = []
        dirs: list[str] = []
        limit: int | None = None
        marker: str | None = None
        for key, value in params:
            if key == "fields":
                fields.extend(f for f in value.split(",") if f)
            elif key == "sort_key":
                keys.append(value)
            elif key == "sort_dir":
                if value not in ("asc", "desc"):
                    raise exc.HTTPBadRequest(
                        f"Sort direction '{excerpt(value)}' is invalid; use 'asc' or 'desc'")
                dirs.append(value)
            elif key == "limit":
                # Neutron's default pagination_max_limit (-1) sets no maximum.
                limit = paging.page_limit(value, maximum=None, invalid=lambda quoted: (
                    exc.HTTPBadRequest(f"Limit must be an integer 0 or greater and not "
                                       f"'{quoted}'"))) or None
            elif key == "marker":
                marker = value
            elif key != "page_reverse":
                filters.setdefault(key, []).append(value)
        if dirs and len(dirs) != len(keys):
            raise exc.HTTPBadRequest("The number of sort_keys and sort_dirs must be same")
        sorts = tuple((k, (dirs[i] if dirs else "asc") == "asc") for i, k in enumerate(keys))
        return cls(filters=filters, fields=tuple(fields), sorts=sorts, limit=limit,
                   marker=marker)

    def scalar(self, key: str) -> list[str]:
        """The values of a plain filter, for narrowing the database query early."""
        return self.filters.get(key, [])


@dataclasses.dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_marker: str | None = None


def check(resource: str, query: ListQuery) -> None:
    """400 for filter or sort keys the resource does not have."""
    known = KEYS[resource]
    bad = [k for k in query.filters if k not in known and k not in TAG_FILTERS]
    if bad:
        raise exc.HTTPBadRequest(f"{excerpt(bad)} is invalid attribute for filtering")
    for key, _ in query.sorts:
        if key not in known or key in ("tags", "fixed_ips", "subnets", "security_groups"):
            raise exc.HTTPBadRequest(f"{excerpt(key)} is invalid attribute for sort_keys")


def apply(resource: str, items: list[dict[str, Any]], query: ListQuery,
          not_found: Callable[[str], Exception]) -> Page:
    """Filter, sort and page ``items`` (already limited to what the caller may see)."""
    check(resource, query)
    matched = [item for item in items if _matches(item, query.filters)]
    for key, ascending in reversed(query.sorts):
        matched.sort(key=lambda item, k=key: _sort_key(item.get(k)), reverse=not ascending)
    if query.marker:
        index = next((i for i, item in enumerate(matched) if item["id"] == query.marker), None)
        if index is None:
            raise not_found(query.marker)
        matched = matched[index + 1:]
    if query.limit and len(matched) > query.limit:
        matched = matched[:query.limit]
        return Page(matched, next_marker=matched[-1]["id"])
    return Page(matched)


def select(item: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Only the requested ``fields`` (all of them when none are asked for)."""
    wanted = list(fields)
    if not wanted:
        return item
    return {k: v for k, v in item.items() if k in wanted}


def _sort_key(value: Any) -> tuple:
    return (value is not None, value if value is not None else 0)


def _matches(item: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key in TAG_FILTERS:
            if not _tags_match(key, set(item.get("tags") or []), values):
                return False
        elif key == "fixed_ips":
            if not _fixed_ips_match(item.get("fixed_ips") or [], values):
                return False
        elif key == "tenant_id":
            if item.get("project_id") not in values:
                return False
        elif key not in item or not _value_match(key, item[key], values):
            return False
    return True


def _value_match(key: str, actual: Any, values: list[str]) -> bool:
    if isinstance(actual, bool):
        return actual in {boolean(key, v) for v in values}
    if isinstance(actual, int):
        try:
            return actual in {int(v) for v in values}
        except ValueError:
            raise exc.HTTPBadRequest(f"Invalid input for {key}: {excerpt(values)}") from None
    if isinstance(actual, list):
        return any(str(a) in values for a in actual)
    if actual is None:
        return any(v in ("", "None", "null") for v in values)
    return str(actual) in values


def _tags_match(key: str, have: set[str], values: list[str]) -> bool:
    wanted = {t for v in values for t in v.split(",") if t}
    if key == "tags":
        return wanted <= have
    if key == "tags-any":
        return bool(wanted & have)
    if key == "not-tags":
        return not wanted <= have
    return not wanted & have


def _fixed_ips_match(fixed_ips: list[dict[str, str]], values: list[str]) -> bool:
    wanted: dict[str, set[str]] = {}
    for value in values:
        name, _, want = value.partition("=")
        if name not in ("ip_address", "subnet_id") or not want:
            raise exc.HTTPBadRequest(f"Invalid fixed_ips filter '{excerpt(value)}'")
        wanted.setdefault(name, set()).add(want)
    return any(all(ip.get(k) in v for k, v in wanted.items()) for ip in fixed_ips)
