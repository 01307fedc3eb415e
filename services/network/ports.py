"""Ports: MAC and fixed IP allocation, security group membership and host binding."""
from __future__ import annotations

import ipaddress
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from overcast.context import RequestContext
from services.network import attributes, ipam, views
from services.network import exceptions as exc
from services.network import models as m
from services.network import query as q
from services.network.base import ManagerBase
from services.network.networks import ROUTER_OWNERS
from services.network.secgroups import ensure_default

logger = logging.getLogger(__name__)

VIF_TYPE = "bridge"
_MAC_TRIES = 16
_PORT_FIELDS = (("name", "name"), ("description", "description"),
                ("admin_state_up", "admin_state_up"), ("device_id", "device_id"),
                ("device_owner", "device_owner"), ("binding:vnic_type", "binding_vnic_type"),
                ("binding:profile", "binding_profile"))


def bridge_name(net_id: str) -> str:
    """The Linux bridge of a network on every host (Neutron linuxbridge's naming, 14 chars)."""
    return f"brq{net_id[:11]}"


def bind(port: m.Port, net: m.Network, host: str) -> None:
    """Bind ``port`` to ``host``: agents there plug it into the network's bridge."""
    port.binding_host_id = host
    port.binding_vif_type = VIF_TYPE
    port.binding_vif_details = {"port_filter": True, "connectivity": "l2",
                                "bridge_name": bridge_name(net.id)}


def unbind(port: m.Port) -> None:
    port.binding_host_id = ""
    port.binding_vif_type = "unbound"
    port.binding_vif_details = {}
    port.status = "DOWN"


def _is_network_device(owner: str) -> bool:
    return owner.startswith("network:")


