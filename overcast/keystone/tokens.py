"""What a validated token says, and a cache of validations that revocations empty.

The cache is trusted only while revocation events can reach this process: the subscription
(``revocations.py``) drops the entries an event matches the moment it arrives, and empties
the cache and stops filling it while the bus is down, since events sent then are lost.
Without a subscription the cache stays off and every request is validated with Keystone.
"""
from __future__ import annotations

import dataclasses
import time

from overcast.context import RequestContext
from overcast.keystone.events import RevocationEvent

DEFAULT_DOMAIN = "default"


@dataclasses.dataclass(frozen=True)
class Identity:
    """What a valid token says.

    ``project_id`` is set only for a project-scoped token; a domain-scoped token has
    ``domain_id``, a system-scoped one ``system_scope == "all"``, an unscoped one neither.
    ``expires`` is when this validation stops being trusted (the token's expiry, or sooner).
    """

    user_id: str
    user_name: str
    project_id: str | None
    roles: frozenset[str]
    expires: float
    project_name: str = ""
    user_domain_id: str = DEFAULT_DOMAIN
    project_domain_id: str = DEFAULT_DOMAIN
    domain_id: str | None = None
    system_scope: str | None = None
    audit_ids: tuple[str, ...] = ()
    issued_at: float = 0.0

    def context(self, request_id: str) -> RequestContext:
        """The request context of a request made with this token."""
        return RequestContext(
            request_id=request_id, user_id=self.user_id, project_id=self.project_id,
            domain_id=self.domain_id or (self.project_domain_id if self.project_id else None),
            roles=tuple(sorted(self.roles)), user_name=self.user_name,
            project_name=self.project_name or None, system_scope=self.system_scope)

    def revoked_by(self, event: RevocationEvent) -> bool:
        return event.matches(audit_ids=self.audit_ids, user_id=self.user_id,
                             project_id=self.project_id, issued_at=self.issued_at)


class TokenCache:
    """Token -> Identity for valid tokens, and a brief memory of refused ones.

    ``generation`` changes whenever entries are dropped; a validation that started before
    the change is not stored (``put(..., generation=...)``), so a token revoked while
    Keystone was being asked is not cached as valid afterwards. A new cache is off (stores
    nothing) until ``resume``.
    """

    def __init__(self, *, max_entries: int = 10_000, refused_ttl: float = 2.0) -> None:
        self.max_entries = max_entries
        self.refused_ttl = refused_ttl
        self.generation = 0
        self.live = False
        self._valid: dict[str, Identity] = {}
        self._refused: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._valid)

    def get(self, token: str, *, now: float | None = None) -> Identity | None:
        now = time.time() if now is None else now
        identity = self._valid.get(token)
        if identity is not None and identity.expires > now:
            return identity
        return None

    def refused(self, token: str, *, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self._refused.get(token, 0.0) > now

    def put(self, token: str, identity: Identity, *, generation: int) -> None:
        """Remember a validation that began at ``generation``, if the cache is live and
        nothing was dropped since."""
        if not self.live or generation != self.generation:
            return
        if len(self._valid) >= self.max_entries:
            self._valid.clear()
        self._valid[token] = identity

    def refuse(self, token: str, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if len(self._refused) >= self.max_entries:
            self._refused.clear()
        self._refused[token] = now + self.refused_ttl

    def revoke(self, event: RevocationEvent) -> int:
        """Drop every cached token ``event`` revokes; how many were dropped."""
        self.generation += 1
        doomed = [token for token, identity in self._valid.items()
                  if identity.revoked_by(event)]
        for token in doomed:
            del self._valid[token]
        return len(doomed)

    def suspend(self) -> None:
        """Revocations may be missed from now on: forget every validation, store none."""
        self.live = False
        self.generation += 1
        self._valid.clear()

    def resume(self) -> None:
        """Revocations arrive again: start afresh (some may have been missed) and cache."""
        self.generation += 1
        self._valid.clear()
        self.live = True
