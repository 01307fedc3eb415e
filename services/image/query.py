"""Image listing queries: who may see what, Glance's filters, sorting and keyset paging."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true

from overcast import errors
from overcast.context import RequestContext
from services.image import fields
from services.image.models import Image, ImageMember, ImageTag

DEFAULT_LIMIT = 25

# Filters with a meaning of their own; any other key filters on a user property.
CORE_FILTERS = ("name", "status", "visibility", "owner", "member_status", "tags",
                "disk_format", "container_format", "protected", "os_hidden", "size_min",
                "size_max", "id")


def visible_clause(ctx: RequestContext, *, visibility: str | None,
                   member_status: str) -> ColumnElement[bool]:
    """Which images a listing shows ``ctx``, as Glance decides it.

    Without a visibility filter a project sees public images, its own images and shared
    images it is a member of (with ``member_status``, by default accepted); community
    images only with ``visibility=community`` or ``all``. Admins see everything.
    """
    if visibility not in (None, "all", *fields.VISIBILITIES):
        raise errors.BadRequest(f"Invalid visibility value: {visibility}")
    if member_status not in ("all", *fields.MEMBER_STATUSES):
        raise errors.BadRequest(f"Invalid status: {member_status}")
    if ctx.is_admin:
        if visibility in (None, "all"):
            return true()
        return Image.visibility == visibility
    project = ctx.project_id
    own = Image.owner == project if project else false()
    member = false()
    if project:
        cond = [ImageMember.image_id == Image.id, ImageMember.member_id == project]
        if member_status != "all":
            cond.append(ImageMember.status == member_status)
        member = and_(Image.visibility == "shared", exists().where(*cond))
    if visibility is None:
        return or_(Image.visibility == "public", own, member)
    if visibility == "all":
        return or_(Image.visibility.in_(("public", "community")), own, member)
    if visibility in ("public", "community"):
        return Image.visibility == visibility
    if visibility == "private":
        return and_(Image.visibility == "private", own)
    return and_(Image.visibility == "shared", or_(own, member))


def _filter_clauses(filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for key in ("name", "owner", "id"):
        value = filters.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.startswith("in:"):
            # Glance's ``in:`` operator: a comma-separated list (quoted items allowed).
            wanted = [v.strip().strip('"') for v in value[3:].split(",") if v.strip()]
            out.append(getattr(Image, key).in_(wanted))
        else:
            out.append(getattr(Image, key) == value)
    if filters.get("status") is not None:
        if filters["status"] not in fields.STATUSES:
            raise errors.BadRequest(f"Invalid status value: {filters['status']}")
        out.append(Image.status == filters["status"])
    for key in ("disk_format", "container_format"):
        if filters.get(key) is not None:
            out.append(getattr(Image, key) == filters[key])
    if filters.get("protected") is not None:
        out.append(Image.protected == bool(filters["protected"]))
    out.append(Image.os_hidden == bool(filters.get("os_hidden") or False))
    if filters.get("size_min") is not None:
        out.append(Image.size >= int(filters["size_min"]))
    if filters.get("size_max") is not None:
        out.append(Image.size <= int(filters["size_max"]))
    for tag in filters.get("tags") or ():
        out.append(exists().where(ImageTag.image_id == Image.id, ImageTag.value == tag))
    for key, value in filters.items():
        if key not in CORE_FILTERS and value is not None:
            out.append(Image.properties[key].as_string() == str(value))
    return out


def _sort_column(key: str) -> ColumnElement[Any]:
    column = getattr(Image, key)
    # NULLs would drop out of keyset comparisons; sort them as the smallest value instead.
    if key == "size":
        return func.coalesce(column, -1)
    if key in ("name", "disk_format", "container_format"):
        return func.coalesce(column, "")
    return column


def normalize_sort(sort: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Checked sort keys, ending with created_at and id so that pages are stable."""
    keys: list[tuple[str, str]] = []
    for key, direction in sort or (("created_at", "desc"),):
        if key not in fields.SORT_KEYS:
            raise errors.BadRequest(f"Invalid sort key: {key}. It must be one of the "
                                    f"following: {', '.join(fields.SORT_KEYS)}.")
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {direction}")
        keys.append((key, direction))
    last = keys[-1][1]
    for tie in ("created_at", "id"):
        if tie not in (k for k, _ in keys):
            keys.append((tie, last))
    return keys


def _after(marker: Image, keys: list[tuple[str, str]]) -> ColumnElement[bool]:
    """Rows that sort after ``marker`` under ``keys``."""
    values = {"size": -1 if marker.size is None else marker.size}
    for key in ("name", "disk_format", "container_format"):
        values[key] = getattr(marker, key) or ""
    alternatives = []
    for i, (key, direction) in enumerate(keys):
        equal = [_sort_column(k) == values.get(k, getattr(marker, k)) for k, _ in keys[:i]]
        value = values.get(key, getattr(marker, key))
        column = _sort_column(key)
        beyond = column > value if direction == "asc" else column < value
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


def page_size(limit: int | None) -> int:
    """The page size for a requested ``limit`` (None or 0: the default)."""
    if limit is None or limit == 0:
        return DEFAULT_LIMIT
    if limit < 0:
        raise errors.BadRequest("limit param must be positive")
    return min(limit, fields.MAX_LIMIT)


def build(ctx: RequestContext, *, filters: Mapping[str, Any], sort: Sequence[tuple[str, str]],
          limit: int, marker: Image | None) -> Select:
    """The SELECT for one page of at most ``limit`` images."""
    keys = normalize_sort(sort)
    stmt = select(Image).where(
        visible_clause(ctx, visibility=filters.get("visibility"),
                       member_status=filters.get("member_status") or "accepted"),
        *_filter_clauses(filters))
    if marker is not None:
        stmt = stmt.where(_after(marker, keys))
    order = [_sort_column(k).asc() if d == "asc" else _sort_column(k).desc() for k, d in keys]
    return stmt.order_by(*order).limit(limit)
