"""Swift's listing rules over any sorted source of names.

``list_entries`` applies ``prefix``, ``delimiter``, ``marker``, ``end_marker``, ``limit`` and
``reverse`` exactly as Swift's container and account servers do. With ``reverse``, results
come in descending order, ``marker`` bounds them from above and ``end_marker`` from below.
A delimiter folds every name that has it after the prefix into one ``subdir`` entry.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Named(Protocol):
    name: str


# fetch(low, low_inclusive, high, reverse, limit) -> rows with low < name < high (or
# low <= name when low_inclusive), sorted by name (descending when reverse), at most limit.
Fetch = Callable[[str | None, bool, str | None, bool, int], Sequence[Any]]


@dataclasses.dataclass(frozen=True)
class Subdir:
    name: str


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def list_entries(fetch: Fetch, *, prefix: str = "", delimiter: str = "", marker: str = "",
                 end_marker: str = "", limit: int = 10000,
                 reverse: bool = False) -> list[Any]:
    """Rows and ``Subdir`` entries, in listing order."""
    low: str | None = (end_marker if reverse else marker) or None
    high: str | None = (marker if reverse else end_marker) or None
    low_inclusive = False
    if prefix:
        if low is None or low < prefix:
            low, low_inclusive = prefix, True
        upper = prefix_end(prefix)
        if high is None or high > upper:
            high = upper
    results: list[Any] = []
    while len(results) < limit:
        if low is not None and high is not None and low >= high:
            break
        wanted = limit - len(results)
        rows = fetch(low, low_inclusive, high, reverse, wanted)
        if not rows:
            break
        folded = False
        for row in rows:
            name = row.name
            if delimiter:
                index = name.find(delimiter, len(prefix))
                if index >= 0:
                    subdir = name[:index + len(delimiter)]
                    if not results or getattr(results[-1], "name", None) != subdir \
                            or not isinstance(results[-1], Subdir):
                        results.append(Subdir(subdir))
                    # Skip everything under this subdir and ask again.
                    if reverse:
                        high = subdir
                    else:
                        low, low_inclusive = prefix_end(subdir), True
                    folded = True
                    break
            results.append(row)
            if reverse:
                high = name
            else:
                low, low_inclusive = name, False
            if len(results) >= limit:
                break
        if not folded and len(rows) < wanted:
            break
    return results


@dataclasses.dataclass(frozen=True)
class _Row:
    name: str


def memory_fetch(names: Sequence[str]) -> Fetch:
    """A ``Fetch`` over a list of names (the in-memory twin of a database query)."""
    ordered = sorted(names)

    def fetch(low: str | None, low_inclusive: bool, high: str | None, reverse: bool,
              limit: int) -> list[_Row]:
        rows = [n for n in ordered
                if (low is None or n > low or (low_inclusive and n == low))
                and (high is None or n < high)]
        if reverse:
            rows.reverse()
        return [_Row(n) for n in rows[:limit]]

    return fetch
