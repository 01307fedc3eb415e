"""What identity tells the processes that cache token validations: revocation events.

Identity publishes one on the bus (``overcast.notifications``, event type
``REVOCATION_EVENT_TYPE``) for each revocation it records; every process that caches
validations (``tokens.TokenCache``) drops the tokens an event matches the moment it arrives,
so a revocation bites at once instead of after a cache time. No transport here.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection

from overcast.wire import Wire

# The notification's event type on the bus (``overcast.notifications``).
REVOCATION_EVENT_TYPE = "identity.revocation.create"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RevocationEvent(Wire):
    """One revocation, as identity records it.

    With ``audit_id`` it revokes the tokens carrying that audit id (one token and the tokens
    rescoped from it). Otherwise it revokes the tokens of ``user_id``, of ``project_id``, or of
    the user on the project, issued at or before ``issued_before`` (seconds since the epoch).
    """

    issued_before: float
    audit_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None

    def matches(self, *, audit_ids: Collection[str], user_id: str, project_id: str | None,
                issued_at: float) -> bool:
        """Whether a token with these attributes is revoked by this event."""
        if self.audit_id is not None:
            return self.audit_id in audit_ids
        if self.user_id is None and self.project_id is None:
            return False
        if issued_at > self.issued_before:
            return False
        if self.user_id is not None and self.user_id != user_id:
            return False
        return self.project_id is None or self.project_id == project_id
