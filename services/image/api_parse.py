"""Parsing of Glance v2 requests: JSON bodies, JSON-patch documents and list query strings."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import Request

from overcast import errors
from overcast.errors import excerpt
from overcast.rest import paging
from overcast.rest.body import decode_json
from services.image import fields

PATCH_TYPES = {"application/openstack-images-v2.0-json-patch": 4,
               "application/openstack-images-v2.1-json-patch": 10}
_OPS = ("add", "remove", "replace")
_UNSUPPORTED_FILTERS = ("created_at", "updated_at", "changes-since")


class UnsupportedMediaType(errors.OvercastError):
    """The request's content type is not supported here."""

    code = 415
    title = "unsupportedMediaType"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise errors.BadRequest("Body expected in request.")
    return decode_json(raw)


def _decode_pointer(pointer: Any) -> str:
    """The attribute a JSON pointer names; only one level, as Glance allows."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise errors.BadRequest(f"Pointer `{excerpt(pointer)}` does not start with \"/\".")
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise errors.BadRequest(f"Pointer `{excerpt(pointer)}` contains \"~\" not part of a "
                                "recognized escape sequence.")
    parts = [p.replace("~1", "/").replace("~0", "~").strip()
             for p in pointer[1:].split("/")]
    if len(parts) != 1 or not parts[0]:
        raise errors.BadRequest(
            f"Invalid JSON pointer for this resource: '{excerpt(pointer)}'")
    return parts[0]


def patch_changes(request: Request, body: Any) -> list[dict[str, Any]]:
    """``[{"op", "path", "value"}]`` from a Glance JSON-patch body (draft 4 or draft 10)."""
    draft = PATCH_TYPES[media_type(request)]
    if not isinstance(body, list):
        raise errors.BadRequest("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise errors.BadRequest("Operations must be JSON objects.")
        if draft == 10:
            op = raw.get("op")
            if op not in _OPS:
                raise errors.BadRequest(f"Invalid operation: `{excerpt(op)}`. It must be one of "
                                        f"the following: {', '.join(_OPS)}.")
            if "path" not in raw:
                raise errors.BadRequest("Unable to find 'path' in JSON Schema change")
            path = raw["path"]
        else:
            present = [key for key in _OPS if key in raw]
            if len(present) != 1:
                raise errors.BadRequest("Operation objects must contain exactly one member "
                                        "named \"add\", \"remove\", or \"replace\".")
            op = present[0]
            path = raw[op]
        change: dict[str, Any] = {"op": op, "path": _decode_pointer(path)}
        if op != "remove":
            if "value" not in raw:
                raise errors.BadRequest(f"Operation \"{op}\" requires a member named \"value\".")
            change["value"] = raw["value"]
        changes.append(change)
    return changes


def _sort(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Glance's two sort syntaxes: ``sort=k:dir,...`` or ``sort_key=k&sort_dir=dir``."""
    sort = [v for k, v in params if k == "sort"]
    keys = [v.strip() for k, v in params if k == "sort_key"]
    dirs = [v.strip() for k, v in params if k == "sort_dir"]
    if sort:
        if keys or dirs:
            raise errors.BadRequest("Old and new sorting syntax cannot be combined")
        out = []
        for item in ",".join(sort).split(","):
            key, _, direction = item.partition(":")
            out.append((key.strip(), direction.strip() or "desc"))
        return out
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise errors.BadRequest("Number of sort dirs does not match the number of sort keys")
    if not keys:
        return [("created_at", dirs[0])] if dirs else []
    return [(key, dirs[i] if len(dirs) > 1 else (dirs[0] if dirs else "desc"))
            for i, key in enumerate(keys)]


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise errors.BadRequest(f"Invalid value for '{name}': {excerpt(value)} is not a boolean.")


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(f"{name} param must be an integer") from None


def list_query(params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``{"filters", "limit", "marker", "sort"}`` for ``ImageClient.list_images``."""
    params = list(params)
    filters: dict[str, Any] = {}
    limit = marker = None
    tags = []
    for key, value in params:
        if key == "limit":
            limit = paging.page_limit(
                value, maximum=fields.MAX_LIMIT,
                invalid=lambda _: errors.BadRequest("limit param must be an integer"),
                negative=lambda _: errors.BadRequest("limit param must be positive"))
        elif key == "marker":
            marker = value
        elif key == "tag":
            tags.append(value.strip())
        elif key in ("sort", "sort_key", "sort_dir"):
            continue
        elif key in _UNSUPPORTED_FILTERS:
            raise errors.BadRequest(f"The \"{key}\" filter is not available here.")
        elif key in ("protected", "os_hidden"):
            filters[key] = _bool(key, value)
        elif key in ("size_min", "size_max"):
            filters[key] = _int(key, value)
        else:
            filters[key] = value
    if tags:
        filters["tags"] = tags
    if limit == 0:
        limit = None
    return {"filters": filters, "limit": limit, "marker": marker, "sort": _sort(params)}
