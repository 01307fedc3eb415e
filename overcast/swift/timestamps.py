"""Swift timestamps: fixed-width strings, so that string order is time order.

Every write (object, tombstone, metadata, listing row) carries one, and the newest wins on
every node, so the proxy that stamps a write and the nodes that compare stamps must agree
on the format.
"""
from __future__ import annotations

import time

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
