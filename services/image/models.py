"""The image service's tables: images, their tags and their members."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from overcast.clock import utcnow


class Base(DeclarativeBase):
    """The image service's own declarative base (its own database)."""


class Image(Base):
    __tablename__ = "images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(30), default="queued", index=True)
    visibility: Mapped[str] = mapped_column(String(20), default="shared", index=True)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    disk_format: Mapped[str | None] = mapped_column(String(20))
    container_format: Mapped[str | None] = mapped_column(String(20))
    size: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # User properties ("extra properties" in Glance): {name: string value}.
    properties: Mapped[dict] = mapped_column(JSON, default=dict)

    tags: Mapped[list[ImageTag]] = relationship(
        back_populates="image", cascade="all, delete-orphan", lazy="selectin",
        order_by="ImageTag.id")
    members: Mapped[list[ImageMember]] = relationship(
        back_populates="image", cascade="all, delete-orphan", lazy="selectin")

    @property
    def tag_values(self) -> list[str]:
        return [t.value for t in self.tags]


class ImageTag(Base):
    """One tag of an image; a table of its own so that lists can filter on tags in SQL."""

    __tablename__ = "image_tags"
    __table_args__ = (UniqueConstraint("image_id", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"),
                                          index=True)
    value: Mapped[str] = mapped_column(String(255), index=True)

    image: Mapped[Image] = relationship(back_populates="tags")


class ImageMember(Base):
    """A project an image with visibility ``shared`` is shared with."""

    __tablename__ = "image_members"
    __table_args__ = (UniqueConstraint("image_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"),
                                          index=True)
    member_id: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    image: Mapped[Image] = relationship(back_populates="members")
