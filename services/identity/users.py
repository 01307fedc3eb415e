"""Users and their passwords (only ever stored as scrypt hashes)."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from overcast.db import Database
from overcast.errors import Conflict, NotFound, Unauthorized
from services.identity.dbutil import apply_changes, get_or_404, writing
from services.identity.models import Domain, Project, User
from services.identity.passwords import check_new_password, hash_password, verify_password
from services.identity.revocation import RevocationList

logger = logging.getLogger(__name__)

_USER_FIELDS = frozenset({"name", "enabled", "default_project_id", "description", "extra",
                          "password_hash"})


class UserStore:
    """Users in domains. Changing a password, or disabling or deleting a user, revokes the
    user's tokens."""

    def __init__(self, db: Database, revocations: RevocationList) -> None:
        self._db = db
        self._revocations = revocations

    def create_user(self, *, name: str, domain_id: str = "default",
                    password: str | None = None, enabled: bool = True,
                    default_project_id: str | None = None, description: str | None = None,
                    extra: dict[str, Any] | None = None, user_id: str | None = None) -> User:
        """A new user; ``NotFound`` for an unknown domain or default project, ``Conflict``
        for a name taken in the domain, ``BadRequest`` for an empty password (None means
        no password: the user cannot authenticate with one)."""
        if password is not None:
            check_new_password(password)
        hashed = hash_password(password) if password is not None else None
        with writing(self._db, "user") as s:
            get_or_404(s, Domain, domain_id, "domain")
            if default_project_id is not None:
                get_or_404(s, Project, default_project_id, "project")
            self._check_name_free(s, name, domain_id)
            user = User(name=name, domain_id=domain_id, password_hash=hashed, enabled=enabled,
                        default_project_id=default_project_id, description=description,
                        extra=extra or {})
            if user_id:
                user.id = user_id
            s.add(user)
        logger.info("created user %s (%s)", user.id, name)
        return user

    @staticmethod
    def _check_name_free(s: Any, name: str, domain_id: str) -> None:
        taken = s.scalar(select(User.id).where(User.name == name, User.domain_id == domain_id))
        if taken is not None:
            raise Conflict("Conflict occurred attempting to store user - Duplicate entry "
                           f"found with name {name} at domain ID {domain_id}.")

    def get_user(self, user_id: str) -> User:
        with self._db.session() as s:
            return get_or_404(s, User, user_id, "user")

    def find_user(self, *, name: str, domain_id: str) -> User:
        """The user named ``name`` in the domain; ``NotFound`` if there is none."""
        with self._db.session() as s:
            row = s.scalar(select(User).where(User.name == name, User.domain_id == domain_id))
            if row is None:
                raise NotFound(f"Could not find user: {name}.")
            return row

    def list_users(self, *, name: str | None = None, domain_id: str | None = None,
                   enabled: bool | None = None) -> list[User]:
        query = select(User).order_by(User.name, User.id)
        if name is not None:
            query = query.where(User.name == name)
        if domain_id is not None:
            query = query.where(User.domain_id == domain_id)
        if enabled is not None:
            query = query.where(User.enabled == enabled)
        with self._db.session() as s:
            return list(s.scalars(query))

    def update_user(self, user_id: str, changes: dict[str, Any]) -> User:
        """The user after applying ``changes`` (name, enabled, default_project_id,
        description, extra, password); ``BadRequest`` for an empty password."""
        changes = dict(changes)
        new_password = changes.pop("password", None)
        if new_password is not None:
            check_new_password(new_password)
            changes["password_hash"] = hash_password(new_password)
        with writing(self._db, "user") as s:
            user = get_or_404(s, User, user_id, "user")
            new_name = changes.get("name")
            if new_name and new_name != user.name:
                self._check_name_free(s, new_name, user.domain_id)
            if changes.get("default_project_id") is not None:
                get_or_404(s, Project, changes["default_project_id"], "project")
            if "extra" in changes:
                changes["extra"] = {**user.extra, **changes["extra"]}
            apply_changes(user, changes, _USER_FIELDS)
        if new_password is not None or changes.get("enabled") is False:
            self._revocations.revoke_subject(user_id=user_id)
        return user

    def delete_user(self, user_id: str) -> None:
        """Delete the user with their role assignments, revoking their tokens."""
        with self._db.session() as s:
            s.delete(get_or_404(s, User, user_id, "user"))
        self._revocations.revoke_subject(user_id=user_id)
        logger.info("deleted user %s", user_id)

    @staticmethod
    def check_password(user: User | None, password: str) -> bool:
        """Whether ``password`` is ``user``'s; takes as long for a missing user."""
        return verify_password(password, user.password_hash if user is not None else None)

    def change_password(self, user_id: str, *, original_password: str,
                        new_password: str) -> None:
        """Set a new password if the original one is right (``Unauthorized`` otherwise) and
        the new one is allowed (``BadRequest`` otherwise, before the original is checked)."""
        check_new_password(new_password)
        with self._db.session() as s:
            user = s.get(User, user_id)
        if not self.check_password(user, original_password) or user is None \
                or not user.enabled:
            raise Unauthorized("Error when changing user password: the original password "
                               "is incorrect.")
        self.update_user(user_id, {"password": new_password})
        logger.info("user %s changed their password", user_id)

    def set_password_if_changed(self, user_id: str, password: str) -> bool:
        """Make ``password`` the user's unless it already is; whether it changed."""
        if self.check_password(self.get_user(user_id), password):
            return False
        self.update_user(user_id, {"password": password})
        return True
