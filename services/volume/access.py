"""Who may see and change what: a project sees only its own volumes, snapshots, backups and
attachments (another project's are "not found", as in Cinder); an admin sees all."""
from __future__ import annotations

from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from services.volume import faults
from services.volume.models import Attachment, Backup, Snapshot, Volume


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


def load_volume(session: Session, ctx: RequestContext, volume_id: object) -> Volume:
    key = _key(volume_id)
    volume = session.get(Volume, key) if key else None
    if volume is None or not visible(ctx, volume.project_id):
        raise faults.volume_not_found(volume_id)
    return volume


def load_snapshot(session: Session, ctx: RequestContext, snapshot_id: object) -> Snapshot:
    key = _key(snapshot_id)
    snapshot = session.get(Snapshot, key) if key else None
    if snapshot is None or not visible(ctx, snapshot.project_id):
        raise faults.snapshot_not_found(snapshot_id)
    return snapshot


def load_backup(session: Session, ctx: RequestContext, backup_id: object) -> Backup:
    key = _key(backup_id)
    backup = session.get(Backup, key) if key else None
    if backup is None or not visible(ctx, backup.project_id):
        raise faults.backup_not_found(backup_id)
    return backup


def load_attachment(session: Session, ctx: RequestContext, attachment_id: object
                    ) -> Attachment:
    key = _key(attachment_id)
    attachment = session.get(Attachment, key) if key else None
    if attachment is None or not visible(ctx, attachment.volume.project_id):
        raise faults.attachment_not_found(attachment_id)
    return attachment
