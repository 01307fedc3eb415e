"""Swift's limits, the same for the proxy (request checks, /info) and the storage nodes."""
from __future__ import annotations

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
