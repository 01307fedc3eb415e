"""A server's volumes (Nova's ``os-volume_attachments``): list, show, attach, detach, and
swap, which only Cinder may ask for (while migrating a volume, which this cloud never does).

The bodies are Nova's: ``volumeAttachment`` with ``id`` (the volume's id), ``volumeId``,
``serverId`` and ``device``; ``tag`` from 2.70, ``delete_on_termination`` from 2.79. A
request is accepted with ``tag`` from 2.49 and ``delete_on_termination`` from 2.79. The
checks of the server's state and lock are the conductor's (409); the volume service's 400
(not available) and 404 (not the caller's) pass through.
"""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from overcast.rest.auth import Context
from overcast.rest.body import JsonPayload
from overcast.rest.routing import JSONRoute
from services.compute import block_device_mapping as bdm_input
from services.compute import validation as check
from services.compute import views
from services.compute.microversion import Version

SHELVED = ("shelved", "shelved_offloaded")
# Nova's match_device, which its schema applies to ``device``.
_DEVICE = re.compile(r"(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$")


def _attachment_body(payload: Any, mv: tuple[int, int], *, swap: bool = False) -> dict:
    """The ``volumeAttachment`` of a request, checked as Nova's schema for ``mv``."""
    body = check.body_of(payload, "volumeAttachment")
    if set(payload) != {"volumeAttachment"}:
        raise errors.BadRequest("Invalid input for field/attribute volumeAttachment. "
                                "Additional properties are not allowed "
                                f"({excerpt(sorted(set(payload) - {'volumeAttachment'}))})")
    allowed = {"volumeId"} if swap else {"volumeId", "device"}
    if not swap and mv >= (2, 49):
        allowed.add("tag")
    if not swap and mv >= (2, 79):
        allowed.add("delete_on_termination")
    unknown = set(body) - allowed
    if unknown:
        raise errors.BadRequest("Invalid input for field/attribute volumeAttachment. "
                                f"Additional properties are not allowed "
                                f"({excerpt(sorted(unknown))})")
    if "volumeId" not in body:
        raise errors.BadRequest("Invalid input for field/attribute volumeAttachment. "
                                "'volumeId' is a required property")
    if not isinstance(body["volumeId"], str) or not check.is_uuid(body["volumeId"]):
        raise errors.BadRequest(f"Invalid input for field/attribute volumeId. Value: "
                                f"{excerpt(body['volumeId'])}. is not a 'uuid'")
    device = body.get("device")
    if device is not None and (not isinstance(device, str) or not _DEVICE.match(device)):
        raise errors.BadRequest(f"Invalid input for field/attribute device. Value: "
                                f"{excerpt(device)}. does not match '{_DEVICE.pattern}'")
    return {"volume_id": body["volumeId"], "device": device,
            "tag": bdm_input.tag(body.get("tag")),
            "delete_on_termination": bdm_input.boolean(body.get("delete_on_termination",
                                                                False),
                                                       "delete_on_termination")}


def _not_on_shelved(server: dict, mv: tuple[int, int], method: str) -> None:
    """Before 2.20 a shelved server takes no volume changes (Nova's 409)."""
    if server["vm_state"] in SHELVED and mv < (2, 20):
        raise errors.Conflict(f"Cannot '{method}' instance {server['id']} while it is in "
                              f"vm_state {server['vm_state']}")


def _offset(value: str | None) -> int:
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise errors.BadRequest(f"Invalid input for query parameters offset. Value: "
                                f"{excerpt(value)}. '{excerpt(value)}' does not match "
                                "'^[0-9]*$'")
    return int(value)


def build_router(*, conductor: Any) -> APIRouter:
    """``/servers/{id}/os-volume_attachments`` under ``/compute/v2.1``."""
    router = APIRouter(route_class=JSONRoute)
    base = "/servers/{server_id}/os-volume_attachments"

    async def _server(ctx: RequestContext, server_id: str) -> dict:
        if not check.is_uuid(server_id):
            raise errors.NotFound(f"Instance {excerpt(server_id)} could not be found.")
        return await conductor.get_server(ctx, instance_id=server_id)

    @router.get(base)
    async def list_attachments(request: Request, server_id: str, ctx: Context,
                               mv: Version) -> dict:
        params = request.query_params
        if mv >= (2, 75) and set(params) - {"limit", "offset"}:
            raise errors.BadRequest("Invalid input for query parameters. Additional "
                                    "properties are not allowed "
                                    f"({excerpt(sorted(set(params) - {'limit', 'offset'}))})")
        limit = check.page_limit(params["limit"]) if "limit" in params else check.MAX_LIMIT
        offset = _offset(params.get("offset"))
        server = await _server(ctx, server_id)
        mappings = views.attached_volumes(server)[offset:offset + (limit or check.MAX_LIMIT)]
        return {"volumeAttachments": [views.volume_attachment(m, server["id"], mv)
                                      for m in mappings]}

    @router.get(base + "/{volume_id}")
    async def show_attachment(server_id: str, volume_id: str, ctx: Context, mv: Version
                              ) -> dict:
        server = await _server(ctx, server_id)
        found = [m for m in views.attached_volumes(server) if m["volume_id"] == volume_id]
        if not found:
            raise errors.NotFound(f"Instance {server['id']} is not attached to volume "
                                  f"{excerpt(volume_id)}")
        return {"volumeAttachment": views.volume_attachment(found[0], server["id"], mv)}

    @router.post(base)
    async def attach(server_id: str, ctx: Context, mv: Version, payload: JsonPayload
                     ) -> dict:
        asked = _attachment_body(payload, mv)
        server = await _server(ctx, server_id)
        _not_on_shelved(server, mv, "attach_volume")
        mapping = await conductor.attach_volume(ctx, instance_id=server["id"], **asked)
        view = {"id": asked["volume_id"], "serverId": server["id"],
                "volumeId": asked["volume_id"], "device": mapping["device_name"]}
        if mv >= (2, 70):
            view["tag"] = asked["tag"]
        if mv >= (2, 79):
            view["delete_on_termination"] = asked["delete_on_termination"]
        return {"volumeAttachment": view}

    @router.put(base + "/{volume_id}", status_code=202)
    async def swap(server_id: str, volume_id: str, ctx: Context, mv: Version,
                   payload: JsonPayload) -> Response:
        """Swapping a volume is Cinder's call while it migrates a volume (Nova's policy
        allows the service role only); no volume here ever migrates, so the answer is
        always Nova's refusal: 403, or 409 for an admin."""
        _attachment_body(payload, mv, swap=True)
        await _server(ctx, server_id)
        if not ctx.is_admin:
            raise errors.Forbidden("Policy doesn't allow os_compute_api:os-volumes-attachments:"
                                   "swap to be performed.")
        raise errors.Conflict(f"volume {excerpt(volume_id)} is not migrating; this API "
                              "should only be called by Cinder")

    @router.delete(base + "/{volume_id}", status_code=202)
    async def detach(server_id: str, volume_id: str, ctx: Context, mv: Version) -> Response:
        server = await _server(ctx, server_id)
        _not_on_shelved(server, mv, "detach_volume")
        await conductor.detach_volume(ctx, instance_id=server["id"], volume_id=volume_id)
        return Response(status_code=202)

    return router
