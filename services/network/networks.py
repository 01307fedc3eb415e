"""Networks (with their segment: a VXLAN VNI or a flat physical network) and subnets."""
from __future__ import annotations

import ipaddress
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from overcast.context import RequestContext
from services.network import attributes, ipam, subnet_rules, views
from services.network import exceptions as exc
from services.network import models as m
from services.network import query as q
from services.network.base import ManagerBase
from services.network.secgroups import ensure_default

logger = logging.getLogger(__name__)

VXLAN, FLAT = "vxlan", "flat"
NETWORK_TYPES = (VXLAN, FLAT)
MTU = {VXLAN: 1450, FLAT: 1500}
VNI_FIRST, VNI_LAST = 1000, 2**24 - 1
DHCP_OWNER = "network:dhcp"
ROUTER_OWNERS = ("network:router_interface", "network:router_gateway",
                 "network:router_interface_distributed", "network:ha_router_replicated_interface")
SUBNET_FIELDS = ("name", "description", "dns_nameservers", "host_routes", "enable_dhcp")


class NetworksMixin(ManagerBase):
    """CRUD for networks and subnets."""

    # -- networks ----------------------------------------------------------------------------

    async def list_networks(self, ctx: RequestContext, query: q.ListQuery | None = None) -> q.Page:
        query = query or q.ListQuery()

        def work(s: Session) -> q.Page:
            stmt = (select(m.Network).where(self.networks_visible(ctx))
                    .options(selectinload(m.Network.subnets))
                    .order_by(m.Network.created_at, m.Network.id))
            for key, column in (("id", m.Network.id), ("name", m.Network.name)):
                if query.scalar(key):
                    stmt = stmt.where(column.in_(query.scalar(key)))
            items = [views.network(r, admin=ctx.is_admin) for r in s.scalars(stmt)]
            return q.apply("network", items, query, lambda mk: exc.NetworkNotFound(net_id=mk))
        return self.run(work)

    async def get_network(self, ctx: RequestContext, net_id: str) -> dict[str, Any]:
        return self.run(lambda s: views.network(self.network(s, ctx, net_id),
                                                admin=ctx.is_admin))

    async def create_network(self, ctx: RequestContext, body: Any) -> dict[str, Any]:
        attrs = attributes.prepare("network", body, ctx)
        return self.run(lambda s: views.network(self.new_network(s, attrs), admin=ctx.is_admin))

    def new_network(self, s: Session, attrs: dict[str, Any]) -> m.Network:
        """A network row from checked attributes, with its segment allocated."""
        ntype = attrs.get("provider:network_type") or VXLAN
        physnet = attrs.get("provider:physical_network")
        segment = attrs.get("provider:segmentation_id")
        if ntype not in NETWORK_TYPES:
            raise exc.InvalidInput(error_message=f"network_type value '{ntype}' not supported")
        if ntype == FLAT:
            if not physnet:
                raise exc.InvalidInput(
                    error_message="physical_network required for flat provider network")
            if segment is not None:
                raise exc.InvalidInput(
                    error_message="segmentation_id specified for flat provider network")
            if s.scalar(select(m.Network.id).where(m.Network.network_type == FLAT,
                                                   m.Network.physical_network == physnet)):
                raise exc.FlatNetworkInUse(physical_network=physnet)
        else:
            if physnet:
                raise exc.InvalidInput(
                    error_message=f"provider:physical_network specified for {ntype} network")
            segment = self._vni(s, segment)
        net = m.Network(id=m.new_id(), project_id=attrs["project_id"],
                        name=attrs.get("name", ""), description=attrs.get("description", ""),
                        admin_state_up=attrs.get("admin_state_up", True),
                        shared=attrs.get("shared", False),
                        router_external=attrs.get("router:external", False),
                        network_type=ntype, physical_network=physnet or None,
                        segmentation_id=segment,
                        mtu=_mtu(ntype, attrs.get("mtu")),
                        port_security_enabled=attrs.get("port_security_enabled", True),
                        tags=attrs.get("tags", []), subnets=[])
        s.add(net)
        s.flush()
        ensure_default(s, net.project_id)
        logger.info("created network %s (%s) %s:%s", net.id, net.name, ntype,
                    physnet or segment)
        return net

    @staticmethod
    def _vni(s: Session, requested: int | None) -> int:
        if requested is not None:
            if not 1 <= requested <= VNI_LAST:
                raise exc.InvalidInput(error_message=(
                    f"segmentation_id out of range (1 through {VNI_LAST})"))
            if s.scalar(select(m.Network.id).where(m.Network.network_type == VXLAN,
                                                   m.Network.segmentation_id == requested)):
                raise exc.TunnelIdInUse(tunnel_id=requested)
            return requested
        used = s.scalars(select(m.Network.segmentation_id)
                         .where(m.Network.network_type == VXLAN,
                                m.Network.segmentation_id >= VNI_FIRST)
                         .order_by(m.Network.segmentation_id))
        candidate = VNI_FIRST
        for vni in used:
            if vni != candidate:
                break
            candidate += 1
        if candidate > VNI_LAST:
            raise exc.NoNetworkAvailable()
        return candidate

    async def update_network(self, ctx: RequestContext, net_id: str,
                             body: Any) -> dict[str, Any]:
        attrs = attributes.prepare("network", body, ctx, update=True)

        def work(s: Session) -> dict[str, Any]:
            net = self.network(s, ctx, net_id)
            self.require_owner(ctx, net.project_id, "update_network")
            if net.shared and attrs.get("shared") is False:
                other = s.scalar(select(m.Port.id).where(m.Port.network_id == net.id,
                                                         m.Port.project_id != net.project_id)
                                 .limit(1))
                if other:
                    raise exc.InvalidSharedSetting(network=net.name or net.id)
            if "mtu" in attrs:
                net.mtu = _mtu(net.network_type, attrs["mtu"])
            for key, column in (("name", "name"), ("description", "description"),
                                ("admin_state_up", "admin_state_up"), ("shared", "shared"),
                                ("router:external", "router_external"),
                                ("port_security_enabled", "port_security_enabled")):
                if key in attrs:
                    setattr(net, column, attrs[key])
            net.touch()
            return views.network(net, admin=ctx.is_admin)
        return self.run(work)

    async def delete_network(self, ctx: RequestContext, net_id: str) -> None:
        def work(s: Session) -> None:
            net = self.network(s, ctx, net_id)
            self.require_owner(ctx, net.project_id, "delete_network")
            ports = list(s.scalars(select(m.Port).where(m.Port.network_id == net.id)))
            if any(p.device_owner != DHCP_OWNER for p in ports):
                raise exc.NetworkInUse(net_id=net.id)
            for port in ports:
                s.delete(port)
            s.flush()
            s.delete(net)
            logger.info("deleted network %s", net_id)
        self.run(work)

    # -- subnets -----------------------------------------------------------------------------

    async def list_subnets(self, ctx: RequestContext, query: q.ListQuery | None = None) -> q.Page:
        query = query or q.ListQuery()

        def work(s: Session) -> q.Page:
            stmt = (select(m.Subnet).where(self.subnets_visible(ctx))
                    .order_by(m.Subnet.created_at, m.Subnet.id))
            for key, column in (("id", m.Subnet.id), ("network_id", m.Subnet.network_id),
                                ("name", m.Subnet.name)):
                if query.scalar(key):
                    stmt = stmt.where(column.in_(query.scalar(key)))
            items = [views.subnet(r) for r in s.scalars(stmt)]
            return q.apply("subnet", items, query, lambda mk: exc.SubnetNotFound(subnet_id=mk))
        return self.run(work)

    async def get_subnet(self, ctx: RequestContext, subnet_id: str) -> dict[str, Any]:
        return self.run(lambda s: views.subnet(self.subnet(s, ctx, subnet_id)))

    async def create_subnet(self, ctx: RequestContext, body: Any) -> dict[str, Any]:
        attrs = attributes.prepare("subnet", body, ctx)
        if not attrs.get("network_id"):
            raise exc.HTTPBadRequest(
                "Failed to parse request. Required attribute 'network_id' not specified")

        def work(s: Session) -> dict[str, Any]:
            net = self.network(s, ctx, attrs["network_id"])
            if not ctx.is_admin and net.project_id != attrs["project_id"]:
                if not net.shared:
                    raise exc.HTTPNotFound("The resource could not be found.")
                raise exc.PolicyNotAuthorized(action="create_subnet")
            return views.subnet(self.new_subnet(s, net, attrs))
        return self.run(work)

    def new_subnet(self, s: Session, net: m.Network, attrs: dict[str, Any]) -> m.Subnet:
        """A subnet row from checked attributes: CIDR, gateway and pools validated."""
        cidr_text = attrs.get("cidr")
        if not cidr_text:
            raise exc.HTTPBadRequest("Bad subnets request: a subnetpool must be specified in "
                                     "the absence of a cidr.")
        cidr = ipaddress.ip_network(cidr_text, strict=False)
        if str(cidr) != cidr_text:
            raise attributes.bad("cidr", f"'{cidr_text}' isn't a recommended CIDR, use "
                                         f"'{cidr}' instead")
        version = int(attrs.get("ip_version") or cidr.version)
        subnet_rules.check_subnet(attrs, cidr=cidr, version=version)
        if cidr.prefixlen > cidr.max_prefixlen - 2:
            raise exc.InvalidInput(error_message=f"Cidr {cidr} is too small for a subnet")
        for other in net.subnets:
            if ipaddress.ip_network(other.cidr).overlaps(cidr):
                raise exc.InvalidInput(error_message=(
                    f"Requested subnet with cidr: {cidr} for network: {net.id} overlaps with "
                    "another subnet"))
        gateway = attrs["gateway_ip"] if "gateway_ip" in attrs else str(ipam.usable_range(cidr)[0])
        _check_gateway(gateway, cidr)
        pools = attrs.get("allocation_pools")
        pools = (ipam.validate_pools(cidr, pools, gateway) if pools
                 else ipam.default_pools(cidr, gateway))
        subnet = m.Subnet(id=m.new_id(), project_id=attrs["project_id"], network_id=net.id,
                          name=attrs.get("name", ""), description=attrs.get("description", ""),
                          ip_version=version, cidr=str(cidr), gateway_ip=gateway,
                          allocation_pools=pools,
                          dns_nameservers=attrs.get("dns_nameservers", []),
                          host_routes=attrs.get("host_routes", []),
                          enable_dhcp=attrs.get("enable_dhcp", True),
                          ipv6_ra_mode=attrs.get("ipv6_ra_mode"),
                          ipv6_address_mode=attrs.get("ipv6_address_mode"),
                          tags=attrs.get("tags", []))
        net.subnets.append(subnet)
        net.touch()
        s.flush()
        logger.info("created subnet %s %s on network %s", subnet.id, subnet.cidr, net.id)
        return subnet

    async def update_subnet(self, ctx: RequestContext, subnet_id: str,
                            body: Any) -> dict[str, Any]:
        attrs = attributes.prepare("subnet", body, ctx, update=True)

        def work(s: Session) -> dict[str, Any]:
            subnet = self.subnet(s, ctx, subnet_id)
            self.require_owner(ctx, subnet.project_id, "update_subnet")
            cidr = ipaddress.ip_network(subnet.cidr)
            subnet_rules.check_subnet(attrs, cidr=cidr, version=subnet.ip_version,
                                      current=subnet)
            gateway = attrs.get("gateway_ip", subnet.gateway_ip)
            if "gateway_ip" in attrs:
                _check_gateway(gateway, cidr)
                if gateway and gateway != subnet.gateway_ip and s.scalar(
                        select(m.IPAllocation.port_id).where(
                            m.IPAllocation.subnet_id == subnet.id,
                            m.IPAllocation.ip_address == gateway)):
                    raise exc.IpAddressAlreadyAllocated(ip=gateway, subnet_id=subnet.id)
            if "allocation_pools" in attrs or "gateway_ip" in attrs:
                pools = attrs.get("allocation_pools") or subnet.allocation_pools
                subnet.allocation_pools = ipam.validate_pools(cidr, pools, gateway)
            subnet.gateway_ip = gateway
            for key in SUBNET_FIELDS:
                if key in attrs:
                    setattr(subnet, key, attrs[key])
            subnet.touch()
            return views.subnet(subnet)
        return self.run(work)

    async def delete_subnet(self, ctx: RequestContext, subnet_id: str) -> None:
        def work(s: Session) -> None:
            subnet = self.subnet(s, ctx, subnet_id)
            self.require_owner(ctx, subnet.project_id, "delete_subnet")
            rows = s.execute(select(m.IPAllocation, m.Port.device_owner)
                             .join(m.Port, m.Port.id == m.IPAllocation.port_id)
                             .where(m.IPAllocation.subnet_id == subnet.id)).all()
            if any(owner != DHCP_OWNER for _, owner in rows):
                raise exc.SubnetInUse(subnet_id=subnet.id)
            for alloc, _ in rows:
                s.delete(alloc)
            s.flush()  # allocations refer to the subnet without a relationship()
            net = subnet.network
            net.subnets.remove(subnet)
            net.touch()
            logger.info("deleted subnet %s", subnet_id)
        self.run(work)


def _mtu(ntype: str, requested: int | None) -> int:
    limit = MTU[ntype]
    if requested is None:
        return limit
    if requested > limit:
        raise exc.InvalidInput(error_message=f"Requested MTU is too big, maximum is {limit}")
    if requested < 68:
        raise exc.InvalidInput(error_message=f"Requested MTU {requested} is too small, "
                                             "minimum is 68")
    return requested


def _check_gateway(gateway: str | None, cidr: ipam.IPNetwork) -> None:
    """The gateway must be a host address of the subnet (Overcast does not route to a gateway
    outside it, which Neutron would allow)."""
    if gateway is not None and not ipam.is_host_address(gateway, cidr):
        raise exc.InvalidInput(error_message="Gateway is not valid on subnet")
