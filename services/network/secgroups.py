"""Security groups and their rules, including each project's "default" group.

A project's default group is made on first need (listing groups, creating a network or port)
with Neutron's default rules: all egress over IPv4 and IPv6, and ingress from members of the
same group. Agents will turn rules into nftables sets later; nothing here assumes how.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from overcast.context import RequestContext
from services.network import attributes, views
from services.network import exceptions as exc
from services.network import models as m
from services.network import query as q
from services.network.base import ManagerBase

logger = logging.getLogger(__name__)

DEFAULT_NAME = "default"
ETHERTYPES = ("IPv4", "IPv6")
PROTOCOLS = ("ah", "dccp", "egp", "esp", "gre", "hopopt", "icmp", "icmpv6", "igmp", "ipip",
             "ipv6-encap", "ipv6-frag", "ipv6-icmp", "ipv6-nonxt", "ipv6-opts", "ipv6-route",
             "ospf", "pgm", "rsvp", "sctp", "tcp", "udp", "udplite", "vrrp")
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "udplite", "dccp", "6", "17", "132", "136", "33"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}
ICMPV6_PROTOCOLS = {"icmpv6", "ipv6-icmp", "58"}


def ensure_default(s: Session, project_id: str) -> m.SecurityGroup:
    """The project's default group, made with Neutron's default rules if it is missing."""
    mapping = s.get(m.DefaultSecurityGroup, project_id)
    if mapping is not None:
        group = s.get(m.SecurityGroup, mapping.security_group_id)
        if group is not None:
            return group
    group = m.SecurityGroup(id=m.new_id(), project_id=project_id, name=DEFAULT_NAME,
                            description="Default security group")
    s.add(group)
    s.flush()  # the mapping and rules below refer to it without a relationship()
    s.add(m.DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
    for ethertype in ETHERTYPES:
        s.add(m.SecurityGroupRule(project_id=project_id, security_group_id=group.id,
                                  direction="ingress", ethertype=ethertype,
                                  remote_group_id=group.id))
        s.add(m.SecurityGroupRule(project_id=project_id, security_group_id=group.id,
                                  direction="egress", ethertype=ethertype))
    s.flush()
    logger.info("created default security group %s for project %s", group.id, project_id)
    return group


def is_default(s: Session, group: m.SecurityGroup) -> bool:
    mapping = s.get(m.DefaultSecurityGroup, group.project_id)
    return mapping is not None and mapping.security_group_id == group.id


class SecurityGroupsMixin(ManagerBase):
    """CRUD for security groups and security group rules."""

    # -- groups ------------------------------------------------------------------------------

    async def list_security_groups(self, ctx: RequestContext,
                                   query: q.ListQuery | None = None) -> q.Page:
        query = query or q.ListQuery()

        def work(s: Session) -> q.Page:
            projects = query.scalar("project_id") or query.scalar("tenant_id")
            target = projects[0] if len(projects) == 1 else ctx.project_id
            if target and self.owns(ctx, target):
                ensure_default(s, target)
            stmt = (select(m.SecurityGroup).where(self.groups_visible(ctx))
                    .options(selectinload(m.SecurityGroup.rules))
                    .order_by(m.SecurityGroup.created_at, m.SecurityGroup.id))
            if query.scalar("id"):
                stmt = stmt.where(m.SecurityGroup.id.in_(query.scalar("id")))
            items = [views.security_group(r) for r in s.scalars(stmt)]
            return q.apply("security_group", items, query,
                           lambda marker: exc.SecurityGroupNotFound(id=marker))
        return self.run(work)

    async def get_security_group(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        return self.run(lambda s: views.security_group(self.group(s, ctx, group_id)))

    async def create_security_group(self, ctx: RequestContext, body: Any) -> dict[str, Any]:
        attrs = attributes.prepare("security_group", body, ctx)
        if attrs.get("name", "").lower() == DEFAULT_NAME:
            raise exc.SecurityGroupDefaultAlreadyExists()

        def work(s: Session) -> dict[str, Any]:
            ensure_default(s, attrs["project_id"])
            group = m.SecurityGroup(id=m.new_id(), project_id=attrs["project_id"],
                                    name=attrs.get("name", ""),
                                    description=attrs.get("description", ""),
                                    stateful=attrs.get("stateful", True),
                                    tags=attrs.get("tags", []))
            s.add(group)
            s.flush()
            for ethertype in ETHERTYPES:
                s.add(m.SecurityGroupRule(project_id=group.project_id,
                                          security_group_id=group.id, direction="egress",
                                          ethertype=ethertype))
            s.flush()
            s.refresh(group)
            logger.info("created security group %s (%s)", group.id, group.name)
            return views.security_group(group)
        return self.run(work)

    async def update_security_group(self, ctx: RequestContext, group_id: str,
                                    body: Any) -> dict[str, Any]:
        attrs = attributes.prepare("security_group", body, ctx, update=True)

        def work(s: Session) -> dict[str, Any]:
            group = self.group(s, ctx, group_id)
            if "name" in attrs and attrs["name"] != group.name:
                if is_default(s, group):
                    raise exc.SecurityGroupCannotUpdateDefault()
                if attrs["name"].lower() == DEFAULT_NAME:
                    raise exc.SecurityGroupDefaultAlreadyExists()
            for key in ("name", "description", "stateful"):
                if key in attrs:
                    setattr(group, key, attrs[key])
            group.touch()
            return views.security_group(group)
        return self.run(work)

    async def delete_security_group(self, ctx: RequestContext, group_id: str) -> None:
        def work(s: Session) -> None:
            group = self.group(s, ctx, group_id)
            default = is_default(s, group)
            if default and not ctx.is_admin:
                raise exc.SecurityGroupCannotRemoveDefault()
            in_use = s.scalar(select(m.PortSecurityGroup.port_id)
                              .where(m.PortSecurityGroup.security_group_id == group.id)
                              .limit(1))
            if in_use:
                raise exc.SecurityGroupInUse(id=group.id)
            for rule in s.scalars(select(m.SecurityGroupRule).where(
                    m.SecurityGroupRule.remote_group_id == group.id)):
                s.delete(rule)
            if default:
                s.delete(s.get(m.DefaultSecurityGroup, group.project_id))
            s.flush()  # rows that refer to the group without a relationship() go first
            s.delete(group)
            logger.info("deleted security group %s", group_id)
        self.run(work)

    # -- rules -------------------------------------------------------------------------------

    async def list_security_group_rules(self, ctx: RequestContext,
                                        query: q.ListQuery | None = None) -> q.Page:
        query = query or q.ListQuery()

        def work(s: Session) -> q.Page:
            if ctx.project_id:
                ensure_default(s, ctx.project_id)
            stmt = (select(m.SecurityGroupRule).where(self.rules_visible(ctx))
                    .order_by(m.SecurityGroupRule.created_at, m.SecurityGroupRule.id))
            for key, column in (("id", m.SecurityGroupRule.id),
                                ("security_group_id", m.SecurityGroupRule.security_group_id)):
                if query.scalar(key):
                    stmt = stmt.where(column.in_(query.scalar(key)))
            items = [views.security_group_rule(r) for r in s.scalars(stmt)]
            return q.apply("security_group_rule", items, query,
                           lambda marker: exc.SecurityGroupRuleNotFound(id=marker))
        return self.run(work)

    async def get_security_group_rule(self, ctx: RequestContext,
                                      rule_id: str) -> dict[str, Any]:
        return self.run(lambda s: views.security_group_rule(self.rule(s, ctx, rule_id)))

    async def create_security_group_rule(self, ctx: RequestContext,
                                         body: Any) -> dict[str, Any]:
        explicit_owner = isinstance(body, dict) and ("project_id" in body or "tenant_id" in body)
        attrs = attributes.prepare("security_group_rule", body, ctx)
        for required in ("security_group_id", "direction"):
            if attrs.get(required) is None:
                raise exc.HTTPBadRequest(
                    f"Failed to parse request. Required attribute '{required}' not specified")
        values = _rule_values(attrs)

        def work(s: Session) -> dict[str, Any]:
            group = self.group(s, ctx, attrs["security_group_id"])
            if not self.owns(ctx, group.project_id):
                raise exc.SecurityGroupNotFound(id=group.id)
            if values["remote_group_id"]:
                self.group(s, ctx, values["remote_group_id"])
            for existing in group.rules:
                if _same_rule(existing, values):
                    raise exc.SecurityGroupRuleExists(rule_id=existing.id)
            rule = m.SecurityGroupRule(
                id=m.new_id(), security_group_id=group.id,
                project_id=attrs["project_id"] if explicit_owner else group.project_id,
                description=attrs.get("description", ""), **values)
            s.add(rule)
            group.touch()
            s.flush()
            return views.security_group_rule(rule)
        return self.run(work)

    async def delete_security_group_rule(self, ctx: RequestContext, rule_id: str) -> None:
        def work(s: Session) -> None:
            rule = self.rule(s, ctx, rule_id)
            group = s.get(m.SecurityGroup, rule.security_group_id)
            s.delete(rule)
            if group is not None:
                group.touch()
        self.run(work)


def _rule_values(attrs: dict[str, Any]) -> dict[str, Any]:
    """Checked and normalised rule fields, with Neutron's validation messages."""
    ethertype = attrs.get("ethertype") or "IPv4"
    match = [e for e in ETHERTYPES if isinstance(ethertype, str) and e.lower() == ethertype.lower()]
    if not match:
        raise attributes.bad("ethertype", f"'{ethertype}' is not in {list(ETHERTYPES)}")
    ethertype = match[0]
    protocol = _protocol(attrs.get("protocol"))
    low, high = attrs.get("port_range_min"), attrs.get("port_range_max")
    if (low is not None or high is not None) and protocol is None:
        raise exc.InvalidInput(error_message="Must also specify protocol if port range is given")
    if protocol in PORT_PROTOCOLS:
        if low is None and high is not None:
            raise exc.InvalidInput(error_message="For TCP/UDP protocols, port_range_min must "
                                                 "be <= port_range_max")
        if low is not None and high is None:
            high = low
        for port in (low, high):
            if port is not None and not 1 <= port <= 65535:
                raise exc.InvalidInput(error_message=f"Invalid value for port {port}")
        if low is not None and low > high:
            raise exc.InvalidInput(error_message="For TCP/UDP protocols, port_range_min must "
                                                 "be <= port_range_max")
    elif protocol in ICMP_PROTOCOLS:
        if low is None and high is not None:
            raise exc.InvalidInput(error_message=(
                f"ICMP code (port-range-max) {high} is provided but ICMP type "
                "(port-range-min) is missing"))
        for field, value in (("type", low), ("code", high)):
            if value is not None and not 0 <= value <= 255:
                raise exc.InvalidInput(error_message=(
                    f"Invalid value for ICMP {field} (port-range-min) {value}. It must be 0 "
                    "to 255"))
    elif low is not None or high is not None:
        raise exc.InvalidInput(error_message=(
            f"Invalid protocol {protocol} for port range, only supported for TCP, UDP, "
            "UDPLITE, SCTP and DCCP"))
    if ethertype == "IPv4" and protocol in ICMPV6_PROTOCOLS:
        raise exc.InvalidInput(error_message=f"Invalid ethertype IPv4 for protocol {protocol}")
    prefix, remote_group = attrs.get("remote_ip_prefix"), attrs.get("remote_group_id")
    if prefix and remote_group:
        raise exc.InvalidInput(error_message="Only remote_ip_prefix or remote_group_id may "
                                             "be provided")
    if prefix:
        net = ipaddress.ip_network(prefix, strict=False)
        if f"IPv{net.version}" != ethertype:
            raise exc.InvalidInput(error_message=(
                f"Conflicting value ethertype {ethertype} for CIDR {prefix}"))
        prefix = str(net)
    return {"direction": attrs["direction"], "ethertype": ethertype, "protocol": protocol,
            "port_range_min": low, "port_range_max": high, "remote_ip_prefix": prefix,
            "remote_group_id": remote_group}


def _protocol(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.lower() in ("", "any")):
        return None
    text = str(value).lower()
    if text.isdigit() and 0 <= int(text) <= 255:
        return str(int(text))
    if text in PROTOCOLS:
        return text
    raise exc.InvalidInput(error_message=(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{list(PROTOCOLS)} and integer representations [0 to 255] are supported"))


def _any_prefix(prefix: str | None) -> str | None:
    return None if prefix in ("0.0.0.0/0", "::/0") else prefix


def _same_rule(rule: m.SecurityGroupRule, values: dict[str, Any]) -> bool:
    return (rule.direction == values["direction"] and rule.ethertype == values["ethertype"]
            and rule.protocol == values["protocol"]
            and rule.port_range_min == values["port_range_min"]
            and rule.port_range_max == values["port_range_max"]
            and rule.remote_group_id == values["remote_group_id"]
            and _any_prefix(rule.remote_ip_prefix) == _any_prefix(values["remote_ip_prefix"]))
