"""``/volumes``: create, list (summary and detail), show, update, delete, metadata and the
volume actions (``POST /volumes/{id}/action``)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from overcast import errors
from overcast.context import RequestContext
from overcast.rest.body import JsonPayload
from overcast.rest.routing import JSONRoute
from services.volume import access, views
from services.volume import api_common as common
from services.volume import microversion as mv
from services.volume import validation as check
from services.volume.api_common import Caller
from services.volume.manager import VolumeManager
from services.volume.microversion import Version
from services.volume.volumes import SORT_KEYS, UNSET

_FILTERS = ("name", "name~", "status", "bootable", "availability_zone", "metadata",
            "project_id", "size", "id")
_CREATE_KEYS = frozenset({"size", "name", "description", "display_name",
                          "display_description", "volume_type", "availability_zone",
                          "metadata", "snapshot_id", "source_volid", "imageRef", "image_id",
                          "consistencygroup_id", "group_id", "backup_id", "multiattach",
                          "scheduler_hints"})


def build_router(manager: VolumeManager) -> APIRouter:
    router = APIRouter(route_class=JSONRoute)
    volumes = manager.volumes

    def detail(record: dict, request: Request, ctx: RequestContext, version: tuple, *,
               extended: bool = True) -> dict:
        """The detailed view; create and update answer it without the extensions'
        attributes (``extended=False``), as Cinder does."""
        return views.volume_detail(record, links=common.links(request), version=version,
                                   ctx=ctx, host=manager.settings.volume_host,
                                   extended=extended)

    async def _list(request: Request, ctx: RequestContext, version: tuple[int, int], *,
                    detailed: bool) -> dict:
        params = common.query(request)
        chosen = common.filters(params, allowed=_FILTERS, booleans=("bootable",))
        items, total = volumes.list(ctx, filters=chosen, page=common.page(params, SORT_KEYS),
                                    all_tenants=common.all_tenants(params, ctx))
        shown = [detail(r, request, ctx, version) if detailed
                 else views.volume_summary(r, common.links(request)) for r in items]
        return common.listing("volumes", shown, request=request,
                              collection="volumes/detail" if detailed else "volumes",
                              total=total, version=version, params=params)

    @router.get("/volumes")
    async def list_volumes(request: Request, ctx: Caller, version: Version) -> dict:
        return await _list(request, ctx, version, detailed=False)

    @router.get("/volumes/detail")
    async def list_volumes_detail(request: Request, ctx: Caller, version: Version) -> dict:
        return await _list(request, ctx, version, detailed=True)

    @router.get("/volumes/summary")
    async def volumes_summary(request: Request, ctx: Caller, version: Version) -> dict:
        """3.12+: count and total size; 3.36+ with the volumes' metadata by key."""
        mv.require(version, mv.VOLUME_SUMMARY)
        summary = volumes.summary(
            ctx, all_tenants=common.all_tenants(common.query(request), ctx))
        if version < mv.VOLUME_SUMMARY_METADATA:
            del summary["metadata"]
        return {"volume-summary": summary}

    @router.post("/volumes", status_code=202)
    async def create_volume(request: Request, ctx: Caller, version: Version,
                            payload: JsonPayload) -> dict:
        body = check.body_of(payload, "volume")
        unknown = set(body) - _CREATE_KEYS
        if unknown:
            raise errors.BadRequest(f"Invalid input for field/attribute volume. Additional "
                                    f"properties are not allowed ({sorted(unknown)[0]!r:.60} "
                                    "was unexpected)")
        if check.boolean(body.get("multiattach", False), field="multiattach"):
            raise errors.BadRequest(
                "multiattach parameter has been removed. The default behavior is to use "
                "multiattach enabled volume types. Contact your administrator to create a "
                "multiattach enabled volume type and use it to create multiattach volumes.")
        for unsupported in ("consistencygroup_id", "group_id", "backup_id"):
            if body.get(unsupported) is not None:
                raise errors.BadRequest(f"Creating a volume with {unsupported} is not "
                                        "supported here; restore a backup with "
                                        "POST /backups/{id}/restore.")
        record = await volumes.create(
            ctx, size=body.get("size"),
            name=body.get("name", body.get("display_name")),
            description=body.get("description", body.get("display_description")),
            metadata=body.get("metadata"), volume_type=body.get("volume_type"),
            availability_zone=body.get("availability_zone"),
            snapshot_id=body.get("snapshot_id"), source_volid=body.get("source_volid"),
            image_id=_image_id(body.get("imageRef", body.get("image_id"))))
        return {"volume": detail(record, request, ctx, version, extended=False)}

    @router.get("/volumes/{volume_id}")
    async def show_volume(request: Request, volume_id: str, ctx: Caller,
                          version: Version) -> dict:
        return {"volume": detail(volumes.get(ctx, volume_id), request, ctx, version)}

    @router.put("/volumes/{volume_id}")
    async def update_volume(request: Request, volume_id: str, ctx: Caller, version: Version,
                            payload: JsonPayload) -> dict:
        body = check.body_of(payload, "volume")
        allowed = {"name", "description", "metadata", "display_name", "display_description"}
        unknown = set(body) - allowed
        if unknown or not body:
            raise errors.BadRequest("Invalid input for field/attribute volume. The update "
                                    "takes name, description and metadata.")
        name = body.get("name", body.get("display_name", UNSET))
        description = body.get("description", body.get("display_description", UNSET))
        record = volumes.update(ctx, volume_id, name=name, description=description,
                                metadata=body.get("metadata", UNSET))
        return {"volume": detail(record, request, ctx, version, extended=False)}

    @router.delete("/volumes/{volume_id}", status_code=202)
    async def delete_volume(request: Request, volume_id: str, ctx: Caller,
                            version: Version) -> Response:
        params = common.query(request)
        volumes.delete(ctx, volume_id, cascade=common.flag(params, "cascade"),
                       force=common.flag(params, "force"))
        return Response(status_code=202)

    # -- metadata --------------------------------------------------------------------------

    @router.get("/volumes/{volume_id}/metadata")
    async def show_metadata(volume_id: str, ctx: Caller, version: Version) -> dict:
        return {"metadata": volumes.metadata(ctx, volume_id)}

    @router.post("/volumes/{volume_id}/metadata")
    async def merge_metadata(volume_id: str, ctx: Caller, version: Version,
                             payload: JsonPayload) -> dict:
        meta = _metadata_body(payload)
        return {"metadata": volumes.set_metadata(ctx, volume_id, meta, replace=False)}

    @router.put("/volumes/{volume_id}/metadata")
    async def replace_metadata(volume_id: str, ctx: Caller, version: Version,
                               payload: JsonPayload) -> dict:
        meta = _metadata_body(payload)
        return {"metadata": volumes.set_metadata(ctx, volume_id, meta, replace=True)}

    @router.get("/volumes/{volume_id}/metadata/{key}")
    async def show_metadata_key(volume_id: str, key: str, ctx: Caller,
                                version: Version) -> dict:
        meta = volumes.metadata(ctx, volume_id)
        if key not in meta:
            raise errors.NotFound(f"Volume {volume_id} has no metadata with key {key}.")
        return {"meta": {key: meta[key]}}

    @router.put("/volumes/{volume_id}/metadata/{key}")
    async def set_metadata_key(volume_id: str, key: str, ctx: Caller, version: Version,
                               payload: JsonPayload) -> dict:
        meta = check.body_of(payload, "meta")
        if len(meta) != 1 or key not in meta:
            raise errors.BadRequest("Request body and URI mismatch" if len(meta) == 1
                                    else "Request body contains too many items")
        volumes.set_metadata(ctx, volume_id, meta, replace=False)
        return {"meta": {key: meta[key]}}

    @router.delete("/volumes/{volume_id}/metadata/{key}")
    async def delete_metadata_key(volume_id: str, key: str, ctx: Caller,
                                  version: Version) -> Response:
        volumes.delete_metadata_key(ctx, volume_id, key)
        return Response(status_code=200)

    # -- actions ---------------------------------------------------------------------------

    def extend(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        volumes.extend(ctx, volume_id, check.action_args(args, "os-extend").get("new_size"))
        return Response(status_code=202)

    def set_bootable(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        body = check.action_args(args, "os-set_bootable")
        if "bootable" not in body:
            raise errors.BadRequest("Must specify bootable in request.")
        volumes.set_bootable(ctx, volume_id, body["bootable"])
        return Response(status_code=200)

    def reset_status(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        body = check.action_args(args, "os-reset_status")
        volumes.reset_status(ctx, volume_id, status=body.get("status"),
                             attach_status=body.get("attach_status"))
        return Response(status_code=202)

    def force_delete(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        volumes.delete(ctx, volume_id, force=True)
        return Response(status_code=202)

    def update_readonly(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        body = check.action_args(args, "os-update_readonly_flag")
        if "readonly" not in body:
            raise errors.BadRequest("Must specify readonly in request.")
        volumes.set_readonly(ctx, volume_id, body["readonly"])
        return Response(status_code=202)

    def set_image_metadata(ctx: RequestContext, volume_id: str, args: Any) -> dict:
        meta = check.action_args(args, "os-set_image_metadata").get("metadata")
        return {"metadata": volumes.set_image_metadata(ctx, volume_id, meta)}

    def unset_image_metadata(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        key = check.action_args(args, "os-unset_image_metadata").get("key")
        volumes.unset_image_metadata(ctx, volume_id, key)
        return Response(status_code=200)

    def show_image_metadata(ctx: RequestContext, volume_id: str, args: Any) -> dict:
        return {"metadata": volumes.image_metadata(ctx, volume_id)}

    # The legacy attach actions (before 3.27's attachments): bookkeeping only, 202.
    attachments = manager.attachments

    def reserve(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        attachments.begin_attaching(ctx, volume_id)
        return Response(status_code=202)

    def unreserve(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        attachments.unreserve(ctx, volume_id)
        return Response(status_code=202)

    def begin_detaching(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        attachments.begin_detaching(ctx, volume_id)
        return Response(status_code=202)

    def roll_detaching(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        attachments.roll_detaching(ctx, volume_id)
        return Response(status_code=202)

    def attach(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        body = _only(check.action_args(args, "os-attach"), "os-attach",
                     {"instance_uuid", "host_name", "mountpoint", "mode"})
        attachments.attach_record(ctx, volume_id, instance_id=body.get("instance_uuid"),
                                  host_name=body.get("host_name"),
                                  mountpoint=body.get("mountpoint"),
                                  mode=body.get("mode", "rw"))
        return Response(status_code=202)

    def detach(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        body = _only(check.action_args(args, "os-detach"), "os-detach", {"attachment_id"})
        attachments.detach_record(ctx, volume_id, _attachment_id(body))
        return Response(status_code=202)

    def force_detach(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        access.require_admin(ctx, "volume_extension:volume_admin_actions:force_detach")
        body = _only(check.action_args(args, "os-force_detach"), "os-force_detach",
                     {"connector", "attachment_id"})
        # The connector names a host whose connection Cinder would end; here a host is
        # connected only through an attachment the compute side owns, which this refuses.
        attachments.detach_record(ctx, volume_id, _attachment_id(body))
        return Response(status_code=202)

    def retype(ctx: RequestContext, volume_id: str, args: Any) -> Response:
        body = _only(check.action_args(args, "os-retype"), "os-retype",
                     {"new_type", "migration_policy"})
        if "new_type" not in body:
            raise errors.BadRequest("Invalid input for field/attribute os-retype. "
                                    "'new_type' is a required property")
        volumes.retype(ctx, volume_id, body["new_type"], body.get("migration_policy"))
        return Response(status_code=202)

    actions = {"os-retype": retype, "os-reserve": reserve, "os-unreserve": unreserve,
               "os-begin_detaching": begin_detaching, "os-roll_detaching": roll_detaching,
               "os-attach": attach, "os-detach": detach, "os-force_detach": force_detach,
               "os-set_image_metadata": set_image_metadata,
               "os-unset_image_metadata": unset_image_metadata,
               "os-show_image_metadata": show_image_metadata,
               "os-extend": extend, "os-set_bootable": set_bootable,
               "os-reset_status": reset_status, "os-force_delete": force_delete,
               "os-update_readonly_flag": update_readonly}

    @router.post("/volumes/{volume_id}/action")
    async def volume_action(volume_id: str, ctx: Caller, version: Version,
                            payload: JsonPayload) -> Response | dict:
        name, args = common.action_of(payload, actions)
        return actions[name](ctx, volume_id, args)

    return router


def _image_id(ref: object) -> object:
    """An image id from ``imageRef``, which may also be the image's URL (Cinder takes the
    last path segment of an href)."""
    if isinstance(ref, str) and "/" in ref:
        return ref.rstrip("/").rsplit("/", 1)[-1]
    return ref


def _only(body: dict, action: str, allowed: set[str]) -> dict:
    """``body`` when it has no key outside ``allowed`` (Cinder's schemas: 400)."""
    unknown = set(body) - allowed
    if unknown:
        raise errors.BadRequest(f"Invalid input for field/attribute {action}. Additional "
                                f"properties are not allowed ({sorted(unknown)[0]!r:.60} was "
                                "unexpected)")
    return body


def _attachment_id(body: dict) -> str | None:
    value = body.get("attachment_id")
    if value is not None and not check.is_uuid(value):
        raise check.invalid_field("attachment_id", value, "It is not a valid UUID.")
    return value


def _metadata_body(payload: object) -> dict:
    return check.body_of(payload, "metadata")
