"""The typed async client of a storage node's gRPC services (objects and listings).

It is the node's contract (what an ``rpcapi.py`` is to a service): the proxy and the storage
nodes (replication, listing updates) use it, and the proxy imports nothing else of
``agents.storage``. Every call carries
the request context and a deadline. Errors the caller caused come back as domain errors
(NotFound, Conflict, BadRequest, PayloadTooLarge); a node that cannot answer (down, slow,
broken) raises ``NodeError``, so callers can try another node.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import grpc

from overcast import errors
from overcast.context import RequestContext
from overcast.grpc import metadata_for
from overcast.grpc.client import as_domain_error
from protos.overcast.object.v1 import listing_pb2 as lpb
from protos.overcast.object.v1 import listing_pb2_grpc, object_pb2_grpc
from protos.overcast.object.v1 import object_pb2 as pb

MAX_MESSAGE = 8 << 20
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.keepalive_time_ms", 10_000),
    # A node that comes back is used again within a second, not after minutes of backoff.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.enable_retries", 0),
]


class NodeError(errors.ServiceUnavailable):
    """The storage node did not answer properly (down, too slow, or failing)."""


@dataclasses.dataclass(frozen=True)
class RemoteState:
    """An object's state as one node holds it."""

    exists: bool
    deleted: bool
    timestamp: str
    meta_timestamp: str
    size: int
    etag: str
    content_type: str
    headers: dict[str, str]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ObjectUpload:
    """What a PUT stores on every replica: the same on each node."""

    path: pb.ObjectPath
    timestamp: str
    content_type: str
    headers: dict[str, str]
    # When set, a node refuses data whose MD5 differs (BadRequest "Unprocessable").
    expected_etag: str = ""
    # None: unknown until the body ends (chunked).
    content_length: int | None = None


@dataclasses.dataclass(frozen=True)
class StoredObject:
    """One node's answer to a PUT."""

    etag: str
    size: int
    # A newer state existed already; nothing was written.
    superseded: bool


def _put_header(upload: ObjectUpload, container_update: tuple[str, int] | None
                ) -> pb.PutHeader:
    return pb.PutHeader(
        path=upload.path, timestamp=upload.timestamp, content_type=upload.content_type,
        headers=upload.headers, expected_etag=upload.expected_etag,
        content_length=-1 if upload.content_length is None else upload.content_length,
        container_updates=[pb.ContainerTarget(address=container_update[0],
                                              partition=container_update[1])]
        if container_update else [])


def _stored(msg: pb.PutObjectResponse | pb.PutObjectStreamResponse) -> StoredObject:
    return StoredObject(etag=msg.etag, size=msg.size, superseded=msg.superseded)


def state_from_pb(msg: pb.ObjectState) -> RemoteState:
    return RemoteState(exists=msg.exists, deleted=msg.deleted, timestamp=msg.timestamp,
                       meta_timestamp=msg.meta_timestamp, size=msg.size, etag=msg.etag,
                       content_type=msg.content_type, headers=dict(msg.headers))


def object_path(account: str, container: str, obj: str, partition: int) -> pb.ObjectPath:
    return pb.ObjectPath(account=account, container=container, object=obj,
                         partition=partition)


def db_path(account: str, container: str, partition: int) -> lpb.DatabasePath:
    return lpb.DatabasePath(account=account, container=container, partition=partition)


def info_from_pb(msg: lpb.DatabaseInfo) -> dict[str, Any]:
    return {"exists": msg.exists, "deleted": msg.deleted, "put_timestamp": msg.put_timestamp,
            "delete_timestamp": msg.delete_timestamp, "created_at": msg.created_at,
            "object_count": msg.object_count, "bytes_used": msg.bytes_used,
            "container_count": msg.container_count, "max_row": msg.max_row,
            "db_id": msg.db_id,
            "metadata": {k: [v.value, v.timestamp] for k, v in msg.metadata.items()}}


def info_to_pb(info: dict[str, Any]) -> lpb.DatabaseInfo:
    return lpb.DatabaseInfo(
        exists=info.get("exists", True), deleted=info.get("deleted", False),
        put_timestamp=info.get("put_timestamp", ""),
        delete_timestamp=info.get("delete_timestamp", ""),
        created_at=info.get("created_at", ""), object_count=info.get("object_count", 0),
        bytes_used=info.get("bytes_used", 0), container_count=info.get("container_count", 0),
        max_row=info.get("max_row", 0), db_id=info.get("db_id", ""),
        metadata={k: lpb.MetaValue(value=v, timestamp=t)
                  for k, (v, t) in (info.get("metadata") or {}).items()})


