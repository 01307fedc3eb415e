"""Migration records: each evacuation is one, as ``GET /os-migrations`` shows them."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.clock import iso
from services.conductor.models import Migration, utcnow


def start(session: Session, *, instance_id: str, source: str | None, project_id: str,
          user_id: str | None, migration_type: str = "evacuation",
          old_flavor_id: str | None = None, new_flavor_id: str | None = None) -> Migration:
    record = Migration(instance_id=instance_id, source_compute=source,
                       migration_type=migration_type, status="accepted",
                       project_id=project_id, user_id=user_id, old_flavor_id=old_flavor_id,
                       new_flavor_id=new_flavor_id)
    session.add(record)
    session.flush()
    return record


OPEN = ("accepted", "running", "pre-migrating", "migrating", "post-migrating", "finished")


def current(session: Session, instance_id: str) -> Migration | None:
    """The instance's migration that has not finished (or, for a resize, not yet been
    confirmed or reverted), if any."""
    return session.scalar(select(Migration).where(
        Migration.instance_id == instance_id,
        Migration.status.in_(OPEN)).order_by(Migration.id.desc()).limit(1))


def set_status(session: Session, instance_id: str, status: str, *,
               dest: str | None = None) -> Migration | None:
    """Move the instance's open migration to ``status`` (and ``dest``); the record."""
    record = current(session, instance_id)
    if record is not None:
        record.status = status
        if dest is not None:
            record.dest_compute = dest
        record.updated_at = utcnow()
    return record


def set_destination(session: Session, instance_id: str, dest: str) -> None:
    record = current(session, instance_id)
    if record is not None:
        record.dest_compute = dest
        record.status = "running"
        record.updated_at = utcnow()


def finish(session: Session, *, instance_id: str, dest: str | None, status: str) -> bool:
    """Close the running migration (to ``dest`` if given) as done/error; False if none."""
    record = current(session, instance_id)
    if record is None or (dest is not None and record.dest_compute != dest):
        return False
    record.status = status
    record.updated_at = utcnow()
    return True


def as_dict(record: Migration) -> dict:
    return {"id": record.id, "uuid": record.uuid, "instance_uuid": record.instance_id,
            "source_compute": record.source_compute, "dest_compute": record.dest_compute,
            "source_node": record.source_compute, "dest_node": record.dest_compute,
            "dest_host": record.dest_compute, "status": record.status,
            "migration_type": record.migration_type, "project_id": record.project_id,
            "user_id": record.user_id, "old_instance_type_id": record.old_flavor_id,
            "new_instance_type_id": record.new_flavor_id,
            "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at)}


def list_migrations(session: Session, *, filters: dict) -> list[dict]:
    query = select(Migration).order_by(Migration.created_at.desc(), Migration.id.desc())
    if filters.get("instance_uuid"):
        query = query.where(Migration.instance_id == filters["instance_uuid"])
    if filters.get("host"):
        query = query.where((Migration.source_compute == filters["host"])
                            | (Migration.dest_compute == filters["host"]))
    if filters.get("status"):
        query = query.where(Migration.status == filters["status"])
    if filters.get("migration_type"):
        query = query.where(Migration.migration_type == filters["migration_type"])
    return [as_dict(m) for m in session.scalars(query)]
