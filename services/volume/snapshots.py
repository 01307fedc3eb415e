"""Volume snapshots: create (``creating`` -> ``available``, or ``error``), list, show,
update, metadata, status reset and delete (``deleting`` -> gone, or ``error_deleting``).

A snapshot is a point-in-time copy of its volume's file (``snapshot-<id>``); it counts
against the project's ``snapshots`` and ``gigabytes`` quotas. A volume's snapshots must go
before it does (or with it, by a cascading delete).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from services.volume import access, faults, paging, states
from services.volume import validation as check
from services.volume.heartbeats import assert_not_frozen
from services.volume.models import Snapshot
from services.volume.shared import Shared, type_names

logger = logging.getLogger(__name__)

SORT_KEYS = ("id", "name", "status", "size", "created_at", "updated_at", "volume_id",
             "project_id")
UNSET: Any = object()


class Snapshots:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    def get(self, ctx: RequestContext, snapshot_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            return access.load_snapshot(session, ctx, snapshot_id).as_dict()

    def list(self, ctx: RequestContext, *, filters: Mapping[str, Any] | None = None,
             page: paging.Page = paging.FIRST_PAGE, all_tenants: bool = False
             ) -> tuple[list[dict[str, Any]], int]:
        filters = dict(filters or {})
        with self.db.session() as session:
            query = select(Snapshot)
            project = filters.pop("project_id", None) if ctx.is_admin else None
            if not (ctx.is_admin and all_tenants):
                query = query.where(Snapshot.project_id == access.owner(ctx))
            elif project:
                query = query.where(Snapshot.project_id == project)
            records = [s.as_dict() for s in session.scalars(query)]
        matching = [r for r in records if all(
            (r["metadata"].get(k) == v for k, v in value.items()) if key == "metadata"
            else r.get(key) == value for key, value in filters.items())]
        return paging.apply(matching, page), len(matching)

    def create(self, ctx: RequestContext, *, volume_id: object, name: object = None,
               description: object = None, force: object = False, metadata: object = None,
               allow_in_use: bool = False) -> dict[str, Any]:
        """Record a snapshot of the volume (``creating``) and start copying it.

        The volume must be ``available`` (or ``in-use`` with ``force``, or from 3.66 on,
        ``allow_in_use``); the quotas must allow one more snapshot of its size."""
        project = access.owner(ctx)
        name = check.name(name)
        description = check.description(description)
        metadata = check.metadata(metadata)
        force = check.boolean(force, field="force") if force is not None else False
        with self.db.session() as session:
            # A null volume_id names no volume: 404, as Cinder answers (its schema allows
            # null; only a missing key is a 400, which the API checks).
            volume = access.load_volume(session, ctx, volume_id)
            assert_not_frozen(session, self.shared.settings.volume_host)
            valid = (states.AVAILABLE, states.IN_USE) if force or allow_in_use \
                else (states.AVAILABLE,)
            if volume.status not in valid:
                raise faults.InvalidVolume(f"Volume {volume.id} status must be "
                                           f"{', '.join(valid)}, but current status is: "
                                           f"{volume.status}.")
            type_name = type_names(session).get(volume.volume_type_id, "")
            self.shared.quotas.check(session, volume.project_id,
                                     self.shared.quotas.snapshot_deltas(type_name, volume.size),
                                     kind="snapshots", size=volume.size)
            snapshot = Snapshot(id=str(uuid.uuid4()), project_id=volume.project_id,
                                user_id=ctx.user_id, volume_id=volume.id,
                                volume_type_id=volume.volume_type_id, name=name,
                                description=description, status=states.CREATING,
                                volume_size=volume.size, progress="0%", metadata_=metadata)
            session.add(snapshot)
            session.flush()
            record = snapshot.as_dict()
        logger.info("snapshot %s of volume %s creating (project %s)", record["id"],
                    record["volume_id"], project)
        self.shared.work.spawn(f"create-snapshot-{record['id']}", self.take(record["id"]))
        return record

    async def take(self, snapshot_id: str) -> None:
        """Copy the volume into the snapshot's file (again after a restart: the backend
        makes it atomically, and does nothing when it exists)."""
        with self.db.session() as session:
            snapshot = session.get(Snapshot, snapshot_id)
            if snapshot is None or snapshot.status != states.CREATING:
                return
            volume_id = snapshot.volume_id
        backend = self.shared.backend
        try:
            async with self.shared.work.exclusive(f"volume:{volume_id}",
                                                  f"snapshot:{snapshot_id}"):
                await self.shared.blocking(backend.snapshot, volume_id, snapshot_id)
        except Exception as exc:  # noqa: BLE001 - any failure of the backend leaves the snapshot in error
            logger.warning("snapshot %s could not be made: %s", snapshot_id, exc)
            self._finish(snapshot_id, expect=states.CREATING, status=states.ERROR)
            return
        if self._finish(snapshot_id, expect=states.CREATING, status=states.AVAILABLE,
                        progress="100%"):
            logger.info("snapshot %s available", snapshot_id)

    def _finish(self, snapshot_id: str, *, expect: str, status: str, **changes: Any) -> bool:
        with self.db.session() as session:
            snapshot = session.get(Snapshot, snapshot_id)
            if snapshot is None or snapshot.status != expect:
                return False
            snapshot.status = status
            for key, value in changes.items():
                setattr(snapshot, key, value)
            return True

    def update(self, ctx: RequestContext, snapshot_id: str, *, name: object = UNSET,
               description: object = UNSET) -> dict[str, Any]:
        with self.db.session() as session:
            snapshot = access.load_snapshot(session, ctx, snapshot_id)
            if name is not UNSET:
                snapshot.name = check.name(name)
            if description is not UNSET:
                snapshot.description = check.description(description)
            session.flush()
            return snapshot.as_dict()

    def metadata(self, ctx: RequestContext, snapshot_id: str) -> dict[str, str]:
        with self.db.session() as session:
            return dict(access.load_snapshot(session, ctx, snapshot_id).metadata_ or {})

    def set_metadata(self, ctx: RequestContext, snapshot_id: str, metadata: object, *,
                     replace: bool) -> dict[str, str]:
        clean = check.metadata(metadata)
        with self.db.session() as session:
            snapshot = access.load_snapshot(session, ctx, snapshot_id)
            snapshot.metadata_ = clean if replace else check.metadata_count(
                {**(snapshot.metadata_ or {}), **clean})
            return dict(snapshot.metadata_)

    def delete_metadata_key(self, ctx: RequestContext, snapshot_id: str, key: str) -> None:
        with self.db.session() as session:
            snapshot = access.load_snapshot(session, ctx, snapshot_id)
            meta = dict(snapshot.metadata_ or {})
            if key not in meta:
                raise errors.NotFound(f"Snapshot {snapshot_id} has no metadata with key "
                                      f"{excerpt(key)}.")
            del meta[key]
            snapshot.metadata_ = meta

    def reset_status(self, ctx: RequestContext, snapshot_id: str, status: object) -> None:
        access.require_admin(ctx, "volume_extension:snapshot_admin_actions:reset_status")
        if status not in states.SNAPSHOT_STATUSES:
            raise errors.BadRequest(f"Must specify a valid status: {excerpt(status)}")
        with self.db.session() as session:
            access.load_snapshot(session, ctx, snapshot_id).status = str(status)

    def delete(self, ctx: RequestContext, snapshot_id: str, *, force: bool = False) -> None:
        """Mark the snapshot ``deleting`` and remove it in the background; refused (400)
        unless it is available or in error. ``force`` (an admin's) skips that, from any
        status, as Cinder's: also ``deleting`` (a removal already running makes the repeat
        find nothing left to do; one an admin's reset left waiting runs now)."""
        if force:
            access.require_admin(ctx, "volume_extension:snapshot_admin_actions:force_delete")
        with self.db.session() as session:
            snapshot = access.load_snapshot(session, ctx, snapshot_id)
            assert_not_frozen(session, self.shared.settings.volume_host)
            if not force and (snapshot.status == states.DELETING
                              or snapshot.status not in states.SNAPSHOT_DELETABLE):
                raise faults.InvalidSnapshot(
                    f"Snapshot status must be {states.either(states.SNAPSHOT_DELETABLE)} and "
                    "must not be part of a group.")
            snapshot.status = states.DELETING
        logger.info("snapshot %s deleting", snapshot_id)
        self.shared.work.spawn(f"delete-snapshot-{snapshot_id}", self.remove(snapshot_id))

    async def remove(self, snapshot_id: str) -> None:
        with self.db.session() as session:
            snapshot = session.get(Snapshot, snapshot_id)
            if snapshot is None or snapshot.status != states.DELETING:
                return
        try:
            async with self.shared.work.exclusive(f"snapshot:{snapshot_id}"):
                await self.shared.blocking(self.shared.backend.delete_snapshot, snapshot_id)
        except Exception as exc:  # noqa: BLE001 - any failure of the backend leaves the snapshot in error_deleting
            logger.warning("snapshot %s could not be deleted: %s", snapshot_id, exc)
            self._finish(snapshot_id, expect=states.DELETING, status=states.ERROR_DELETING)
            return
        with self.db.session() as session:
            snapshot = session.get(Snapshot, snapshot_id)
            if snapshot is not None and snapshot.status == states.DELETING:
                session.delete(snapshot)
        logger.info("snapshot %s deleted", snapshot_id)

    def resume(self) -> int:
        with self.db.session() as session:
            rows = session.execute(select(Snapshot.id, Snapshot.status).where(
                Snapshot.status.in_((states.CREATING, states.DELETING)))).all()
        for snapshot_id, status in rows:
            work = self.take if status == states.CREATING else self.remove
            self.shared.work.spawn(f"resume-snapshot-{status}-{snapshot_id}",
                                   work(snapshot_id))
        return len(rows)
