"""What every part of the network manager shares: transactions with retry, who may see and
change what (Neutron's default policy), and lookups that answer 404 for what is hidden.

Visibility: an admin sees everything. Anyone else sees their own resources; networks that are
shared or external; subnets on any network they see; ports on networks they own (as a network
owner does in Neutron); rules in their own security groups.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db import Database
from services.network import exceptions as exc
from services.network import models as m

logger = logging.getLogger(__name__)

T = TypeVar("T")
_ATTEMPTS = 5


class ManagerBase:
    """Holds the database; the resource mixins of ``NetworkManager`` build on it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction, again if a concurrent writer took the same
        address, MAC, VNI or default group first (the unique constraints tell us)."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self.db.session() as session:
                    return work(session)
            except IntegrityError as error:
                logger.info("concurrent write (attempt %s of %s): %s", attempt, _ATTEMPTS,
                            error.orig)
        raise errors.Conflict("The resource changed concurrently; please retry.")

    # -- visibility, as SQL conditions --------------------------------------------------------

    @staticmethod
    def networks_visible(ctx: RequestContext) -> ColumnElement[bool]:
        if ctx.is_admin:
            return true()
        return or_(m.Network.project_id == ctx.project_id, m.Network.shared.is_(True),
                   m.Network.router_external.is_(True))

    @classmethod
    def subnets_visible(cls, ctx: RequestContext) -> ColumnElement[bool]:
        if ctx.is_admin:
            return true()
        seen_nets = select(m.Network.id).where(
            or_(m.Network.project_id == ctx.project_id, m.Network.shared.is_(True),
                m.Network.router_external.is_(True)))
        return or_(m.Subnet.project_id == ctx.project_id, m.Subnet.network_id.in_(seen_nets))

    @staticmethod
    def ports_visible(ctx: RequestContext) -> ColumnElement[bool]:
        if ctx.is_admin:
            return true()
        own_nets = select(m.Network.id).where(m.Network.project_id == ctx.project_id)
        return or_(m.Port.project_id == ctx.project_id, m.Port.network_id.in_(own_nets))

    @staticmethod
    def groups_visible(ctx: RequestContext) -> ColumnElement[bool]:
        if ctx.is_admin:
            return true()
        return m.SecurityGroup.project_id == ctx.project_id

    @staticmethod
    def rules_visible(ctx: RequestContext) -> ColumnElement[bool]:
        if ctx.is_admin:
            return true()
        own_groups = select(m.SecurityGroup.id).where(
            m.SecurityGroup.project_id == ctx.project_id)
        return or_(m.SecurityGroupRule.project_id == ctx.project_id,
                   m.SecurityGroupRule.security_group_id.in_(own_groups))

    # -- visibility and ownership of one row -------------------------------------------------

    @staticmethod
    def owns(ctx: RequestContext, project_id: str) -> bool:
        return ctx.is_admin or project_id == ctx.project_id

    def can_see_network(self, ctx: RequestContext, net: m.Network) -> bool:
        return self.owns(ctx, net.project_id) or net.shared or net.router_external

    def network(self, s: Session, ctx: RequestContext, net_id: str) -> m.Network:
        net = s.get(m.Network, net_id)
        if net is None or not self.can_see_network(ctx, net):
            raise exc.NetworkNotFound(net_id=net_id)
        return net

    def subnet(self, s: Session, ctx: RequestContext, subnet_id: str) -> m.Subnet:
        sub = s.get(m.Subnet, subnet_id)
        if sub is None or not (self.owns(ctx, sub.project_id) or
                               self.can_see_network(ctx, sub.network)):
            raise exc.SubnetNotFound(subnet_id=subnet_id)
        return sub

    def port(self, s: Session, ctx: RequestContext, port_id: str) -> m.Port:
        row = s.get(m.Port, port_id)
        if row is None:
            raise exc.PortNotFound(port_id=port_id)
        if not self.owns(ctx, row.project_id):
            net = s.get(m.Network, row.network_id)
            if net is None or net.project_id != ctx.project_id:
                raise exc.PortNotFound(port_id=port_id)
        return row

    def group(self, s: Session, ctx: RequestContext, group_id: str) -> m.SecurityGroup:
        row = s.get(m.SecurityGroup, group_id)
        if row is None or not self.owns(ctx, row.project_id):
            raise exc.SecurityGroupNotFound(id=group_id)
        return row

    def rule(self, s: Session, ctx: RequestContext, rule_id: str) -> m.SecurityGroupRule:
        row = s.get(m.SecurityGroupRule, rule_id)
        if row is None:
            raise exc.SecurityGroupRuleNotFound(id=rule_id)
        if not self.owns(ctx, row.project_id):
            group = s.get(m.SecurityGroup, row.security_group_id)
            if group is None or group.project_id != ctx.project_id:
                raise exc.SecurityGroupRuleNotFound(id=rule_id)
        return row

    def require_owner(self, ctx: RequestContext, project_id: str, action: str) -> None:
        """403 for a resource the caller can see but does not own."""
        if not self.owns(ctx, project_id):
            raise exc.PolicyNotAuthorized(action=action)
