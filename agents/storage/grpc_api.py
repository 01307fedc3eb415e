"""The storage node's gRPC servicers: translation between messages and the managers.

Domain errors raised by the managers become status codes in the shared interceptor.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc

from agents.storage import client as convert
from agents.storage.databases import DatabaseManager, DbPath
from agents.storage.diskfile import ObjectState
from agents.storage.objects import ObjectManager, ObjectPath, PutSpec
from agents.storage.replication import ReplicationManager
from overcast import errors
from protos.overcast.object.v1 import listing_pb2 as lpb
from protos.overcast.object.v1 import listing_pb2_grpc, object_pb2_grpc
from protos.overcast.object.v1 import object_pb2 as pb


def _path(msg: pb.ObjectPath) -> ObjectPath:
    if not msg.account or not msg.container or not msg.object:
        raise errors.BadRequest("An object path needs an account, a container and a name.")
    return ObjectPath(msg.account, msg.container, msg.object, msg.partition)


def _state(state: ObjectState) -> pb.ObjectState:
    return pb.ObjectState(exists=state.exists, deleted=state.deleted,
                          timestamp=state.timestamp, meta_timestamp=state.meta_timestamp,
                          size=state.size, etag=state.etag, content_type=state.content_type,
                          headers=state.headers)


def _spec(header: pb.PutHeader) -> PutSpec:
    if not header.timestamp:
        raise errors.BadRequest("A PUT needs a timestamp.")
    return PutSpec(path=_path(header.path), timestamp=header.timestamp,
                   content_type=header.content_type, headers=dict(header.headers),
                   expected_etag=header.expected_etag, content_length=header.content_length,
                   targets=tuple((t.address, t.partition) for t in header.container_updates))


class ObjectServicer(object_pb2_grpc.ObjectServiceServicer):
    def __init__(self, objects: ObjectManager, replication: ReplicationManager) -> None:
        self.objects = objects
        self.replication = replication

    async def PutObject(self, request: pb.PutObjectRequest,
                        context: grpc.aio.ServicerContext) -> pb.PutObjectResponse:
        result = await self.objects.put(_spec(request.header), request.data)
        return pb.PutObjectResponse(etag=result.etag, size=result.size,
                                    superseded=result.superseded)

    async def PutObjectStream(self, request_iterator: AsyncIterator[pb.PutObjectStreamRequest],
                              context: grpc.aio.ServicerContext
                              ) -> pb.PutObjectStreamResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("payload") != "header":
            raise errors.BadRequest("The first upload message must be the header.")

        async def chunks() -> AsyncIterator[bytes]:
            async for message in request_iterator:
                yield message.chunk

        result = await self.objects.put_stream(_spec(first.header), chunks())
        return pb.PutObjectStreamResponse(etag=result.etag, size=result.size,
                                          superseded=result.superseded)

    async def GetObject(self, request: pb.GetObjectRequest,
                        context: grpc.aio.ServicerContext) -> pb.GetObjectResponse:
        state, data = self.objects.get(_path(request.path), max_inline=request.max_inline)
        if data is None:
            return pb.GetObjectResponse(state=_state(state))
        return pb.GetObjectResponse(state=_state(state), inline=True, data=data)

    async def GetObjectStream(self, request: pb.GetObjectStreamRequest,
                              context: grpc.aio.ServicerContext
                              ) -> AsyncIterator[pb.GetObjectStreamResponse]:
        state, chunks = self.objects.open_stream(_path(request.path), offset=request.offset,
                                                 length=request.length,
                                                 timestamp=request.timestamp)
        yield pb.GetObjectStreamResponse(state=_state(state))
        async for chunk in chunks:
            yield pb.GetObjectStreamResponse(chunk=chunk)

    async def HeadObject(self, request: pb.HeadObjectRequest,
                         context: grpc.aio.ServicerContext) -> pb.HeadObjectResponse:
        return pb.HeadObjectResponse(state=_state(self.objects.head(_path(request.path))))

    async def PostObject(self, request: pb.PostObjectRequest,
                         context: grpc.aio.ServicerContext) -> pb.PostObjectResponse:
        headers = dict(request.headers)
        content_type = headers.pop("Content-Type", "")
        found = await self.objects.post(_path(request.path), timestamp=request.timestamp,
                                        headers=headers, content_type=content_type)
        return pb.PostObjectResponse(found=found)

    async def DeleteObject(self, request: pb.DeleteObjectRequest,
                           context: grpc.aio.ServicerContext) -> pb.DeleteObjectResponse:
        found = await self.objects.delete(
            _path(request.path), timestamp=request.timestamp,
            targets=tuple((t.address, t.partition) for t in request.container_updates))
        return pb.DeleteObjectResponse(found=found)

    async def GetPartitionHashes(self, request: pb.GetPartitionHashesRequest,
                                 context: grpc.aio.ServicerContext
                                 ) -> pb.GetPartitionHashesResponse:
        found = await asyncio.to_thread(self.replication.partition_hashes,
                                        list(request.partitions))
        return pb.GetPartitionHashesResponse(partitions={
            part: pb.SuffixHashes(suffixes=suffixes) for part, suffixes in found.items()})

    async def ListSuffixes(self, request: pb.ListSuffixesRequest,
                           context: grpc.aio.ServicerContext) -> pb.ListSuffixesResponse:
        found = await asyncio.to_thread(self.replication.list_suffixes, request.partition,
                                        list(request.suffixes))
        return pb.ListSuffixesResponse(hashes=[
            pb.HashFiles(hash=h, suffix=h[-3:], files=files) for h, files in found.items()])

    async def PushFiles(self, request_iterator: AsyncIterator[pb.PushFilesRequest],
                        context: grpc.aio.ServicerContext) -> pb.PushFilesResponse:
        received = await self.replication.receive(_pushed(request_iterator))
        return pb.PushFilesResponse(received=received)


async def _pushed(messages: AsyncIterator[pb.PushFilesRequest]
                  ) -> AsyncIterator[tuple[int, str, str] | bytes]:
    """A (partition, hash, name) tuple starts each pushed file; bytes chunks follow it."""
    async for message in messages:
        if message.WhichOneof("payload") == "file":
            yield message.file.partition, message.file.hash, message.file.name
        else:
            yield message.chunk


def _db(msg: lpb.DatabasePath) -> DbPath:
    if not msg.account:
        raise errors.BadRequest("A database path needs an account.")
    return DbPath(msg.account, msg.container, msg.partition)


def _meta(metadata: Mapping[str, Any]) -> dict[str, list]:
    return {k: [v.value, v.timestamp] for k, v in metadata.items()}


class ListingServicer(listing_pb2_grpc.ListingServiceServicer):
    def __init__(self, databases: DatabaseManager) -> None:
        self.databases = databases

    async def PutDatabase(self, request: lpb.PutDatabaseRequest,
                          context: grpc.aio.ServicerContext) -> lpb.PutDatabaseResponse:
        created = self.databases.put(_db(request.path), timestamp=request.timestamp,
                                     metadata=_meta(request.metadata))
        return lpb.PutDatabaseResponse(created=created)

    async def GetDatabaseInfo(self, request: lpb.GetDatabaseInfoRequest,
                              context: grpc.aio.ServicerContext
                              ) -> lpb.GetDatabaseInfoResponse:
        return lpb.GetDatabaseInfoResponse(
            info=convert.info_to_pb(self.databases.info(_db(request.path))))

    async def PostDatabase(self, request: lpb.PostDatabaseRequest,
                           context: grpc.aio.ServicerContext) -> lpb.PostDatabaseResponse:
        self.databases.post(_db(request.path), metadata=_meta(request.metadata))
        return lpb.PostDatabaseResponse()

    async def DeleteDatabase(self, request: lpb.DeleteDatabaseRequest,
                             context: grpc.aio.ServicerContext
                             ) -> lpb.DeleteDatabaseResponse:
        self.databases.delete(_db(request.path), timestamp=request.timestamp)
        return lpb.DeleteDatabaseResponse()

    async def ListDatabase(self, request: lpb.ListDatabaseRequest,
                           context: grpc.aio.ServicerContext) -> lpb.ListDatabaseResponse:
        path = _db(request.path)
        info, entries = self.databases.list(
            path, prefix=request.prefix, delimiter=request.delimiter, marker=request.marker,
            end_marker=request.end_marker, limit=request.limit,
            reverse=request.reverse)
        out = []
        for entry in entries:
            if not hasattr(entry, "values"):
                out.append(lpb.ListEntry(subdir=entry.name))
            elif path.container:
                out.append(lpb.ListEntry(object=convert.object_row_to_pb(entry.values)))
            else:
                out.append(lpb.ListEntry(container=convert.container_row_to_pb(entry.values)))
        return lpb.ListDatabaseResponse(info=convert.info_to_pb({**info, "exists": True}),
                                        entries=out)

    async def MergeRows(self, request: lpb.MergeRowsRequest,
                        context: grpc.aio.ServicerContext) -> lpb.MergeRowsResponse:
        path = _db(request.path)
        rows = ([convert.object_row_from_pb(r) for r in request.objects] if path.container
                else [convert.container_row_from_pb(r) for r in request.containers])
        self.databases.merge_rows(path, rows)
        return lpb.MergeRowsResponse()

    async def SyncDatabase(self, request: lpb.SyncDatabaseRequest,
                           context: grpc.aio.ServicerContext) -> lpb.SyncDatabaseResponse:
        path = _db(request.path)
        rows = ([convert.object_row_from_pb(r) for r in request.objects] if path.container
                else [convert.container_row_from_pb(r) for r in request.containers])
        point = self.databases.sync(path, sender=convert.info_from_pb(request.info),
                                    rows=rows, max_row=request.max_row)
        return lpb.SyncDatabaseResponse(sync_point=point)


def register(server: grpc.aio.Server, objects: ObjectServicer,
             listings: ListingServicer) -> None:
    object_pb2_grpc.add_ObjectServiceServicer_to_server(objects, server)
    listing_pb2_grpc.add_ListingServiceServicer_to_server(listings, server)
