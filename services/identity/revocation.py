"""Revoked tokens: persisted events, mirrored in memory so each check costs a few lookups."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import delete, select

from overcast.db import Database
from services.identity.contract import RevocationEvent
from services.identity.models import Revocation
from services.identity.tokens import TokenData

logger = logging.getLogger(__name__)


class RevocationList:
    """Which tokens are revoked.

    A token is revoked when any of its audit ids is, or when its user, its project, or its
    user on its project had their tokens revoked at or after the token was issued (password
    change, user or project disabled or deleted, role removed).

    The in-memory view is loaded at start and updated by this process's own revocations. If
    several processes share the database, each should call ``refresh()`` periodically.
    Each new revocation is handed, once recorded, to the listeners (``add_listener``), which
    tell the processes that cache validations.
    """

    def __init__(self, db: Database, *, token_ttl: int, clock: Callable[[], float]) -> None:
        self._db = db
        self._ttl = token_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._audit_ids: set[str] = set()
        self._users: dict[str, float] = {}
        self._projects: dict[str, float] = {}
        self._user_projects: dict[tuple[str, str], float] = {}
        self._listeners: list[Callable[[RevocationEvent], None]] = []
        self.refresh()

    def add_listener(self, listener: Callable[[RevocationEvent], None]) -> None:
        """Call ``listener`` with each revocation recorded from now on (from the thread that
        recorded it; it must not block)."""
        self._listeners.append(listener)

    def _announce(self, event: RevocationEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                # The revocation is recorded whatever a listener does; only the news is late.
                logger.exception("a revocation listener failed")

    def refresh(self) -> None:
        """Reload from the database, purging events that no live token can match."""
        now = self._clock()
        with self._db.session() as s:
            s.execute(delete(Revocation).where(Revocation.expires_at < now))
            rows = s.scalars(select(Revocation)).all()
        audit_ids: set[str] = set()
        users: dict[str, float] = {}
        projects: dict[str, float] = {}
        pairs: dict[tuple[str, str], float] = {}
        for row in rows:
            if row.audit_id:
                audit_ids.add(row.audit_id)
            elif row.user_id and row.project_id:
                key = (row.user_id, row.project_id)
                pairs[key] = max(pairs.get(key, 0.0), row.issued_before)
            elif row.user_id:
                users[row.user_id] = max(users.get(row.user_id, 0.0), row.issued_before)
            elif row.project_id:
                projects[row.project_id] = max(projects.get(row.project_id, 0.0),
                                               row.issued_before)
        with self._lock:
            self._audit_ids, self._users = audit_ids, users
            self._projects, self._user_projects = projects, pairs

    def is_revoked(self, data: TokenData) -> bool:
        """Whether the token described by ``data`` has been revoked."""
        if any(a in self._audit_ids for a in data.audit_ids):
            return True
        issued = data.issued_at
        if self._users.get(data.user_id, -1.0) >= issued:
            return True
        if data.project_id is not None:
            if self._projects.get(data.project_id, -1.0) >= issued:
                return True
            if self._user_projects.get((data.user_id, data.project_id), -1.0) >= issued:
                return True
        return False

    def revoke_token(self, data: TokenData) -> None:
        """Revoke one token, and with it the tokens rescoped from it."""
        audit_id = data.audit_ids[0]
        with self._db.session() as s:
            s.add(Revocation(audit_id=audit_id, issued_before=data.issued_at,
                             expires_at=data.expires_at))
        with self._lock:
            self._audit_ids.add(audit_id)
        self._announce(RevocationEvent(audit_id=audit_id, issued_before=data.issued_at))

    def revoke_subject(self, *, user_id: str | None = None,
                       project_id: str | None = None) -> None:
        """Revoke every token issued until now for the user, the project, or the user on the
        project."""
        if user_id is None and project_id is None:
            raise ValueError("revoke_subject needs a user, a project or both")
        now = self._clock()
        with self._db.session() as s:
            s.add(Revocation(user_id=user_id, project_id=project_id, issued_before=now,
                             expires_at=now + self._ttl))
        with self._lock:
            if user_id is not None and project_id is not None:
                self._user_projects[(user_id, project_id)] = now
            elif user_id is not None:
                self._users[user_id] = now
            else:
                self._projects[project_id] = now  # type: ignore[index]
        logger.info("revoked tokens of user=%s project=%s", user_id, project_id)
        self._announce(RevocationEvent(user_id=user_id, project_id=project_id,
                                       issued_before=now))
