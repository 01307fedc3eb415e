"""Large objects: dynamic (DLO: a manifest naming a container/prefix of segments) and static
(SLO: a JSON manifest listing segments with their ETags and sizes).

Reads of either stream the segments in order, one replica at a time, never holding more than
a chunk; ranges skip whole segments that lie outside them.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from overcast.swift import limits, timestamps
from services.objectstore.containers import list_all
from services.objectstore.formats import last_modified
from services.objectstore.headers import check_conditions, object_headers, user_headers
from services.objectstore.http import HTTPError, Request, Response
from services.objectstore.proxy import Fetched, Proxy
from services.objectstore.ranges import content_range, parse_range
from services.objectstore.replicas import ObjectWrite, ReplicaWriter

logger = logging.getLogger(__name__)

Segment = tuple[str, str, int]  # (container, object, size)


def _split(path: str) -> tuple[str, str]:
    container, _, obj = path.lstrip("/").partition("/")
    if not container or not obj:
        raise ValueError(path)
    return container, obj


async def _may(req: Request, container: str, *, write: bool = False) -> bool:
    """Whether the requester may read (or write) the objects of segment ``container``."""
    return req.objects_gate is not None and await req.objects_gate(container, write=write)


async def _check_readable(req: Request, containers: set[str]) -> None:
    for container in sorted(containers):
        if not await _may(req, container):
            raise HTTPError(403)


async def _serve(proxy: Proxy, req: Request, account: str, segments: list[Segment],
                 headers: dict[str, str]) -> Response:
    """Stream ``segments`` as one object (whole, or one range)."""
    total = sum(size for _, _, size in segments)
    check_conditions(req, etag=headers["Etag"], timestamp=headers["X-Timestamp"],
                     headers=headers)
    if req.method == "HEAD":
        return Response(200, headers, content_length=total)
    start, end, status = 0, total, 200
    ranges = parse_range(req.header("range"), total)
    if ranges is not None:
        if not ranges:
            raise HTTPError(416, headers={"Content-Range": f"bytes */{total}"})
        if len(ranges) == 1:
            start, end = ranges[0]
            headers["Content-Range"] = content_range(start, end, total)
            status = 206
        # Several ranges over a large object: Swift sends the whole object too.

    async def body() -> AsyncIterator[bytes]:
        offset = 0
        for container, obj, size in segments:
            seg_start, seg_end = offset, offset + size
            offset = seg_end
            if seg_end <= start or seg_start >= end:
                continue
            fetched = await proxy.fetch(req.ctx, account, container, obj)
            if fetched is None:
                raise ConnectionAbortedError(f"segment {container}/{obj} is missing")
            async for chunk in proxy.read_range(req.ctx, fetched, max(0, start - seg_start),
                                                min(size, end - seg_start)):
                yield chunk

    return Response(status, headers, stream=body(), content_length=end - start)


# -- DLO -------------------------------------------------------------------------------------

async def get_dlo(proxy: Proxy, req: Request, fetched: Fetched) -> Response:
    manifest = fetched.state.headers["X-Object-Manifest"]
    container, _, prefix = manifest.partition("/")
    await _check_readable(req, {container})
    rows = await list_all(proxy, req.ctx, fetched.account, container, prefix=prefix)
    segments = [(container, r["name"], r["size"]) for r in rows]
    etag = hashlib.md5("".join(r["etag"] for r in rows).encode(),
                       usedforsecurity=False).hexdigest()
    headers = object_headers(fetched.state, etag=f'"{etag}"')
    return await _serve(proxy, req, fetched.account, segments, headers)


# -- SLO -------------------------------------------------------------------------------------

async def _manifest(proxy: Proxy, req: Request, fetched: Fetched) -> list[dict[str, Any]]:
    raw = await proxy.read_all(req.ctx, fetched, limits.SLO_MAX_MANIFEST_SIZE)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPError(500, "Corrupt manifest") from None


async def get_slo(proxy: Proxy, req: Request, fetched: Fetched) -> Response:
    state = fetched.state
    etag = state.headers.get("X-Object-Sysmeta-Slo-Etag", state.etag)
    headers = object_headers(state, etag=f'"{etag}"')
    if req.method == "HEAD":
        size = int(state.headers.get("X-Object-Sysmeta-Slo-Size", 0))
        check_conditions(req, etag=etag, timestamp=headers["X-Timestamp"], headers=headers)
        return Response(200, headers, content_length=size)
    segments = []
    for entry in await _manifest(proxy, req, fetched):
        container, obj = _split(entry["name"])
        segments.append((container, obj, int(entry["bytes"])))
    await _check_readable(req, {container for container, _, _ in segments})
    return await _serve(proxy, req, fetched.account, segments, headers)


def _bad_manifest(message: str) -> HTTPError:
    return HTTPError(400, message)


async def put_slo(proxy: Proxy, writer: ReplicaWriter, req: Request, account: str,
                  container: str, obj: str) -> Response:
    """Validate a manifest (every segment exists, ETags and sizes match) and store it."""
    body = await req.read(limits.SLO_MAX_MANIFEST_SIZE)
    try:
        entries = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad_manifest("Manifest must be valid JSON.\n") from None
    if not isinstance(entries, list) or not entries:
        raise _bad_manifest("Manifest must be a list of segments.\n")
    if len(entries) > limits.SLO_MAX_MANIFEST_SEGMENTS:
        raise HTTPError(413, f"Too many segments; max {limits.SLO_MAX_MANIFEST_SEGMENTS}.\n")
    stored, problems, total = [], [], 0
    md5 = hashlib.md5(usedforsecurity=False)
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise _bad_manifest(f"Index {index}: \"path\" must be a string.\n")
        if set(entry) - {"path", "etag", "size_bytes", "range"}:
            raise _bad_manifest(f"Index {index}: extraneous keys.\n")
        if "range" in entry:
            raise _bad_manifest(f"Index {index}: segment ranges are not supported.\n")
        etag, size = entry.get("etag"), entry.get("size_bytes")
        if etag is not None and not isinstance(etag, str):
            raise _bad_manifest(f"Index {index}: \"etag\" must be a string or null.\n")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool)
                                 or size < 0):
            raise _bad_manifest(f"Index {index}: \"size_bytes\" must be an integer or null.\n")
        try:
            seg_container, seg_obj = _split(entry["path"])
        except ValueError:
            raise _bad_manifest(f"Index {index}: path does not refer to an object. Path "
                                f"must be of the form /container/object.\n") from None
        if not await _may(req, seg_container):
            problems.append((entry["path"], "403 Forbidden"))
            continue
        found = await proxy.fetch(req.ctx, account, seg_container, seg_obj)
        if found is None:
            problems.append((entry["path"], "404 Not Found"))
            continue
        seg = found.state
        seg_etag = seg.headers.get("X-Object-Sysmeta-Slo-Etag", seg.etag)
        seg_size = int(seg.headers.get("X-Object-Sysmeta-Slo-Size", seg.size))
        if seg.headers.get("X-Static-Large-Object", "").lower() == "true":
            problems.append((entry["path"], "Nested manifests are not supported"))
            continue
        if etag is not None and etag.strip('"') != seg_etag:
            problems.append((entry["path"], "Etag Mismatch"))
        if size is not None and size != seg_size:
            problems.append((entry["path"], "Size Mismatch"))
        if seg_size < limits.SLO_MIN_SEGMENT_SIZE and index < len(entries) - 1:
            problems.append((entry["path"], "Too small; each segment must be at least "
                                            f"{limits.SLO_MIN_SEGMENT_SIZE} byte."))
        md5.update(seg_etag.encode())
        total += seg_size
        stored.append({"name": f"/{seg_container}/{seg_obj}", "bytes": seg_size,
                       "hash": seg_etag, "content_type": seg.content_type,
                       "last_modified": last_modified(seg.timestamp)})
    if problems:
        raise HTTPError(400, "Errors:\n" + "\n".join(f"{p}, {r}" for p, r in problems))
    slo_etag = md5.hexdigest()
    headers = user_headers(req)
    headers.update({"X-Static-Large-Object": "True", "X-Object-Sysmeta-Slo-Etag": slo_etag,
                    "X-Object-Sysmeta-Slo-Size": str(total)})
    delete_at = req.header("x-delete-at")
    if delete_at:
        headers["X-Delete-At"] = delete_at
    content_type = req.header("content-type") or "application/octet-stream"
    write = ObjectWrite(account=account, container=container, obj=obj,
                        timestamp=timestamps.now(), content_type=content_type, headers=headers)
    return await writer.store(req.ctx, write, data=orjson.dumps(stored),
                              response_etag=f'"{slo_etag}"')


async def delete_slo(proxy: Proxy, writer: ReplicaWriter, req: Request, account: str,
                     container: str, obj: str) -> Response:
    """Delete a manifest and its segments; a bulk-delete style report."""
    fetched = await proxy.fetch(req.ctx, account, container, obj)
    if fetched is None:
        raise HTTPError(404)
    targets = []
    if fetched.state.headers.get("X-Static-Large-Object", "").lower() == "true":
        for entry in await _manifest(proxy, req, fetched):
            targets.append(_split(entry["name"]))
    targets.append((container, obj))
    deleted = not_found = 0
    errors_found = []
    for seg_container, seg_obj in targets:
        if seg_container != container and not await _may(req, seg_container, write=True):
            errors_found.append([f"/{seg_container}/{seg_obj}", "403 Forbidden"])
            continue
        found = await writer.remove(req.ctx, account, seg_container, seg_obj)
        if found is None:
            errors_found.append([f"/{seg_container}/{seg_obj}", "503 Service Unavailable"])
        elif found:
            deleted += 1
        else:
            not_found += 1
    status = "200 OK" if not errors_found else "502 Bad Gateway"
    if "application/json" in req.headers.get("accept", ""):
        body = orjson.dumps({"Number Deleted": deleted, "Number Not Found": not_found,
                             "Response Body": "", "Response Status": status,
                             "Errors": errors_found})
        content_type = "application/json; charset=utf-8"
    else:
        body = (f"Number Deleted: {deleted}\nNumber Not Found: {not_found}\nResponse Body: \n"
                f"Response Status: {status}\nErrors: \n"
                + "".join(f"{p}, {s}\n" for p, s in errors_found)).encode()
        content_type = "text/plain; charset=utf-8"
    return Response(200, {"Content-Type": content_type}, body)
