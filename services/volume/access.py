"""Who may see and change what: a project sees only its own volumes, snapshots, backups and
attachments (another project's are "not found", as in Cinder); an admin sees all."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from services.volume import faults
from services.volume.models import Attachment, Backup, Snapshot, Volume

T = TypeVar("T")


def visible(ctx: RequestContext, project_id: str | None) -> bool:
    return ctx.is_admin or (bool(ctx.project_id) and project_id == ctx.project_id)


def require_admin(ctx: RequestContext, rule: str = "") -> None:
    if not ctx.is_admin:
        raise faults.policy_denied(rule)


def owner(ctx: RequestContext) -> str:
    """The project a new resource of ``ctx`` belongs to."""
    if not ctx.project_id:
        raise errors.Forbidden("This API needs a project-scoped token; this token has no "
                               "project scope.")
    return ctx.project_id


def _key(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _load(session: Session, ctx: RequestContext, model: type[T], ident: object,
          not_found: Callable[[object], errors.OvercastError],
          project_of: Callable[[T], str | None]) -> T:
    """The row ``ident`` of ``model`` if ``ctx`` may see it, else ``not_found(ident)``."""
    key = _key(ident)
    row = session.get(model, key) if key else None
    if row is None or not visible(ctx, project_of(row)):
        raise not_found(ident)
    return row


def load_volume(session: Session, ctx: RequestContext, volume_id: object) -> Volume:
    return _load(session, ctx, Volume, volume_id, faults.volume_not_found,
                 lambda row: row.project_id)


def load_snapshot(session: Session, ctx: RequestContext, snapshot_id: object) -> Snapshot:
    return _load(session, ctx, Snapshot, snapshot_id, faults.snapshot_not_found,
                 lambda row: row.project_id)


def load_backup(session: Session, ctx: RequestContext, backup_id: object) -> Backup:
    return _load(session, ctx, Backup, backup_id, faults.backup_not_found,
                 lambda row: row.project_id)


def load_attachment(session: Session, ctx: RequestContext, attachment_id: object
                    ) -> Attachment:
    return _load(session, ctx, Attachment, attachment_id, faults.attachment_not_found,
                 lambda row: row.volume.project_id)
