"""Volumes: create (empty, from an image, a snapshot or another volume), list, show,
update, metadata, extend, bootable and read-only flags, status reset and delete.

State machine (Cinder's): a create is answered at once with ``creating`` and the backend
makes the file in the background (``available``, or ``error``); delete is ``deleting`` then
gone (``error_deleting`` when the backend fails); extend is ``extending`` then ``available``
at the new size (``error_extending``). Every check and the write it allows happen in one
database session with no await between, so a refused request leaves nothing behind.
"""
from __future__ import annotations

import logging
import math
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from overcast import errors
from overcast.clock import utcnow
from overcast.context import RequestContext
from overcast.errors import excerpt
from services.volume import access, faults, images, paging, states
from services.volume import validation as check
from services.volume.heartbeats import assert_not_frozen
from services.volume.models import Snapshot, Volume, VolumeType
from services.volume.shared import Shared, type_names, volume_record
from services.volume.volume_types import VolumeTypes

logger = logging.getLogger(__name__)

GiB = 1 << 30
SORT_KEYS = ("id", "name", "status", "size", "created_at", "updated_at", "availability_zone",
             "bootable", "project_id", "volume_type")
UNSET: Any = object()


def _lock(volume_id: str) -> str:
    return f"volume:{volume_id}"


class Volumes:
    def __init__(self, shared: Shared, types: VolumeTypes) -> None:
        self.shared = shared
        self.db = shared.db
        self.types = types

    # -- reading ---------------------------------------------------------------------------

    def get(self, ctx: RequestContext, volume_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            return volume_record(access.load_volume(session, ctx, volume_id),
                                 type_names(session))

    def list(self, ctx: RequestContext, *, filters: Mapping[str, Any] | None = None,
             page: paging.Page = paging.FIRST_PAGE, all_tenants: bool = False
             ) -> tuple[list[dict[str, Any]], int]:
        """One page of the volumes ``ctx`` may list and how many match in all. A project
        lists its own; an admin lists its own unless ``all_tenants`` (then every project's,
        or ``filters["project_id"]``'s)."""
        filters = dict(filters or {})
        with self.db.session() as session:
            query = select(Volume)
            project = filters.pop("project_id", None) if ctx.is_admin else None
            if not (ctx.is_admin and all_tenants):
                query = query.where(Volume.project_id == access.owner(ctx))
            elif project:
                query = query.where(Volume.project_id == project)
            names = type_names(session)
            records = [volume_record(v, names) for v in session.scalars(query)]
        matching = [r for r in records if _matches(r, filters)]
        return paging.apply(matching, page), len(matching)

    def summary(self, ctx: RequestContext, *, all_tenants: bool = False) -> dict[str, Any]:
        """Cinder's volume summary: how many volumes, their total size in GiB, and every
        metadata key with the distinct values the volumes give it. A project sums its own;
        an admin with ``all_tenants`` sums every project's."""
        with self.db.session() as session:
            query = select(Volume.size, Volume.metadata_)
            if not (ctx.is_admin and all_tenants):
                query = query.where(Volume.project_id == access.owner(ctx))
            rows = session.execute(query).all()
        metadata: dict[str, list[str]] = {}
        for _, meta in rows:
            for key, value in (meta or {}).items():
                values = metadata.setdefault(key, [])
                if value not in values:
                    values.append(value)
        return {"total_count": len(rows), "total_size": sum(size for size, _ in rows),
                "metadata": metadata}

    # -- create ----------------------------------------------------------------------------

    async def create(self, ctx: RequestContext, *, size: object = None, name: object = None,
                     description: object = None, metadata: object = None,
                     volume_type: object = None, availability_zone: object = None,
                     snapshot_id: object = None, source_volid: object = None,
                     image_id: object = None, volume_id: str | None = None
                     ) -> dict[str, Any]:
        """Record a new volume (``creating``) and start making it; the record.

        Checks, in Cinder's order, before anything is written: the sources exist and may
        be read (404 otherwise), the size (taken from the source when not given) is a whole
        number no smaller than the source, the zone is this one, and the project's quotas
        allow it (413)."""
        project = access.owner(ctx)
        name = check.name(name)
        description = check.description(description)
        metadata = check.metadata(metadata)
        snapshot_id = check.optional_id(snapshot_id, field="snapshot_id")
        source_volid = check.optional_id(source_volid, field="source_volid")
        image_id = check.optional_id(image_id, field="imageRef")
        if sum(x is not None for x in (snapshot_id, source_volid, image_id)) > 1:
            raise faults.InvalidInput("Only one of snapshot_id, source_volid and imageRef "
                                      "may be given.")
        zone = self.shared.settings.zone
        if availability_zone is not None and availability_zone != zone:
            raise faults.InvalidAvailabilityZone(availability_zone)
        image = await self._image(ctx, image_id) if image_id else None
        with self.db.session() as session:
            if volume_id is not None and session.get(Volume, volume_id) is not None:
                raise errors.Conflict(f"Volume {volume_id} already exists.")
            type_row = None
            bootable, image_meta = False, {}
            if snapshot_id is not None:
                snap = access.load_snapshot(session, ctx, snapshot_id)
                if snap.status != states.AVAILABLE:
                    raise faults.InvalidSnapshot("Originating snapshot status must be one of "
                                                 "'available' values")
                size = snap.volume_size if size is None else check.size(size)
                if size < snap.volume_size:
                    raise faults.InvalidInput(
                        f"Volume size '{size}'GB cannot be smaller than the snapshot size "
                        f"{snap.volume_size}GB. They must be >= original snapshot size.")
                source = session.get(Volume, snap.volume_id)
                bootable = bool(source and source.bootable)
                image_meta = dict(source.image_metadata or {}) if source else {}
                type_row = session.get(VolumeType, snap.volume_type_id)
            elif source_volid is not None:
                src = access.load_volume(session, ctx, source_volid)
                if src.status not in states.SOURCE_VOLUME_OK:
                    raise faults.InvalidVolume("Originating volume status must be one of "
                                               f"'{', '.join(states.SOURCE_VOLUME_OK)}' values")
                size = src.size if size is None else check.size(size)
                if size < src.size:
                    raise faults.InvalidInput(
                        f"Volume size '{size}'GB cannot be smaller than original volume size "
                        f" {src.size}GB. They must be >= original volume size.")
                bootable, image_meta = src.bootable, dict(src.image_metadata or {})
                type_row = session.get(VolumeType, src.volume_type_id)
            else:
                size = check.size(size)
            if image is not None:
                _check_image_fits(image, size)
                bootable, image_meta = True, images.volume_image_metadata(image)
            if volume_type is not None:
                requested = self.types.find(session, ctx, volume_type)
                if type_row is not None and requested.id != type_row.id:
                    raise faults.InvalidInput("Volume type of a new volume must be that of its "
                                              "source.")
                type_row = requested
            type_row = type_row or self.types.default_row(session)
            self.shared.quotas.check(session, project,
                                     self.shared.quotas.volume_deltas(type_row.name, size),
                                     kind="volumes", size=size)
            volume = Volume(id=volume_id or str(uuid.uuid4()), project_id=project,
                            user_id=ctx.user_id, name=name, description=description,
                            size=size, status=states.CREATING, attach_status=states.DETACHED,
                            availability_zone=zone, volume_type_id=type_row.id,
                            bootable=bootable, snapshot_id=snapshot_id,
                            source_volid=source_volid, image_id=image_id,
                            metadata_=metadata, image_metadata=image_meta)
            session.add(volume)
            session.flush()
            record = volume_record(volume, type_names(session))
        logger.info("volume %s (%s GiB) creating for project %s", record["id"], size, project)
        self.shared.work.spawn(f"create-volume-{record['id']}", self.build(ctx, record["id"]))
        return record

    async def _image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        if self.shared.images is None:
            raise faults.InvalidInput("Volumes from images are not available: this service "
                                      "has no image service.")
        try:
            image = await self.shared.images.get_image(ctx, image_id)
        except errors.NotFound:
            raise faults.image_not_found(image_id) from None
        if image.get("status") != "active":
            raise faults.InvalidInput(f"Image {image_id} is not active.")
        return image

    async def build(self, ctx: RequestContext, volume_id: str) -> None:
        """Make the volume's file and mark it ``available``; ``error`` with the reason when
        that fails. Nothing happens unless the volume is still ``creating``. Run again after
        a restart, it relies on the backend: a creation is atomic and repeating one that
        finished does nothing."""
        with self.db.session() as session:
            volume = session.get(Volume, volume_id)
            if volume is None or volume.status != states.CREATING:
                return
            plan = volume.as_dict()
        keys = [_lock(volume_id)]
        if plan["snapshot_id"]:
            keys.append(f"snapshot:{plan['snapshot_id']}")
        if plan["source_volid"]:
            keys.append(_lock(plan["source_volid"]))
        backend = self.shared.backend
        try:
            async with self.shared.work.exclusive(*keys):
                if plan["image_id"]:
                    await self._from_image(ctx, plan)
                elif plan["snapshot_id"]:
                    await self.shared.blocking(backend.create_from_snapshot, volume_id,
                                               plan["snapshot_id"], plan["size"])
                elif plan["source_volid"]:
                    await self.shared.blocking(backend.create_from_volume, volume_id,
                                               plan["source_volid"], plan["size"])
                else:
                    await self.shared.blocking(backend.create, volume_id, plan["size"])
        except Exception as exc:  # noqa: BLE001 - any failure of the backend or the image leaves the volume in error
            logger.warning("volume %s could not be created: %s", volume_id, exc)
            self._finish(volume_id, expect=states.CREATING, status=states.ERROR,
                         fail_reason=str(exc) or type(exc).__name__)
            return
        if self._finish(volume_id, expect=states.CREATING, status=states.AVAILABLE):
            logger.info("volume %s available", volume_id)

    async def _from_image(self, ctx: RequestContext, plan: dict[str, Any]) -> None:
        assert self.shared.images is not None
        work_dir = self.shared.settings.work_dir
        await self.shared.blocking(lambda: work_dir.mkdir(parents=True, exist_ok=True))
        with tempfile.TemporaryDirectory(prefix="image-", dir=work_dir) as tmp:
            target = Path(tmp, "image")
            await self.shared.images.download(ctx, plan["image_id"], target)
            await self.shared.blocking(self.shared.backend.create_from_image, plan["id"],
                                       plan["size"], target)

    def _finish(self, volume_id: str, *, expect: str, status: str,
                fail_reason: str | None = None, **changes: Any) -> bool:
        """Set ``status`` (and ``changes``) if the volume is still ``expect``; whether it
        was."""
        with self.db.session() as session:
            volume = session.get(Volume, volume_id)
            if volume is None or volume.status != expect:
                return False
            volume.status = status
            volume.fail_reason = fail_reason
            if status == states.AVAILABLE and volume.launched_at is None:
                volume.launched_at = utcnow()
            for key, value in changes.items():
                setattr(volume, key, value)
            return True

    # -- update and metadata ---------------------------------------------------------------

    def update(self, ctx: RequestContext, volume_id: str, *, name: object = UNSET,
               description: object = UNSET, metadata: object = UNSET) -> dict[str, Any]:
        """Rename, describe, or replace the metadata of a volume (Cinder's PUT)."""
        changes: dict[str, Any] = {}
        if name is not UNSET:
            changes["name"] = check.name(name)
        if description is not UNSET:
            changes["description"] = check.description(description)
        if metadata is not UNSET:
            changes["metadata_"] = check.metadata(metadata)
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            for key, value in changes.items():
                setattr(volume, key, value)
            session.flush()
            return volume_record(volume, type_names(session))

    def metadata(self, ctx: RequestContext, volume_id: str) -> dict[str, str]:
        with self.db.session() as session:
            return dict(access.load_volume(session, ctx, volume_id).metadata_ or {})

    def set_metadata(self, ctx: RequestContext, volume_id: str, metadata: object, *,
                     replace: bool) -> dict[str, str]:
        """Merge ``metadata`` into the volume's (POST), or replace it (PUT); the result."""
        clean = check.metadata(metadata)
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            volume.metadata_ = clean if replace else check.metadata_count(
                {**(volume.metadata_ or {}), **clean})
            return dict(volume.metadata_)

    def delete_metadata_key(self, ctx: RequestContext, volume_id: str, key: str) -> None:
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            meta = dict(volume.metadata_ or {})
            if key not in meta:
                raise errors.NotFound(f"Volume {volume_id} has no metadata with key "
                                      f"{excerpt(key)}.")
            del meta[key]
            volume.metadata_ = meta

    def image_metadata(self, ctx: RequestContext, volume_id: str) -> dict[str, str]:
        with self.db.session() as session:
            return dict(access.load_volume(session, ctx, volume_id).image_metadata or {})

    def set_image_metadata(self, ctx: RequestContext, volume_id: str, metadata: object
                           ) -> dict[str, str]:
        """Merge into the volume's image metadata (Cinder's os-set_image_metadata)."""
        clean = check.metadata(metadata)
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            volume.image_metadata = check.metadata_count(
                {**(volume.image_metadata or {}), **clean})
            return dict(volume.image_metadata)

    def unset_image_metadata(self, ctx: RequestContext, volume_id: str, key: object) -> None:
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            meta = dict(volume.image_metadata or {})
            if not isinstance(key, str) or key not in meta:
                raise errors.NotFound(f"Glance metadata for volume {volume_id} with key "
                                      f"{excerpt(key)} could not be found.")
            del meta[key]
            volume.image_metadata = meta

    # -- actions ---------------------------------------------------------------------------

    def extend(self, ctx: RequestContext, volume_id: str, new_size: object) -> None:
        """Grow an ``available`` volume to ``new_size`` GiB (``extending`` meanwhile)."""
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            size = check.size(new_size, field="new_size")
            if size <= volume.size:
                raise faults.InvalidInput(f"New size for extend must be greater than current "
                                          f"size. (current: {volume.size}, extended: {size}).")
            if volume.status != states.AVAILABLE:
                raise faults.InvalidVolume(f"Volume {volume.id} status must be 'available' to "
                                           f"extend, currently {volume.status}.")
            type_name = type_names(session).get(volume.volume_type_id, "")
            limit = self.shared.quotas.limits(session, volume.project_id).get(
                "per_volume_gigabytes", -1)
            if limit != -1 and size > limit:
                raise faults.size_exceeds_limit(size=size, limit=limit)
            self.shared.quotas.check(
                session, volume.project_id,
                self.shared.quotas.volume_deltas(type_name, size - volume.size, count=0),
                kind="volumes", size=size - volume.size)
            volume.previous_status = volume.status
            volume.status = states.EXTENDING
            volume.extend_to = size
        logger.info("volume %s extending to %s GiB", volume_id, size)
        self.shared.work.spawn(f"extend-volume-{volume_id}", self.grow(volume_id))

    async def grow(self, volume_id: str) -> None:
        """Extend the file to the size recorded (again, after a restart)."""
        with self.db.session() as session:
            volume = session.get(Volume, volume_id)
            if volume is None or volume.status != states.EXTENDING or not volume.extend_to:
                return
            size = volume.extend_to
        try:
            async with self.shared.work.exclusive(_lock(volume_id)):
                await self.shared.blocking(self.shared.backend.extend, volume_id, size)
        except Exception as exc:  # noqa: BLE001 - any failure of the backend leaves the volume in error_extending
            logger.warning("volume %s could not be extended: %s", volume_id, exc)
            self._finish(volume_id, expect=states.EXTENDING, status=states.ERROR_EXTENDING,
                         fail_reason=str(exc), extend_to=None)
            return
        self._finish(volume_id, expect=states.EXTENDING, status=states.AVAILABLE, size=size,
                     extend_to=None)
        logger.info("volume %s extended to %s GiB", volume_id, size)

    def retype(self, ctx: RequestContext, volume_id: str, new_type: object,
               migration_policy: object = None) -> None:
        """Give an ``available`` or ``in-use`` volume another type (Cinder's os-retype).
        Every type lives on the one file backend, so a retype never needs a migration:
        the volume stays where it is and only its type (and the per-type quota usage it
        counts in) changes, whatever ``migration_policy`` allows. 400 for an unknown type
        or the volume's own, 413 when the new type's quotas do not allow the volume."""
        if migration_policy not in (None, "never", "on-demand"):
            raise check.invalid_field("migration_policy", migration_policy,
                                      "It must be 'never' or 'on-demand'.")
        if not isinstance(new_type, str):
            raise check.invalid_field("new_type", new_type, "It must be a string.")
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            try:
                row = self.types.find(session, ctx, new_type)
            except errors.NotFound:
                raise faults.InvalidInput(f"Invalid volume_type passed: "
                                          f"{excerpt(new_type)}.") from None
            if volume.status not in (states.AVAILABLE, states.IN_USE) \
                    or row.id == volume.volume_type_id:
                raise faults.InvalidVolume(
                    "Retype needs volume to be in available or in-use state, not be part of "
                    "an active migration or a consistency group, requested type has to be "
                    "different that the one from the volume, and for in-use volumes "
                    "front-end qos specs cannot change.")
            deltas = {f"volumes_{row.name}": 1, f"gigabytes_{row.name}": volume.size}
            self.shared.quotas.check(session, volume.project_id, deltas, kind="volumes",
                                     size=volume.size)
            volume.volume_type_id = row.id
        logger.info("volume %s retyped to %s", volume_id, row.name)

    def set_bootable(self, ctx: RequestContext, volume_id: str, bootable: object) -> None:
        flag = check.boolean(bootable, field="bootable")
        with self.db.session() as session:
            access.load_volume(session, ctx, volume_id).bootable = flag

    def set_readonly(self, ctx: RequestContext, volume_id: str, readonly: object) -> None:
        flag = check.boolean(readonly, field="readonly")
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if volume.status not in (states.AVAILABLE, states.IN_USE):
                raise faults.InvalidVolume(f"Volume {volume.id} status must be available or "
                                           f"in-use, but current status is: {volume.status}.")
            volume.read_only = flag
            volume.admin_metadata = {**(volume.admin_metadata or {}), "readonly": str(flag)}

    def reset_status(self, ctx: RequestContext, volume_id: str, *, status: object = None,
                     attach_status: object = None) -> None:
        """Set the status an admin says the volume is in (Cinder's os-reset_status). An
        ``attach_status`` of ``detached`` also drops the volume's attachments, as Cinder's
        does: how an admin frees a volume whose attachment only Nova may delete."""
        access.require_admin(ctx, "volume_extension:volume_admin_actions:reset_status")
        if status is None and attach_status is None:
            raise errors.BadRequest("Must specify 'status', 'attach_status' or "
                                    "'migration_status' for update.")
        if status is not None and status not in states.VOLUME_STATUSES:
            raise errors.BadRequest(f"Must specify a valid status: {excerpt(status)}")
        if status == states.DELETING:
            # Nothing would ever finish the deletion (Cinder refuses it too).
            raise errors.BadRequest("Cannot reset-state to deleting")
        if attach_status is not None and attach_status not in states.ATTACH_STATUSES:
            raise errors.BadRequest(f"Must specify a valid attach status: "
                                    f"{excerpt(attach_status)}")
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if status == states.IN_USE and not volume.attachments:
                raise errors.BadRequest("Cannot reset-state to in-use because volume does "
                                        "not have any attachments.")
            if status is not None:
                volume.status = status
            if attach_status is not None:
                volume.attach_status = attach_status
            if attach_status == states.DETACHED:
                for attachment in list(volume.attachments):
                    volume.attachments.remove(attachment)
                    session.delete(attachment)
        logger.info("volume %s reset to %s/%s by an admin", volume_id, status, attach_status)

    # -- delete ----------------------------------------------------------------------------

    def delete(self, ctx: RequestContext, volume_id: str, *, cascade: bool = False,
               force: bool = False) -> None:
        """Mark the volume (and with ``cascade`` its snapshots) ``deleting`` and remove it
        in the background. Refused (400) while attached or reserved, in a status Cinder does
        not delete from (``force``, an admin's, skips that), or with snapshots."""
        if force:
            access.require_admin(ctx, "volume_extension:volume_admin_actions:force_delete")
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            assert_not_frozen(session, self.shared.settings.volume_host)
            snapshots = session.scalars(select(Snapshot).where(
                Snapshot.volume_id == volume.id)).all()
            allowed = force or volume.status in states.VOLUME_DELETABLE
            attached = volume.attach_status == states.ATTACHED or bool(volume.attachments)
            if cascade and not force:
                blocked_by_snaps = any(s.status not in (states.AVAILABLE, states.ERROR)
                                       for s in snapshots)
            else:
                blocked_by_snaps = bool(snapshots) and not cascade
            if not allowed or attached or blocked_by_snaps or volume.status == states.DELETING:
                statuses = states.either(states.VOLUME_DELETABLE)
                raise faults.InvalidVolume(
                    f"Volume status must be {statuses} and must not be migrating, attached, "
                    "belong to a group, have snapshots, awaiting a transfer, or be "
                    "disassociated from snapshots after volume transfer.")
            volume.previous_status = volume.status
            volume.status = states.DELETING
            for snap in snapshots:
                snap.status = states.DELETING
        logger.info("volume %s deleting", volume_id)
        self.shared.work.spawn(f"delete-volume-{volume_id}", self.destroy(volume_id))

    async def destroy(self, volume_id: str) -> None:
        """Remove the file (and its snapshots') and then the records, once the volume is
        ``deleting`` (again, after a restart); ``error_deleting`` when the backend fails."""
        with self.db.session() as session:
            volume = session.get(Volume, volume_id)
            if volume is None or volume.status != states.DELETING:
                return
            snapshot_ids = list(session.scalars(select(Snapshot.id).where(
                Snapshot.volume_id == volume_id)))
        backend = self.shared.backend
        try:
            async with self.shared.work.exclusive(
                    _lock(volume_id), *(f"snapshot:{s}" for s in snapshot_ids)):
                for snapshot_id in snapshot_ids:
                    await self.shared.blocking(backend.delete_snapshot, snapshot_id)
                await self.shared.blocking(backend.delete, volume_id)
        except Exception as exc:  # noqa: BLE001 - any failure of the backend leaves the volume in error_deleting
            logger.warning("volume %s could not be deleted: %s", volume_id, exc)
            self._finish(volume_id, expect=states.DELETING, status=states.ERROR_DELETING,
                         fail_reason=str(exc))
            return
        with self.db.session() as session:
            for snapshot in session.scalars(select(Snapshot).where(
                    Snapshot.volume_id == volume_id)):
                session.delete(snapshot)
            volume = session.get(Volume, volume_id)
            if volume is not None:
                session.delete(volume)
        logger.info("volume %s deleted", volume_id)

    # -- restart ---------------------------------------------------------------------------

    def resume(self, ctx: RequestContext) -> int:
        """Start again what a stopped process left half done: creations, deletions and
        extensions (each is idempotent). The number started."""
        with self.db.session() as session:
            rows = session.execute(select(Volume.id, Volume.status).where(
                Volume.status.in_((states.CREATING, states.DELETING, states.EXTENDING)))).all()
        for volume_id, status in rows:
            work = {states.CREATING: lambda v: self.build(ctx, v),
                    states.DELETING: self.destroy, states.EXTENDING: self.grow}[status]
            self.shared.work.spawn(f"resume-{status}-{volume_id}", work(volume_id))
        return len(rows)


def _check_image_fits(image: Mapping[str, Any], size: int) -> None:
    image_gb = math.ceil((image.get("size") or 0) / GiB)
    if image_gb > size:
        raise faults.InvalidInput(f"Size of specified image {image_gb}GB is larger than "
                                  f"volume size {size}GB.")
    min_disk = image.get("min_disk") or 0
    if min_disk > size:
        raise faults.InvalidInput(f"Volume size {size}GB cannot be smaller than the image "
                                  f"minDisk size {min_disk}GB.")


def _matches(record: dict[str, Any], filters: Mapping[str, Any]) -> bool:
    for key, wanted in filters.items():
        if key == "metadata":
            if any(record["metadata"].get(k) != v for k, v in wanted.items()):
                return False
        elif key == "bootable":
            if record["bootable"] != wanted:
                return False
        elif key == "name~":
            if wanted.lower() not in (record.get("name") or "").lower():
                return False
        elif key == "size":
            if str(record["size"]) != str(wanted):
                return False
        elif record.get(key) != wanted:
            return False
    return True

