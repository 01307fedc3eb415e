"""Domains and projects."""
from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from overcast.db import Database
from overcast.errors import Conflict, Forbidden, NotFound
from services.identity.dbutil import apply_changes, get_or_404, writing
from services.identity.models import Domain, Project, User
from services.identity.revocation import RevocationList

logger = logging.getLogger(__name__)

_DOMAIN_FIELDS = frozenset({"name", "description", "enabled", "tags"})
_PROJECT_FIELDS = frozenset({"name", "description", "enabled", "tags", "extra"})


class ResourceStore:
    """Domains and the projects in them. Disabling or deleting one revokes its tokens."""

    def __init__(self, db: Database, revocations: RevocationList) -> None:
        self._db = db
        self._revocations = revocations

    # -- domains ------------------------------------------------------------------------

    def create_domain(self, *, name: str, description: str = "", enabled: bool = True,
                      tags: list[str] | None = None, domain_id: str | None = None) -> Domain:
        """A new domain; ``Conflict`` if the name or id is taken."""
        with writing(self._db, "domain") as s:
            if s.scalar(select(Domain.id).where(Domain.name == name)) is not None:
                raise Conflict("Conflict occurred attempting to store domain - "
                               f"Duplicate entry found with name {name}.")
            domain = Domain(name=name, description=description, enabled=enabled,
                            tags=tags or [])
            if domain_id:
                domain.id = domain_id
            s.add(domain)
        logger.info("created domain %s (%s)", domain.id, name)
        return domain

    def get_domain(self, domain_id: str) -> Domain:
        with self._db.session() as s:
            return get_or_404(s, Domain, domain_id, "domain")

    def find_domain(self, *, domain_id: str | None = None, name: str | None = None) -> Domain:
        """The domain with this id, else with this name; ``NotFound`` if neither exists."""
        with self._db.session() as s:
            if domain_id is not None:
                return get_or_404(s, Domain, domain_id, "domain")
            row = s.scalar(select(Domain).where(Domain.name == name))
            if row is None:
                raise NotFound(f"Could not find domain: {name}.")
            return row

    def list_domains(self, *, name: str | None = None, enabled: bool | None = None,
                     ids: Collection[str] | None = None) -> list[Domain]:
        query = select(Domain).order_by(Domain.name)
        if name is not None:
            query = query.where(Domain.name == name)
        if enabled is not None:
            query = query.where(Domain.enabled == enabled)
        if ids is not None:
            query = query.where(Domain.id.in_(list(ids)))
        with self._db.session() as s:
            return list(s.scalars(query))

    def domain_names(self) -> dict[str, str]:
        """Every domain's name by id."""
        with self._db.session() as s:
            return {row.id: row.name for row in s.execute(select(Domain.id, Domain.name))}

    def update_domain(self, domain_id: str, changes: dict[str, Any]) -> Domain:
        """The domain after applying ``changes`` (name, description, enabled, tags)."""
        with writing(self._db, "domain") as s:
            domain = get_or_404(s, Domain, domain_id, "domain")
            new_name = changes.get("name")
            if new_name and new_name != domain.name and s.scalar(
                    select(Domain.id).where(Domain.name == new_name)) is not None:
                raise Conflict("Conflict occurred attempting to store domain - "
                               f"Duplicate entry found with name {new_name}.")
            apply_changes(domain, changes, _DOMAIN_FIELDS)
        if changes.get("enabled") is False:
            self._revoke_domain(domain_id)
        return domain

    def delete_domain(self, domain_id: str) -> None:
        """Delete a disabled domain with its projects and users (``Forbidden`` if enabled)."""
        with self._db.session() as s:
            domain = get_or_404(s, Domain, domain_id, "domain")
            if domain.enabled:
                raise Forbidden("Cannot delete a domain that is enabled, please disable it "
                                "first.")
        self._revoke_domain(domain_id)
        with self._db.session() as s:
            for model in (User, Project):
                for row in s.scalars(select(model).where(model.domain_id == domain_id)):
                    s.delete(row)
            s.flush()
            s.delete(s.get(Domain, domain_id))
        logger.info("deleted domain %s", domain_id)

    def _revoke_domain(self, domain_id: str) -> None:
        with self._db.session() as s:
            user_ids = list(s.scalars(select(User.id).where(User.domain_id == domain_id)))
            project_ids = list(s.scalars(
                select(Project.id).where(Project.domain_id == domain_id)))
        for user_id in user_ids:
            self._revocations.revoke_subject(user_id=user_id)
        for project_id in project_ids:
            self._revocations.revoke_subject(project_id=project_id)

    # -- projects -----------------------------------------------------------------------

    def create_project(self, *, name: str, domain_id: str = "default", description: str = "",
                       enabled: bool = True, tags: list[str] | None = None,
                       extra: dict[str, Any] | None = None,
                       project_id: str | None = None) -> Project:
        """A new project; ``NotFound`` for an unknown domain, ``Conflict`` for a taken name."""
        with writing(self._db, "project") as s:
            get_or_404(s, Domain, domain_id, "domain")
            self._check_name_free(s, name, domain_id)
            project = Project(name=name, domain_id=domain_id, description=description,
                              enabled=enabled, tags=tags or [], extra=extra or {})
            if project_id:
                project.id = project_id
            s.add(project)
        logger.info("created project %s (%s)", project.id, name)
        return project

    @staticmethod
    def _check_name_free(s: Any, name: str, domain_id: str) -> None:
        taken = s.scalar(select(Project.id).where(Project.name == name,
                                                  Project.domain_id == domain_id))
        if taken is not None:
            raise Conflict("Conflict occurred attempting to store project - it is not "
                           "permitted to have two projects with the same name in the same "
                           f"domain : {name}.")

    def get_project(self, project_id: str) -> Project:
        with self._db.session() as s:
            return get_or_404(s, Project, project_id, "project")

    def find_project(self, *, name: str, domain_id: str) -> Project:
        """The project named ``name`` in the domain; ``NotFound`` if there is none."""
        with self._db.session() as s:
            row = s.scalar(select(Project).where(Project.name == name,
                                                 Project.domain_id == domain_id))
            if row is None:
                raise NotFound(f"Could not find project: {name}.")
            return row

    def list_projects(self, *, name: str | None = None, domain_id: str | None = None,
                      enabled: bool | None = None,
                      ids: Collection[str] | None = None) -> list[Project]:
        """Projects matching every filter given, by name."""
        query = select(Project).order_by(Project.name, Project.id)
        if name is not None:
            query = query.where(Project.name == name)
        if domain_id is not None:
            query = query.where(Project.domain_id == domain_id)
        if enabled is not None:
            query = query.where(Project.enabled == enabled)
        if ids is not None:
            query = query.where(Project.id.in_(list(ids)))
        with self._db.session() as s:
            return list(s.scalars(query))

    def update_project(self, project_id: str, changes: dict[str, Any]) -> Project:
        """The project after applying ``changes`` (name, description, enabled, tags, extra)."""
        with writing(self._db, "project") as s:
            project = get_or_404(s, Project, project_id, "project")
            new_name = changes.get("name")
            if new_name and new_name != project.name:
                self._check_name_free(s, new_name, project.domain_id)
            if "extra" in changes:
                changes = {**changes, "extra": {**project.extra, **changes["extra"]}}
            apply_changes(project, changes, _PROJECT_FIELDS)
        if changes.get("enabled") is False:
            self._revocations.revoke_subject(project_id=project_id)
        return project

    def delete_project(self, project_id: str) -> None:
        """Delete the project with its role assignments, revoking its tokens."""
        with self._db.session() as s:
            s.delete(get_or_404(s, Project, project_id, "project"))
        self._revocations.revoke_subject(project_id=project_id)
        logger.info("deleted project %s", project_id)
