"""``/backups``: create, list (summary and detail), show, update (3.9+), delete, restore and
the backup actions. The caller's token (``X-Auth-Token``) is what the backup store moves the
bytes with, in the caller's own object-store account."""
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
from services.volume.backups_manager import SORT_KEYS, UNSET
from services.volume.manager import VolumeManager
from services.volume.microversion import Version

_FILTERS = ("name", "status", "volume_id", "project_id", "id", "container")
_CREATE_KEYS = frozenset({"volume_id", "container", "name", "description", "display_name",
                          "display_description", "incremental", "force", "snapshot_id",
                          "metadata", "availability_zone"})


def build_router(manager: VolumeManager) -> APIRouter:
    router = APIRouter(route_class=JSONRoute)
    backups = manager.backups

    def detail(record: dict, request: Request, ctx: RequestContext, version: tuple) -> dict:
        return views.backup_detail(record, links=common.links(request), version=version,
                                   ctx=ctx)

    async def _list(request: Request, ctx: RequestContext, version: tuple[int, int], *,
                    detailed: bool) -> dict:
        params = common.query(request)
        chosen = common.filters(params, allowed=_FILTERS)
        items, total = backups.list(ctx, filters=chosen, page=common.page(params, SORT_KEYS),
                                    all_tenants=common.all_tenants(params, ctx))
        shown = [detail(r, request, ctx, version) if detailed
                 else views.backup_summary(r, common.links(request)) for r in items]
        return common.listing("backups", shown, request=request,
                              collection="backups/detail" if detailed else "backups",
                              total=total, version=version, params=params)

    @router.get("/backups")
    async def list_backups(request: Request, ctx: Caller, version: Version) -> dict:
        return await _list(request, ctx, version, detailed=False)

    @router.get("/backups/detail")
    async def list_backups_detail(request: Request, ctx: Caller, version: Version) -> dict:
        return await _list(request, ctx, version, detailed=True)

    @router.post("/backups", status_code=202)
    async def create_backup(request: Request, ctx: Caller, version: Version,
                            payload: JsonPayload) -> dict:
        body = check.body_of(payload, "backup")
        unknown = set(body) - _CREATE_KEYS
        if unknown:
            raise errors.BadRequest(f"Invalid input for field/attribute backup. Additional "
                                    f"properties are not allowed ({sorted(unknown)[0]!r:.60} "
                                    "was unexpected)")
        record = backups.create(
            ctx, token=common.token_of(request), volume_id=body.get("volume_id"),
            name=body.get("name", body.get("display_name")),
            description=body.get("description", body.get("display_description")),
            container=body.get("container"), incremental=body.get("incremental", False),
            force=body.get("force", False), snapshot_id=body.get("snapshot_id"),
            metadata=body.get("metadata") if version >= mv.BACKUP_METADATA else None,
            availability_zone=body.get("availability_zone"))
        return {"backup": views.backup_summary(record, common.links(request))}

    @router.post("/backups/import_record", status_code=201)
    async def import_record(request: Request, ctx: Caller, version: Version,
                            payload: JsonPayload) -> dict:
        body = check.body_of(payload, "backup-record")
        if set(body) != {"backup_service", "backup_url"}:
            raise errors.BadRequest("Invalid input for field/attribute backup-record. It "
                                    "takes backup_service and backup_url.")
        record = backups.import_record(ctx, backup_service=body["backup_service"],
                                       backup_url=body["backup_url"])
        return {"backup": views.backup_summary(record, common.links(request))}

    @router.get("/backups/{backup_id}/export_record")
    async def export_record(backup_id: str, ctx: Caller, version: Version) -> dict:
        return {"backup-record": backups.export_record(ctx, backup_id)}

    @router.get("/backups/{backup_id}")
    async def show_backup(request: Request, backup_id: str, ctx: Caller,
                          version: Version) -> dict:
        return {"backup": detail(backups.get(ctx, backup_id), request, ctx, version)}

    @router.put("/backups/{backup_id}")
    async def update_backup(request: Request, backup_id: str, ctx: Caller, version: Version,
                            payload: JsonPayload) -> dict:
        mv.require(version, mv.BACKUP_UPDATE)
        body = check.body_of(payload, "backup")
        allowed = {"name", "description"} | ({"metadata"} if version >= mv.BACKUP_METADATA
                                             else set())
        if not body or set(body) - allowed:
            raise errors.BadRequest("Invalid input for field/attribute backup. The update "
                                    "takes name, description and (3.43) metadata.")
        record = backups.update(ctx, backup_id, name=body.get("name", UNSET),
                                description=body.get("description", UNSET),
                                metadata=body.get("metadata", UNSET))
        return {"backup": views.backup_summary(record, common.links(request))}

    @router.delete("/backups/{backup_id}", status_code=202)
    async def delete_backup(request: Request, backup_id: str, ctx: Caller,
                            version: Version) -> Response:
        backups.delete(ctx, token=common.token_of(request), backup_id=backup_id)
        return Response(status_code=202)

    @router.post("/backups/{backup_id}/restore", status_code=202)
    async def restore_backup(request: Request, backup_id: str, ctx: Caller, version: Version,
                             payload: JsonPayload) -> dict:
        body = check.body_of(payload, "restore")
        if set(body) - {"volume_id", "name"}:
            raise errors.BadRequest("Invalid input for field/attribute restore. The restore "
                                    "takes volume_id and name.")
        answer = backups.restore(ctx, token=common.token_of(request), backup_id=backup_id,
                                 volume_id=body.get("volume_id"), name=body.get("name"))
        return {"restore": answer}

    def reset_status(request: Request, ctx: RequestContext, backup_id: str,
                     args: Any) -> Response:
        body = check.action_args(args, "os-reset_status")
        backups.reset_status(ctx, backup_id, body.get("status"))
        return Response(status_code=202)

    def force_delete(request: Request, ctx: RequestContext, backup_id: str,
                     args: Any) -> Response:
        backups.delete(ctx, token=common.token_of(request), backup_id=backup_id, force=True)
        return Response(status_code=202)

    actions = {"os-reset_status": reset_status, "os-force_delete": force_delete}

    @router.post("/backups/{backup_id}/action")
    async def backup_action(request: Request, backup_id: str, ctx: Caller, version: Version,
                            payload: JsonPayload) -> Response:
        name, args = common.action_of(payload, actions)
        return actions[name](request, ctx, backup_id, args)

    return router