class PortsMixin(ManagerBase):
    """CRUD for ports, and the building blocks ``nova.py`` uses."""

    async def list_ports(self, ctx: RequestContext, query: q.ListQuery | None = None) -> q.Page:
        query = query or q.ListQuery()

        def work(s: Session) -> q.Page:
            stmt = (select(m.Port).where(self.ports_visible(ctx))
                    .options(selectinload(m.Port.fixed_ips),
                             selectinload(m.Port.security_group_bindings))
                    .order_by(m.Port.created_at, m.Port.id))
            for key, column in (("id", m.Port.id), ("network_id", m.Port.network_id),
                                ("device_id", m.Port.device_id), ("name", m.Port.name),
                                ("binding:host_id", m.Port.binding_host_id)):
                if query.scalar(key):
                    stmt = stmt.where(column.in_(query.scalar(key)))
            items = [views.port(r, admin=ctx.is_admin) for r in s.scalars(stmt)]
            return q.apply("port", items, query, lambda mk: exc.PortNotFound(port_id=mk))
        return self.run(work)

    async def get_port(self, ctx: RequestContext, port_id: str) -> dict[str, Any]:
        return self.run(lambda s: views.port(self.port(s, ctx, port_id), admin=ctx.is_admin))

    async def create_port(self, ctx: RequestContext, body: Any) -> dict[str, Any]:
        attrs = attributes.prepare("port", body, ctx)
        if not attrs.get("network_id"):
            raise exc.HTTPBadRequest(
                "Failed to parse request. Required attribute 'network_id' not specified")

        def work(s: Session) -> dict[str, Any]:
            net = self.network(s, ctx, attrs["network_id"])
            net_owner = self.owns(ctx, net.project_id)
            if not ctx.is_admin and net.project_id != attrs["project_id"] and not net.shared:
                raise exc.HTTPNotFound("The resource could not be found.")
            self._check_owner_only(ctx, net_owner, attrs, "create_port")
            port = self.new_port(
                s, ctx, net, project_id=attrs["project_id"], fixed_ips=attrs.get("fixed_ips"),
                mac=attrs.get("mac_address"), group_ids=attrs.get("security_groups"),
                port_security=attrs.get("port_security_enabled"),
                host=attrs.get("binding:host_id") or "",
                **{column: attrs[key] for key, column in _PORT_FIELDS if key in attrs},
                tags=attrs.get("tags", []))
            return views.port(port, admin=ctx.is_admin)
        return self.run(work)

    @staticmethod
    def _check_owner_only(ctx: RequestContext, net_owner: bool, attrs: dict[str, Any],
                          action: str) -> None:
        """Attributes only the network's owner (or an admin) may set, per Neutron's policy."""
        if net_owner:
            return
        if _is_network_device(attrs.get("device_owner") or ""):
            raise exc.PolicyNotAuthorized(action=f"{action}:device_owner")
        if "mac_address" in attrs:
            raise exc.PolicyNotAuthorized(action=f"{action}:mac_address")
        if any("ip_address" in ip for ip in attrs.get("fixed_ips") or []):
            raise exc.PolicyNotAuthorized(action=f"{action}:fixed_ips:ip_address")

    def new_port(self, s: Session, ctx: RequestContext, net: m.Network, *, project_id: str,
                 fixed_ips: list[dict[str, str]] | None = None, mac: str | None = None,
                 group_ids: list[str] | None = None, port_security: bool | None = None,
                 host: str = "", auto_delete: bool = False, **fields: Any) -> m.Port:
        """A port on ``net`` with a MAC, its addresses and its security groups.

        ``fixed_ips`` None means one address from the first subnet of each IP version with
        room; ``group_ids`` None means the project's default group (none for network:*
        devices or when port security is off).
        """
        owner = fields.get("device_owner", "")
        secure = net.port_security_enabled if port_security is None else port_security
        if group_ids is None:
            group_ids = ([ensure_default(s, project_id).id]
                         if secure and not _is_network_device(owner) else [])
        elif group_ids and not secure:
            raise exc.PortSecurityAndIPRequiredForSecurityGroups()
        for group_id in group_ids:
            self.group(s, ctx, group_id)
        port = m.Port(id=m.new_id(), project_id=project_id, network_id=net.id,
                      mac_address=self._mac(s, net, mac), port_security_enabled=secure,
                      auto_delete=auto_delete, **fields)
        port.security_group_bindings = [m.PortSecurityGroup(security_group_id=g)
                                        for g in group_ids]
        s.add(port)
        self.allocate_ips(s, net, port, fixed_ips)
        if host:
            bind(port, net, host)
        s.flush()
        logger.info("created port %s on network %s (%s) for %s", port.id, net.id,
                    ", ".join(a.ip_address for a in port.fixed_ips) or "no address",
                    port.device_id or "no device")
        return port

    @staticmethod
    def _mac(s: Session, net: m.Network, requested: str | None) -> str:
        def taken(mac: str) -> bool:
            # One indexed lookup (uq_ports_mac), not a scan of the network's ports.
            return s.scalar(select(m.Port.id).where(
                m.Port.network_id == net.id, m.Port.mac_address == mac).limit(1)) is not None

        if requested:
            if taken(requested):
                raise exc.MacAddressInUse(net_id=net.id, mac=requested)
            return requested
        for _ in range(_MAC_TRIES):
            mac = ipam.random_mac()
            if not taken(mac):
                return mac
        raise exc.MacAddressInUse(net_id=net.id, mac=mac)

    def allocate_ips(self, s: Session, net: m.Network, port: m.Port,
                     requested: list[dict[str, str]] | None) -> None:
        """Give ``port`` addresses (see ``new_port``); 409 when taken or the subnet is full."""
        subnets = list(net.subnets)
        if requested is None:
            for version in (4, 6):
                candidates = [sub for sub in subnets if sub.ip_version == version]
                if candidates and not any(self._take_next(s, sub, port) for sub in candidates):
                    raise exc.IpAddressGenerationFailure(net_id=net.id)
            return
        for entry in requested:
            ip, subnet_id = entry.get("ip_address"), entry.get("subnet_id")
            if subnet_id:
                sub = next((x for x in subnets if x.id == subnet_id), None)
                if sub is None:
                    raise exc.InvalidInput(error_message=(
                        f"Failed to create port on network {net.id}, because fixed_ips "
                        f"included invalid subnet {subnet_id}"))
                if ip is None:
                    if not self._take_next(s, sub, port):
                        raise exc.IpAddressGenerationFailure(net_id=net.id)
                    continue
                if not ipam.is_host_address(ip, ipaddress.ip_network(sub.cidr)):
                    raise exc.InvalidIpForSubnet(ip=ip, subnet_id=sub.id)
            else:
                sub = next((x for x in subnets
                            if ipam.is_host_address(ip, ipaddress.ip_network(x.cidr))), None)
                if sub is None:
                    raise exc.InvalidIpForNetwork(ip_address=ip)
            self._take(s, sub, port, ip)

    @staticmethod
    def _taken(s: Session, sub: m.Subnet) -> set[str]:
        return set(s.scalars(select(m.IPAllocation.ip_address)
                             .where(m.IPAllocation.subnet_id == sub.id)))

    def _take(self, s: Session, sub: m.Subnet, port: m.Port, ip: str) -> None:
        router = port.device_owner in ROUTER_OWNERS
        if ip in self._taken(s, sub) or (ip == sub.gateway_ip and not router):
            raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=sub.id)
        port.fixed_ips.append(m.IPAllocation(subnet_id=sub.id, network_id=sub.network_id,
                                             ip_address=ip))

    def _take_next(self, s: Session, sub: m.Subnet, port: m.Port) -> bool:
        ip = next(ipam.candidates(sub.allocation_pools, self._taken(s, sub), sub.gateway_ip),
                  None)
        if ip is None:
            return False
        port.fixed_ips.append(m.IPAllocation(subnet_id=sub.id, network_id=sub.network_id,
                                             ip_address=ip))
        return True

    async def update_port(self, ctx: RequestContext, port_id: str, body: Any) -> dict[str, Any]:
        attrs = attributes.prepare("port", body, ctx, update=True)

        def work(s: Session) -> dict[str, Any]:
            port = self.port(s, ctx, port_id)
            self.require_owner(ctx, port.project_id, "update_port")
            net = s.get(m.Network, port.network_id)
            self._check_owner_only(ctx, self.owns(ctx, net.project_id), attrs, "update_port")
            if "mac_address" in attrs and attrs["mac_address"] != port.mac_address:
                if not ctx.is_admin:
                    raise exc.PolicyNotAuthorized(action="update_port:mac_address")
                port.mac_address = self._mac(s, net, attrs["mac_address"])
            if "fixed_ips" in attrs:
                self._reallocate(s, net, port, attrs["fixed_ips"])
            self._update_security(s, ctx, port, attrs)
            for key, column in _PORT_FIELDS:
                if key in attrs:
                    setattr(port, column, attrs[key] if attrs[key] is not None else "")
            if "binding:host_id" in attrs:
                if attrs["binding:host_id"]:
                    bind(port, net, attrs["binding:host_id"])
                else:
                    unbind(port)
            port.touch()
            s.flush()
            return views.port(port, admin=ctx.is_admin)
        return self.run(work)

    def _reallocate(self, s: Session, net: m.Network, port: m.Port,
                    requested: list[dict[str, str]]) -> None:
        """Keep the addresses still asked for, release the others, allocate the new ones."""
        keep: list[m.IPAllocation] = []
        wanted: list[dict[str, str]] = []
        for entry in requested:
            match = next((a for a in port.fixed_ips if a not in keep
                          and entry.get("ip_address", a.ip_address) == a.ip_address
                          and entry.get("subnet_id", a.subnet_id) == a.subnet_id), None)
            if match is not None:
                keep.append(match)
            else:
                wanted.append(entry)
        port.fixed_ips = keep
        s.flush()
        self.allocate_ips(s, net, port, wanted)

    def _update_security(self, s: Session, ctx: RequestContext, port: m.Port,
                         attrs: dict[str, Any]) -> None:
        secure = attrs.get("port_security_enabled", port.port_security_enabled)
        groups = attrs.get("security_groups", port.security_group_ids)
        if groups and not secure:
            if "security_groups" in attrs:
                raise exc.PortSecurityAndIPRequiredForSecurityGroups()
            raise exc.PortSecurityPortHasSecurityGroup()
        if "security_groups" in attrs:
            for group_id in groups:
                self.group(s, ctx, group_id)
            port.security_group_bindings = [m.PortSecurityGroup(security_group_id=g)
                                            for g in groups]
        port.port_security_enabled = secure

    async def delete_port(self, ctx: RequestContext, port_id: str) -> None:
        def work(s: Session) -> None:
            # Whoever can see the port may delete it: its owner, the network's owner, admins.
            port = self.port(s, ctx, port_id)
            s.delete(port)
            logger.info("deleted port %s", port_id)
        self.run(work)
