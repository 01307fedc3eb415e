"""Writing an object on a quorum of nodes: PUT (whole or streamed) and the tombstone of a
DELETE, for plain and large objects alike.

A PUT goes to a node per replica at once (a handoff stands in for a node that is down) and
succeeds on a write quorum. A streamed PUT opens an upload on each node, sends every chunk
to all of them and drops a node that fails, as long as a quorum is left.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agents.storage.client import ObjectUpload, PutStream, StoredObject, object_path
from overcast import errors
from overcast.context import RequestContext
from overcast.ring import Device
from overcast.swift import limits, timestamps
from services.objectstore.http import HTTPError, Request, Response, http_date
from services.objectstore.proxy import Proxy

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ObjectWrite:
    """An object PUT as the proxy received it."""

    account: str
    container: str
    obj: str
    timestamp: str
    content_type: str
    headers: dict[str, str]
    # The ETag the client sent ("": none); nodes refuse data that does not match it.
    etag: str = ""


class ReplicaWriter:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy

    async def store(self, ctx: RequestContext, write: ObjectWrite, *, data: bytes | None,
                    req: Request | None = None, length: int | None = None,
                    response_etag: str | None = None) -> Response:
        """Write an object on a quorum of nodes, ``data`` whole or ``req``'s body streamed
        (``length`` bytes, None: chunked); 201 with its ETag."""
        proxy = self.proxy
        part = proxy.nodes.ring.get_part(write.account, write.container, write.obj)
        upload = ObjectUpload(
            path=object_path(write.account, write.container, write.obj, part),
            timestamp=write.timestamp, content_type=write.content_type,
            headers=write.headers, expected_etag=write.etag,
            content_length=len(data) if data is not None else length)
        targets = proxy.container_targets(write.account, write.container)

        def update(index: int) -> tuple[str, int] | None:
            # Each replica updates a different container node, as Swift's proxy spreads them.
            return targets[index % len(targets)] if targets else None

        if data is not None:
            outcomes = await proxy.nodes.write_all(
                part, lambda i, dev: proxy.client.put_object(ctx, dev.address, upload, data,
                                                             container_update=update(i)),
                quorum=proxy.quorum, post_quorum_timeout=proxy.settings.post_quorum_timeout)
        else:
            assert req is not None
            outcomes = await self._stream(part, req, length, lambda i, dev: (
                proxy.client.open_put(ctx, dev.address, upload, container_update=update(i))))
        return self._put_response(outcomes, write.timestamp, response_etag)

    def _put_response(self, outcomes: list[Any], timestamp: str,
                      response_etag: str | None) -> Response:
        results: list[StoredObject] = [o for o in outcomes if not isinstance(o, Exception)]
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

    async def _stream(self, part: int, req: Request, length: int | None,
                      open_put: Callable[[int, Device], Awaitable[PutStream]]
                      ) -> list[StoredObject | Exception]:
        """Stream the body to a node per replica (``open_put(index, node)`` starts each
        upload); a node that fails is dropped while a quorum is left."""
        nodes, quorum = self.proxy.nodes, self.proxy.quorum
        slots, handoffs = nodes.write_slots(part)
        opened = await asyncio.gather(*(nodes.write_replica(i, dev, handoffs, open_put)
                                        for i, dev in enumerate(slots)))
        live: list[PutStream] = [s for s in opened if isinstance(s, PutStream)]
        failed: list[Exception] = [s for s in opened if isinstance(s, Exception)]
        if len(live) < quorum:
            for stream in live:
                stream.cancel()
            raise HTTPError(503)
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
            if len(live) < quorum:
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

    async def remove(self, ctx: RequestContext, account: str, container: str,
                     obj: str) -> bool | None:
        """Tombstone an object on a quorum; whether it existed (None: no quorum)."""
        proxy = self.proxy
        part = proxy.nodes.ring.get_part(account, container, obj)
        path = object_path(account, container, obj, part)
        timestamp = timestamps.now()
        targets = proxy.container_targets(account, container)
        outcomes = await proxy.nodes.write_all(
            part, lambda i, dev: proxy.client.delete_object(
                ctx, dev.address, path, timestamp=timestamp,
                targets=[targets[i % len(targets)]] if targets else []),
            quorum=proxy.quorum)
        answers = [o for o in outcomes if not isinstance(o, Exception)]
        if len(answers) < proxy.quorum:
            return None
        return any(answers)
