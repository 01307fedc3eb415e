"""What identity tells other processes: revocation events (no transport).

Every process that caches token validations (the object proxy, the volume service) receives
these and drops the cached tokens an event matches, so a revocation bites at once instead of
after a cache time. The type lives in the core (``overcast/keystone/events.py``), since the
core's token cache consumes it and the core imports no service; it is re-exported here as
identity's contract.
"""
from __future__ import annotations

from overcast.keystone.events import REVOCATION_EVENT_TYPE, RevocationEvent

__all__ = ["REVOCATION_EVENT_TYPE", "RevocationEvent"]
