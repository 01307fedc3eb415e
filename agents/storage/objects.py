"""The object server's logic: store, read and delete object replicas on this node.

Writes are last-write-wins by timestamp: a write older than what the node holds is refused
(``superseded``), as Swift's object server answers 409. Each write queues a listing update
for its container; the update queue delivers it asynchronously and retries.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator

from agents.storage.diskfile import DiskStore, ObjectState
from agents.storage.updates import UpdateQueue
from overcast import errors
from overcast.ring import RingHolder
from overcast.swift.limits import MAX_FILE_SIZE
from overcast.swift.timestamps import normalize

logger = logging.getLogger(__name__)

# Chunks at least this large are hashed and written off the event loop.
THREAD_CHUNK = 256 * 1024
STREAM_CHUNK = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ObjectPath:
    account: str
    container: str
    obj: str
    partition: int

    @property
    def name(self) -> str:
        return f"/{self.account}/{self.container}/{self.obj}"


@dataclasses.dataclass(frozen=True)
class PutSpec:
    """What a PUT asks to store, besides the data."""

    path: ObjectPath
    timestamp: str
    content_type: str
    headers: dict[str, str]
    expected_etag: str = ""
    content_length: int = -1
    targets: tuple[tuple[str, int], ...] = ()


@dataclasses.dataclass(frozen=True)
class PutResult:
    etag: str
    size: int
    superseded: bool = False


class ObjectManager:
    def __init__(self, store: DiskStore, ring: RingHolder, updates: UpdateQueue, *,
                 update_timeout: float = 1.0) -> None:
        self.store = store
        self.ring = ring
        self.updates = updates
        self.update_timeout = update_timeout

    def _hash(self, path: ObjectPath) -> str:
        return self.ring.ring.hash(path.account, path.container, path.obj)

    # -- reads -------------------------------------------------------------------------------

    def head(self, path: ObjectPath) -> ObjectState:
        """The newest state; an expired object reads as missing."""
        state = self.store.state(path.partition, self._hash(path))
        if state.exists and state.expired:
            return dataclasses.replace(state, exists=False)
        return state

    def get(self, path: ObjectPath, *, max_inline: int) -> tuple[ObjectState, bytes | None]:
        """The state and, for objects of at most ``max_inline`` bytes, the data."""
        state = self.head(path)
        if not state.exists or state.size > max_inline:
            return state, None
        try:
            return state, self.store.read(state)
        except FileNotFoundError:  # replaced between listing and reading: read again
            return self.get(path, max_inline=max_inline)

    def open_stream(self, path: ObjectPath, *, offset: int, length: int,
                    timestamp: str = "") -> tuple[ObjectState, AsyncIterator[bytes]]:
        state = self.head(path)
        if not state.exists:
            raise errors.NotFound("No such object.")
        if timestamp and state.timestamp != timestamp:
            raise errors.Conflict("The object changed.")
        chunks = self.store.open_range(state, offset, length, STREAM_CHUNK)
        return state, _in_thread(chunks)

    # -- writes ------------------------------------------------------------------------------

    def _superseded(self, path: ObjectPath, timestamp: str) -> bool:
        current = self.store.state(path.partition, self._hash(path))
        return bool(current.timestamp) and current.timestamp >= timestamp

    def _data_meta(self, spec: PutSpec, etag: str, size: int) -> dict:
        return {"name": spec.path.name, "timestamp": spec.timestamp, "etag": etag,
                "size": size, "content_type": spec.content_type,
                "headers": dict(spec.headers)}

    async def _update_listing(self, spec_path: ObjectPath,
                              targets: tuple[tuple[str, int], ...], row: dict) -> None:
        """Queue the listing update and wait a moment for its delivery, as Swift's object
        server waits ``container_update_timeout``; the updater retries what is late."""
        waits = [self.updates.add(address, spec_path.account, spec_path.container,
                                  partition, row) for address, partition in targets]
        if waits and self.update_timeout > 0:
            await asyncio.wait(waits, timeout=self.update_timeout)

    async def put(self, spec: PutSpec, data: bytes) -> PutResult:
        """Store a whole object sent in one piece."""
        return await self.put_stream(spec, _one(data))

    async def put_stream(self, spec: PutSpec, chunks: AsyncIterator[bytes]) -> PutResult:
        """Store the object ``chunks`` yields; verifies size and ETag before committing."""
        path = spec.path
        if self._superseded(path, spec.timestamp):
            async for _ in chunks:
                pass
            return PutResult(etag="", size=0, superseded=True)
        writer = self.store.new_writer(path.partition, self._hash(path))
        try:
            async for chunk in chunks:
                if writer.size + len(chunk) > MAX_FILE_SIZE:
                    raise errors.PayloadTooLarge("Your request is too large.")
                if len(chunk) >= THREAD_CHUNK:
                    await asyncio.to_thread(writer.write, chunk)
                else:
                    writer.write(chunk)
            if spec.content_length >= 0 and writer.size != spec.content_length:
                raise errors.BadRequest(
                    f"Got {writer.size} bytes, expected {spec.content_length}.")
            etag = writer.etag
            if spec.expected_etag and spec.expected_etag.strip('"').lower() != etag:
                raise errors.BadRequest("Unprocessable Entity: ETag mismatch.")
            meta = self._data_meta(spec, etag, writer.size)
            await asyncio.to_thread(writer.commit, f"{spec.timestamp}.data", meta)
        except BaseException:
            writer.abort()
            raise
        await self._update_listing(path, spec.targets, {
            "name": path.obj, "timestamp": spec.timestamp, "size": writer.size,
            "content_type": spec.content_type, "etag": etag, "deleted": False})
        return PutResult(etag=etag, size=writer.size)

    async def post(self, path: ObjectPath, *, timestamp: str, headers: dict[str, str],
                   content_type: str = "") -> bool:
        """Replace the user metadata; whether there was an object."""
        state = self.head(path)
        if not state.exists:
            return False
        if state.meta_timestamp >= timestamp:
            return True
        meta = {"name": path.name, "timestamp": timestamp, "headers": headers,
                "content_type": content_type}
        await asyncio.to_thread(self.store.write_whole, path.partition, self._hash(path),
                                f"{timestamp}.meta", b"", meta)
        return True

    async def delete(self, path: ObjectPath, *, timestamp: str,
                     targets: tuple[tuple[str, int], ...] = ()) -> bool:
        """Write a tombstone; whether a live object was the newest state before."""
        current = self.head(path)
        found = current.exists
        if current.timestamp and current.timestamp >= timestamp:
            return found
        meta = {"name": path.name, "timestamp": timestamp, "deleted": True}
        await asyncio.to_thread(self.store.write_whole, path.partition, self._hash(path),
                                f"{timestamp}.ts", b"", meta)
        await self._update_listing(path, targets, {
            "name": path.obj, "timestamp": timestamp, "size": 0, "content_type": "",
            "etag": "", "deleted": True})
        return found

    async def expire(self, part: int, state: ObjectState) -> None:
        """Delete an object past its X-Delete-At: a tombstone at that time, and its
        listing row removed on the container's primaries."""
        _, account, container, obj = state.name.split("/", 3)
        stamp = normalize(state.headers["X-Delete-At"])
        if stamp <= state.timestamp:
            stamp = normalize(float(state.timestamp) + 0.00001)
        c_part, nodes = self.ring.ring.get_nodes(account, container)
        path = ObjectPath(account, container, obj, part)
        await self.delete(path, timestamp=stamp,
                          targets=tuple((n.address, c_part) for n in nodes))
        logger.info("expired %s", state.name)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Read file chunks off the event loop (a cold read may wait for the disk)."""
    sentinel = object()
    try:
        while True:
            chunk = await asyncio.to_thread(next, chunks, sentinel)
            if chunk is sentinel:
                return
            yield chunk  # type: ignore[misc]
    finally:
        chunks.close()  # type: ignore[attr-defined]
