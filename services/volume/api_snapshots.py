"""``/snapshots``: create, list (summary and detail), show, update, delete, metadata and the
snapshot actions (``os-reset_status``, ``os-force_delete``)."""
from __future__ import annotations

from typing import Any

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
from services.volume.manager import VolumeManager
from services.volume.microversion import Version
from services.volume.snapshots import SORT_KEYS, UNSET

_FILTERS = ("name", "status", "volume_id", "project_id", "metadata", "id")
_CREATE_KEYS = frozenset({"volume_id", "name", "description", "display_name",
                          "display_description", "force", "metadata"})


def build_router(manager: VolumeManager) -> APIRouter:
    router = APIRouter(route_class=JSONRoute)
    snapshots = manager.snapshots

    async def _list(request: Request, ctx: RequestContext, version: tuple[int, int], *,
                    detailed: bool) -> dict:
        params = common.query(request)
        chosen = common.filters(params, allowed=_FILTERS)
        items, total = snapshots.list(ctx, filters=chosen,
                                      page=common.page(params, SORT_KEYS),
                                      all_tenants=common.all_tenants(params, ctx))
        shown = [views.snapshot_view(r, version=version, detail=detailed) for r in items]
        return common.listing("snapshots", shown, request=request,
                              collection="snapshots/detail" if detailed else "snapshots",
                              total=total, version=version, params=params)

    @router.get("/snapshots")
    async def list_snapshots(request: Request, ctx: Caller, version: Version) -> dict:
        return await _list(request, ctx, version, detailed=False)

    @router.get("/snapshots/detail")
    async def list_snapshots_detail(request: Request, ctx: Caller, version: Version) -> dict:
        return await _list(request, ctx, version, detailed=True)

    @router.post("/snapshots", status_code=202)
    async def create_snapshot(ctx: Caller, version: Version, payload: JsonPayload) -> dict:
        body = check.body_of(payload, "snapshot")
        unknown = set(body) - _CREATE_KEYS
        if unknown:
            raise errors.BadRequest(f"Invalid input for field/attribute snapshot. Additional "
                                    f"properties are not allowed ({sorted(unknown)[0]!r:.60} "
                                    "was unexpected)")
        if "volume_id" not in body:
            raise errors.BadRequest("Invalid input for field/attribute snapshot. "
                                    "'volume_id' is a required property")
        record = snapshots.create(
            ctx, volume_id=body.get("volume_id"),
            name=body.get("name", body.get("display_name")),
            description=body.get("description", body.get("display_description")),
            force=body.get("force", False), metadata=body.get("metadata"),
            allow_in_use=version >= mv.SNAPSHOT_IN_USE)
        return {"snapshot": views.snapshot_view(record, version=version, extended=False)}

    @router.get("/snapshots/{snapshot_id}")
    async def show_snapshot(snapshot_id: str, ctx: Caller, version: Version) -> dict:
        return {"snapshot": views.snapshot_view(snapshots.get(ctx, snapshot_id),
                                                version=version)}

    @router.put("/snapshots/{snapshot_id}")
    async def update_snapshot(snapshot_id: str, ctx: Caller, version: Version,
                              payload: JsonPayload) -> dict:
        body = check.body_of(payload, "snapshot")
        allowed = {"name", "description", "display_name", "display_description"}
        if not body or set(body) - allowed:
            raise errors.BadRequest("Invalid input for field/attribute snapshot. The update "
                                    "takes name and description.")
        record = snapshots.update(
            ctx, snapshot_id, name=body.get("name", body.get("display_name", UNSET)),
            description=body.get("description", body.get("display_description", UNSET)))
        return {"snapshot": views.snapshot_view(record, version=version, extended=False)}

    @router.delete("/snapshots/{snapshot_id}", status_code=202)
    async def delete_snapshot(snapshot_id: str, ctx: Caller, version: Version) -> Response:
        snapshots.delete(ctx, snapshot_id)
        return Response(status_code=202)

    @router.get("/snapshots/{snapshot_id}/metadata")
    async def show_metadata(snapshot_id: str, ctx: Caller, version: Version) -> dict:
        return {"metadata": snapshots.metadata(ctx, snapshot_id)}

    @router.post("/snapshots/{snapshot_id}/metadata")
    async def merge_metadata(snapshot_id: str, ctx: Caller, version: Version,
                             payload: JsonPayload) -> dict:
        meta = check.body_of(payload, "metadata")
        return {"metadata": snapshots.set_metadata(ctx, snapshot_id, meta, replace=False)}

    @router.put("/snapshots/{snapshot_id}/metadata")
    async def replace_metadata(snapshot_id: str, ctx: Caller, version: Version,
                               payload: JsonPayload) -> dict:
        meta = check.body_of(payload, "metadata")
        return {"metadata": snapshots.set_metadata(ctx, snapshot_id, meta, replace=True)}

    @router.get("/snapshots/{snapshot_id}/metadata/{key}")
    async def show_metadata_key(snapshot_id: str, key: str, ctx: Caller,
                                version: Version) -> dict:
        meta = snapshots.metadata(ctx, snapshot_id)
        if key not in meta:
            raise errors.NotFound(f"Snapshot {snapshot_id} has no metadata with key {key}.")
        return {"meta": {key: meta[key]}}

    @router.put("/snapshots/{snapshot_id}/metadata/{key}")
    async def set_metadata_key(snapshot_id: str, key: str, ctx: Caller, version: Version,
                               payload: JsonPayload) -> dict:
        meta = check.body_of(payload, "meta")
        if len(meta) != 1 or key not in meta:
            raise errors.BadRequest("Request body and URI mismatch" if len(meta) == 1
                                    else "Request body contains too many items")
        snapshots.set_metadata(ctx, snapshot_id, meta, replace=False)
        return {"meta": {key: meta[key]}}

    @router.delete("/snapshots/{snapshot_id}/metadata/{key}")
    async def delete_metadata_key(snapshot_id: str, key: str, ctx: Caller,
                                  version: Version) -> Response:
        snapshots.delete_metadata_key(ctx, snapshot_id, key)
        return Response(status_code=200)

    def reset_status(ctx: RequestContext, snapshot_id: str, args: Any) -> Response:
        body = check.action_args(args, "os-reset_status")
        snapshots.reset_status(ctx, snapshot_id, body.get("status"))
        return Response(status_code=202)

    def force_delete(ctx: RequestContext, snapshot_id: str, args: Any) -> Response:
        snapshots.delete(ctx, snapshot_id, force=True)
        return Response(status_code=202)

    actions = {"os-reset_status": reset_status, "os-force_delete": force_delete}

    @router.post("/snapshots/{snapshot_id}/action")
    async def snapshot_action(snapshot_id: str, ctx: Caller, version: Version,
                              payload: JsonPayload) -> Response:
        name, args = common.action_of(payload, actions)
        return actions[name](ctx, snapshot_id, args)

    return router
