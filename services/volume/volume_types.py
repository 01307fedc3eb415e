"""Volume types: ``__DEFAULT__`` exists from the first start and is the default; admins
create, update and delete others and set their extra specs. A private type (``is_public``
false) is seen by admins and by the projects an admin gave access to (Cinder's type
access)."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from services.volume import access, faults
from services.volume.models import Snapshot, Volume, VolumeType, VolumeTypeAccess
from services.volume.shared import Shared

logger = logging.getLogger(__name__)

_UUID_LIKE = 36


def default_type_id(name: str) -> str:
    """The id the default type is made with (stable, so every start finds the same one)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"overcast:volume-type:{name}"))


def check_spec(key: object, value: object) -> tuple[str, str]:
    if not isinstance(key, str) or not 0 < len(key) <= 255:
        raise errors.BadRequest(f"Invalid input for field/attribute extra_specs. Key "
                                f"{excerpt(key)} must be a string of 1 to 255 characters.")
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str) or len(value) > 255:
        raise errors.BadRequest(f"Invalid input for field/attribute extra_specs. Value of "
                                f"{excerpt(key)} must be a string of at most 255 characters.")
    return key, value


class VolumeTypes:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    # -- bootstrap -------------------------------------------------------------------------

    def ensure_default(self) -> dict[str, Any]:
        """Make the default type if it is missing; it. Idempotent."""
        name = self.shared.settings.default_type
        with self.db.session() as session:
            row = session.scalar(select(VolumeType).where(VolumeType.name == name))
            if row is None:
                row = VolumeType(id=default_type_id(name), name=name,
                                 description="Default Volume Type", is_public=True,
                                 extra_specs={})
                session.add(row)
                session.flush()
                logger.info("volume type %s created", name)
            return row.as_dict()

    # -- lookups ---------------------------------------------------------------------------

    @staticmethod
    def _visible(session: Session, ctx: RequestContext, row: VolumeType) -> bool:
        """Public types for all; a private one for admins and the projects given access."""
        if row.is_public or ctx.is_admin:
            return True
        return bool(ctx.project_id) and session.scalar(select(VolumeTypeAccess.id).where(
            VolumeTypeAccess.volume_type_id == row.id,
            VolumeTypeAccess.project_id == ctx.project_id)) is not None

    def find(self, session: Session, ctx: RequestContext, name_or_id: object) -> VolumeType:
        """The type named or identified by ``name_or_id`` (Cinder's get_by_name_or_id)."""
        if not isinstance(name_or_id, str) or not name_or_id:
            raise errors.BadRequest(f"Invalid volume type {excerpt(name_or_id)}.")
        row = session.get(VolumeType, name_or_id)
        if row is None:
            row = session.scalar(select(VolumeType).where(VolumeType.name == name_or_id))
            if row is None or not self._visible(session, ctx, row):
                if len(name_or_id) == _UUID_LIKE and name_or_id.count("-") == 4:
                    raise faults.type_not_found(name_or_id)
                raise faults.type_name_not_found(name_or_id)
        if not self._visible(session, ctx, row):
            raise faults.type_not_found(name_or_id)
        return row

    def default_row(self, session: Session) -> VolumeType:
        name = self.shared.settings.default_type
        row = session.scalar(select(VolumeType).where(VolumeType.name == name))
        if row is None:
            raise errors.ServiceUnavailable(f"The default volume type {name} is missing.")
        return row

    def get(self, ctx: RequestContext, name_or_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            return self.find(session, ctx, name_or_id).as_dict()

    def default(self, ctx: RequestContext) -> dict[str, Any]:
        with self.db.session() as session:
            return self.default_row(session).as_dict()

    def list(self, ctx: RequestContext, *, is_public: bool | None = True) -> list[dict]:
        """Public types, and the private ones the caller's project was given access to;
        for an admin ``is_public`` None means all, False only private ones (Cinder's
        ``is_public`` query)."""
        with self.db.session() as session:
            rows = session.scalars(select(VolumeType).order_by(VolumeType.created_at,
                                                               VolumeType.name)).all()
            if not ctx.is_admin:
                return [r.as_dict() for r in rows if self._visible(session, ctx, r)]
            return [r.as_dict() for r in rows if is_public is None or r.is_public == is_public]

    # -- access to private types -----------------------------------------------------------

    def access_list(self, ctx: RequestContext, type_id: str) -> list[str]:
        """The projects given access to a private type (404 for a public one)."""
        access.require_admin(ctx, "volume_extension:volume_type_access:get_all_for_type")
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            if row.is_public:
                raise errors.NotFound("Access list not available for public volume types.")
            return list(session.scalars(select(VolumeTypeAccess.project_id).where(
                VolumeTypeAccess.volume_type_id == row.id).order_by(VolumeTypeAccess.id)))

    def add_access(self, ctx: RequestContext, type_id: str, project_id: object) -> None:
        """Let ``project_id`` use a private type (409 when it may already, 400 for a
        public type)."""
        access.require_admin(ctx, "volume_extension:volume_type_access:addProjectAccess")
        project = _project(project_id)
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            if row.is_public:
                raise faults.InvalidVolumeType("Type access modification is not applicable "
                                               "to public volume type.")
            if session.scalar(select(VolumeTypeAccess.id).where(
                    VolumeTypeAccess.volume_type_id == row.id,
                    VolumeTypeAccess.project_id == project)) is not None:
                raise errors.Conflict(f"Volume type access for {row.id} / {project} "
                                      "combination already exists.")
            session.add(VolumeTypeAccess(volume_type_id=row.id, project_id=project))
        logger.info("volume type %s: access for project %s", type_id, project)

    def remove_access(self, ctx: RequestContext, type_id: str, project_id: object) -> None:
        """Take a private type's access away from ``project_id`` (404 when it had none)."""
        access.require_admin(ctx, "volume_extension:volume_type_access:removeProjectAccess")
        project = _project(project_id)
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            if row.is_public:
                raise faults.InvalidVolumeType("Type access modification is not applicable "
                                               "to public volume type.")
            grant = session.scalar(select(VolumeTypeAccess).where(
                VolumeTypeAccess.volume_type_id == row.id,
                VolumeTypeAccess.project_id == project))
            if grant is None:
                raise errors.NotFound(f"Volume type access not found for {row.id} / "
                                      f"{project} combination.")
            session.delete(grant)
        logger.info("volume type %s: access of project %s removed", type_id, project)

    # -- administration --------------------------------------------------------------------

    def create(self, ctx: RequestContext, *, name: object, description: object = None,
               is_public: bool = True, extra_specs: Mapping[str, object] | None = None
               ) -> dict[str, Any]:
        access.require_admin(ctx, "volume_extension:types_manage")
        name = _name(name)
        specs = dict(check_spec(k, v) for k, v in (extra_specs or {}).items())
        with self.db.session() as session:
            if session.scalar(select(VolumeType).where(VolumeType.name == name)) is not None:
                raise errors.Conflict(f"Volume Type {name} already exists.")
            row = VolumeType(id=str(uuid.uuid4()), name=name,
                             description=_description(description), is_public=is_public,
                             extra_specs=specs)
            session.add(row)
            session.flush()
            logger.info("volume type %s (%s) created", row.id, name)
            return row.as_dict()

    def update(self, ctx: RequestContext, type_id: str, *, name: object = None,
               description: object = None, is_public: bool | None = None,
               set_description: bool = False) -> dict[str, Any]:
        access.require_admin(ctx, "volume_extension:types_manage")
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            if name is not None:
                new = _name(name)
                if row.name == self.shared.settings.default_type and new != row.name:
                    raise errors.BadRequest("The default volume type cannot be renamed.")
                if new != row.name and session.scalar(
                        select(VolumeType).where(VolumeType.name == new)) is not None:
                    raise errors.Conflict(f"Volume Type {new} already exists.")
                self.shared.quotas.rename_type(session, row.name, new)
                row.name = new
            if set_description:
                row.description = _description(description)
            if is_public is not None:
                row.is_public = is_public
            session.flush()
            return row.as_dict()

    def delete(self, ctx: RequestContext, type_id: str) -> None:
        access.require_admin(ctx, "volume_extension:types_manage")
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            if row.name == self.shared.settings.default_type:
                raise errors.BadRequest("Default volume type can not be deleted.")
            used = session.scalar(select(func.count()).select_from(Volume).where(
                Volume.volume_type_id == row.id)) or 0
            used += session.scalar(select(func.count()).select_from(Snapshot).where(
                Snapshot.volume_type_id == row.id)) or 0
            if used:
                raise errors.BadRequest("Target volume type is still in use.")
            self.shared.quotas.forget_type(session, row.name)
            session.execute(delete(VolumeTypeAccess).where(
                VolumeTypeAccess.volume_type_id == row.id))
            session.delete(row)
        logger.info("volume type %s deleted", type_id)

    # -- extra specs -----------------------------------------------------------------------

    def extra_specs(self, ctx: RequestContext, type_id: str) -> dict[str, str]:
        with self.db.session() as session:
            return dict(self.find(session, ctx, type_id).extra_specs or {})

    def set_extra_specs(self, ctx: RequestContext, type_id: str,
                        specs: Mapping[str, object]) -> dict[str, str]:
        access.require_admin(ctx, "volume_extension:types_extra_specs:create")
        checked = dict(check_spec(k, v) for k, v in specs.items())
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            row.extra_specs = {**(row.extra_specs or {}), **checked}
            return checked

    def delete_extra_spec(self, ctx: RequestContext, type_id: str, key: str) -> None:
        access.require_admin(ctx, "volume_extension:types_extra_specs:delete")
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            specs = dict(row.extra_specs or {})
            if key not in specs:
                raise errors.NotFound(f"Volume Type {row.id} has no extra specs with key "
                                      f"{excerpt(key)}.")
            del specs[key]
            row.extra_specs = specs


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise errors.BadRequest("Volume type name can not be empty.")
    name = name.strip()
    if len(name) > 255:
        raise errors.BadRequest("Invalid input for field/attribute name. Value: "
                                f"{excerpt(name)}. It is too long (at most 255 characters).")
    return name


def _description(description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description) > 255:
        raise errors.BadRequest("Invalid input for field/attribute description. Value: "
                                f"{excerpt(description)}. It must be a string of at most 255 "
                                "characters.")
    return description


def _project(project_id: object) -> str:
    if not isinstance(project_id, str) or not 0 < len(project_id) <= 255:
        raise errors.BadRequest(f"Invalid input for field/attribute project. Value: "
                                f"{excerpt(project_id)}. It must be a string of 1 to 255 "
                                "characters.")
    return project_id
