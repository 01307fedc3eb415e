"""Volume types and extra specs, quota sets, limits, services, availability zones,
extensions and scheduler pools."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from overcast.rest.body import JsonPayload
from overcast.rest.routing import JSONRoute
from services.volume import api_common as common
from services.volume import faults, views
from services.volume import validation as check
from services.volume.api_common import AdminCaller, Caller
from services.volume.manager import VolumeManager
from services.volume.microversion import Version

_UPDATED = "2013-06-27T00:00:00+00:00"
# The extensions this service implements (Cinder's names and aliases), and only those.
EXTENSIONS = (
    ("os-admin-actions", "AdminActions", "Enable admin actions."),
    ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
    ("backups", "Backups", "Backups support."),
    ("capabilities", "Capabilities", "Capabilities support."),
    ("os-extended-services", "ExtendedServices", "Extended services support."),
    ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes",
     "Extended SnapshotAttributes support."),
    ("os-hosts", "Hosts", "Admin-only host administration."),
    ("os-quota-class-sets", "QuotaClasses", "Quota classes management support."),
    ("os-quota-sets", "Quotas", "Quota management support."),
    ("scheduler-stats", "Scheduler_stats", "Scheduler stats support."),
    ("os-services", "Services", "Services support."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."),
    ("os-types-manage", "TypesManage", "Types manage support."),
    ("os-used-limits", "UsedLimits", "Provide data on limited resources that are being "
                                     "used."),
    ("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
    ("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the "
                                                 "volume."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an "
                                                    "attribute of a volume."),
    ("os-volume-actions", "VolumeActions", "Enable volume actions."),
    ("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
)
_LIMIT_NAMES = {"volumes": "maxTotalVolumes", "snapshots": "maxTotalSnapshots",
                "gigabytes": "maxTotalVolumeGigabytes", "backups": "maxTotalBackups",
                "backup_gigabytes": "maxTotalBackupGigabytes"}
_USED_NAMES = {"volumes": "totalVolumesUsed", "gigabytes": "totalGigabytesUsed",
               "snapshots": "totalSnapshotsUsed", "backups": "totalBackupsUsed",
               "backup_gigabytes": "totalBackupGigabytesUsed"}


def _quota_target(ctx: RequestContext, project_id: str) -> str:
    """Who may read a project's quotas: the project's members and admins (403 otherwise)."""
    if project_id != ctx.project_id and not ctx.is_admin:
        raise faults.policy_denied("volume_extension:quotas:show")
    return project_id


def build_router(manager: VolumeManager) -> APIRouter:
    router = APIRouter(route_class=JSONRoute)
    types = manager.types

    # -- volume types ----------------------------------------------------------------------

    @router.get("/types")
    async def list_types(request: Request, ctx: Caller, version: Version) -> dict:
        raw = request.query_params.get("is_public", "true").lower()
        is_public = None if raw == "none" else check.boolean(raw, field="is_public")
        return {"volume_types": [views.type_view(t, ctx)
                                 for t in types.list(ctx, is_public=is_public)]}

    @router.get("/types/default")
    async def default_type(ctx: Caller, version: Version) -> dict:
        return {"volume_type": views.type_view(types.default(ctx), ctx)}

    @router.get("/types/{type_id}")
    async def show_type(type_id: str, ctx: Caller, version: Version) -> dict:
        return {"volume_type": views.type_view(types.get(ctx, type_id), ctx)}

    @router.post("/types")
    async def create_type(ctx: AdminCaller, version: Version, payload: JsonPayload) -> dict:
        body = check.body_of(payload, "volume_type")
        is_public = check.boolean(body.get("os-volume-type-access:is_public",
                                           body.get("is_public", True)), field="is_public")
        specs = body.get("extra_specs") or {}
        if not isinstance(specs, dict):
            raise check.invalid_field("extra_specs", specs, "It must be an object.")
        made = types.create(ctx, name=body.get("name"), description=body.get("description"),
                            is_public=is_public, extra_specs=specs)
        return {"volume_type": views.type_view(made, ctx, answer="create")}

    @router.put("/types/{type_id}")
    async def update_type(type_id: str, ctx: AdminCaller, version: Version,
                          payload: JsonPayload) -> dict:
        body = check.body_of(payload, "volume_type")
        if not {"name", "description", "is_public"} & set(body):
            raise errors.BadRequest("Specify volume type name, description, is_public or a "
                                    "combination thereof.")
        is_public = check.boolean(body["is_public"], field="is_public") \
            if "is_public" in body else None
        made = types.update(ctx, type_id, name=body.get("name"),
                            description=body.get("description"), is_public=is_public,
                            set_description="description" in body)
        return {"volume_type": views.type_view(made, ctx, answer="update")}

    @router.delete("/types/{type_id}", status_code=202)
    async def delete_type(type_id: str, ctx: AdminCaller, version: Version) -> Response:
        types.delete(ctx, type_id)
        return Response(status_code=202)

    @router.get("/types/{type_id}/os-volume-type-access")
    async def list_type_access(type_id: str, ctx: AdminCaller, version: Version) -> dict:
        return {"volume_type_access": [{"volume_type_id": type_id, "project_id": p}
                                       for p in types.access_list(ctx, type_id)]}

    @router.post("/types/{type_id}/action", status_code=202)
    async def type_action(type_id: str, ctx: AdminCaller, version: Version,
                          payload: JsonPayload) -> Response:
        """``addProjectAccess`` / ``removeProjectAccess`` of a private type."""
        name, args = common.action_of(payload, {"addProjectAccess": types.add_access,
                                                "removeProjectAccess": types.remove_access})
        body = check.action_args(args, name)
        if set(body) != {"project"}:
            raise errors.BadRequest(f"Invalid input for field/attribute {name}. 'project' is "
                                    "a required property and the only one")
        if name == "addProjectAccess":
            types.add_access(ctx, type_id, body["project"])
        else:
            types.remove_access(ctx, type_id, body["project"])
        return Response(status_code=202)

    @router.get("/types/{type_id}/extra_specs")
    async def list_specs(type_id: str, ctx: Caller, version: Version) -> dict:
        return {"extra_specs": types.extra_specs(ctx, type_id)}

    @router.post("/types/{type_id}/extra_specs")
    async def set_specs(type_id: str, ctx: AdminCaller, version: Version,
                        payload: JsonPayload) -> dict:
        specs = check.body_of(payload, "extra_specs")
        return {"extra_specs": types.set_extra_specs(ctx, type_id, specs)}

    @router.get("/types/{type_id}/extra_specs/{key}")
    async def show_spec(type_id: str, key: str, ctx: Caller, version: Version) -> dict:
        specs = types.extra_specs(ctx, type_id)
        if key not in specs:
            raise errors.NotFound(f"Volume Type {type_id} has no extra specs with key "
                                  f"{excerpt(key)}.")
        return {key: specs[key]}

    @router.put("/types/{type_id}/extra_specs/{key}")
    async def set_spec(type_id: str, key: str, ctx: AdminCaller, version: Version,
                       payload: JsonPayload) -> dict:
        if not isinstance(payload, dict) or len(payload) != 1 or key not in payload:
            raise errors.BadRequest("Request body and URI mismatch")
        return types.set_extra_specs(ctx, type_id, payload)

    @router.delete("/types/{type_id}/extra_specs/{key}", status_code=202)
    async def delete_spec(type_id: str, key: str, ctx: AdminCaller,
                          version: Version) -> Response:
        types.delete_extra_spec(ctx, type_id, key)
        return Response(status_code=202)

    # -- quotas and limits -----------------------------------------------------------------

    @router.get("/os-quota-sets/{target_id}/defaults")
    async def quota_defaults(target_id: str, ctx: Caller, version: Version) -> dict:
        target = _quota_target(ctx, target_id)
        return {"quota_set": {"id": target, **manager.quota_defaults()}}

    @router.get("/os-quota-sets/{target_id}")
    async def show_quotas(request: Request, target_id: str, ctx: Caller,
                          version: Version) -> dict:
        target = _quota_target(ctx, target_id)
        usage = common.flag(common.query(request), "usage")
        return {"quota_set": {"id": target, **manager.quota_set(target, usage=usage)}}

    @router.put("/os-quota-sets/{target_id}")
    async def update_quotas(target_id: str, ctx: AdminCaller, version: Version,
                            payload: JsonPayload) -> dict:
        body = check.body_of(payload, "quota_set")
        body = {k: v for k, v in body.items() if k not in ("id", "tenant_id")}
        if not body:
            raise errors.BadRequest("Invalid input for field/attribute quota_set. Value: {}. "
                                    "{} does not have enough properties")
        return {"quota_set": manager.update_quotas(ctx, target_id, body)}

    @router.delete("/os-quota-sets/{target_id}")
    async def delete_quotas(target_id: str, ctx: AdminCaller, version: Version) -> Response:
        manager.reset_quotas(ctx, target_id)
        return Response(status_code=200)

    @router.get("/os-quota-class-sets/{class_name}")
    async def show_quota_class(class_name: str, ctx: AdminCaller, version: Version) -> dict:
        return {"quota_class_set": {**manager.quota_class(ctx, class_name),
                                    "id": class_name}}

    @router.put("/os-quota-class-sets/{class_name}")
    async def update_quota_class(class_name: str, ctx: AdminCaller, version: Version,
                                 payload: JsonPayload) -> dict:
        body = check.body_of(payload, "quota_class_set")
        return {"quota_class_set": manager.update_quota_class(ctx, class_name, body)}

    @router.get("/limits")
    async def limits(request: Request, ctx: Caller, version: Version) -> dict:
        project = ctx.project_id or ""
        if ctx.is_admin and version >= (3, 39):
            project = request.query_params.get("project_id") or project
        quota = manager.quota_set(project, usage=True)
        absolute = {_LIMIT_NAMES[k]: v["limit"] for k, v in quota.items()
                    if k in _LIMIT_NAMES}
        absolute.update({_USED_NAMES[k]: v["in_use"] for k, v in quota.items()
                         if k in _USED_NAMES})
        return {"limits": {"rate": [], "absolute": absolute}}

    # -- services, zones, extensions, pools ------------------------------------------------

    @router.get("/os-services")
    async def list_services(request: Request, ctx: AdminCaller, version: Version) -> dict:
        rows = manager.heartbeats.list(ctx, host=request.query_params.get("host"),
                                       binary=request.query_params.get("binary"))
        return {"services": [views.service_view(r, version=version) for r in rows]}

    @router.put("/os-services/{action}")
    async def update_service(action: str, ctx: AdminCaller, version: Version,
                             payload: JsonPayload) -> Response | dict:
        body = payload if isinstance(payload, dict) else {}
        if action in ("freeze", "thaw"):
            # Cinder's freeze_host/thaw_host (200, no body); there are no clusters here.
            if set(body) - {"host", "cluster"} or body.get("cluster") is not None:
                raise faults.InvalidInput("freeze and thaw take a host (there are no "
                                          "clusters).")
            manager.heartbeats.set_frozen(ctx, host=body.get("host"),
                                          frozen=action == "freeze")
            return Response(status_code=200)
        if action not in ("enable", "disable", "disable-log-reason"):
            raise errors.NotFound(f"Unknown action {excerpt(action)}")
        binary = body.get("binary") or body.get("service")
        reason = body.get("disabled_reason") if action == "disable-log-reason" else None
        if action == "disable-log-reason" and "disabled_reason" in body and reason is None:
            raise errors.BadRequest("Invalid input for field/attribute disabled_reason. "
                                    "Value: None. None is not of type 'string'")
        done = manager.heartbeats.set_enabled(ctx, host=body.get("host"), binary=binary,
                                              enabled=action == "enable", reason=reason)
        # Cinder's answer: the keys as the request gave them (``service`` is the older
        # name of ``binary``), the new status, and the reason for disable-log-reason.
        answer = {"host": done["host"], "service": body.get("service") or "",
                  "binary": body.get("binary") or "", "status": done["status"],
                  "disabled": done["disabled"]}
        if action == "disable-log-reason":
            answer["disabled_reason"] = reason
        return answer

    @router.get("/os-availability-zone")
    async def availability_zones(ctx: Caller, version: Version) -> dict:
        return {"availabilityZoneInfo": [{"zoneName": manager.settings.zone,
                                          "zoneState": {"available":
                                                        manager.zone_available()}}]}

    @router.get("/extensions")
    async def extensions(ctx: Caller, version: Version) -> dict:
        return {"extensions": [{"alias": alias, "name": name, "description": description,
                                "links": [], "updated": _UPDATED}
                               for alias, name, description in EXTENSIONS]}

    @router.get("/os-hosts")
    async def list_hosts(request: Request, ctx: AdminCaller, version: Version) -> dict:
        return {"hosts": [{**h, "last-update": views.when(h["last-update"])}
                          for h in manager.hosts.list(ctx,
                                                      zone=request.query_params.get("zone"))]}

    @router.get("/os-hosts/{host}")
    async def show_host(host: str, ctx: AdminCaller, version: Version) -> dict:
        return {"host": [{"resource": r} for r in manager.hosts.usage(ctx, host)]}

    @router.get("/capabilities/{host}")
    async def capabilities(host: str, ctx: AdminCaller, version: Version) -> dict:
        """The backend's capabilities (what its pool reports, and the extra specs a type
        may set for it). A pool name's ``#pool`` never arrives: clients send it as a URL
        fragment."""
        backend = manager.hosts.volume_host(ctx, host)
        [pool] = await manager.pools()
        return views.capabilities_view(pool["capabilities"], backend)

    @router.get("/scheduler-stats/get_pools")
    async def pools(request: Request, ctx: AdminCaller, version: Version) -> dict:
        detail = common.flag(common.query(request), "detail")
        pools = await manager.pools()
        if not detail:
            pools = [{"name": p["name"]} for p in pools]
        return {"pools": pools}

    return router
