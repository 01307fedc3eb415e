"""Range headers: what a GET with ``Range`` gets (ranges, 416, or the whole object)."""
from __future__ import annotations

from services.objectstore.ranges import parse_range


def test_parse_range():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == [(0, 10)]
    assert parse_range("bytes=-10", 100) == [(90, 100)]
    assert parse_range("bytes=90-", 100) == [(90, 100)]
    assert parse_range("bytes=0-1,5-6", 100) == [(0, 2), (5, 7)]
    assert parse_range("bytes=200-300", 100) == []  # unsatisfiable: 416
    assert parse_range("bytes=5-1", 100) is None  # malformed: ignored
    assert parse_range("items=0-1", 100) is None
