"""What the compute service asks of the network service (Nova's network API, server side).

Errors carry the HTTP code that Nova answers a server create with, Nova's wording, and Nova's
exception name in ``details["error_type"]`` (e.g. NetworkAmbiguous is a 409, a missing network
a 400), so the compute API can pass them straight through.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import logging
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from services.network import ipam, views
from services.network import models as m
from services.network.attributes import is_uuid
from services.network.ports import PortsMixin, bind, unbind
from services.network.secgroups import DEFAULT_NAME, ensure_default

logger = logging.getLogger(__name__)

COMPUTE_OWNER = "compute:nova"
_REQUEST_KEYS = {"uuid", "network_id", "fixed_ip", "address", "port", "port_id", "tag"}


def nova_error(cls: type[errors.OvercastError], nova_type: str,
               message: str) -> errors.OvercastError:
    return cls(message, error_type=nova_type)


@dataclasses.dataclass
class _Request:
    net: m.Network
    port: m.Port | None = None
    fixed_ip: str | None = None


class NovaMixin(PortsMixin):
    """allocate/validate/deallocate/bind for instances; every call is idempotent."""

    async def validate_networks(self, ctx: RequestContext, *, project_id: str,
                                requested_networks: Any,
                                security_groups: list[str] | None = None) -> None:
        """Raise as Nova would for ``requested_networks`` and ``security_groups`` (names or
        ids, which must be the project's own) without changing anything."""
        def work(s: Session) -> None:
            self._plan(s, ctx, project_id, requested_networks, None)
            self._check_groups(s, project_id, security_groups or [])
        self.run(work)

    async def allocate_for_instance(self, ctx: RequestContext, *, instance_id: str,
                                    project_id: str, requested_networks: Any,
                                    security_groups: list[str] | None = None,
                                    host: str | None = None) -> list[dict[str, Any]]:
        """Ports for ``instance_id``, as VIF dicts in request order; bound to ``host`` if given.

        ``requested_networks`` is "auto", "none" or a list of {"uuid", "fixed_ip", "port"}.
        Ports already made for the instance are reused, so a repeated call returns the same
        VIFs. One transaction: if any allocation fails, nothing of this call remains.
        """
        def work(s: Session) -> list[dict[str, Any]]:
            existing = self._instance_ports(s, instance_id)
            if requested_networks == "none":
                return []
            if requested_networks in ("auto", None) and existing:
                self._bind_all(s, existing, host)
                return self._vifs(s, existing)
            plan = self._plan(s, ctx, project_id, requested_networks, instance_id)
            acting = ctx if ctx.is_admin else dataclasses.replace(ctx, project_id=project_id)
            groups = self._groups(s, acting, project_id, security_groups)
            used: set[str] = set()
            ports: list[m.Port] = []
            for req in plan:
                port = req.port or self._reusable(existing, used, req)
                if port is None:
                    port = self.new_port(
                        s, acting, req.net, project_id=project_id,
                        fixed_ips=[{"ip_address": req.fixed_ip}] if req.fixed_ip else None,
                        group_ids=self._groups_for(req.net, groups, security_groups),
                        device_id=instance_id, device_owner=COMPUTE_OWNER, auto_delete=True)
                elif port.device_id != instance_id:
                    port.device_id, port.device_owner = instance_id, COMPUTE_OWNER
                    port.touch()
                used.add(port.id)
                ports.append(port)
            self._bind_all(s, ports, host)
            s.flush()
            logger.info("allocated %s port(s) for instance %s", len(ports), instance_id)
            return self._vifs(s, ports)
        return self.run(work)

    async def deallocate_for_instance(self, ctx: RequestContext, *, instance_id: str) -> None:
        """Delete the ports made for the instance; unbind the ones it was given."""
        def work(s: Session) -> None:
            for port in self._instance_ports(s, instance_id):
                if port.auto_delete and port.device_owner.startswith("compute:"):
                    s.delete(port)
                else:
                    port.device_id, port.device_owner = "", ""
                    unbind(port)
                    port.touch()
            logger.info("deallocated ports of instance %s", instance_id)
        self.run(work)

    async def get_instance_nw_info(self, ctx: RequestContext, *,
                                   instance_id: str) -> list[dict[str, Any]]:
        return self.run(lambda s: self._vifs(s, self._instance_ports(s, instance_id)))

    async def bind_ports(self, ctx: RequestContext, *, instance_id: str,
                         host: str) -> list[dict[str, Any]]:
        """Bind the instance's ports to ``host`` and mark them ACTIVE (a build or evacuation).

        Until network agents report ports up, binding is what makes a port ACTIVE.
        """
        def work(s: Session) -> list[dict[str, Any]]:
            ports = self._instance_ports(s, instance_id)
            self._bind_all(s, ports, host)
            if ports:
                logger.info("bound %s port(s) of instance %s to %s", len(ports), instance_id,
                            host)
            return self._vifs(s, ports)
        return self.run(work)

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _bind_all(s: Session, ports: list[m.Port], host: str | None) -> None:
        """Bind ``ports`` to ``host`` and mark them ACTIVE (until agents report ports up)."""
        if not host:
            return
        for port in ports:
            if port.binding_host_id != host or port.status != "ACTIVE":
                bind(port, s.get(m.Network, port.network_id), host)
                port.status = "ACTIVE"
                port.touch()

    @staticmethod
    def _instance_ports(s: Session, instance_id: str) -> list[m.Port]:
        return list(s.scalars(select(m.Port).where(m.Port.device_id == instance_id)
                              .order_by(m.Port.created_at, m.Port.id)))

    @staticmethod
    def _vifs(s: Session, ports: list[m.Port]) -> list[dict[str, Any]]:
        nets = {n.id: n for n in s.scalars(
            select(m.Network).where(m.Network.id.in_({p.network_id for p in ports})))}
        subnets = {sub.id: sub for net in nets.values() for sub in net.subnets}
        return [views.vif(p, nets[p.network_id], subnets) for p in ports]

    @staticmethod
    def _reusable(existing: list[m.Port], used: set[str], req: _Request) -> m.Port | None:
        for port in existing:
            if (port.auto_delete and port.id not in used and port.network_id == req.net.id
                    and (req.fixed_ip is None
                         or req.fixed_ip in [a.ip_address for a in port.fixed_ips])):
                return port
        return None

    def _plan(self, s: Session, ctx: RequestContext, project_id: str, requested: Any,
              instance_id: str | None) -> list[_Request]:
        if requested == "none":
            return []
        if requested in ("auto", None):
            return [_Request(self._auto_network(s, project_id))]
        if not isinstance(requested, list):
            raise errors.BadRequest("requested_networks must be 'auto', 'none' or a list")
        plan: list[_Request] = []
        for item in requested:
            if not isinstance(item, dict) or set(item) - _REQUEST_KEYS:
                raise errors.BadRequest(f"Bad networks format: {errors.excerpt(item)}")
            port_id = item.get("port") or item.get("port_id")
            net_id = item.get("uuid") or item.get("network_id")
            fixed_ip = item.get("fixed_ip") or item.get("address")
            if port_id:
                port = self._usable_port(s, ctx, project_id, port_id, instance_id)
                if any(r.port is port for r in plan):
                    raise nova_error(errors.Conflict, "PortInUse",
                                     f"Port {port_id} is still in use.")
                plan.append(_Request(s.get(m.Network, port.network_id), port=port))
            elif net_id:
                net = self._usable_network(s, ctx, project_id, net_id)
                if fixed_ip:
                    self._check_fixed_ip(s, net, fixed_ip, instance_id)
                plan.append(_Request(net, fixed_ip=fixed_ip))
            else:
                raise errors.BadRequest("Bad networks format: a network uuid or a port id "
                                        "is required")
        return plan

    @staticmethod
    def _auto_network(s: Session, project_id: str) -> m.Network:
        nets = list(s.scalars(
            select(m.Network).where(m.Network.router_external.is_(False),
                                    or_(m.Network.project_id == project_id,
                                        m.Network.shared.is_(True)))))
        if not nets:
            raise nova_error(errors.BadRequest, "UnableToAutoAllocateNetwork",
                             "Unable to automatically allocate a network for project "
                             f"{project_id}")
        if len(nets) > 1:
            raise nova_error(errors.Conflict, "NetworkAmbiguous",
                             "More than one possible network found. Specify network ID(s) "
                             "to select which one(s) to connect to.")
        if not nets[0].subnets:
            raise nova_error(errors.BadRequest, "NetworkRequiresSubnet",
                             f"Network {nets[0].id} requires a subnet in order to boot "
                             "instances on.")
        return nets[0]

    @staticmethod
    def _usable_network(s: Session, ctx: RequestContext, project_id: str,
                        net_id: str) -> m.Network:
        if not is_uuid(net_id):
            raise nova_error(errors.BadRequest, "NetworkIdNotFound",
                             f"Bad networks format: network uuid is not in proper format "
                             f"({net_id})")
        net = s.get(m.Network, net_id)
        if net is None or not (ctx.is_admin or net.project_id == project_id or net.shared
                               or net.router_external):
            raise nova_error(errors.BadRequest, "NetworkNotFound",
                             f"Network {net_id} could not be found.")
        if net.router_external and not net.shared and not ctx.is_admin:
            raise nova_error(errors.Forbidden, "ExternalNetworkAttachForbidden",
                             f"It is not allowed to create an interface on external network "
                             f"{net_id}")
        if not net.subnets:
            raise nova_error(errors.BadRequest, "NetworkRequiresSubnet",
                             f"Network {net_id} requires a subnet in order to boot instances "
                             "on.")
        return net

    @staticmethod
    def _check_fixed_ip(s: Session, net: m.Network, ip: str, instance_id: str | None) -> None:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise nova_error(errors.BadRequest, "FixedIpInvalid",
                             f"Invalid fixed IP address ({ip})") from None
        sub = next((x for x in net.subnets
                    if ipam.is_host_address(ip, ipaddress.ip_network(x.cidr))), None)
        if sub is None:
            raise nova_error(errors.BadRequest, "InvalidIpForNetwork",
                             f"IP address {ip} is not a valid IP for any of the subnets on "
                             "the specified network.")
        holder = s.scalar(select(m.Port.device_id)
                          .join(m.IPAllocation, m.IPAllocation.port_id == m.Port.id)
                          .where(m.IPAllocation.subnet_id == sub.id,
                                 m.IPAllocation.ip_address == ip))
        if holder is not None and (instance_id is None or holder != instance_id):
            raise nova_error(errors.BadRequest, "FixedIpAlreadyInUse",
                             f"Fixed IP address {ip} is already in use on instance "
                             f"{holder or 'unknown'}.")

    @staticmethod
    def _usable_port(s: Session, ctx: RequestContext, project_id: str, port_id: str,
                     instance_id: str | None) -> m.Port:
        port = s.get(m.Port, port_id) if is_uuid(port_id) else None
        if port is None:
            raise nova_error(errors.BadRequest, "PortNotFound",
                             f"Port id {port_id} could not be found.")
        if not ctx.is_admin and port.project_id != project_id:
            raise nova_error(errors.BadRequest, "PortNotUsable",
                             f"Port {port_id} not usable for instance {instance_id}.")
        if port.device_id and port.device_id != instance_id:
            raise nova_error(errors.Conflict, "PortInUse", f"Port {port_id} is still in use.")
        if not port.fixed_ips:
            raise nova_error(errors.BadRequest, "PortRequiresFixedIP",
                             f"Port {port_id} requires a FixedIP in order to be used.")
        return port

    @staticmethod
    def _matching_groups(s: Session, project_id: str, name: str) -> list[str]:
        """Ids of the project's groups named or identified by ``name``: another project's
        group is not found, as Nova's lookup is filtered by the instance's project."""
        return list(s.scalars(select(m.SecurityGroup.id).where(
            m.SecurityGroup.project_id == project_id,
            or_(m.SecurityGroup.id == name, m.SecurityGroup.name == name))))

    @staticmethod
    def _group_not_found(name: str) -> errors.OvercastError:
        return nova_error(errors.BadRequest, "SecurityGroupNotFound",
                          f"Security group {errors.excerpt(name)} not found.")

    def _check_groups(self, s: Session, project_id: str, names: list[str]) -> None:
        """Raise as ``_groups`` would, without making the default group."""
        for name in names:
            if name == DEFAULT_NAME:
                continue  # always there: made on first use, as Neutron makes it
            rows = self._matching_groups(s, project_id, name)
            if not rows:
                raise self._group_not_found(name)
            if len(rows) > 1:
                raise nova_error(errors.Conflict, "NoUniqueMatch", "No Unique Match Found.")

    def _groups(self, s: Session, ctx: RequestContext, project_id: str,
                names: list[str] | None) -> list[str] | None:
        """Security group names or ids to ids; None keeps Neutron's default choice."""
        if names is None:
            return None
        ids: list[str] = []
        for name in names:
            if name == DEFAULT_NAME:
                ids.append(ensure_default(s, project_id).id)
                continue
            rows = self._matching_groups(s, project_id, name)
            if not rows:
                raise self._group_not_found(name)
            if len(rows) > 1:
                raise nova_error(errors.Conflict, "NoUniqueMatch", "No Unique Match Found.")
            ids.append(rows[0])
        return list(dict.fromkeys(ids))

    @staticmethod
    def _groups_for(net: m.Network, groups: list[str] | None,
                    names: list[str] | None) -> list[str] | None:
        if net.port_security_enabled:
            return groups
        if names in (None, [DEFAULT_NAME]):
            return []
        raise nova_error(errors.BadRequest, "SecurityGroupCannotBeApplied",
                         "Network requires port_security_enabled and subnet associated in "
                         "order to apply security groups.")
