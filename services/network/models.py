"""The network service's tables: networks, subnets, ports, IP allocations, security groups.

Column names follow Neutron's where they are plain; ``binding:*``, ``provider:*`` and
``router:external`` become ``binding_*``, ``network_type``/``physical_network``/
``segmentation_id`` and ``router_external``. ``views.py`` turns rows back into API dicts.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from overcast.clock import utcnow


class Base(DeclarativeBase):
    """The network service's own declarative base: its tables live in its own database."""


def new_id() -> str:
    return str(uuid.uuid4())


class StandardAttrs:
    """Neutron's standard attributes: owner, description, timestamps and revision number."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revision_number: Mapped[int] = mapped_column(Integer, default=1)

    def touch(self) -> None:
        """Record a change: bump the revision and the update time."""
        self.revision_number = (self.revision_number or 0) + 1
        self.updated_at = utcnow()


class Network(StandardAttrs, Base):
    __tablename__ = "networks"
    # A VNI is used once per type; a flat network owns its physical network. NULLs (vxlan's
    # physical network, flat's segmentation id) never collide.
    __table_args__ = (
        UniqueConstraint("network_type", "segmentation_id", name="uq_networks_segment"),
        UniqueConstraint("network_type", "physical_network", name="uq_networks_physnet"),
    )

    name: Mapped[str] = mapped_column(String(255), default="", index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    router_external: Mapped[bool] = mapped_column(Boolean, default=False)
    network_type: Mapped[str] = mapped_column(String(32))
    physical_network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mtu: Mapped[int] = mapped_column(Integer)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    subnets: Mapped[list[Subnet]] = relationship(
        back_populates="network", cascade="all, delete-orphan",
        order_by="(Subnet.created_at, Subnet.id)")


class Subnet(StandardAttrs, Base):
    __tablename__ = "subnets"

    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(255), default="", index=True)
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, default=list)
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    network: Mapped[Network] = relationship(back_populates="subnets")


class Port(StandardAttrs, Base):
    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address", name="uq_ports_mac"),)

    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(255), default="", index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    mac_address: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    binding_host_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    binding_vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    binding_vif_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    binding_vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    binding_profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # True when allocate_for_instance made the port, so deallocating deletes it; ports the
    # user made and handed to a server are only unbound (Nova's preserve_on_delete).
    auto_delete: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    fixed_ips: Mapped[list[IPAllocation]] = relationship(
        cascade="all, delete-orphan", order_by="IPAllocation.id")
    security_group_bindings: Mapped[list[PortSecurityGroup]] = relationship(
        cascade="all, delete-orphan", order_by="PortSecurityGroup.security_group_id")

    @property
    def security_group_ids(self) -> list[str]:
        return [b.security_group_id for b in self.security_group_bindings]


class IPAllocation(Base):
    """One address of a port. Unique per subnet, so two allocations can never collide."""

    __tablename__ = "ipallocations"
    __table_args__ = (UniqueConstraint("subnet_id", "ip_address", name="uq_ipallocations_ip"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"), index=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id", ondelete="CASCADE"),
                                           index=True)
    network_id: Mapped[str] = mapped_column(String(36), index=True)
    ip_address: Mapped[str] = mapped_column(String(64))


class SecurityGroup(StandardAttrs, Base):
    __tablename__ = "securitygroups"

    name: Mapped[str] = mapped_column(String(255), default="", index=True)
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    rules: Mapped[list[SecurityGroupRule]] = relationship(
        cascade="all, delete-orphan", foreign_keys="SecurityGroupRule.security_group_id",
        order_by="(SecurityGroupRule.created_at, SecurityGroupRule.id)")


class DefaultSecurityGroup(Base):
    """Which group is a project's "default"; the primary key makes a second one impossible."""

    __tablename__ = "default_security_groups"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE"))


class SecurityGroupRule(StandardAttrs, Base):
    __tablename__ = "securitygrouprules"

    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE"), index=True)
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=True, index=True)
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8), default="IPv4")
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PortSecurityGroup(Base):
    __tablename__ = "port_security_groups"

    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"),
                                         primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("securitygroups.id", ondelete="CASCADE"), primary_key=True, index=True)
