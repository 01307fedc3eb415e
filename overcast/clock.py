"""Wall-clock time as every service stores it: naive UTC datetimes."""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, in naive UTC, to the microsecond (so rows sort in creation order)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso(value: dt.datetime | None) -> str | None:
    """A stored time as ISO 8601 with microseconds (None stays None)."""
    return value.isoformat(timespec="microseconds") if value else None
