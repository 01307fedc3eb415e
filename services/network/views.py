"""Rows to API dicts, in Neutron's shape (and the VIF dicts handed to the compute service)."""
from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from services.network import models


def timestamp(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _standard(row: Any) -> dict[str, Any]:
    return {"id": row.id, "project_id": row.project_id, "tenant_id": row.project_id,
            "description": row.description or "", "created_at": timestamp(row.created_at),
            "updated_at": timestamp(row.updated_at), "revision_number": row.revision_number}


def network(row: models.Network, *, admin: bool) -> dict[str, Any]:
    """Provider attributes are shown to admins only, as Neutron's default policy does."""
    out = {
        **_standard(row), "name": row.name, "admin_state_up": row.admin_state_up,
        "status": row.status, "shared": row.shared, "router:external": row.router_external,
        "mtu": row.mtu, "port_security_enabled": row.port_security_enabled,
        "subnets": [s.id for s in row.subnets], "tags": list(row.tags or []),
    }
    if admin:
        out["provider:network_type"] = row.network_type
        out["provider:physical_network"] = row.physical_network
        out["provider:segmentation_id"] = row.segmentation_id
    return out


def subnet(row: models.Subnet) -> dict[str, Any]:
    return {
        **_standard(row), "name": row.name, "network_id": row.network_id,
        "ip_version": row.ip_version, "cidr": row.cidr, "gateway_ip": row.gateway_ip,
        "allocation_pools": [dict(p) for p in row.allocation_pools or []],
        "dns_nameservers": list(row.dns_nameservers or []),
        "host_routes": [dict(r) for r in row.host_routes or []],
        "enable_dhcp": row.enable_dhcp, "ipv6_ra_mode": row.ipv6_ra_mode,
        "ipv6_address_mode": row.ipv6_address_mode, "subnetpool_id": None,
        "tags": list(row.tags or []),
    }


def port(row: models.Port, *, admin: bool) -> dict[str, Any]:
    """Binding details (host, VIF type and details, profile) are admin-only, as in Neutron."""
    out = {
        **_standard(row), "name": row.name, "network_id": row.network_id,
        "admin_state_up": row.admin_state_up, "mac_address": row.mac_address,
        "status": row.status, "device_id": row.device_id, "device_owner": row.device_owner,
        "fixed_ips": [{"subnet_id": a.subnet_id, "ip_address": a.ip_address}
                      for a in row.fixed_ips],
        "security_groups": row.security_group_ids,
        "port_security_enabled": row.port_security_enabled,
        "binding:vnic_type": row.binding_vnic_type, "tags": list(row.tags or []),
    }
    if admin:
        out["binding:host_id"] = row.binding_host_id
        out["binding:vif_type"] = row.binding_vif_type
        out["binding:vif_details"] = dict(row.binding_vif_details or {})
        out["binding:profile"] = dict(row.binding_profile or {})
    return out


def security_group_rule(row: models.SecurityGroupRule) -> dict[str, Any]:
    return {
        **_standard(row), "security_group_id": row.security_group_id,
        "direction": row.direction, "ethertype": row.ethertype, "protocol": row.protocol,
        "port_range_min": row.port_range_min, "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix, "remote_group_id": row.remote_group_id,
        "remote_address_group_id": None,
    }


def security_group(row: models.SecurityGroup) -> dict[str, Any]:
    return {
        **_standard(row), "name": row.name, "stateful": row.stateful, "shared": False,
        "security_group_rules": [security_group_rule(r) for r in row.rules],
        "tags": list(row.tags or []),
    }


def vif(row: models.Port, net: models.Network,
        subnets: dict[str, models.Subnet]) -> dict[str, Any]:
    """What a compute service needs to plug a port: the contract of ``get_instance_nw_info``.

    The first keys are the stable contract; ``fixed_ips`` entries also carry their subnet's
    cidr, gateway and DNS servers so the guest can be configured without another call.
    """
    fixed = []
    for alloc in row.fixed_ips:
        sub = subnets.get(alloc.subnet_id)
        entry: dict[str, Any] = {"ip_address": alloc.ip_address, "subnet_id": alloc.subnet_id}
        if sub is not None:
            entry.update(version=sub.ip_version, cidr=sub.cidr, gateway_ip=sub.gateway_ip,
                         prefixlen=ipaddress.ip_network(sub.cidr).prefixlen,
                         dns_nameservers=list(sub.dns_nameservers or []),
                         host_routes=[dict(r) for r in sub.host_routes or []])
        fixed.append(entry)
    return {
        "port_id": row.id, "network_id": net.id, "network_name": net.name,
        "mac_address": row.mac_address, "fixed_ips": fixed, "mtu": net.mtu,
        "segmentation_id": net.segmentation_id, "network_type": net.network_type,
        "physical_network": net.physical_network,
        "device_id": row.device_id, "host": row.binding_host_id or None,
        "vif_type": row.binding_vif_type, "vif_details": dict(row.binding_vif_details or {}),
        "status": row.status, "security_groups": row.security_group_ids,
        "port_security_enabled": row.port_security_enabled,
        "preserve_on_delete": not row.auto_delete,
    }
