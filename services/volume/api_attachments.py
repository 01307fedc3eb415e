"""``/attachments`` (3.27+; ``os-complete`` 3.44+): the attach flow over REST, the same
logic the compute side's RPC endpoints use."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from overcast import errors
from overcast.context import RequestContext
from overcast.rest.body import JsonPayload
from overcast.rest.routing import JSONRoute
from services.volume import api_common as common
from services.volume import microversion as mv
from services.volume import validation as check
from services.volume import views
from services.volume.api_common import Caller
from services.volume.attachments import SORT_KEYS
from services.volume.contract import Connector
from services.volume.manager import VolumeManager
from services.volume.microversion import Version

_FILTERS = ("volume_id", "instance_id", "status", "project_id", "id")


def connector_of(raw: object) -> Connector:
    """os-brick's connector properties (host required; the rest as much as we use)."""
    body = check.action_args(raw, "connector")
    host = body.get("host")
    if not isinstance(host, str) or not host:
        raise errors.BadRequest("Invalid input for field/attribute connector. 'host' is a "
                                "required property")
    mountpoint = body.get("mountpoint") or ""
    if not isinstance(mountpoint, str):
        raise check.invalid_field("mountpoint", mountpoint, "It must be a string.")
    return Connector(host=host, mountpoint=mountpoint,
                     instance_id=str(body.get("instance_id") or ""))


def build_router(manager: VolumeManager) -> APIRouter:
    router = APIRouter(route_class=JSONRoute)
    attachments = manager.attachments

    async def _list(request: Request, ctx: RequestContext, version: tuple[int, int], *,
                    detailed: bool) -> dict:
        mv.require(version, mv.NEW_ATTACH)
        params = common.query(request)
        chosen = common.filters(params, allowed=_FILTERS)
        items, total = attachments.list(ctx, filters=chosen,
                                        page=common.page(params, SORT_KEYS),
                                        all_tenants=common.all_tenants(params, ctx))
        shown = [views.attachment_detail(r) if detailed else views.attachment_summary(r)
                 for r in items]
        return common.listing("attachments", shown, request=request,
                              collection="attachments/detail" if detailed else "attachments",
                              total=total, version=version, params=params)

    @router.get("/attachments")
    async def list_attachments(request: Request, ctx: Caller, version: Version) -> dict:
        return await _list(request, ctx, version, detailed=False)

    @router.get("/attachments/detail")
    async def list_attachments_detail(request: Request, ctx: Caller,
                                      version: Version) -> dict:
        return await _list(request, ctx, version, detailed=True)

    @router.post("/attachments")
    async def create_attachment(ctx: Caller, version: Version, payload: JsonPayload) -> dict:
        mv.require(version, mv.NEW_ATTACH)
        body = check.body_of(payload, "attachment")
        if not body.get("volume_uuid"):
            raise errors.BadRequest("Invalid input for field/attribute attachment. "
                                    "'volume_uuid' is a required property")
        mode = "rw"
        if version >= mv.ATTACHMENT_CREATE_MODE_ARG and body.get("mode") not in (None, "null"):
            mode = body["mode"]
        connector = connector_of(body["connector"]) if body.get("connector") else None
        record = attachments.reserve(ctx, volume_id=body["volume_uuid"],
                                     instance_id=body.get("instance_uuid"),
                                     mode=mode)
        if connector is not None:
            record, _ = attachments.update(ctx, record["id"], connector)
        return {"attachment": views.attachment_detail(record)}

    @router.get("/attachments/{attachment_id}")
    async def show_attachment(attachment_id: str, ctx: Caller, version: Version) -> dict:
        mv.require(version, mv.NEW_ATTACH)
        return {"attachment": views.attachment_detail(attachments.get(ctx, attachment_id))}

    @router.put("/attachments/{attachment_id}")
    async def update_attachment(attachment_id: str, ctx: Caller, version: Version,
                                payload: JsonPayload) -> dict:
        mv.require(version, mv.NEW_ATTACH)
        body = check.body_of(payload, "attachment")
        if "connector" not in body:
            raise errors.BadRequest("Invalid input for field/attribute attachment. "
                                    "'connector' is a required property")
        record, _ = attachments.update(ctx, attachment_id, connector_of(body["connector"]))
        return {"attachment": views.attachment_detail(record)}

    @router.delete("/attachments/{attachment_id}")
    async def delete_attachment(attachment_id: str, ctx: Caller, version: Version) -> dict:
        mv.require(version, mv.NEW_ATTACH)
        _, remaining = attachments.delete(ctx, attachment_id)
        return {"attachments": [views.attachment_summary(r) for r in remaining]}

    @router.post("/attachments/{attachment_id}/action")
    async def attachment_action(attachment_id: str, ctx: Caller, version: Version,
                                payload: JsonPayload) -> Response:
        mv.require(version, mv.NEW_ATTACH_COMPLETION)
        common.action_of(payload, {"os-complete": attachments.complete})
        attachments.complete(ctx, attachment_id)
        return Response(status_code=204)

    return router
