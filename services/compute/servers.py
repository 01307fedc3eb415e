"""``/servers``: create, list, show, update, delete, actions, metadata and instance actions."""
from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from overcast.rest.auth import Context
from overcast.rest.body import JsonPayload
from overcast.rest.responses import FastJSONResponse
from overcast.rest.routing import JSONRoute
from services.compute import block_device_mapping, server_actions, views
from services.compute import validation as check
from services.compute.microversion import Version
from services.conductor.rpcapi import BlockDeviceRequest, BootRequest, ImageRequirements


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# An action another module serves: (request, ctx, server_id, the action's body, microversion).
ActionHandler = Callable[[Request, RequestContext, str, Any, tuple[int, int]], Awaitable[Any]]


def build_router(*, conductor: Any, images: Any, network: Any,
                 extra_actions: Mapping[str, ActionHandler] | None = None) -> APIRouter:
    """Routes under ``/compute/v2.1`` for servers; the peers are rpcapi/gRPC clients.
    ``extra_actions`` are server actions served by other modules (e.g. consoles)."""
    router = APIRouter(route_class=JSONRoute)

    def _require_uuid(server_id: str) -> None:
        if not check.is_uuid(server_id):
            raise errors.NotFound(f"Instance {excerpt(server_id)} could not be found.")

    async def _server(ctx: RequestContext, server_id: str) -> dict:
        _require_uuid(server_id)
        return await conductor.get_server(ctx, instance_id=server_id)

    async def _boot_image(ctx: RequestContext, image_id: str,
                          devices: tuple[BlockDeviceRequest, ...]) -> dict:
        """The image the server boots from: ``imageRef``, else the one its root volume is
        made from (none for an existing volume: {}). Every image a mapping names must
        exist (400, Nova's words), and the one booted be a root filesystem archive."""
        if image_id:
            try:
                image = await images.get_image(ctx, image_id)
            except errors.NotFound:
                raise errors.BadRequest(f"Image {image_id} could not be found.") from None
            check.bootable_image(image)
            return image
        image = {}
        for device in devices:
            if device.source_type != "image" or not device.uuid:
                continue
            invalid = errors.BadRequest(f"Block Device Mapping is Invalid: failed to get "
                                        f"image {device.uuid}.")
            if not check.is_uuid(device.uuid):
                raise invalid
            try:
                found = await images.get_image(ctx, device.uuid)
            except (errors.NotFound, errors.BadRequest):
                raise invalid from None
            if device.boot_index == 0 and device.destination_type == "volume":
                check.bootable_image(found)
                image = found
        return image

    @router.post("/servers", status_code=202)
    async def create_server(request: Request, ctx: Context, mv: Version,
                            payload: JsonPayload) -> Any:
        body = check.body_of(payload, "server")
        name = check.name(body.get("name"))
        devices = block_device_mapping.parse(body, mv)
        image_id = ""
        if not body.get("imageRef") and not devices:
            raise errors.BadRequest("Missing imageRef attribute")
        if body.get("imageRef"):  # booted from a volume: no image (Nova's)
            image_id = check.ref_id(body.get("imageRef"), field="imageRef")
            if not check.is_uuid(image_id):
                raise errors.BadRequest("Invalid imageRef provided.")
        flavor_id = check.ref_id(body.get("flavorRef"), field="flavorRef")
        min_count = check.count(body.get("min_count", 1), "min_count")
        max_count = check.count(body.get("max_count", min_count), "max_count")
        if max_count < min_count:
            raise errors.BadRequest("min_count must be <= max_count")
        requested_networks = check.networks(body.get("networks"))
        image = await _boot_image(ctx, image_id, devices)
        security_groups = check.security_groups(body.get("security_groups"))
        await network.validate_networks(ctx, project_id=ctx.project_id,
                                        requested_networks=requested_networks,
                                        security_groups=list(security_groups))
        hints = check.scheduler_hints(payload)
        boot = BootRequest(
            name=name, flavor_id=flavor_id, image_ref=image_id,
            image=ImageRequirements(min_ram=image.get("min_ram") or 0,
                                    min_disk=image.get("min_disk") or 0),
            key_name=check.optional_string(body.get("key_name"), field="key_name"),
            metadata=check.metadata(body.get("metadata")),
            user_data=check.user_data(body.get("user_data")),
            availability_zone=check.optional_string(body.get("availability_zone"),
                                                    field="availability_zone"),
            networks=requested_networks if isinstance(requested_networks, str)
            else tuple(requested_networks),
            security_groups=security_groups,
            min_count=min_count, max_count=max_count,
            group_id=check.optional_string(hints.get("group"), field="group"),
            description=body.get("description"), tags=check.tags(body.get("tags")),
            block_device_mapping=devices)
        if boot.description is not None:
            check.name(boot.description, field="description")
        created = await conductor.create_servers(ctx, request=boot)
        if body.get("return_reservation_id"):
            return {"reservation_id": created[0]["reservation_id"]}
        first = created[0]
        body = {"server": {"id": first["id"],
                           "links": views.server_brief(first, _base(request))["links"],
                           "OS-DCF:diskConfig": "MANUAL",
                           "security_groups": [{"name": g} for g in first["security_groups"]],
                           "adminPass": secrets.token_urlsafe(9)}}
        return FastJSONResponse(body, status_code=202, headers={
            "Location": f"{_base(request)}/compute/v2.1/servers/{first['id']}"})

    def _filters(request: Request) -> dict:
        params = request.query_params
        filters = {k: params[k] for k in ("name", "status", "host", "image", "flavor",
                                          "project_id", "tenant_id", "marker",
                                          "availability_zone") if params.get(k)}
        if "tenant_id" in filters:
            filters.setdefault("project_id", filters.pop("tenant_id"))
        all_tenants = params.get("all_tenants", params.get("all_projects"))
        filters["all_tenants"] = all_tenants is not None and all_tenants.lower() not in (
            "0", "false", "off", "no")
        if params.get("limit") is not None:
            filters["limit"] = check.page_limit(params["limit"])
        return filters

    @router.get("/servers")
    async def list_servers(request: Request, ctx: Context, mv: Version) -> dict:
        items = await conductor.list_servers(ctx, filters=_filters(request))
        return {"servers": [views.server_brief(i, _base(request)) for i in items]}

    @router.get("/servers/detail")
    async def list_servers_detail(request: Request, ctx: Context, mv: Version) -> dict:
        items = await conductor.list_servers(ctx, filters=_filters(request))
        base = _base(request)
        return {"servers": [views.server(i, base, mv, ctx) for i in items]}

    @router.get("/servers/{server_id}")
    async def show_server(request: Request, server_id: str, ctx: Context, mv: Version) -> dict:
        return {"server": views.server(await _server(ctx, server_id), _base(request), mv, ctx)}

    @router.put("/servers/{server_id}")
    async def update_server(request: Request, server_id: str, ctx: Context, mv: Version,
                            payload: JsonPayload) -> dict:
        body = check.body_of(payload, "server")
        changes = {}
        if "name" in body:
            changes["name"] = check.name(body["name"])
        if "description" in body and mv >= (2, 19):
            changes["description"] = (None if body["description"] is None
                                      else check.name(body["description"], field="description"))
        unknown = set(body) - {"name", "description", "accessIPv4", "accessIPv6",
                               "OS-DCF:diskConfig", "hostname"}
        if unknown:
            raise errors.BadRequest(f"Invalid input for field/attribute server. Additional "
                                    f"properties are not allowed ({excerpt(sorted(unknown))})")
        _require_uuid(server_id)
        inst = await conductor.update_server(ctx, instance_id=server_id, changes=changes)
        return {"server": views.server(inst, _base(request), mv, ctx)}

    @router.delete("/servers/{server_id}", status_code=204)
    async def delete_server(server_id: str, ctx: Context, mv: Version) -> Response:
        _require_uuid(server_id)
        deleted = await conductor.delete_server(ctx, instance_id=server_id)
        shelved = (deleted or {}).get("shelved_image_id")
        if shelved:  # a shelved server's snapshot goes with it, as in Nova
            with contextlib.suppress(errors.NotFound):
                await images.delete_image(ctx, shelved)
        return Response(status_code=204)

    @router.post("/servers/{server_id}/action", status_code=202)
    async def server_action(request: Request, server_id: str, ctx: Context, mv: Version,
                            payload: JsonPayload) -> Any:
        if not isinstance(payload, dict) or len(payload) != 1:
            raise errors.BadRequest("There is no such action: the body must name one action")
        (action, args), = payload.items()
        _require_uuid(server_id)
        if action in (extra_actions or {}):
            return await extra_actions[action](request, ctx, server_id, args, mv)
        return await server_actions.dispatch(server_actions.ActionCall(
            request=request, ctx=ctx, mv=mv, server_id=server_id, args=args,
            conductor=conductor, images=images), action)

    # -- metadata ------------------------------------------------------------------------

    @router.get("/servers/{server_id}/metadata")
    async def list_metadata(server_id: str, ctx: Context, mv: Version) -> dict:
        return {"metadata": (await _server(ctx, server_id))["metadata"]}

    @router.post("/servers/{server_id}/metadata")
    async def update_metadata(server_id: str, ctx: Context, mv: Version,
                              payload: JsonPayload) -> dict:
        body = check.metadata(check.body_of(payload, "metadata"))
        _require_uuid(server_id)
        return {"metadata": await conductor.set_metadata(
            ctx, instance_id=server_id, metadata=body, replace=False)}

    @router.put("/servers/{server_id}/metadata")
    async def replace_metadata(server_id: str, ctx: Context, mv: Version,
                               payload: JsonPayload) -> dict:
        body = check.metadata(check.body_of(payload, "metadata"))
        _require_uuid(server_id)
        return {"metadata": await conductor.set_metadata(
            ctx, instance_id=server_id, metadata=body, replace=True)}

    @router.get("/servers/{server_id}/metadata/{key}")
    async def show_metadata_item(server_id: str, key: str, ctx: Context, mv: Version) -> dict:
        metadata = (await _server(ctx, server_id))["metadata"]
        if key not in metadata:
            raise errors.NotFound("Metadata item was not found")
        return {"meta": {key: metadata[key]}}

    @router.put("/servers/{server_id}/metadata/{key}")
    async def set_metadata_item(server_id: str, key: str, ctx: Context, mv: Version,
                                payload: JsonPayload) -> dict:
        item = check.metadata(check.body_of(payload, "meta"))
        if list(item) != [key]:
            raise errors.BadRequest("Request body and URI mismatch")
        _require_uuid(server_id)
        await conductor.set_metadata(ctx, instance_id=server_id, metadata=item, replace=False)
        return {"meta": item}

    @router.delete("/servers/{server_id}/metadata/{key}", status_code=204)
    async def delete_metadata_item(server_id: str, key: str, ctx: Context, mv: Version
                                   ) -> Response:
        _require_uuid(server_id)
        await conductor.delete_metadata(ctx, instance_id=server_id, key=key)
        return Response(status_code=204)

    # -- instance actions ------------------------------------------------------------------

    @router.get("/servers/{server_id}/os-instance-actions")
    async def list_instance_actions(server_id: str, ctx: Context, mv: Version) -> dict:
        _require_uuid(server_id)
        items = await conductor.list_actions(ctx, instance_id=server_id)
        for item in items:
            if mv < (2, 58):
                item.pop("updated_at", None)
        return {"instanceActions": items}

    @router.get("/servers/{server_id}/os-instance-actions/{request_id}")
    async def show_instance_action(server_id: str, request_id: str, ctx: Context, mv: Version
                                   ) -> dict:
        _require_uuid(server_id)
        item = await conductor.get_action(ctx, instance_id=server_id, request_id=request_id)
        for event in item.get("events", []):
            if mv < (2, 62) or not ctx.is_admin:
                event.pop("host", None)
            if mv < (2, 84):
                event.pop("details", None)
            if not ctx.is_admin:
                event.pop("traceback", None)
        return {"instanceAction": item}

    return router
