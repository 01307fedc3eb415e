"""The volume service's own tables (its own database): volumes and their attachments,
snapshots, backups, volume types, per-project quota limits and its service heartbeats.

Rows are removed when their resource is gone (no soft deletion): usage for quotas is counted
from what exists, so it can never drift from it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from overcast.clock import utcnow


class Base(DeclarativeBase):
    """The volume service's declarative base (its own database)."""


class VolumeType(Base):
    __tablename__ = "volume_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, onupdate=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description,
                "is_public": self.is_public, "extra_specs": dict(self.extra_specs or {}),
                "created_at": self.created_at, "updated_at": self.updated_at}


class Volume(Base):
    __tablename__ = "volumes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    previous_status: Mapped[str | None] = mapped_column(String(32))
    attach_status: Mapped[str] = mapped_column(String(32), default="detached")
    availability_zone: Mapped[str] = mapped_column(String(255))
    volume_type_id: Mapped[str] = mapped_column(String(36), index=True)
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # Cinder's admin metadata the API shows among the metadata once set: ``readonly``
    # ("True"/"False", from os-update_readonly_flag or an os-attach) and ``attached_mode``
    # (while an os-attach's attachment lasts). None until something sets one.
    admin_metadata: Mapped[dict | None] = mapped_column(JSON)
    # Where the data comes from (kept so that an interrupted creation can run again).
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    source_volid: Mapped[str | None] = mapped_column(String(36))
    image_id: Mapped[str | None] = mapped_column(String(36))
    # The size an extension in progress grows the volume to (Cinder's extend_new_size).
    extend_to: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    # The image's properties for a volume made from one (Cinder's glance metadata).
    image_metadata: Mapped[dict] = mapped_column(JSON, default=dict)
    fail_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, onupdate=utcnow)
    launched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="volume", cascade="all, delete-orphan", lazy="selectin",
        order_by="Attachment.created_at")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "project_id": self.project_id, "user_id": self.user_id,
                "name": self.name, "description": self.description, "size": self.size,
                "status": self.status, "attach_status": self.attach_status,
                "availability_zone": self.availability_zone,
                "volume_type_id": self.volume_type_id, "bootable": self.bootable,
                "read_only": self.read_only, "snapshot_id": self.snapshot_id,
                "source_volid": self.source_volid, "image_id": self.image_id,
                "metadata": dict(self.metadata_ or {}),
                "admin_metadata": dict(self.admin_metadata or {}),
                "image_metadata": dict(self.image_metadata or {}),
                "created_at": self.created_at, "updated_at": self.updated_at,
                "fail_reason": self.fail_reason,
                "attachments": [a.as_dict() for a in self.attachments]}


class Attachment(Base):
    """One attachment of a volume to an instance (Cinder's volume_attachment)."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id", ondelete="CASCADE"),
                                           index=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(32))
    attached_host: Mapped[str | None] = mapped_column(String(255))
    mountpoint: Mapped[str | None] = mapped_column(String(255))
    connector: Mapped[dict | None] = mapped_column(JSON)
    attach_mode: Mapped[str] = mapped_column(String(8), default="rw")
    attach_time: Mapped[dt.datetime | None] = mapped_column(DateTime)
    detach_time: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, onupdate=utcnow)

    volume: Mapped[Volume] = relationship(back_populates="attachments")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "volume_id": self.volume_id, "instance_id": self.instance_id,
                "status": self.status, "attached_host": self.attached_host,
                "mountpoint": self.mountpoint, "connector": self.connector,
                "attach_mode": self.attach_mode, "attach_time": self.attach_time,
                "detach_time": self.detach_time}


class Snapshot(Base):
    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    volume_type_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), index=True)
    volume_size: Mapped[int] = mapped_column(Integer)
    progress: Mapped[str | None] = mapped_column(String(8))
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, onupdate=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "project_id": self.project_id, "user_id": self.user_id,
                "volume_id": self.volume_id, "volume_type_id": self.volume_type_id,
                "name": self.name, "description": self.description, "status": self.status,
                "size": self.volume_size, "progress": self.progress,
                "metadata": dict(self.metadata_ or {}), "created_at": self.created_at,
                "updated_at": self.updated_at}


class Backup(Base):
    __tablename__ = "backups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), index=True)
    size: Mapped[int] = mapped_column(Integer)
    container: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    parent_id: Mapped[str | None] = mapped_column(String(36), index=True)
    is_incremental: Mapped[bool] = mapped_column(Boolean, default=False)
    fail_reason: Mapped[str | None] = mapped_column(Text)
    # What the backup store wrote: chunks, their hashes and names (SwiftBackupStore).
    manifest: Mapped[dict | None] = mapped_column(JSON)
    object_count: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # The volume being restored into while ``restoring``.
    restore_volume_id: Mapped[str | None] = mapped_column(String(36))
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    # What the volume was when backed up, for its restores (Cinder's backup metadata):
    # name, description, metadata and image metadata. None for backups made before.
    volume_meta: Mapped[dict | None] = mapped_column(JSON)
    data_timestamp: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, onupdate=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "project_id": self.project_id, "user_id": self.user_id,
                "volume_id": self.volume_id, "snapshot_id": self.snapshot_id,
                "name": self.name, "description": self.description, "status": self.status,
                "size": self.size, "container": self.container,
                "availability_zone": self.availability_zone, "parent_id": self.parent_id,
                "is_incremental": self.is_incremental, "fail_reason": self.fail_reason,
                "object_count": self.object_count, "metadata": dict(self.metadata_ or {}),
                "data_timestamp": self.data_timestamp, "created_at": self.created_at,
                "updated_at": self.updated_at}


class Quota(Base):
    """A project's own limit for one resource (defaults come from the configuration)."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    resource: Mapped[str] = mapped_column(String(300))
    hard_limit: Mapped[int] = mapped_column(Integer)


class VolumeTypeAccess(Base):
    """A project that may use a private volume type (Cinder's volume_type_projects)."""

    __tablename__ = "volume_type_access"
    __table_args__ = (UniqueConstraint("volume_type_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    volume_type_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(255))


class QuotaClass(Base):
    """A quota class's limit for one resource (Cinder's quota_classes): the ``default``
    class's limits are every project's defaults, over the configuration's."""

    __tablename__ = "quota_classes"
    __table_args__ = (UniqueConstraint("class_name", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    class_name: Mapped[str] = mapped_column(String(255), index=True)
    resource: Mapped[str] = mapped_column(String(300))
    hard_limit: Mapped[int] = mapped_column(Integer)


class ServiceRecord(Base):
    """One of this process's services (``cinder-volume``, ``cinder-backup``) and its last
    heartbeat, written by the process itself after checking what the service needs."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("host", "binary"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    availability_zone: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    # An admin froze the backend (Cinder's freeze): no volume or snapshot is deleted and
    # no snapshot taken on it until it is thawed.
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last heartbeat: the time the service last found what it needs working.
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
