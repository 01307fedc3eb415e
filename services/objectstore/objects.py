"""Object requests: GET, HEAD, PUT, POST and DELETE with Swift's semantics.

PUT streams the body to a node per replica at once (a handoff stands in for a node that is
down) and succeeds on a write quorum. GET reads from the first replica that has the object
and fails over mid-stream. Large objects (DLO, SLO) are in ``large.py``.
"""
from __future__ import annotations

import asyncio
import logging
import mimetypes
from typing import Any

from overcast import errors
from overcast.context import RequestContext
from agents.storage.client import NodeError, PutStream, object_path
from protos.overcast.object.v1 import object_pb2 as pb
from overcast.swift import limits, timestamps
from services.objectstore import constraints, large
from services.objectstore.http import HTTPError, Request, Response, http_date
from services.objectstore.proxy import Fetched, Proxy
from services.objectstore.ranges import content_range, multipart, parse_range
from overcast.ring import Device

logger = logging.getLogger(__name__)

STORED_HEADERS = ("content-encoding", "content-disposition", "x-delete-at",
                  "x-object-manifest")
HIDDEN_PREFIX = "x-object-sysmeta-"


def _title(header: str) -> str:
    return "-".join(p.capitalize() for p in header.split("-"))


def user_headers(req: Request) -> dict[str, str]:
    """The headers of a PUT or POST that are stored with the object."""
    stored = {}
    for key, value in req.headers.items():
        if key.startswith("x-object-meta-") or key in STORED_HEADERS:
            stored[_title(key)] = value
    return stored


def etag_matches(header: str, etag: str) -> bool:
    values = [v.strip().strip('"') for v in header.split(",")]
    return "*" in values or etag.strip('"') in values


def object_headers(state: Any, *, etag: str) -> dict[str, str]:
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
        since = _since(if_unmodified)
        if since is not None and modified > since:
            raise HTTPError(412, headers=headers)
    if_none = req.header("if-none-match")
    if if_none is not None:
        if etag_matches(if_none, etag):
            raise HTTPError(304, "", headers=headers)
        return
    if_modified = req.header("if-modified-since")
    if if_modified is not None:
        since = _since(if_modified)
        if since is not None and modified <= since:
            raise HTTPError(304, "", headers=headers)


def http_date_seconds(timestamp: str) -> int:
    import math
    return math.ceil(float(timestamp or 0))


def _since(value: str) -> float | None:
    from services.objectstore.http import parse_http_date
    return parse_http_date(value)


