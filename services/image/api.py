"""The Glance v2 REST router, mounted by the ``api`` process at ``/image``.

Routes only translate HTTP to ``ImageClient`` calls; the image service decides. Status codes
follow Glance: 201 + Location on create, 204 on delete, upload and tag changes, 204 on
download of an image without data, 206 with ``Content-Range`` for a download with a
``Range`` (416 when it cannot be served), 403 for read-only attributes, 415 for a PATCH that
is not a Glance JSON-patch document.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from overcast import errors
from overcast.errors import excerpt
from overcast.rest.auth import Context
from overcast.rest.errors import error_response
from overcast.rest.limits import streaming_body
from services.image import api_docs, api_parse, ranges
from services.image.client import ImageClient

OCTET_STREAM = "application/octet-stream"


def _base_url(request: Request, prefix: str) -> str:
    return str(request.base_url).rstrip("/") + prefix


def _list_links(params: list[tuple[str, str]], next_marker: str | None) -> dict[str, str]:
    rest = [(k, v) for k, v in params if k != "marker"]
    links = {"first": "/v2/images" + (f"?{urlencode(rest)}" if rest else ""),
             "schema": "/v2/schemas/images"}
    if next_marker:
        links["next"] = "/v2/images?" + urlencode([*rest, ("marker", next_marker)])
    return links


def build_router(client: ImageClient, *, prefix: str = "/image") -> APIRouter:
    """Routes for Glance v2 under ``prefix`` (used for absolute links), backed by ``client``."""
    router = APIRouter()

    # -- versions (public) and schemas --------------------------------------------------------

    @router.get("", include_in_schema=False)
    @router.get("/", include_in_schema=False)
    async def root(request: Request) -> JSONResponse:
        return JSONResponse(api_docs.versions(_base_url(request, prefix)), status_code=300)

    @router.get("/versions")
    async def list_versions(request: Request) -> JSONResponse:
        return JSONResponse(api_docs.versions(_base_url(request, prefix)))

    @router.get("/v2/schemas/image")
    async def image_schema(ctx: Context) -> dict:
        return api_docs.image_schema()

    @router.get("/v2/schemas/images")
    async def images_schema(ctx: Context) -> dict:
        return api_docs.images_schema()

    @router.get("/v2/schemas/member")
    async def member_schema(ctx: Context) -> dict:
        return api_docs.member_schema()

    @router.get("/v2/schemas/members")
    async def members_schema(ctx: Context) -> dict:
        return api_docs.members_schema()

    # -- images ------------------------------------------------------------------------------

    @router.post("/v2/images", status_code=201)
    async def create_image(request: Request, ctx: Context) -> JSONResponse:
        body = await api_parse.json_body(request)
        if not isinstance(body, dict):
            raise errors.BadRequest("Request body must be a JSON object.")
        image = await client.create_image(ctx, body)
        location = _base_url(request, prefix) + image["self"]
        return JSONResponse(image, status_code=201, headers={"Location": location})

    @router.get("/v2/images")
    async def list_images(request: Request, ctx: Context) -> dict:
        params = list(request.query_params.multi_items())
        page = await client.list_images(ctx, **api_parse.list_query(params))
        return {"images": page["images"], **_list_links(params, page["next_marker"])}

    @router.get("/v2/images/{image_id}")
    async def show_image(image_id: str, ctx: Context) -> dict:
        return await client.get_image(ctx, image_id)

    @router.patch("/v2/images/{image_id}")
    async def update_image(image_id: str, request: Request, ctx: Context) -> dict:
        if api_parse.media_type(request) not in api_parse.PATCH_TYPES:
            raise api_parse.UnsupportedMediaType(
                "Unsupported Content-Type; use "
                + " or ".join(sorted(api_parse.PATCH_TYPES)) + ".")
        changes = api_parse.patch_changes(request, await api_parse.json_body(request))
        return await client.update_image(ctx, image_id, changes)

    @router.delete("/v2/images/{image_id}", status_code=204)
    async def delete_image(image_id: str, ctx: Context) -> Response:
        await client.delete_image(ctx, image_id)
        return Response(status_code=204)

    # -- data --------------------------------------------------------------------------------

    @router.put("/v2/images/{image_id}/file", status_code=204)
    @streaming_body  # image data, not an API document: bounded by image_size_cap instead
    async def upload_image(image_id: str, request: Request, ctx: Context) -> Response:
        kind = api_parse.media_type(request)
        if kind and kind != OCTET_STREAM:
            raise api_parse.UnsupportedMediaType(
                f"Content-Type must be {OCTET_STREAM} to upload image data.")

        async def body() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                if chunk:
                    yield chunk

        await client.upload(ctx, image_id, body())
        return Response(status_code=204)

    @router.get("/v2/images/{image_id}/file")
    async def download_image(image_id: str, request: Request, ctx: Context) -> Response:
        """The image's data; with a ``Range`` header, that range of it (206), as Glance."""
        header = request.headers.get("range")
        served = None
        if header is not None:
            image = await client.get_image(ctx, image_id)
            size = image.get("size")
            # An image without data is answered as without a Range (204, or 403 if it is
            # deactivated), as Glance checks the image before it reads the range.
            if image["status"] == "active" and size is not None:
                try:
                    served = ranges.parse_range(header).resolve(size)
                except ranges.RangeNotSatisfiable as exc:
                    return error_response(request, exc.code, exc.message,
                                          headers={"Content-Range": f"bytes */{size}"})
        offset, length = served or (0, None)
        opened = await client.open_download(ctx, image_id, offset=offset, length=length)
        if opened.chunks is None:
            return Response(status_code=204)
        headers = {}
        if opened.checksum:
            headers["Content-MD5"] = opened.checksum
        if served is not None and opened.size is not None:
            headers["Content-Range"] = ranges.content_range(offset, served[1], opened.size)
            headers["Content-Length"] = str(served[1])
            return StreamingResponse(opened.chunks, status_code=206, media_type=OCTET_STREAM,
                                     headers=headers)
        if opened.size is not None:
            headers["Content-Length"] = str(opened.size)
        return StreamingResponse(opened.chunks, media_type=OCTET_STREAM, headers=headers)

    # -- tags --------------------------------------------------------------------------------

    @router.put("/v2/images/{image_id}/tags/{tag}", status_code=204)
    async def add_tag(image_id: str, tag: str, ctx: Context) -> Response:
        await client.add_tag(ctx, image_id, tag)
        return Response(status_code=204)

    @router.delete("/v2/images/{image_id}/tags/{tag}", status_code=204)
    async def delete_tag(image_id: str, tag: str, ctx: Context) -> Response:
        await client.delete_tag(ctx, image_id, tag)
        return Response(status_code=204)

    # -- members -----------------------------------------------------------------------------

    @router.post("/v2/images/{image_id}/members")
    async def add_member(image_id: str, request: Request, ctx: Context) -> dict:
        body = await api_parse.json_body(request)
        if not isinstance(body, dict) or "member" not in body:
            raise errors.BadRequest("Member to be added not specified")
        if not isinstance(body["member"], str) or not body["member"].strip():
            raise errors.BadRequest("Member can't be empty")
        return await client.add_member(ctx, image_id, body["member"])

    @router.get("/v2/images/{image_id}/members")
    async def list_members(image_id: str, ctx: Context) -> dict:
        members = await client.list_members(ctx, image_id)
        return {"members": members, "schema": "/v2/schemas/members"}

    @router.get("/v2/images/{image_id}/members/{member_id}")
    async def show_member(image_id: str, member_id: str, ctx: Context) -> dict:
        return await client.get_member(ctx, image_id, member_id)

    @router.put("/v2/images/{image_id}/members/{member_id}")
    async def update_member(image_id: str, member_id: str, request: Request,
                            ctx: Context) -> dict:
        body = await api_parse.json_body(request)
        if not isinstance(body, dict) or "status" not in body:
            raise errors.BadRequest("Status not specified")
        if not isinstance(body["status"], str):
            raise errors.BadRequest(f"Invalid status: {excerpt(body['status'])}")
        return await client.update_member(ctx, image_id, member_id, body["status"])

    @router.delete("/v2/images/{image_id}/members/{member_id}", status_code=204)
    async def delete_member(image_id: str, member_id: str, ctx: Context) -> Response:
        await client.delete_member(ctx, image_id, member_id)
        return Response(status_code=204)

    return router
