"""Object requests: GET, HEAD, PUT, POST and DELETE with Swift's semantics.

PUT and DELETE are written on a quorum of replicas (``replicas.py``). GET reads from the first
replica that has the object and fails over mid-stream. Large objects (DLO, SLO) are in
``large.py``; the headers both answer with, and their conditions, in ``headers.py``.
"""
from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator

from agents.storage.client import object_path
from overcast.swift import timestamps
from services.objectstore import constraints, large
from services.objectstore.headers import check_conditions, object_headers, user_headers
from services.objectstore.http import HTTPError, Request, Response
from services.objectstore.proxy import Fetched, Proxy
from services.objectstore.ranges import content_range, multipart, parse_range
from services.objectstore.replicas import ObjectWrite, ReplicaWriter


class ObjectController:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.writer = ReplicaWriter(proxy)

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

        async def read(start: int, end: int) -> AsyncIterator[bytes]:
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
            return await large.put_slo(self.proxy, self.writer, req, account, container, obj)
        headers = user_headers(req)
        if delete_at is not None:
            headers["X-Delete-At"] = delete_at
        content_type = req.header("content-type")
        if not content_type or req.header("x-detect-content-type", "").lower() == "true":
            content_type = mimetypes.guess_type(obj)[0] or "application/octet-stream"
        write = ObjectWrite(account=account, container=container, obj=obj,
                            timestamp=timestamps.now(), content_type=content_type,
                            headers=headers, etag=(req.header("etag") or "").strip('"').lower())
        if length is not None and length <= self.proxy.settings.inline_size:
            data = await req.read(length)
            if len(data) != length:
                raise HTTPError(499)
            return await self.writer.store(ctx, write, data=data)
        return await self.writer.store(ctx, write, data=None, req=req, length=length)

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
            return await large.delete_slo(self.proxy, self.writer, req, account, container, obj)
        found = await self.writer.remove(req.ctx, account, container, obj)
        if found is None:
            raise HTTPError(503)
        if not found:
            raise HTTPError(404)
        return Response(204, {"Content-Type": "text/html; charset=UTF-8"})
