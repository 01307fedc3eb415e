"""The image service's logic: image records, their state machine, visibility and members.

States: ``queued`` (no data) -> ``saving`` (upload in progress) -> ``active``. An upload that
fails or is aborted midway leaves the image ``killed`` with its data removed.

Who sees what (as Glance): admins see everything; the owner project sees its images;
``public`` and ``community`` images are seen by all; ``shared`` images by their members.
Only the owner or an admin modifies or deletes an image; only an admin makes it public.
Images nobody may see are reported as not found, so their existence does not leak.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.clock import utcnow
from overcast.context import RequestContext
from overcast.db import Database
from overcast.errors import excerpt
from services.image import fields, query, rootfs
from services.image.models import Image, ImageMember, ImageTag
from services.image.store import ImageStore
from services.image.views import image_view, member_view

logger = logging.getLogger(__name__)

MAX_MEMBERS = 128


@dataclasses.dataclass(frozen=True)
class Change:
    """One JSON-patch operation on an image: ``op`` add, replace or remove on ``path``."""

    op: str
    path: str
    value: Any = None


def _visible(ctx: RequestContext, image: Image) -> bool:
    if ctx.is_admin or _owns(ctx, image):
        return True
    if image.visibility in ("public", "community"):
        return True
    return image.visibility == "shared" and bool(ctx.project_id) and any(
        m.member_id == ctx.project_id for m in image.members)


def _owns(ctx: RequestContext, image: Image) -> bool:
    return bool(ctx.project_id) and image.owner == ctx.project_id


class ImageManager:
    """Image records in ``db`` and their bytes in ``store``."""

    def __init__(self, db: Database, store: ImageStore, *,
                 max_image_size: int = 1 << 40) -> None:
        self.db = db
        self.store = store
        self.max_image_size = max_image_size

    # -- lookups ---------------------------------------------------------------------------

    def _load(self, session: Session, ctx: RequestContext, image_id: str) -> Image:
        image = session.get(Image, image_id) if fields.is_uuid(image_id) else None
        if image is None or not _visible(ctx, image):
            raise errors.NotFound(f"No image found with ID {image_id}")
        return image

    def _load_for_write(self, session: Session, ctx: RequestContext, image_id: str) -> Image:
        image = self._load(session, ctx, image_id)
        if not (ctx.is_admin or _owns(ctx, image)):
            raise errors.Forbidden(f"You are not permitted to modify image {image_id}.")
        return image

    # -- records ---------------------------------------------------------------------------

    async def create_image(self, ctx: RequestContext, body: Mapping[str, Any]) -> dict:
        """A new ``queued`` image from a Glance create body (properties at the top level)."""
        core, properties, tags = fields.split_body(dict(body))
        owner = core.pop("owner", ctx.project_id)
        if owner != ctx.project_id and not ctx.is_admin:
            raise errors.Forbidden(f"You are not permitted to create images owned by '{owner}'.")
        visibility = core.pop("visibility", None) or "shared"
        if visibility == "public" and not ctx.is_admin:
            raise errors.Forbidden("Only administrators may create public images.")
        image_id = core.pop("id", None) or str(uuid.uuid4())
        with self.db.session() as session:
            if session.get(Image, image_id) is not None:
                raise errors.Conflict(f"Image with identifier {image_id} already exists!")
            image = Image(id=image_id, owner=owner, visibility=visibility, status="queued",
                          properties=properties, tags=[ImageTag(value=t) for t in tags],
                          members=[], **core)
            session.add(image)
            session.flush()
            view = image_view(image)
        logger.info("image %s created (%s, %s)", image_id, view["name"], visibility)
        return view

    async def get_image(self, ctx: RequestContext, image_id: str) -> dict:
        with self.db.session() as session:
            return image_view(self._load(session, ctx, image_id))

    async def list_images(self, ctx: RequestContext, *, filters: Mapping[str, Any] | None = None,
                          limit: int | None = None, marker: str | None = None,
                          sort: Sequence[tuple[str, str]] = ()) -> tuple[list[dict], str | None]:
        """One page of the images ``ctx`` may see, and the marker of the next page if full."""
        filters = dict(filters or {})
        size = query.page_size(limit)
        with self.db.session() as session:
            marker_row = None
            if marker:
                try:
                    marker_row = self._load(session, ctx, marker)
                except errors.NotFound:
                    raise errors.BadRequest(
                        f"Invalid marker. Image {marker} could not be found.") from None
            stmt = query.build(ctx, filters=filters, sort=sort, limit=size, marker=marker_row)
            rows = session.scalars(stmt).all()
            images = [image_view(row) for row in rows]
        next_marker = images[-1]["id"] if images and len(images) == size else None
        return images, next_marker

    async def update_image(self, ctx: RequestContext, image_id: str,
                           changes: Sequence[Change]) -> dict:
        """``image_id`` after ``changes``, applied in order and all or nothing."""
        with self.db.session() as session:
            image = self._load_for_write(session, ctx, image_id)
            properties = dict(image.properties or {})
            for change in changes:
                self._apply(ctx, image, properties, change)
            if len(properties) > fields.MAX_PROPERTIES:
                raise errors.PayloadTooLarge(
                    f"Maximum number of properties ({fields.MAX_PROPERTIES}) exceeded.")
            image.properties = properties
            if changes:
                image.updated_at = utcnow()
            session.flush()
            return image_view(image)

    def _apply(self, ctx: RequestContext, image: Image, properties: dict[str, str],
               change: Change) -> None:
        name = change.path
        if change.op not in ("add", "replace", "remove"):
            raise errors.BadRequest(f"Invalid operation: `{change.op}`. It must be one of the "
                                    "following: add, remove, replace.")
        fields.check_attribute_name(name)
        if change.op == "remove":
            if name in fields.CORE:
                raise errors.Forbidden(f"Property {excerpt(name)} may not be removed.")
            if name not in properties:
                raise errors.Conflict(f"Property {excerpt(name)} does not exist.")
            del properties[name]
            return
        value = fields.check_value(name, change.value)
        if name not in fields.WRITABLE:
            if change.op == "replace" and name not in properties:
                raise errors.Conflict(f"Property {excerpt(name)} does not exist.")
            properties[name] = value
            return
        if name == "owner" and value != image.owner and not ctx.is_admin:
            raise errors.Forbidden("Owner can't be updated by non admin.")
        if name == "visibility" and value == "public" and image.visibility != "public" \
                and not ctx.is_admin:
            raise errors.Forbidden("Only administrators may make images public.")
        if name in ("disk_format", "container_format") and image.status != "queued" \
                and value != getattr(image, name):
            raise errors.Forbidden(f"Attribute {name} can be only replaced for a queued image.")
        if name == "tags":
            self._set_tags(image, value)
        else:
            setattr(image, name, value)

    @staticmethod
    def _set_tags(image: Image, tags: list[str]) -> None:
        keep = [t for t in image.tags if t.value in tags]
        have = {t.value for t in keep}
        image.tags = keep + [ImageTag(value=t) for t in tags if t not in have]

    async def delete_image(self, ctx: RequestContext, image_id: str) -> None:
        with self.db.session() as session:
            image = self._load_for_write(session, ctx, image_id)
            if image.protected:
                raise errors.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            session.delete(image)
        self.store.delete(image_id)
        logger.info("image %s deleted", image_id)

    async def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Tag ``image_id`` (idempotent)."""
        if not isinstance(tag, str) or not tag or len(tag) > 255:
            raise errors.BadRequest("A tag must be a string of 1 to 255 characters.")
        with self.db.session() as session:
            image = self._load_for_write(session, ctx, image_id)
            if tag not in image.tag_values:
                if len(image.tags) >= fields.MAX_TAGS:
                    raise errors.PayloadTooLarge(
                        f"Maximum number of tags ({fields.MAX_TAGS}) exceeded.")
                image.tags.append(ImageTag(value=tag))
                image.updated_at = utcnow()

    async def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        with self.db.session() as session:
            image = self._load_for_write(session, ctx, image_id)
            found = [t for t in image.tags if t.value == tag]
            if not found:
                raise errors.NotFound(f"Tag {tag} not found on image {image_id}.")
            image.tags.remove(found[0])
            image.updated_at = utcnow()

    # -- data ------------------------------------------------------------------------------

    async def upload(self, ctx: RequestContext, image_id: str,
                     chunks: AsyncIterator[bytes]) -> dict:
        """Store ``chunks`` as the data of a ``queued`` image and make it ``active``.

        Every check (owner or admin, status, formats) is made and the image claimed
        (``saving``) before ``chunks`` is first read, so a refused upload reads no data.
        """
        with self.db.session() as session:
            image = self._load_for_write(session, ctx, image_id)
            if image.status != "queued":
                raise errors.Conflict(
                    f"Image status transition from {image.status} to saving is not allowed")
            if not image.disk_format or not image.container_format:
                raise errors.BadRequest("Properties disk_format, container_format must be set "
                                        "prior to saving data.")
            claimed = session.execute(
                update(Image).where(Image.id == image_id, Image.status == "queued")
                .values(status="saving", updated_at=utcnow())).rowcount
            if not claimed:  # another upload won the race
                raise errors.Conflict(
                    "Image status transition from saving to saving is not allowed")
        logger.info("image %s saving", image_id)
        recorder = rootfs.HeadRecorder(chunks)
        try:
            stored = await self.store.write(image_id, aiter(recorder),
                                            max_size=self.max_image_size)
        except BaseException as exc:
            # Cancellation (the client went away) lands here too; cleanup must not await.
            self.store.delete(image_id)
            self._set_status(image_id, "killed", expected="saving")
            logger.warning("image %s killed: upload failed: %s", image_id,
                           type(exc).__name__ if not str(exc) else exc)
            raise
        with self.db.session() as session:
            done = session.execute(
                update(Image).where(Image.id == image_id, Image.status == "saving")
                .values(status="active", size=stored.size, checksum=stored.md5,
                        os_hash_algo=fields.HASH_ALGO, os_hash_value=stored.sha512,
                        updated_at=utcnow())).rowcount
            if not done:
                self.store.delete(image_id)
                raise errors.Conflict(f"Image {image_id} could not be found after upload. "
                                      "The image may have been deleted during the upload.")
            image = session.get(Image, image_id)
            archive = recorder.format()
            if archive is not None:
                image.properties = {**(image.properties or {}), rootfs.PROPERTY: archive}
                session.flush()
            view = image_view(image)
        logger.info("image %s active (%s bytes)", image_id, stored.size)
        return view

    def _set_status(self, image_id: str, status: str, *, expected: str) -> None:
        with self.db.session() as session:
            session.execute(update(Image).where(Image.id == image_id, Image.status == expected)
                            .values(status=status, size=None, checksum=None,
                                    os_hash_algo=None, os_hash_value=None,
                                    updated_at=utcnow()))

    async def open_download(self, ctx: RequestContext, image_id: str, *, offset: int = 0,
                            length: int | None = None
                            ) -> tuple[dict, AsyncIterator[bytes] | None]:
        """The image and an iterator over its data (``length`` bytes from ``offset``, or all
        the rest); None instead when it has no data. ``BadRequest`` for a range that does not
        lie within the data (the REST edge answers 416 before asking for one)."""
        with self.db.session() as session:
            image = self._load(session, ctx, image_id)
            if image.status == "deactivated" and not ctx.is_admin:
                raise errors.Forbidden("The requested image has been deactivated. "
                                       "Image data download is forbidden.")
            view = image_view(image)
        if view["status"] != "active":
            return view, None
        size = view["size"] or 0
        if offset < 0 or offset > size or (length is not None and (
                length < 1 or offset + length > size)):
            raise errors.BadRequest(f"The byte range starting at {offset} "
                                    f"({'to the end' if length is None else length}) is not "
                                    f"within image {image_id}'s {size} bytes.")
        return view, self.store.open(image_id, offset=offset, length=length)

    def recover(self) -> int:
        """Kill images left ``saving`` by a crash and drop partial data; the count killed."""
        self.store.cleanup()
        with self.db.session() as session:
            stuck = session.scalars(select(Image.id).where(Image.status == "saving")).all()
        for image_id in stuck:
            self.store.delete(image_id)
            self._set_status(image_id, "killed", expected="saving")
            logger.warning("image %s killed: its upload was interrupted", image_id)
        return len(stuck)

    # -- members ---------------------------------------------------------------------------

    @staticmethod
    def _shared(image: Image, action: str) -> None:
        """``Forbidden`` unless the image is ``shared``: private, public and community images
        have no members (Glance's message names the refused ``action``)."""
        if image.visibility != "shared":
            detail = ": Only shared images have members" if action == "list" else ""
            raise errors.Forbidden(f"Not allowed to {action} members for image "
                                   f"{image.id}{detail}.")

    @staticmethod
    def _member(image: Image, member_id: str) -> ImageMember:
        for member in image.members:
            if member.member_id == member_id:
                return member
        raise errors.NotFound(
            f"{member_id} not found in the member list of the image {image.id}.")

    async def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict:
        if not isinstance(member_id, str) or not member_id.strip() or len(member_id) > 255:
            raise errors.BadRequest("Member can't be empty")
        with self.db.session() as session:
            image = self._load_for_write(session, ctx, image_id)
            self._shared(image, "create")
            if any(m.member_id == member_id for m in image.members):
                raise errors.Conflict(
                    f"Member {member_id} is duplicated for image {image_id}")
            if len(image.members) >= MAX_MEMBERS:
                raise errors.PayloadTooLarge(
                    f"Image member limit exceeded for image {image_id}.")
            member = ImageMember(member_id=member_id, status="pending")
            image.members.append(member)
            session.flush()
            logger.info("image %s shared with %s", image_id, member_id)
            return member_view(member)

    async def get_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict:
        with self.db.session() as session:
            image = self._load(session, ctx, image_id)
            if image.visibility != "shared" or not (
                    ctx.is_admin or _owns(ctx, image) or member_id == ctx.project_id):
                raise errors.NotFound(
                    f"{member_id} not found in the member list of the image {image_id}.")
            return member_view(self._member(image, member_id))

    async def list_members(self, ctx: RequestContext, image_id: str) -> list[dict]:
        """All members for the owner; a member sees only its own membership."""
        with self.db.session() as session:
            image = self._load(session, ctx, image_id)
            self._shared(image, "list")
            members = sorted(image.members, key=lambda m: (m.created_at, m.id))
            if not (ctx.is_admin or _owns(ctx, image)):
                members = [m for m in members if m.member_id == ctx.project_id]
            return [member_view(m) for m in members]

    async def update_member(self, ctx: RequestContext, image_id: str, member_id: str,
                            status: str) -> dict:
        """Accept, reject or reset a share; only the member itself (or an admin) may."""
        if status not in fields.MEMBER_STATUSES:
            raise errors.BadRequest(f"Incorrect request: invalid member status {excerpt(status)}")
        with self.db.session() as session:
            image = self._load(session, ctx, image_id)
            self._shared(image, "update")
            member = self._member(image, member_id)
            if not (ctx.is_admin or member_id == ctx.project_id):
                raise errors.Forbidden(f"Not allowed to update members for image {image_id}.")
            member.status = status
            member.updated_at = utcnow()
            session.flush()
            logger.info("image %s member %s %s", image_id, member_id, status)
            return member_view(member)

    async def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        with self.db.session() as session:
            image = self._load(session, ctx, image_id)
            self._shared(image, "delete")
            member = self._member(image, member_id)
            if not (ctx.is_admin or _owns(ctx, image)):
                raise errors.Forbidden(f"Not allowed to delete members for image {image_id}.")
            image.members.remove(member)
