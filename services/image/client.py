"""The typed async client other processes use to reach the image service over gRPC.

Every method takes the caller's ``RequestContext`` first, sends it in the call metadata with a
deadline, returns plain dicts in Glance v2's REST shape and raises domain errors
(``overcast.errors``), streaming calls included.

The channel is created lazily in the event loop of the first call, because a grpc.aio
channel belongs to the loop that created it.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import grpc

from overcast import errors
from overcast.bus.signing import Signer
from overcast.context import RequestContext
from overcast.errors import excerpt
from overcast.grpc import channel, metadata_for
from overcast.grpc.client import as_domain_error
from protos.overcast.image.v1 import image_pb2 as pb
from protos.overcast.image.v1 import image_pb2_grpc
from services.image import convert
from services.image.upload import SourceError, send_upload

_LIST_SCALARS = ("name", "status", "visibility", "owner", "member_status", "disk_format",
                 "container_format", "id")


@dataclasses.dataclass(frozen=True)
class ImageDownload:
    """An open download: the image as it was when the download began, and its data.

    ``chunks`` is None when the image has no data (for example, still queued).
    """

    image: dict[str, Any]
    chunks: AsyncIterator[bytes] | None

    @property
    def size(self) -> int | None:
        return self.image.get("size")

    @property
    def checksum(self) -> str | None:
        return self.image.get("checksum")


class ImageClient:
    """Calls ``overcast.image.v1.ImageService`` at ``target`` ("host:port")."""

    def __init__(self, target: str, *, signer: Signer, timeout: float = 30.0,
                 stream_timeout: float = 3600.0) -> None:
        self.target = target
        self.signer = signer
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self._channel: grpc.aio.Channel | None = None
        self._stub: image_pb2_grpc.ImageServiceStub | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def stub(self) -> image_pb2_grpc.ImageServiceStub:
        loop = asyncio.get_running_loop()
        if self._stub is None or self._loop is not loop:
            self._channel = channel(self.target)
            self._stub = image_pb2_grpc.ImageServiceStub(self._channel)
            self._loop = loop
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = self._loop = None

    def _kw(self, ctx: RequestContext, *, stream: bool = False) -> dict[str, Any]:
        return {"metadata": metadata_for(ctx, self.signer),
                "timeout": self.stream_timeout if stream else self.timeout}

    # -- records ---------------------------------------------------------------------------

    async def create_image(self, ctx: RequestContext, image: Mapping[str, Any]) -> dict:
        """Register an image from a Glance create body; the new image (status queued)."""
        response = await self.stub.CreateImage(convert.create_request(dict(image)),
                                               **self._kw(ctx))
        return convert.image_from_proto(response.image)

    async def get_image(self, ctx: RequestContext, image_id: str) -> dict:
        response = await self.stub.GetImage(pb.GetImageRequest(image_id=image_id),
                                            **self._kw(ctx))
        return convert.image_from_proto(response.image)

    async def list_images(self, ctx: RequestContext, *,
                          filters: Mapping[str, Any] | None = None, limit: int | None = None,
                          marker: str | None = None,
                          sort: Sequence[tuple[str, str]] = ()) -> dict:
        """``{"images": [...], "next_marker": id or None}``.

        ``filters`` uses Glance's query names: name, status, visibility, owner,
        member_status, tags (list), disk_format, container_format, protected, os_hidden,
        size_min, size_max, id; any other key matches a user property exactly.
        """
        request = pb.ListImagesRequest(limit=limit or 0,
                                       sort=[pb.SortKey(key=k, dir=d) for k, d in sort])
        for key, value in (filters or {}).items():
            if value is None:
                continue
            if key in _LIST_SCALARS:
                setattr(request, key, str(value))
            elif key == "tags":
                request.tags.extend([value] if isinstance(value, str) else value)
            elif key in ("protected", "os_hidden"):
                setattr(request, key, bool(value))
            elif key in ("size_min", "size_max"):
                setattr(request, key, int(value))
            else:
                request.properties[key] = str(value)
        if marker:
            request.marker = marker
        response = await self.stub.ListImages(request, **self._kw(ctx))
        return {"images": [convert.image_from_proto(i) for i in response.images],
                "next_marker": response.next_marker if response.HasField("next_marker")
                else None}

    async def update_image(self, ctx: RequestContext, image_id: str,
                           changes: Sequence[Mapping[str, Any]]) -> dict:
        """Apply ``[{"op": add|replace|remove, "path": attribute, "value": ...}]`` in order."""
        request = pb.UpdateImageRequest(image_id=image_id, changes=[
            convert.change_to_proto(c["op"], c["path"], c.get("value")) for c in changes])
        response = await self.stub.UpdateImage(request, **self._kw(ctx))
        return convert.image_from_proto(response.image)

    async def delete_image(self, ctx: RequestContext, image_id: str) -> None:
        await self.stub.DeleteImage(pb.DeleteImageRequest(image_id=image_id), **self._kw(ctx))

    async def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        await self.stub.AddTag(pb.AddTagRequest(image_id=image_id, tag=tag), **self._kw(ctx))

    async def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        await self.stub.DeleteTag(pb.DeleteTagRequest(image_id=image_id, tag=tag),
                                  **self._kw(ctx))

    # -- data ------------------------------------------------------------------------------

    async def upload(self, ctx: RequestContext, image_id: str,
                     chunks: AsyncIterator[bytes]) -> dict:
        """Stream ``chunks`` as the image's data; the image once active.

        The image service checks the caller and the image before ``chunks`` is read, so a
        refusal (Forbidden, Conflict, ...) is raised with no data sent. If ``chunks``
        raises, the upload is aborted (the image ends up killed) and that error is raised
        here: domain errors as they are, others as BadRequest.
        """
        call = self.stub.UploadImage(**self._kw(ctx, stream=True))
        try:
            response = await send_upload(call, image_id=image_id, chunks=chunks,
                                         accept_timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise as_domain_error(exc) from None
        except SourceError as exc:
            raise _source_error(exc.__cause__ or exc) from exc
        return convert.image_from_proto(response.image)

    async def open_download(self, ctx: RequestContext, image_id: str, *, offset: int = 0,
                            length: int | None = None) -> ImageDownload:
        """Start a download of ``length`` bytes from ``offset`` (all the rest when None):
        errors (not found, forbidden, a range outside the data) are raised before any data."""
        request = pb.DownloadImageRequest(image_id=image_id, offset=offset, length=length)
        call = self.stub.DownloadImage(request, **self._kw(ctx, stream=True))
        try:
            first = await call.read()
        except grpc.aio.AioRpcError as exc:
            raise as_domain_error(exc) from None
        if first is grpc.aio.EOF or first.WhichOneof("payload") != "header":
            call.cancel()
            raise errors.ServiceUnavailable("The image service sent no download header.")
        image = convert.image_from_proto(first.header.image)
        if not first.header.has_data:
            call.cancel()
            return ImageDownload(image=image, chunks=None)
        return ImageDownload(image=image, chunks=_chunks(call))

    async def download(self, ctx: RequestContext, image_id: str) -> AsyncIterator[bytes]:
        """The image's data in chunks; Conflict if it has none."""
        opened = await self.open_download(ctx, image_id)
        if opened.chunks is None:
            raise errors.Conflict(f"Image {image_id} has no data "
                                  f"(status {opened.image['status']}).")
        async for chunk in opened.chunks:
            yield chunk

    # -- members ---------------------------------------------------------------------------

    async def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict:
        response = await self.stub.AddMember(
            pb.AddMemberRequest(image_id=image_id, member_id=member_id), **self._kw(ctx))
        return convert.member_from_proto(response.member)

    async def get_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict:
        response = await self.stub.GetMember(
            pb.GetMemberRequest(image_id=image_id, member_id=member_id), **self._kw(ctx))
        return convert.member_from_proto(response.member)

    async def list_members(self, ctx: RequestContext, image_id: str) -> list[dict]:
        response = await self.stub.ListMembers(pb.ListMembersRequest(image_id=image_id),
                                               **self._kw(ctx))
        return [convert.member_from_proto(m) for m in response.members]

    async def update_member(self, ctx: RequestContext, image_id: str, member_id: str,
                            status: str) -> dict:
        """Set the membership's status: pending, accepted or rejected."""
        if status not in ("pending", "accepted", "rejected"):
            raise errors.BadRequest(f"Incorrect request: invalid member status {excerpt(status)}")
        response = await self.stub.UpdateMember(pb.UpdateMemberRequest(
            image_id=image_id, member_id=member_id,
            status=convert.member_status_to_proto(status)), **self._kw(ctx))
        return convert.member_from_proto(response.member)

    async def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        await self.stub.DeleteMember(
            pb.DeleteMemberRequest(image_id=image_id, member_id=member_id), **self._kw(ctx))


async def _chunks(call: Any) -> AsyncIterator[bytes]:
    try:
        while True:
            try:
                message = await call.read()
            except grpc.aio.AioRpcError as exc:
                raise as_domain_error(exc) from None
            if message is grpc.aio.EOF:
                return
            yield message.chunk
    finally:
        if not call.done():
            call.cancel()


def _source_error(exc: BaseException) -> Exception:
    if isinstance(exc, errors.OvercastError):
        return exc
    return errors.BadRequest(f"Image data could not be read: {exc}")
