"""Sorting and pages of a list, as Cinder's ``get_sort_params`` and
``get_pagination_params`` read them: ``sort=key[:dir][,key[:dir]]`` (or the older
``sort_key``/``sort_dir``), ``limit`` (at most ``MAX_LIMIT``), ``marker`` (the id of the last
item seen) and ``offset``. The default order is newest first; ``id`` breaks ties."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from overcast import errors
from overcast.errors import excerpt
from overcast.rest.paging import page_limit
from services.volume import faults

MAX_LIMIT = 1000  # Cinder's osapi_max_limit


_ALIASES = {"display_name": "name", "display_description": "description"}


@dataclasses.dataclass(frozen=True)
class Page:
    sort: tuple[tuple[str, str], ...] = (("created_at", "desc"),)
    limit: int | None = None
    marker: str | None = None
    offset: int = 0


FIRST_PAGE = Page()


def parse(query: Mapping[str, str], *, keys: Sequence[str]) -> Page:
    """The page a list request asks for; 400 for a sort key not in ``keys``, a bad
    direction, or a limit or offset that is not a whole number."""
    if "sort" in query and ("sort_key" in query or "sort_dir" in query):
        raise errors.BadRequest("The 'sort_key' and 'sort_dir' parameters are deprecated and "
                                "cannot be used with the 'sort' parameter.")
    pairs: list[tuple[str, str]] = []
    if "sort" in query:
        for item in query["sort"].strip().split(","):
            key, _, direction = item.partition(":")
            pairs.append((key.strip(), (direction or "desc").strip()))
    else:
        pairs.append((query.get("sort_key", "created_at").strip(),
                      query.get("sort_dir", "desc").strip()))
    # Cinder sorts by its columns, so ``display_name`` names what the API calls ``name``.
    pairs = [(_ALIASES.get(key, key) if _ALIASES.get(key) in keys else key, direction)
             for key, direction in pairs]
    for key, direction in pairs:
        if key not in keys:
            raise faults.InvalidInput(f"Invalid sort key {excerpt(key)}")
        if direction.lower() not in ("asc", "desc"):
            raise faults.InvalidInput(f"Invalid sort dir {excerpt(direction)}")
    limit = None
    if "limit" in query:
        limit = page_limit(query["limit"], maximum=MAX_LIMIT,
                           invalid=lambda _: errors.BadRequest("limit param must be an integer"),
                           negative=lambda _: errors.BadRequest("limit param must be positive"))
    offset = 0
    if "offset" in query:
        offset = page_limit(query["offset"], maximum=None,
                            invalid=lambda q: faults.InvalidInput(
                                f"offset must be an integer, not {q}"),
                            negative=lambda q: faults.InvalidInput(
                                f"offset must be >= 0, not {q}"))
    marker = query.get("marker") or None
    return Page(sort=tuple((k, d.lower()) for k, d in pairs), limit=limit, marker=marker,
                offset=offset)


def _sortable(value: Any) -> tuple[int, Any]:
    # None sorts before everything, and mixed types never meet in one comparison.
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    return (2, value)


def apply(items: list[dict[str, Any]], page: Page, *,
          field: Callable[[dict[str, Any], str], Any] = lambda item, key: item.get(key)
          ) -> list[dict[str, Any]]:
    """``items`` in ``page``'s order, from after its marker, at most ``limit`` of them.
    NotFound when the marker is not among ``items``."""
    order = list(page.sort)
    if not any(key == "id" for key, _ in order):
        order.append(("id", order[0][1] if order else "desc"))
    ordered = list(items)
    for key, direction in reversed(order):  # stable sorts, least significant key first
        ordered.sort(key=lambda item, k=key: _sortable(field(item, k)),
                     reverse=direction == "desc")
    if page.marker is not None:
        position = next((i for i, item in enumerate(ordered) if item["id"] == page.marker),
                        None)
        if position is None:
            raise faults.marker_not_found(page.marker)
        ordered = ordered[position + 1:]
    ordered = ordered[page.offset:]
    limit = MAX_LIMIT if page.limit is None else page.limit
    return ordered[:limit]
