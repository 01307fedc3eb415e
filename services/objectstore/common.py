"""What the proxy and the storage nodes share: timestamps and Swift's limits."""
from __future__ import annotations

import time

# Swift's constraints (swift/common/constraints.py defaults).
MAX_FILE_SIZE = 5 * 1024 * 1024 * 1024 + 2
MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
MAX_HEADER_SIZE = 8192
MAX_OBJECT_NAME_LENGTH = 1024
CONTAINER_LISTING_LIMIT = 10000
ACCOUNT_LISTING_LIMIT = 10000
MAX_ACCOUNT_NAME_LENGTH = 256
MAX_CONTAINER_NAME_LENGTH = 256
EXTRA_HEADER_COUNT = 0

# Swift's static large object limits (slo middleware defaults).
SLO_MAX_MANIFEST_SEGMENTS = 1000
SLO_MAX_MANIFEST_SIZE = 8 * 1024 * 1024
SLO_MIN_SEGMENT_SIZE = 1

_last = 0.0


def normalize(value: float | str) -> str:
    """A Swift timestamp string: fixed width, so string order is time order."""
    return f"{float(value):016.5f}"


def now() -> str:
    """A fresh timestamp, strictly later than the previous one from this process."""
    global _last
    value = max(time.time(), _last + 0.00001)
    _last = value
    return normalize(value)


def to_float(timestamp: str) -> float:
    return float(timestamp) if timestamp else 0.0
