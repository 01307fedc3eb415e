"""Container and account listings in Swift's plain text, JSON and XML."""
from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson

from services.objectstore.http import HTTPError, Request

TYPES = {"json": "application/json; charset=utf-8",
         "xml": "application/xml; charset=utf-8",
         "plain": "text/plain; charset=utf-8"}


def listing_format(req: Request) -> str:
    fmt = req.query.get("format", "").lower()
    if fmt in ("json", "xml", "plain"):
        return fmt
    if fmt:
        return "plain"
    accept = req.headers.get("accept", "")
    if "application/json" in accept:
        return "json"
    if "application/xml" in accept or "text/xml" in accept:
        return "xml"
    return "plain"


def last_modified(timestamp: str) -> str:
    stamp = dt.datetime.fromtimestamp(float(timestamp or 0), dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")


def object_entry(row: dict[str, Any]) -> dict[str, Any]:
    return {"hash": row["etag"], "last_modified": last_modified(row["timestamp"]),
            "bytes": row["size"], "name": row["name"], "content_type": row["content_type"]}


def container_entry(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "count": row["object_count"], "bytes": row["bytes_used"],
            "last_modified": last_modified(row["put_timestamp"])}


def render(fmt: str, kind: str, name: str, entries: list[Any]) -> bytes:
    """The listing body; ``kind`` is "container" (objects) or "account" (containers)."""
    to_entry = object_entry if kind == "container" else container_entry
    if fmt == "json":
        return orjson.dumps([{"subdir": e} if isinstance(e, str) else to_entry(e)
                             for e in entries])
    if fmt == "xml":
        root = "container" if kind == "container" else "account"
        item = "object" if kind == "container" else "container"
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<{root} name={quoteattr(name)}>"]
        for entry in entries:
            if isinstance(entry, str):
                parts.append(f"<subdir name={quoteattr(entry)}><name>{escape(entry)}</name>"
                             "</subdir>")
                continue
            parts.append(f"<{item}>")
            for key, value in to_entry(entry).items():
                parts.append(f"<{key}>{escape(str(value))}</{key}>")
            parts.append(f"</{item}>")
        parts.append(f"</{root}>")
        return "".join(parts).encode()
    return "".join((e if isinstance(e, str) else e["name"]) + "\n" for e in entries).encode()


def listing_params(req: Request, max_limit: int) -> dict[str, Any]:
    """Swift's listing query parameters, checked."""
    query = req.query
    limit = max_limit
    if "limit" in query:
        try:
            limit = int(query["limit"])
        except ValueError:
            raise HTTPError(412, "Value of limit must be a positive integer") from None
        if limit < 0:
            raise HTTPError(412, "Value of limit must be a positive integer")
        if limit > max_limit:
            raise HTTPError(412, f"Maximum limit is {max_limit}")
    delimiter = query.get("delimiter", "")
    if delimiter and (len(delimiter) > 1 or ord(delimiter) > 254):
        raise HTTPError(412, "Bad delimiter")
    for key in ("prefix", "marker", "end_marker", "delimiter"):
        if "\x00" in query.get(key, ""):
            raise HTTPError(412, "Invalid UTF8 or contains NULL")
    reverse = query.get("reverse", "").lower() in ("1", "true", "yes", "on", "t", "y")
    return {"prefix": query.get("prefix", ""), "delimiter": delimiter,
            "marker": query.get("marker", ""), "end_marker": query.get("end_marker", ""),
            "limit": limit, "reverse": reverse}
