"""Roles, and which user holds which role on which project or on the system."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from overcast.db import Database
from overcast.errors import Conflict, NotFound
from services.identity.dbutil import apply_changes, get_or_404, writing
from services.identity.models import Project, Role, RoleAssignment, SystemRoleAssignment, User
from services.identity.revocation import RevocationList

logger = logging.getLogger(__name__)

_ROLE_FIELDS = frozenset({"name", "description"})


class RoleStore:
    """Roles and role assignments. Taking a role away revokes the user's tokens on that
    project, so a token never carries a role its holder has lost."""

    def __init__(self, db: Database, revocations: RevocationList) -> None:
        self._db = db
        self._revocations = revocations

    # -- roles --------------------------------------------------------------------------

    def create_role(self, *, name: str, description: str | None = None,
                    role_id: str | None = None) -> Role:
        """A new role; ``Conflict`` if the name is taken."""
        with writing(self._db, "role") as s:
            self._check_name_free(s, name)
            role = Role(name=name, description=description)
            if role_id:
                role.id = role_id
            s.add(role)
        logger.info("created role %s (%s)", role.id, name)
        return role

    @staticmethod
    def _check_name_free(s: Any, name: str) -> None:
        if s.scalar(select(Role.id).where(Role.name == name)) is not None:
            raise Conflict("Conflict occurred attempting to store role - Duplicate entry "
                           f"found with name {name}.")

    def get_role(self, role_id: str) -> Role:
        with self._db.session() as s:
            return get_or_404(s, Role, role_id, "role")

    def find_role(self, name: str) -> Role:
        with self._db.session() as s:
            row = s.scalar(select(Role).where(Role.name == name))
            if row is None:
                raise NotFound(f"Could not find role: {name}.")
            return row

    def list_roles(self, *, name: str | None = None) -> list[Role]:
        query = select(Role).order_by(Role.name)
        if name is not None:
            query = query.where(Role.name == name)
        with self._db.session() as s:
            return list(s.scalars(query))

    def update_role(self, role_id: str, changes: dict[str, Any]) -> Role:
        """The role after applying ``changes`` (name, description)."""
        with writing(self._db, "role") as s:
            role = get_or_404(s, Role, role_id, "role")
            if changes.get("name") and changes["name"] != role.name:
                self._check_name_free(s, changes["name"])
            apply_changes(role, changes, _ROLE_FIELDS)
        return role

    def delete_role(self, role_id: str) -> None:
        """Delete the role and its assignments, revoking the tokens that carried it."""
        with self._db.session() as s:
            role = get_or_404(s, Role, role_id, "role")
            holders = [(u, p) for u, p in s.execute(
                select(RoleAssignment.user_id, RoleAssignment.project_id)
                .where(RoleAssignment.role_id == role_id))]
            system_holders = set(s.scalars(select(SystemRoleAssignment.user_id)
                                           .where(SystemRoleAssignment.role_id == role_id)))
            s.delete(role)
        for user_id, project_id in holders:
            self._revocations.revoke_subject(user_id=user_id, project_id=project_id)
        for user_id in system_holders:
            self._revocations.revoke_subject(user_id=user_id)
        logger.info("deleted role %s", role_id)

    # -- assignments --------------------------------------------------------------------

    def _check_parties(self, s: Any, user_id: str, project_id: str, role_id: str) -> None:
        get_or_404(s, Project, project_id, "project")
        get_or_404(s, User, user_id, "user")
        get_or_404(s, Role, role_id, "role")

    def grant(self, *, user_id: str, project_id: str, role_id: str) -> None:
        """Give the user the role on the project (a no-op if they hold it already)."""
        with self._db.session() as s:
            self._check_parties(s, user_id, project_id, role_id)
            if s.get(RoleAssignment, (user_id, project_id, role_id)) is None:
                s.add(RoleAssignment(user_id=user_id, project_id=project_id, role_id=role_id))
                logger.info("granted role %s to user %s on project %s",
                            role_id, user_id, project_id)

    def is_granted(self, *, user_id: str, project_id: str, role_id: str) -> bool:
        """Whether the user holds the role on the project (``NotFound`` for unknown ids)."""
        with self._db.session() as s:
            self._check_parties(s, user_id, project_id, role_id)
            return s.get(RoleAssignment, (user_id, project_id, role_id)) is not None

    def ungrant(self, *, user_id: str, project_id: str, role_id: str) -> None:
        """Take the role away, revoking the user's tokens on the project; ``NotFound`` if the
        user did not hold it."""
        with self._db.session() as s:
            self._check_parties(s, user_id, project_id, role_id)
            row = s.get(RoleAssignment, (user_id, project_id, role_id))
            if row is None:
                raise NotFound(f"Could not find role assignment: user {user_id} has no role "
                               f"{role_id} on project {project_id}.")
            s.delete(row)
        self._revocations.revoke_subject(user_id=user_id, project_id=project_id)
        logger.info("removed role %s from user %s on project %s", role_id, user_id, project_id)

    # -- grants on the system -----------------------------------------------------------

    def grant_system(self, *, user_id: str, role_id: str) -> None:
        """Give the user the role on the system (a no-op if they hold it already)."""
        with self._db.session() as s:
            get_or_404(s, User, user_id, "user")
            get_or_404(s, Role, role_id, "role")
            if s.get(SystemRoleAssignment, (user_id, role_id)) is None:
                s.add(SystemRoleAssignment(user_id=user_id, role_id=role_id))
                logger.info("granted role %s to user %s on the system", role_id, user_id)

    def is_granted_system(self, *, user_id: str, role_id: str) -> bool:
        """Whether the user holds the role on the system (``NotFound`` for unknown ids)."""
        with self._db.session() as s:
            get_or_404(s, User, user_id, "user")
            get_or_404(s, Role, role_id, "role")
            return s.get(SystemRoleAssignment, (user_id, role_id)) is not None

    def ungrant_system(self, *, user_id: str, role_id: str) -> None:
        """Take the system role away, revoking every token of the user (a system-scoped
        token names no project a narrower revocation could match); ``NotFound`` if the
        user did not hold it."""
        with self._db.session() as s:
            get_or_404(s, User, user_id, "user")
            get_or_404(s, Role, role_id, "role")
            row = s.get(SystemRoleAssignment, (user_id, role_id))
            if row is None:
                raise NotFound(f"Could not find role assignment: user {user_id} has no role "
                               f"{role_id} on the system.")
            s.delete(row)
        self._revocations.revoke_subject(user_id=user_id)
        logger.info("removed role %s from user %s on the system", role_id, user_id)

    def roles_on_system(self, *, user_id: str) -> list[Role]:
        """The roles the user holds on the system, by name."""
        query = (select(Role)
                 .join(SystemRoleAssignment, SystemRoleAssignment.role_id == Role.id)
                 .where(SystemRoleAssignment.user_id == user_id).order_by(Role.name))
        with self._db.session() as s:
            return list(s.scalars(query))

    def list_system_assignments(self, *, user_id: str | None = None,
                                role_id: str | None = None) -> list[SystemRoleAssignment]:
        """System assignments matching every filter given."""
        query = select(SystemRoleAssignment).order_by(SystemRoleAssignment.user_id,
                                                      SystemRoleAssignment.role_id)
        if user_id is not None:
            query = query.where(SystemRoleAssignment.user_id == user_id)
        if role_id is not None:
            query = query.where(SystemRoleAssignment.role_id == role_id)
        with self._db.session() as s:
            return list(s.scalars(query))

    # -- what a user holds ----------------------------------------------------------------

    def roles_on_project(self, *, user_id: str, project_id: str) -> list[Role]:
        """The roles the user holds on the project, by name."""
        query = (select(Role).join(RoleAssignment, RoleAssignment.role_id == Role.id)
                 .where(RoleAssignment.user_id == user_id,
                        RoleAssignment.project_id == project_id)
                 .order_by(Role.name))
        with self._db.session() as s:
            return list(s.scalars(query))

    def roles_in_domain(self, *, user_id: str, domain_id: str) -> list[Role]:
        """The roles the user holds on any project of the domain, by name."""
        query = (select(Role).join(RoleAssignment, RoleAssignment.role_id == Role.id)
                 .join(Project, Project.id == RoleAssignment.project_id)
                 .where(RoleAssignment.user_id == user_id, Project.domain_id == domain_id)
                 .distinct().order_by(Role.name))
        with self._db.session() as s:
            return list(s.scalars(query))

    def project_ids_for_user(self, user_id: str) -> set[str]:
        """The projects on which the user holds at least one role."""
        with self._db.session() as s:
            return set(s.scalars(select(RoleAssignment.project_id)
                                 .where(RoleAssignment.user_id == user_id)))

    def list_assignments(self, *, user_id: str | None = None, project_id: str | None = None,
                         role_id: str | None = None) -> list[RoleAssignment]:
        """Assignments matching every filter given."""
        query = select(RoleAssignment).order_by(
            RoleAssignment.user_id, RoleAssignment.project_id, RoleAssignment.role_id)
        if user_id is not None:
            query = query.where(RoleAssignment.user_id == user_id)
        if project_id is not None:
            query = query.where(RoleAssignment.project_id == project_id)
        if role_id is not None:
            query = query.where(RoleAssignment.role_id == role_id)
        with self._db.session() as s:
            return list(s.scalars(query))
