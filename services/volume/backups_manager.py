"""Backups into the object store (cinder-backup's part): create, list, show, update,
restore, status reset and delete. The bytes are moved by the ``BackupStore`` under the
caller's token; the records (with each backup's manifest) live in this service's database
and survive restarts.

States (Cinder's): a backup is ``creating`` -> ``available`` (or ``error``) while its volume
is ``backing-up``; a restore makes the backup ``restoring`` and the volume
``restoring-backup`` -> both ``available`` (the volume ``error_restoring`` on failure); a
delete is ``deleting`` -> gone (``error_deleting``). An incremental backup's parent is the
volume's latest available backup; a backup with incremental children cannot be deleted.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.clock import iso, utcnow
from overcast.context import RequestContext
from overcast.errors import excerpt
from services.volume import access, faults, paging, states
from services.volume import validation as check
from services.volume.heartbeats import BACKUP_BINARY, Heartbeats
from services.volume.models import Backup, Snapshot, Volume
from services.volume.shared import BACKUP_CONTAINER, Shared
from services.volume.volume_types import VolumeTypes

logger = logging.getLogger(__name__)

SORT_KEYS = ("id", "name", "status", "size", "created_at", "updated_at", "volume_id",
             "project_id", "container")
INTERRUPTED = "interrupted by a restart of the volume service"
UNSET: Any = object()
# The backup service a record is exported from and imported into (Cinder's driver name).
BACKUP_SERVICE = "cinder.backup.drivers.swift.SwiftBackupDriver"


class Backups:
    def __init__(self, shared: Shared, types: VolumeTypes, heartbeats: Heartbeats) -> None:
        self.shared = shared
        self.db = shared.db
        self.types = types
        self.heartbeats = heartbeats

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _record(session: Session, backup: Backup) -> dict[str, Any]:
        record = backup.as_dict()
        record["has_dependent_backups"] = bool(session.scalar(
            select(func.count()).select_from(Backup).where(Backup.parent_id == backup.id)))
        return record

    def get(self, ctx: RequestContext, backup_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            return self._record(session, access.load_backup(session, ctx, backup_id))

    def list(self, ctx: RequestContext, *, filters: Mapping[str, Any] | None = None,
             page: paging.Page = paging.FIRST_PAGE, all_tenants: bool = False
             ) -> tuple[list[dict[str, Any]], int]:
        filters = dict(filters or {})
        with self.db.session() as session:
            query = select(Backup)
            project = filters.pop("project_id", None) if ctx.is_admin else None
            if not (ctx.is_admin and all_tenants):
                query = query.where(Backup.project_id == access.owner(ctx))
            elif project:
                query = query.where(Backup.project_id == project)
            records = [self._record(session, b) for b in session.scalars(query)]
        matching = [r for r in records if all(r.get(k) == v for k, v in filters.items())]
        return paging.apply(matching, page), len(matching)

    def _require_service(self) -> None:
        if self.shared.backups is None or not self.heartbeats.enabled(BACKUP_BINARY):
            raise faults.service_not_found(BACKUP_BINARY)

    # -- create ----------------------------------------------------------------------------

    def create(self, ctx: RequestContext, *, token: str, volume_id: object,
               name: object = None, description: object = None, container: object = None,
               incremental: object = False, force: object = False, snapshot_id: object = None,
               metadata: object = None, availability_zone: object = None) -> dict[str, Any]:
        """Record a backup of the volume (or of its snapshot) and start it."""
        project = access.owner(ctx)
        name = check.name(name)
        description = check.description(description)
        metadata = check.metadata(metadata)
        incremental = check.boolean(incremental or False, field="incremental")
        force = check.boolean(force or False, field="force")
        if container is not None and (not isinstance(container, str)
                                      or not 0 < len(container) <= 255 or "/" in container):
            raise check.invalid_field("container", container, "It must be a container name.")
        zone = self.shared.settings.zone
        if availability_zone is not None and availability_zone != zone:
            raise faults.InvalidAvailabilityZone(availability_zone)
        if volume_id is None:
            raise errors.BadRequest("Invalid input for field/attribute backup. Value: "
                                    "'volume_id' is a required property")
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            snapshot = None
            if snapshot_id is not None:
                snapshot = access.load_snapshot(session, ctx, snapshot_id)
                if snapshot.volume_id != volume.id:
                    raise faults.InvalidVolume(f"Volume {volume.id} does not match with "
                                               f"snapshot.volume_id {snapshot.volume_id}.")
                if snapshot.status != states.AVAILABLE:
                    raise faults.InvalidSnapshot(f"Snapshot to be backed up must be available, "
                                                 f"but the current status is "
                                                 f"\"{snapshot.status}\".")
            elif volume.status not in (states.AVAILABLE, states.IN_USE):
                raise faults.InvalidVolume(f"Volume to be backed up must be available or "
                                           f"in-use, but the current status is "
                                           f"\"{volume.status}\".")
            elif volume.status == states.IN_USE and not force:
                raise faults.InvalidVolume("Backing up an in-use volume must use the force "
                                           "flag.")
            self._require_service()
            self.shared.quotas.check(session, project, {"backups": 1,
                                                        "backup_gigabytes": volume.size},
                                     kind="backups", size=volume.size)
            parent = None
            if incremental:
                parent = session.scalars(select(Backup).where(
                    Backup.volume_id == volume.id, Backup.project_id == project,
                    Backup.status == states.AVAILABLE).order_by(
                        Backup.data_timestamp.desc())).first()
                if parent is None:
                    raise faults.InvalidBackup("No backups available to do an incremental "
                                               "backup.")
            backup = Backup(id=str(uuid.uuid4()), project_id=project, user_id=ctx.user_id,
                            volume_id=volume.id, snapshot_id=snapshot.id if snapshot else None,
                            name=name, description=description, status=states.CREATING,
                            size=volume.size, container=container or BACKUP_CONTAINER,
                            availability_zone=zone, parent_id=parent.id if parent else None,
                            is_incremental=parent is not None, metadata_=metadata,
                            volume_meta=_volume_meta(volume),
                            data_timestamp=snapshot.created_at if snapshot else utcnow())
            session.add(backup)
            if snapshot is not None:
                snapshot.status = states.BACKING_UP
            else:
                volume.previous_status = volume.status
                volume.status = states.BACKING_UP
            session.flush()
            record = self._record(session, backup)
        logger.info("backup %s of volume %s creating%s", record["id"], record["volume_id"],
                    f" (incremental on {record['parent_id']})" if record["parent_id"] else "")
        self.shared.work.spawn(f"backup-{record['id']}", self._run_backup(ctx, token,
                                                                          record["id"]))
        return record

    async def _run_backup(self, ctx: RequestContext, token: str, backup_id: str) -> None:
        with self.db.session() as session:
            backup = session.get(Backup, backup_id)
            if backup is None or backup.status != states.CREATING:
                return
            plan = backup.as_dict()
            parent = session.get(Backup, backup.parent_id) if backup.parent_id else None
            parent_manifest = parent.manifest if parent is not None else None
            volume = session.get(Volume, backup.volume_id)
            in_use = volume is not None and volume.previous_status == states.IN_USE
        backend, store = self.shared.backend, self.shared.backups
        assert store is not None
        temporary = None
        try:
            if plan["snapshot_id"]:
                source = backend.snapshot_path(plan["snapshot_id"])
            elif in_use:
                # A guest writes to an attached volume: back up a point-in-time copy.
                temporary = str(uuid.uuid4())
                async with self.shared.work.exclusive(f"volume:{plan['volume_id']}"):
                    await self.shared.blocking(backend.snapshot, plan["volume_id"], temporary)
                source = backend.snapshot_path(temporary)
            else:
                source = backend.volume_path(plan["volume_id"])
            manifest = await store.backup(token=token, project_id=plan["project_id"],
                                          backup_id=backup_id, volume_id=plan["volume_id"],
                                          source=source, container=plan["container"],
                                          parent=parent_manifest)
        except Exception as exc:  # noqa: BLE001 - any failure of the store or backend leaves the backup in error
            logger.warning("backup %s failed: %s", backup_id, exc)
            self._end_backup(backup_id, status=states.ERROR,
                             fail_reason=str(exc) or type(exc).__name__)
            return
        finally:
            if temporary is not None:
                await self._drop_copy(temporary)
        self._end_backup(backup_id, status=states.AVAILABLE, manifest=manifest)
        logger.info("backup %s available (%s objects)", backup_id,
                    manifest.get("object_count"))

    async def _drop_copy(self, snapshot_id: str) -> None:
        """Remove the point-in-time copy a backup was read from; a failure only leaves a
        file behind, never fails the backup."""
        try:
            await self.shared.blocking(self.shared.backend.delete_snapshot, snapshot_id)
        except Exception as exc:  # noqa: BLE001 - a leftover copy is logged, not fatal
            logger.warning("temporary copy %s of a backup was not removed: %s", snapshot_id,
                           exc)

    def _end_backup(self, backup_id: str, *, status: str, fail_reason: str | None = None,
                    manifest: dict | None = None) -> None:
        """The backup is done (or failed): its status, and its source's back to what it
        was."""
        with self.db.session() as session:
            backup = session.get(Backup, backup_id)
            if backup is None or backup.status != states.CREATING:
                return
            backup.status = status
            backup.fail_reason = fail_reason
            if manifest is not None:
                backup.manifest = manifest
                backup.object_count = int(manifest.get("object_count") or 0)
                backup.size_bytes = manifest.get("size_bytes")
            if backup.snapshot_id:
                snapshot = session.get(Snapshot, backup.snapshot_id)
                if snapshot is not None and snapshot.status == states.BACKING_UP:
                    snapshot.status = states.AVAILABLE
            else:
                volume = session.get(Volume, backup.volume_id)
                if volume is not None and volume.status == states.BACKING_UP:
                    volume.status = volume.previous_status or states.AVAILABLE
                    volume.previous_status = None

    # -- update ----------------------------------------------------------------------------

    def update(self, ctx: RequestContext, backup_id: str, *, name: object = UNSET,
               description: object = UNSET, metadata: object = UNSET) -> dict[str, Any]:
        with self.db.session() as session:
            backup = access.load_backup(session, ctx, backup_id)
            if name is not UNSET:
                backup.name = check.name(name)
            if description is not UNSET:
                backup.description = check.description(description)
            if metadata is not UNSET:
                backup.metadata_ = check.metadata(metadata)
            session.flush()
            return self._record(session, backup)

    def reset_status(self, ctx: RequestContext, backup_id: str, status: object) -> None:
        access.require_admin(ctx, "volume_extension:backup_admin_actions:reset_status")
        if status not in (states.AVAILABLE, states.ERROR):
            raise errors.BadRequest(f"Must specify a valid status: {excerpt(status)}")
        with self.db.session() as session:
            access.load_backup(session, ctx, backup_id).status = str(status)

    # -- restore ---------------------------------------------------------------------------

    def restore(self, ctx: RequestContext, *, token: str, backup_id: str,
                volume_id: object = None, name: object = None) -> dict[str, Any]:
        """Start restoring the backup into the volume ``volume_id`` (``available``, at least
        the backup's size) or, without one, into a new volume of the backup's size named
        ``name`` (Cinder's default ``restore_backup_<id>``). ``{"backup_id", "volume_id",
        "volume_name"}``."""
        project = access.owner(ctx)
        name = check.name(name)
        volume_id = check.optional_id(volume_id, field="volume_id")
        with self.db.session() as session:
            backup = access.load_backup(session, ctx, backup_id)
            if backup.status != states.AVAILABLE:
                raise faults.InvalidBackup("Backup status must be available")
            self._require_service()
            if volume_id is None:
                type_row = self.types.default_row(session)
                self.shared.quotas.check(
                    session, project, self.shared.quotas.volume_deltas(type_row.name,
                                                                       backup.size),
                    kind="volumes", size=backup.size)
                volume = Volume(id=str(uuid.uuid4()), project_id=project, user_id=ctx.user_id,
                                name=name or f"restore_backup_{backup.id}",
                                description="auto-created_from_restore_from_backup",
                                size=backup.size, status=states.RESTORING_BACKUP,
                                previous_status=states.CREATING,
                                attach_status=states.DETACHED,
                                availability_zone=self.shared.settings.zone,
                                volume_type_id=type_row.id, metadata_={}, image_metadata={})
                session.add(volume)
            else:
                volume = access.load_volume(session, ctx, volume_id)
                if volume.status != states.AVAILABLE:
                    raise faults.InvalidVolume("Volume to be restored to must be available")
                if backup.size > volume.size:
                    raise faults.InvalidVolume(f"volume size {volume.size} is too small to "
                                               f"restore backup of size {backup.size}.")
                volume.previous_status = volume.status
                volume.status = states.RESTORING_BACKUP
            backup.status = states.RESTORING
            backup.restore_volume_id = volume.id
            session.flush()
            answer = {"backup_id": backup.id, "volume_id": volume.id,
                      "volume_name": volume.name}
        logger.info("backup %s restoring into volume %s", backup_id, answer["volume_id"])
        self.shared.work.spawn(f"restore-{backup_id}", self._run_restore(token, backup_id))
        return answer

    async def _run_restore(self, token: str, backup_id: str) -> None:
        with self.db.session() as session:
            backup = session.get(Backup, backup_id)
            if backup is None or backup.status != states.RESTORING:
                return
            volume = session.get(Volume, backup.restore_volume_id)
            if volume is None:
                backup.status = states.AVAILABLE
                return
            volume_id, size = volume.id, volume.size
            manifest, project = backup.manifest or {}, backup.project_id
        backend, store = self.shared.backend, self.shared.backups
        assert store is not None
        try:
            async with self.shared.work.exclusive(f"volume:{volume_id}"):
                # The store replaces the file whole (a new volume has none yet).
                await store.restore(token=token, project_id=project, manifest=manifest,
                                    target=backend.volume_path(volume_id))
                if size * (1 << 30) > int(manifest.get("size_bytes") or 0):
                    # A backup smaller than its target: the filesystem grows to the volume.
                    await self.shared.blocking(backend.extend, volume_id, size)
        except Exception as exc:  # noqa: BLE001 - any failure of the store or backend leaves the volume in error_restoring
            logger.warning("restore of backup %s into %s failed: %s", backup_id, volume_id,
                           exc)
            self._end_restore(backup_id, volume_id, volume_status=states.ERROR_RESTORING,
                              fail_reason=str(exc) or type(exc).__name__)
            return
        self._end_restore(backup_id, volume_id, volume_status=states.AVAILABLE)
        logger.info("backup %s restored into volume %s", backup_id, volume_id)

    def _end_restore(self, backup_id: str, volume_id: str, *, volume_status: str,
                     fail_reason: str | None = None) -> None:
        with self.db.session() as session:
            backup = session.get(Backup, backup_id)
            if backup is not None and backup.status == states.RESTORING:
                backup.status = states.AVAILABLE
                backup.restore_volume_id = None
            volume = session.get(Volume, volume_id)
            if volume is not None and volume.status == states.RESTORING_BACKUP:
                volume.status = volume_status
                volume.fail_reason = fail_reason
                if volume_status == states.AVAILABLE and backup is not None:
                    _restore_volume_meta(volume, backup.volume_meta or {})
                if volume.previous_status == states.CREATING and \
                        volume_status == states.AVAILABLE:
                    volume.launched_at = utcnow()
                volume.previous_status = None

    # -- export and import of records ------------------------------------------------------

    def export_record(self, ctx: RequestContext, backup_id: str) -> dict[str, str]:
        """What ``import_record`` needs to bring an ``available`` backup back after its
        record is lost (Cinder's backup-record): the backup service's name and the record,
        its manifest included, as base64 JSON. Admins only."""
        access.require_admin(ctx, "backup:export-import")
        with self.db.session() as session:
            backup = access.load_backup(session, ctx, backup_id)
            if backup.status != states.AVAILABLE:
                raise faults.InvalidBackup(f"Backup status must be available and not "
                                           f"{backup.status}.")
            record = {"id": backup.id, "user_id": backup.user_id,
                      "project_id": backup.project_id, "volume_id": backup.volume_id,
                      "snapshot_id": backup.snapshot_id, "display_name": backup.name,
                      "display_description": backup.description, "size": backup.size,
                      "container": backup.container, "parent_id": backup.parent_id,
                      "is_incremental": backup.is_incremental,
                      "object_count": backup.object_count, "size_bytes": backup.size_bytes,
                      "availability_zone": backup.availability_zone,
                      "metadata": dict(backup.metadata_ or {}),
                      "data_timestamp": iso(backup.data_timestamp),
                      "service_metadata": backup.id,
                      "driver_info": {"manifest": backup.manifest,
                                      "volume_meta": backup.volume_meta}}
        url = base64.b64encode(json.dumps(record).encode()).decode()
        return {"backup_service": BACKUP_SERVICE, "backup_url": url}

    def import_record(self, ctx: RequestContext, *, backup_service: object,
                      backup_url: object) -> dict[str, Any]:
        """Record again a backup ``export_record`` described, under its id, as Cinder's
        import: into the caller's project (its objects must be in that project's account
        for a restore to read them), ``available``, within the project's backup quotas.
        400 for another backup service, a record that does not decode or lacks what it
        needs, a manifest this store did not write, or an id that is taken. Admins only."""
        access.require_admin(ctx, "backup:export-import")
        project = access.owner(ctx)
        if backup_service != BACKUP_SERVICE:
            raise faults.InvalidBackup(f"Import record failed, cannot find backup service "
                                       f"to perform the import. Request service "
                                       f"{excerpt(backup_service)}.")
        record = _decode_record(backup_url)
        driver_info = record.get("driver_info")
        if not isinstance(driver_info, dict):
            raise faults.InvalidBackup("The backup record has no driver_info.")
        self._require_service()
        assert self.shared.backups is not None
        try:
            manifest = self.shared.backups.check_manifest(driver_info.get("manifest"))
        except ValueError as exc:
            raise faults.InvalidBackup(f"The backup record's manifest is invalid: {exc}") \
                from None
        backup_id = record["id"]
        if manifest["container"] != record["container"]:
            raise faults.InvalidBackup("The backup record's container is not its "
                                       "manifest's.")
        name = check.name(record["display_name"])
        description = check.description(record["display_description"])
        metadata = check.metadata(record.get("metadata") or {})
        size = check.size(record["size"])
        volume_meta = driver_info.get("volume_meta")
        with self.db.session() as session:
            self._require_service()
            if session.get(Backup, backup_id) is not None:
                raise faults.InvalidBackup("Backup already exists in database.")
            self.shared.quotas.check(session, project, {"backups": 1,
                                                        "backup_gigabytes": size},
                                     kind="backups", size=size)
            parent = record.get("parent_id")
            backup = Backup(id=backup_id, project_id=project, user_id=ctx.user_id,
                            volume_id=str(record.get("volume_id") or manifest["volume_id"]),
                            snapshot_id=None, name=name, description=description,
                            status=states.AVAILABLE, size=size,
                            container=record["container"],
                            availability_zone=self.shared.settings.zone,
                            parent_id=parent if isinstance(parent, str) else None,
                            is_incremental=bool(record.get("is_incremental")),
                            manifest=manifest, object_count=int(manifest["object_count"]),
                            size_bytes=manifest["size_bytes"], metadata_=metadata,
                            volume_meta=volume_meta if isinstance(volume_meta, dict) else None)
            session.add(backup)
            session.flush()
            answer = self._record(session, backup)
        logger.info("backup %s imported into project %s", backup_id, project)
        return answer

    # -- delete ----------------------------------------------------------------------------

    def delete(self, ctx: RequestContext, *, token: str, backup_id: str,
               force: bool = False) -> None:
        """Mark the backup ``deleting`` and remove its objects in the background. Refused
        (400) unless it is available or in error (``force``, an admin's, skips that), or
        while incremental backups depend on it."""
        if force:
            access.require_admin(ctx, "volume_extension:backup_admin_actions:force_delete")
        with self.db.session() as session:
            backup = access.load_backup(session, ctx, backup_id)
            if backup.status == states.DELETING or (
                    not force and backup.status not in states.BACKUP_DELETABLE):
                raise faults.InvalidBackup("Backup status must be available or error")
            if session.scalar(select(func.count()).select_from(Backup).where(
                    Backup.parent_id == backup.id)):
                raise faults.InvalidBackup("Incremental backups exist for this backup.")
            if backup.manifest:
                self._require_service()
            backup.status = states.DELETING
        logger.info("backup %s deleting", backup_id)
        self.shared.work.spawn(f"delete-backup-{backup_id}", self._run_delete(token,
                                                                              backup_id))

    async def _run_delete(self, token: str, backup_id: str) -> None:
        with self.db.session() as session:
            backup = session.get(Backup, backup_id)
            if backup is None or backup.status != states.DELETING:
                return
            manifest, project = backup.manifest, backup.project_id
        try:
            if manifest:
                assert self.shared.backups is not None
                await self.shared.backups.delete(token=token, project_id=project,
                                                 manifest=manifest)
        except Exception as exc:  # noqa: BLE001 - any failure of the store leaves the backup in error_deleting
            logger.warning("backup %s could not be deleted: %s", backup_id, exc)
            with self.db.session() as session:
                backup = session.get(Backup, backup_id)
                if backup is not None and backup.status == states.DELETING:
                    backup.status = states.ERROR_DELETING
                    backup.fail_reason = str(exc) or type(exc).__name__
            return
        with self.db.session() as session:
            backup = session.get(Backup, backup_id)
            if backup is not None and backup.status == states.DELETING:
                session.delete(backup)
        logger.info("backup %s deleted", backup_id)

    # -- restart ---------------------------------------------------------------------------

    def recover(self) -> int:
        """After a restart no token is left to finish with: a backup being made is in
        ``error`` (its volume back to what it was), one being restored is ``available``
        again (its data is whole) and its volume ``error_restoring`` (its data is not), one
        being deleted is in ``error`` (it can be deleted again). The number recovered."""
        with self.db.session() as session:
            rows = session.execute(select(Backup.id, Backup.status, Backup.restore_volume_id)
                                   .where(Backup.status.in_((states.CREATING,
                                                             states.RESTORING,
                                                             states.DELETING)))).all()
        for backup_id, status, restore_volume_id in rows:
            if status == states.CREATING:
                self._end_backup(backup_id, status=states.ERROR, fail_reason=INTERRUPTED)
            elif status == states.RESTORING:
                self._end_restore(backup_id, restore_volume_id or "",
                                  volume_status=states.ERROR_RESTORING,
                                  fail_reason=INTERRUPTED)
            else:
                with self.db.session() as session:
                    backup = session.get(Backup, backup_id)
                    if backup is not None:
                        backup.status = states.ERROR
                        backup.fail_reason = INTERRUPTED
            logger.warning("backup %s was %s when the service stopped", backup_id, status)
        return len(rows)


def _volume_meta(volume: Volume) -> dict[str, Any]:
    """What a backup keeps of its volume besides the data (Cinder's backup metadata)."""
    return {"name": volume.name, "description": volume.description,
            "metadata": dict(volume.metadata_ or {}),
            "image_metadata": dict(volume.image_metadata or {})}


def _restore_volume_meta(volume: Volume, kept: dict[str, Any]) -> None:
    """Give the restored volume what its backup kept, as Cinder's BackupMetadataAPI: the
    name and description when the volume was made for the restore and not named by the
    caller; the metadata and the image metadata (then bootable) when there were any, in
    place of the volume's."""
    if kept.get("name") and (not volume.name or volume.name.startswith("restore_backup_")):
        volume.name = kept["name"]
        volume.description = kept.get("description")
    if kept.get("metadata"):
        volume.metadata_ = dict(kept["metadata"])
    if kept.get("image_metadata"):
        volume.image_metadata = dict(kept["image_metadata"])
        volume.bootable = True


def _decode_record(backup_url: object) -> dict[str, Any]:
    """An exported record: base64 JSON with at least Cinder's required import fields."""
    try:
        if not isinstance(backup_url, str):
            raise ValueError("not a string")
        record = json.loads(base64.b64decode(backup_url, validate=True))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise faults.InvalidInput("Can't parse backup record.") from None
    if not isinstance(record, dict):
        raise faults.InvalidInput("Can't parse backup record.")
    missing = {"id", "size", "display_name", "display_description", "container",
               "object_count", "service_metadata"} - set(record)
    if missing:
        raise faults.InvalidBackup(f"Driver successfully decoded imported backup data, but "
                                   f"there are missing fields ({', '.join(sorted(missing))}).")
    if not check.is_uuid(record["id"]):
        raise faults.InvalidInput("Provided backup record has no valid id.")
    return record
