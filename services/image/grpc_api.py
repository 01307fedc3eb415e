"""The ``overcast.image.v1.ImageService`` servicer: translation between messages and the manager.

Domain errors raised by the manager become status codes in the shared interceptor.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from overcast import errors
from overcast.grpc.server import request_context
from protos.overcast.image.v1 import image_pb2 as pb
from protos.overcast.image.v1 import image_pb2_grpc
from services.image import convert
from services.image.manager import Change, ImageManager
from services.image.upload import UPLOAD_READY


def _list_filters(request: pb.ListImagesRequest) -> dict:
    filters: dict = dict(request.properties)
    for key in ("name", "status", "visibility", "owner", "member_status", "disk_format",
                "container_format", "protected", "os_hidden", "size_min", "size_max", "id"):
        if request.HasField(key):
            filters[key] = getattr(request, key)
    if request.tags:
        filters["tags"] = list(request.tags)
    return filters


class ImageServicer(image_pb2_grpc.ImageServiceServicer):
    def __init__(self, manager: ImageManager) -> None:
        self.manager = manager

    async def CreateImage(self, request: pb.CreateImageRequest,
                          context: grpc.aio.ServicerContext) -> pb.CreateImageResponse:
        image = await self.manager.create_image(request_context(context),
                                                convert.create_body(request))
        return pb.CreateImageResponse(image=convert.image_to_proto(image))

    async def UploadImage(self, request_iterator: AsyncIterator[pb.UploadImageRequest],
                          context: grpc.aio.ServicerContext) -> pb.UploadImageResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("payload") != "image_id":
            raise errors.BadRequest("The first upload message must name the image.")

        async def chunks() -> AsyncIterator[bytes]:
            # The manager reads the data only once it has accepted the upload; the client
            # sends none before this go-ahead, so a refusal ends a call nobody writes to.
            await context.send_initial_metadata((UPLOAD_READY,))
            async for message in request_iterator:
                if message.WhichOneof("payload") != "chunk":
                    raise errors.BadRequest("Upload messages after the first carry data only.")
                yield message.chunk

        image = await self.manager.upload(request_context(context), first.image_id, chunks())
        return pb.UploadImageResponse(image=convert.image_to_proto(image))

    async def DownloadImage(self, request: pb.DownloadImageRequest,
                            context: grpc.aio.ServicerContext
                            ) -> AsyncIterator[pb.DownloadImageResponse]:
        image, chunks = await self.manager.open_download(
            request_context(context), request.image_id, offset=request.offset,
            length=request.length if request.HasField("length") else None)
        yield pb.DownloadImageResponse(header=pb.DownloadHeader(
            image=convert.image_to_proto(image), has_data=chunks is not None))
        if chunks is not None:
            async for chunk in chunks:
                yield pb.DownloadImageResponse(chunk=chunk)

    async def GetImage(self, request: pb.GetImageRequest,
                       context: grpc.aio.ServicerContext) -> pb.GetImageResponse:
        image = await self.manager.get_image(request_context(context), request.image_id)
        return pb.GetImageResponse(image=convert.image_to_proto(image))

    async def ListImages(self, request: pb.ListImagesRequest,
                         context: grpc.aio.ServicerContext) -> pb.ListImagesResponse:
        images, next_marker = await self.manager.list_images(
            request_context(context), filters=_list_filters(request), limit=request.limit,
            marker=request.marker if request.HasField("marker") else None,
            sort=[(s.key, s.dir) for s in request.sort])
        return pb.ListImagesResponse(images=[convert.image_to_proto(i) for i in images],
                                     next_marker=next_marker)

    async def UpdateImage(self, request: pb.UpdateImageRequest,
                          context: grpc.aio.ServicerContext) -> pb.UpdateImageResponse:
        changes = [Change(*convert.change_from_proto(c)) for c in request.changes]
        image = await self.manager.update_image(request_context(context), request.image_id,
                                                changes)
        return pb.UpdateImageResponse(image=convert.image_to_proto(image))

    async def DeleteImage(self, request: pb.DeleteImageRequest,
                          context: grpc.aio.ServicerContext) -> pb.DeleteImageResponse:
        await self.manager.delete_image(request_context(context), request.image_id)
        return pb.DeleteImageResponse()

    async def AddTag(self, request: pb.AddTagRequest,
                     context: grpc.aio.ServicerContext) -> pb.AddTagResponse:
        await self.manager.add_tag(request_context(context), request.image_id, request.tag)
        return pb.AddTagResponse()

    async def DeleteTag(self, request: pb.DeleteTagRequest,
                        context: grpc.aio.ServicerContext) -> pb.DeleteTagResponse:
        await self.manager.delete_tag(request_context(context), request.image_id, request.tag)
        return pb.DeleteTagResponse()

    async def AddMember(self, request: pb.AddMemberRequest,
                        context: grpc.aio.ServicerContext) -> pb.AddMemberResponse:
        member = await self.manager.add_member(request_context(context), request.image_id,
                                               request.member_id)
        return pb.AddMemberResponse(member=convert.member_to_proto(member))

    async def GetMember(self, request: pb.GetMemberRequest,
                        context: grpc.aio.ServicerContext) -> pb.GetMemberResponse:
        member = await self.manager.get_member(request_context(context), request.image_id,
                                               request.member_id)
        return pb.GetMemberResponse(member=convert.member_to_proto(member))

    async def ListMembers(self, request: pb.ListMembersRequest,
                          context: grpc.aio.ServicerContext) -> pb.ListMembersResponse:
        members = await self.manager.list_members(request_context(context), request.image_id)
        return pb.ListMembersResponse(members=[convert.member_to_proto(m) for m in members])

    async def UpdateMember(self, request: pb.UpdateMemberRequest,
                           context: grpc.aio.ServicerContext) -> pb.UpdateMemberResponse:
        member = await self.manager.update_member(
            request_context(context), request.image_id, request.member_id,
            convert.member_status_from_proto(request.status))
        return pb.UpdateMemberResponse(member=convert.member_to_proto(member))

    async def DeleteMember(self, request: pb.DeleteMemberRequest,
                           context: grpc.aio.ServicerContext) -> pb.DeleteMemberResponse:
        await self.manager.delete_member(request_context(context), request.image_id,
                                         request.member_id)
        return pb.DeleteMemberResponse()


def register(servicer: ImageServicer, server: grpc.aio.Server) -> None:
    image_pb2_grpc.add_ImageServiceServicer_to_server(servicer, server)