def object_row_to_pb(row: dict[str, Any]) -> lpb.ObjectRow:
    return lpb.ObjectRow(name=row["name"], timestamp=row["timestamp"], size=row["size"],
                         content_type=row["content_type"], etag=row["etag"],
                         deleted=bool(row["deleted"]))


def container_row_to_pb(row: dict[str, Any]) -> lpb.ContainerRow:
    return lpb.ContainerRow(name=row["name"], put_timestamp=row["put_timestamp"],
                            delete_timestamp=row["delete_timestamp"],
                            object_count=row["object_count"], bytes_used=row["bytes_used"],
                            stats_timestamp=row["stats_timestamp"],
                            deleted=bool(row["deleted"]))


def object_row_from_pb(msg: lpb.ObjectRow) -> dict[str, Any]:
    return {"name": msg.name, "timestamp": msg.timestamp, "size": msg.size,
            "content_type": msg.content_type, "etag": msg.etag, "deleted": msg.deleted}


def container_row_from_pb(msg: lpb.ContainerRow) -> dict[str, Any]:
    return {"name": msg.name, "put_timestamp": msg.put_timestamp,
            "delete_timestamp": msg.delete_timestamp, "object_count": msg.object_count,
            "bytes_used": msg.bytes_used, "stats_timestamp": msg.stats_timestamp,
            "deleted": msg.deleted}


def _raise(exc: grpc.aio.AioRpcError) -> None:
    if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                      grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
        raise as_domain_error(exc) from None
    raise NodeError(f"{exc.code().name}: {exc.details()}") from None


class PutStream:
    """An object upload in progress to one node: ``write`` chunks, then ``finish``."""

    def __init__(self, call: grpc.aio.StreamUnaryCall) -> None:
        self.call = call

    async def write(self, chunk: bytes) -> None:
        try:
            await self.call.write(pb.PutObjectStreamRequest(chunk=chunk))
        except grpc.aio.AioRpcError as exc:
            _raise(exc)
        except asyncio.InvalidStateError:
            raise NodeError("the node closed the upload") from None

    async def finish(self) -> StoredObject:
        try:
            await self.call.done_writing()
            return _stored(await self.call)
        except grpc.aio.AioRpcError as exc:
            _raise(exc)
            raise  # unreachable

    def cancel(self) -> None:
        self.call.cancel()


