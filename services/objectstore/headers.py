"""An object's headers: what a PUT or POST stores, what a GET or HEAD returns, and the
conditional requests (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since).

Plain objects and large objects (``large.py``) answer with the same headers and honour the
same conditions, so both use this module.
"""
from __future__ import annotations

import math
from typing import Any

from services.objectstore.http import HTTPError, Request, http_date, parse_http_date, title_case

STORED_HEADERS = ("content-encoding", "content-disposition", "x-delete-at",
                  "x-object-manifest")
HIDDEN_PREFIX = "x-object-sysmeta-"


def user_headers(req: Request) -> dict[str, str]:
    """The headers of a PUT or POST that are stored with the object."""
    stored = {}
    for key, value in req.headers.items():
        if key.startswith("x-object-meta-") or key in STORED_HEADERS:
            stored[title_case(key)] = value
    return stored


def etag_matches(header: str, etag: str) -> bool:
    values = [v.strip().strip('"') for v in header.split(",")]
    return "*" in values or etag.strip('"') in values


def object_headers(state: Any, *, etag: str) -> dict[str, str]:
    """The response headers of a GET or HEAD of an object in ``state`` (sysmeta hidden)."""
    headers = {"Content-Type": state.content_type or "application/octet-stream",
               "Etag": etag, "Last-Modified": http_date(state.meta_timestamp or
                                                        state.timestamp),
               "X-Timestamp": state.meta_timestamp or state.timestamp,
               "Accept-Ranges": "bytes"}
    for key, value in state.headers.items():
        if not key.lower().startswith(HIDDEN_PREFIX):
            headers[key] = value
    return headers


def check_conditions(req: Request, *, etag: str, timestamp: str,
                     headers: dict[str, str]) -> None:
    """Raise 412 or 304 as the conditional headers ask."""
    if_match = req.header("if-match")
    if if_match is not None and not etag_matches(if_match, etag):
        raise HTTPError(412, headers=headers)
    modified = float(http_date_seconds(timestamp))
    if_unmodified = req.header("if-unmodified-since")
    if if_unmodified is not None:
        since = parse_http_date(if_unmodified)
        if since is not None and modified > since:
            raise HTTPError(412, headers=headers)
    if_none = req.header("if-none-match")
    if if_none is not None:
        if etag_matches(if_none, etag):
            raise HTTPError(304, "", headers=headers)
        return
    if_modified = req.header("if-modified-since")
    if if_modified is not None:
        since = parse_http_date(if_modified)
        if since is not None and modified <= since:
            raise HTTPError(304, "", headers=headers)


def http_date_seconds(timestamp: str) -> int:
    return math.ceil(float(timestamp or 0))