class ObjectController:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy

    # -- GET / HEAD --------------------------------------------------------------------------

    async def get(self, req: Request, account: str, container: str, obj: str) -> Response:
        ctx = req.ctx
        fetched = await self.proxy.fetch(ctx, account, container, obj)
        if fetched is None:
            raise HTTPError(404)
        state = fetched.state
        manifest_get = req.query.get("multipart-manifest") == "get"
        if not manifest_get:
            if state.headers.get("X-Static-Large-Object", "").lower() == "true":
                return await large.get_slo(self.proxy, req, fetched)
            if "X-Object-Manifest" in state.headers:
                return await large.get_dlo(self.proxy, req, fetched)
        headers = object_headers(state, etag=state.etag)
        if manifest_get and state.headers.get("X-Static-Large-Object", "").lower() == "true":
            headers["Content-Type"] = "application/json; charset=utf-8"
        check_conditions(req, etag=state.etag, timestamp=state.meta_timestamp or
                         state.timestamp, headers=headers)
        return self.respond_ranges(req, fetched, headers, state.size)

    def respond_ranges(self, req: Request, fetched: Fetched, headers: dict[str, str],
                       size: int) -> Response:
        """200 with the whole object, 206 with the asked ranges, or 416."""
        ctx = req.ctx
        ranges = parse_range(req.header("range"), size)
        if req.method == "HEAD" or ranges is None:
            if req.method == "HEAD":
                return Response(200, headers, content_length=size)
            if fetched.data is not None:
                return Response(200, headers, fetched.data)
            return Response(200, headers, stream=self.proxy.read_range(ctx, fetched, 0, size),
                            content_length=size)
        if not ranges:
            raise HTTPError(416, headers={"Content-Range": f"bytes */{size}"})
        if len(ranges) == 1:
            start, end = ranges[0]
            headers["Content-Range"] = content_range(start, end, size)
            if fetched.data is not None:
                return Response(206, headers, fetched.data[start:end])
            return Response(206, headers, stream=self.proxy.read_range(ctx, fetched, start, end),
                            content_length=end - start)

        async def read(start: int, end: int):  # noqa: ANN202
            return self.proxy.read_range(ctx, fetched, start, end)

        content_type, length, body = multipart(ranges, size, headers["Content-Type"], read)
        headers["Content-Type"] = content_type
        return Response(206, headers, stream=body, content_length=length)

    # -- PUT ---------------------------------------------------------------------------------

    async def put(self, req: Request, account: str, container: str, obj: str) -> Response:
        ctx = req.ctx
        length = constraints.check_object_creation(req)
        delete_at = constraints.delete_at(req)
        if "x-static-large-object" in req.headers:
            raise HTTPError(400, "X-Static-Large-Object is a reserved header")
        manifest = req.header("x-object-manifest")
        if manifest is not None and ("/" not in manifest.lstrip("/") or
                                     manifest.startswith("/")):
            raise HTTPError(400, "X-Object-Manifest must be in the format container/prefix")
        if_none = req.header("if-none-match")
        if if_none is not None and if_none.strip() != "*":
            raise HTTPError(400, "If-None-Match only supports *")
        if await self.proxy.container_info(ctx, account, container) is None:
            raise HTTPError(404)
        if if_none is not None and await self.proxy.fetch(ctx, account, container, obj):
            raise HTTPError(412)
        if req.query.get("multipart-manifest") == "put":
            return await large.put_slo(self.proxy, self, req, account, container, obj)
        headers = user_headers(req)
        if delete_at is not None:
            headers["X-Delete-At"] = delete_at
        content_type = req.header("content-type")
        if not content_type or req.header("x-detect-content-type", "").lower() == "true":
            content_type = mimetypes.guess_type(obj)[0] or "application/octet-stream"
        etag = (req.header("etag") or "").strip('"').lower()
        timestamp = timestamps.now()
        if length is not None and length <= self.proxy.settings.inline_size:
            data = await req.read(length)
            if len(data) != length:
                raise HTTPError(499)
            return await self.store(ctx, account, container, obj, data=data, headers=headers,
                                    content_type=content_type, etag=etag,
                                    timestamp=timestamp)
        return await self.store(ctx, account, container, obj, data=None, req=req,
                                headers=headers, content_type=content_type, etag=etag,
                                timestamp=timestamp, length=length)

    async def store(self, ctx: RequestContext, account: str, container: str, obj: str, *,
                    data: bytes | None, headers: dict[str, str], content_type: str,
                    etag: str = "", timestamp: str, req: Request | None = None,
                    length: int | None = None, response_etag: str | None = None) -> Response:
        """Write an object on a quorum of nodes; 201 with its ETag."""
        ring = self.proxy.nodes.ring
        part = ring.get_part(account, container, obj)
        path = object_path(account, container, obj, part)
        targets = self.proxy.container_targets(account, container)

        def header(index: int) -> pb.PutHeader:
            target = targets[index % len(targets)] if targets else None
            return pb.PutHeader(
                path=path, timestamp=timestamp, content_type=content_type, headers=headers,
                expected_etag=etag, content_length=-1 if length is None and data is None
                else (len(data) if data is not None else length),
                container_updates=[pb.ContainerTarget(address=target[0], partition=target[1])]
                if target else [])

        if data is not None:
            outcomes = await self.proxy.nodes.write_all(
                part, lambda i, dev: self.proxy.client.put_object(ctx, dev.address, header(i),
                                                                  data),
                quorum=self.proxy.quorum,
                post_quorum_timeout=self.proxy.settings.post_quorum_timeout)
        else:
            assert req is not None
            outcomes = await self._stream_put(ctx, req, part, header, length)
        return self._put_response(outcomes, timestamp, response_etag)

    def _put_response(self, outcomes: list[Any], timestamp: str,
                      response_etag: str | None) -> Response:
        results = [o for o in outcomes if not isinstance(o, Exception)]
        failures = [o for o in outcomes if isinstance(o, Exception)]
        if len(results) < self.proxy.quorum:
            for failure in failures:
                if isinstance(failure, errors.BadRequest) and "Unprocessable" in str(failure):
                    raise HTTPError(422)
                if isinstance(failure, errors.PayloadTooLarge):
                    raise HTTPError(413, "Your request is too large.")
                if isinstance(failure, errors.BadRequest):
                    raise HTTPError(499)
            logger.warning("object PUT failed: %s of %s nodes answered (%s)", len(results),
                           len(outcomes), "; ".join(str(f) for f in failures)[:300])
            raise HTTPError(503)
        status = 202 if all(r.superseded for r in results) else 201
        etags = [r.etag for r in results if not r.superseded]
        etag = response_etag or (max(set(etags), key=etags.count) if etags else "")
        return Response(status, {"Etag": etag, "Last-Modified": http_date(timestamp),
                                 "Content-Type": "text/html; charset=UTF-8"})

    async def _stream_put(self, ctx: RequestContext, req: Request, part: int, header,  # noqa: ANN001
                          length: int | None) -> list[Any]:
        """Stream the body to a node per replica; a node that fails is dropped."""
        slots, handoffs = self.proxy.nodes.write_slots(part)
        nodes = self.proxy.nodes

        async def open_one(index: int, dev: Device | None) -> PutStream | Exception:
            last: Exception = NodeError("no node left")
            while True:
                if dev is None:
                    dev = next(handoffs, None)
                    if dev is None:
                        return last
                try:
                    return await nodes.call(dev, lambda a, i=index: self._open(ctx, a,
                                                                             header(i)))
                except NodeError as exc:
                    last, dev = exc, None

        opened = await asyncio.gather(*(open_one(i, d) for i, d in enumerate(slots)))
        streams = [s for s in opened if isinstance(s, PutStream)]
        if len(streams) < self.proxy.quorum:
            for stream in streams:
                stream.cancel()
            raise HTTPError(503)
        failed: list[Exception] = [s for s in opened if isinstance(s, Exception)]
        live = list(streams)
        buffer, buffered, total = [], 0, 0
        chunk_size = self.proxy.settings.put_chunk

        async def send(chunk: bytes) -> None:
            nonlocal live
            results = await asyncio.gather(*(s.write(chunk) for s in live),
                                           return_exceptions=True)
            keep = []
            for stream, result in zip(live, results, strict=True):
                if isinstance(result, Exception):
                    stream.cancel()
                    failed.append(result)
                else:
                    keep.append(stream)
            live = keep
            if len(live) < self.proxy.quorum:
                raise HTTPError(503)

        try:
            async for chunk in req.chunks():
                total += len(chunk)
                if total > limits.MAX_FILE_SIZE or (length is not None and total > length):
                    raise HTTPError(413, "Your request is too large.")
                buffer.append(chunk)
                buffered += len(chunk)
                if buffered >= chunk_size:
                    await send(b"".join(buffer))
                    buffer, buffered = [], 0
            if buffer:
                await send(b"".join(buffer))
            if length is not None and total != length:
                raise HTTPError(499)
            finished = await asyncio.gather(*(s.finish() for s in live),
                                            return_exceptions=True)
        except BaseException:
            for stream in live:
                stream.cancel()
            raise
        return list(finished) + failed

    async def _open(self, ctx: RequestContext, address: str, header: pb.PutHeader) -> PutStream:
        channel = self.proxy.client.channel(address)
        await _connected(channel, timeout=1.0)
        return await self.proxy.client.open_put(ctx, address, header)

    # -- POST / DELETE -----------------------------------------------------------------------

    async def post(self, req: Request, account: str, container: str, obj: str) -> Response:
        ctx = req.ctx
        constraints.check_metadata(req, "object")
        delete_at = constraints.delete_at(req)
        headers = user_headers(req)
        headers.pop("X-Object-Manifest", None)
        if delete_at is not None:
            headers["X-Delete-At"] = delete_at
        if req.header("content-type"):
            headers["Content-Type"] = req.headers["content-type"]
        part = self.proxy.nodes.ring.get_part(account, container, obj)
        path = object_path(account, container, obj, part)
        timestamp = timestamps.now()
        outcomes = await self.proxy.nodes.write_all(
            part, lambda i, dev: self.proxy.client.post_object(
                ctx, dev.address, path, timestamp=timestamp, headers=headers),
            quorum=self.proxy.quorum)
        if any(o is True for o in outcomes):
            return Response(202, {"Content-Type": "text/html; charset=UTF-8"})
        if all(isinstance(o, Exception) for o in outcomes):
            raise HTTPError(503)
        raise HTTPError(404)

    async def delete(self, req: Request, account: str, container: str, obj: str) -> Response:
        if req.query.get("multipart-manifest") == "delete":
            return await large.delete_slo(self.proxy, self, req, account, container, obj)
        found = await self.remove(req.ctx, account, container, obj)
        if found is None:
            raise HTTPError(503)
        if not found:
            raise HTTPError(404)
        return Response(204, {"Content-Type": "text/html; charset=UTF-8"})

    async def remove(self, ctx: RequestContext, account: str, container: str,
                     obj: str) -> bool | None:
        """Tombstone an object on a quorum; whether it existed (None: no quorum)."""
        part = self.proxy.nodes.ring.get_part(account, container, obj)
        path = object_path(account, container, obj, part)
        timestamp = timestamps.now()
        targets = self.proxy.container_targets(account, container)
        outcomes = await self.proxy.nodes.write_all(
            part, lambda i, dev: self.proxy.client.delete_object(
                ctx, dev.address, path, timestamp=timestamp,
                targets=[targets[i % len(targets)]] if targets else []),
            quorum=self.proxy.quorum)
        answers = [o for o in outcomes if not isinstance(o, Exception)]
        if len(answers) < self.proxy.quorum:
            return None
        return any(answers)


async def _connected(channel, *, timeout: float) -> None:  # noqa: ANN001
    """Wait until the channel is connected; NodeError if it is failing or slow to connect."""
    import grpc
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    state = channel.get_state(try_to_connect=True)
    while state != grpc.ChannelConnectivity.READY:
        if state in (grpc.ChannelConnectivity.TRANSIENT_FAILURE,
                     grpc.ChannelConnectivity.SHUTDOWN):
            raise NodeError(f"node not reachable ({state.name})")
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise NodeError("node did not connect in time")
        try:
            await asyncio.wait_for(channel.wait_for_state_change(state), remaining)
        except asyncio.TimeoutError:
            raise NodeError("node did not connect in time") from None
        state = channel.get_state(try_to_connect=True)