class StorageClient:
    """Calls storage nodes by address ("host:port"); one channel per node."""

    def __init__(self, *, timeout: float = 10.0, stream_timeout: float = 3600.0) -> None:
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._objects: dict[str, object_pb2_grpc.ObjectServiceStub] = {}
        self._listings: dict[str, listing_pb2_grpc.ListingServiceStub] = {}

    def channel(self, address: str) -> grpc.aio.Channel:
        chan = self._channels.get(address)
        if chan is None:
            chan = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
            self._channels[address] = chan
            self._objects[address] = object_pb2_grpc.ObjectServiceStub(chan)
            self._listings[address] = listing_pb2_grpc.ListingServiceStub(chan)
        return chan

    def objects(self, address: str) -> object_pb2_grpc.ObjectServiceStub:
        stub = self._objects.get(address)
        if stub is None:
            self.channel(address)
            stub = self._objects[address]
        return stub

    def listings(self, address: str) -> listing_pb2_grpc.ListingServiceStub:
        stub = self._listings.get(address)
        if stub is None:
            self.channel(address)
            stub = self._listings[address]
        return stub

    async def close(self) -> None:
        for chan in self._channels.values():
            await chan.close()
        self._channels.clear()
        self._objects.clear()
        self._listings.clear()

    async def _connected(self, address: str, *, timeout: float) -> None:
        """Wait until the node's channel is connected; NodeError if it is failing or slow
        to connect."""
        channel = self.channel(address)
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
            except TimeoutError:
                raise NodeError("node did not connect in time") from None
            state = channel.get_state(try_to_connect=True)

    async def _unary(self, method: Any, request: Any, ctx: RequestContext | None,
                     timeout: float | None = None) -> Any:
        metadata = metadata_for(ctx) if ctx is not None else None
        try:
            return await method(request, timeout=timeout or self.timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            _raise(exc)

    # -- objects -----------------------------------------------------------------------------

    async def put_object(self, ctx: RequestContext | None, address: str,
                         upload: ObjectUpload, data: bytes, *,
                         container_update: tuple[str, int] | None = None,
                         timeout: float | None = None) -> StoredObject:
        """Store ``data`` whole in one call; the node then updates ``container_update``
        (address, partition) with the new listing row."""
        request = pb.PutObjectRequest(header=_put_header(upload, container_update), data=data)
        return _stored(await self._unary(self.objects(address).PutObject, request, ctx,
                                         timeout))

    async def open_put(self, ctx: RequestContext | None, address: str,
                       upload: ObjectUpload, *,
                       container_update: tuple[str, int] | None = None,
                       connect_timeout: float = 1.0) -> PutStream:
        """Start a streamed upload on a node that is connected within ``connect_timeout``
        (else NodeError, so the caller can try a handoff before any byte is sent)."""
        await self._connected(address, timeout=connect_timeout)
        metadata = metadata_for(ctx) if ctx is not None else None
        call = self.objects(address).PutObjectStream(timeout=self.stream_timeout,
                                                     metadata=metadata)
        stream = PutStream(call)
        try:
            await call.write(pb.PutObjectStreamRequest(
                header=_put_header(upload, container_update)))
        except grpc.aio.AioRpcError as exc:
            _raise(exc)
        except asyncio.InvalidStateError:
            raise NodeError("the node closed the upload") from None
        return stream

    async def get_object(self, ctx: RequestContext | None, address: str,
                         path: pb.ObjectPath, *, max_inline: int,
                         timeout: float | None = None
                         ) -> tuple[RemoteState, bytes | None]:
        response = await self._unary(self.objects(address).GetObject,
                                     pb.GetObjectRequest(path=path, max_inline=max_inline),
                                     ctx, timeout)
        return state_from_pb(response.state), (response.data if response.inline else None)

    async def get_stream(self, ctx: RequestContext | None, address: str,
                         path: pb.ObjectPath, *, offset: int = 0, length: int = -1,
                         timestamp: str = "") -> tuple[RemoteState, AsyncIterator[bytes]]:
        """The state, and the data chunks of the range (read them to the end or close)."""
        metadata = metadata_for(ctx) if ctx is not None else None
        call = self.objects(address).GetObjectStream(
            pb.GetObjectStreamRequest(path=path, offset=offset, length=length,
                                      timestamp=timestamp),
            timeout=self.stream_timeout, metadata=metadata)
        try:
            first = await asyncio.wait_for(call.read(), self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc)
        except TimeoutError:
            call.cancel()
            raise NodeError("the node did not start the download in time") from None
        if first is grpc.aio.EOF or first.WhichOneof("payload") != "state":
            call.cancel()
            raise NodeError("the download did not start with the object's state")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    message = await call.read()
                    if message is grpc.aio.EOF:
                        return
                    yield message.chunk
            except grpc.aio.AioRpcError as exc:
                _raise(exc)
            finally:
                call.cancel()

        return state_from_pb(first.state), chunks()

    async def head_object(self, ctx: RequestContext | None, address: str,
                          path: pb.ObjectPath, timeout: float | None = None) -> RemoteState:
        response = await self._unary(self.objects(address).HeadObject,
                                     pb.HeadObjectRequest(path=path), ctx, timeout)
        return state_from_pb(response.state)

    async def post_object(self, ctx: RequestContext | None, address: str,
                          path: pb.ObjectPath, *, timestamp: str,
                          headers: dict[str, str]) -> bool:
        response = await self._unary(self.objects(address).PostObject, pb.PostObjectRequest(
            path=path, timestamp=timestamp, headers=headers), ctx)
        return response.found

    async def delete_object(self, ctx: RequestContext | None, address: str,
                            path: pb.ObjectPath, *, timestamp: str,
                            targets: Sequence[tuple[str, int]] = ()) -> bool:
        response = await self._unary(self.objects(address).DeleteObject,
                                     pb.DeleteObjectRequest(
                                         path=path, timestamp=timestamp,
                                         container_updates=[pb.ContainerTarget(
                                             address=a, partition=p) for a, p in targets]),
                                     ctx)
        return response.found

    # -- replication -------------------------------------------------------------------------

    async def partition_hashes(self, address: str,
                               partitions: Iterable[int]) -> dict[int, dict[str, str]]:
        response = await self._unary(
            self.objects(address).GetPartitionHashes,
            pb.GetPartitionHashesRequest(partitions=list(partitions)), None, 60.0)
        return {p: dict(h.suffixes) for p, h in response.partitions.items()}

    async def list_suffixes(self, address: str, partition: int,
                            suffixes: Iterable[str]) -> dict[str, list[str]]:
        response = await self._unary(
            self.objects(address).ListSuffixes,
            pb.ListSuffixesRequest(partition=partition, suffixes=list(suffixes)), None, 60.0)
        return {h.hash: list(h.files) for h in response.hashes}

    async def push_files(self, address: str,
                         messages: AsyncIterator[pb.PushFilesRequest]) -> int:
        try:
            response = await self.objects(address).PushFiles(messages, timeout=600.0)
        except grpc.aio.AioRpcError as exc:
            _raise(exc)
        return response.received

    # -- listings ----------------------------------------------------------------------------

    async def put_db(self, ctx: RequestContext | None, address: str,
                     path: lpb.DatabasePath, *, timestamp: str,
                     metadata: dict[str, list] | None = None) -> bool:
        response = await self._unary(self.listings(address).PutDatabase,
                                     lpb.PutDatabaseRequest(
                                         path=path, timestamp=timestamp,
                                         metadata=_meta_pb(metadata)), ctx)
        return response.created

    async def db_info(self, ctx: RequestContext | None, address: str,
                      path: lpb.DatabasePath) -> dict[str, Any]:
        response = await self._unary(self.listings(address).GetDatabaseInfo,
                                     lpb.GetDatabaseInfoRequest(path=path), ctx)
        return info_from_pb(response.info)

    async def post_db(self, ctx: RequestContext | None, address: str,
                      path: lpb.DatabasePath, *, metadata: dict[str, list]) -> None:
        await self._unary(self.listings(address).PostDatabase, lpb.PostDatabaseRequest(
            path=path, metadata=_meta_pb(metadata)), ctx)

    async def delete_db(self, ctx: RequestContext | None, address: str,
                        path: lpb.DatabasePath, *, timestamp: str) -> None:
        await self._unary(self.listings(address).DeleteDatabase, lpb.DeleteDatabaseRequest(
            path=path, timestamp=timestamp), ctx)

    async def list_db(self, ctx: RequestContext | None, address: str,
                      path: lpb.DatabasePath, *, prefix: str = "", delimiter: str = "",
                      marker: str = "", end_marker: str = "", limit: int = 10000,
                      reverse: bool = False) -> tuple[dict[str, Any], list[Any]]:
        """The info and the entries: dict rows, or ``str`` subdir names."""
        response = await self._unary(self.listings(address).ListDatabase,
                                     lpb.ListDatabaseRequest(
                                         path=path, prefix=prefix, delimiter=delimiter,
                                         marker=marker, end_marker=end_marker, limit=limit,
                                         reverse=reverse), ctx)
        entries: list[Any] = []
        for entry in response.entries:
            kind = entry.WhichOneof("entry")
            if kind == "subdir":
                entries.append(entry.subdir)
            elif kind == "object":
                entries.append(object_row_from_pb(entry.object))
            else:
                entries.append(container_row_from_pb(entry.container))
        return info_from_pb(response.info), entries

    async def merge_rows(self, address: str, path: lpb.DatabasePath, *,
                         objects: Sequence[dict] = (), containers: Sequence[dict] = ()
                         ) -> None:
        await self._unary(self.listings(address).MergeRows, lpb.MergeRowsRequest(
            path=path, objects=[object_row_to_pb(r) for r in objects],
            containers=[container_row_to_pb(r) for r in containers]), None)

    async def sync_db(self, address: str, path: lpb.DatabasePath, *, info: dict[str, Any],
                      objects: Sequence[dict] = (), containers: Sequence[dict] = (),
                      max_row: int = 0) -> int:
        response = await self._unary(self.listings(address).SyncDatabase,
                                     lpb.SyncDatabaseRequest(
                                         path=path, info=info_to_pb(info),
                                         objects=[object_row_to_pb(r) for r in objects],
                                         containers=[container_row_to_pb(r)
                                                     for r in containers],
                                         max_row=max_row), None, 60.0)
        return response.sync_point


def _meta_pb(metadata: dict[str, list] | None) -> dict[str, lpb.MetaValue]:
    return {k: lpb.MetaValue(value=v, timestamp=t) for k, (v, t) in (metadata or {}).items()}
