"""Admin views of the cloud: services, hypervisors and availability zones."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from overcast.rest.auth import AdminContext, Context
from overcast.rest.body import JsonPayload
from overcast.rest.routing import JSONRoute
from services.compute import validation as check
from services.compute.microversion import Version

_STAT_FIELDS = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
                "local_gb_used", "running_vms")


def _hypervisor(node: dict, mv: tuple[int, int], *, detail: bool) -> dict:
    view = {"id": node["id"], "hypervisor_hostname": node["host"], "state": node["state"],
            "status": node["status"]}
    if not detail:
        return view
    view.update({field: node[field] for field in _STAT_FIELDS})
    view.update({
        "hypervisor_type": node["hypervisor_type"],
        "hypervisor_version": node["hypervisor_version"], "host_ip": node["host_ip"],
        "free_ram_mb": node["memory_mb"] - node["memory_mb_used"],
        "free_disk_gb": node["local_gb"] - node["local_gb_used"], "current_workload": 0,
        "disk_available_least": node["local_gb"] - node["local_gb_used"],
        "cpu_info": {} if mv >= (2, 28) else "{}", "service": node["service"]})
    return view


def _reason(payload: dict) -> str | None:
    return check.optional_string(payload.get("disabled_reason"), field="disabled_reason")


def build_router(*, conductor: Any) -> APIRouter:
    router = APIRouter(route_class=JSONRoute)

    @router.get("/os-services")
    async def list_services(request: Request, ctx: AdminContext, mv: Version) -> dict:
        params = request.query_params
        return {"services": await conductor.list_services(
            ctx, binary=params.get("binary"), host=params.get("host"))}

    @router.put("/os-services/{service_id}")
    async def update_service(service_id: str, ctx: AdminContext, mv: Version,
                             payload: JsonPayload) -> dict:
        if not isinstance(payload, dict):
            raise errors.BadRequest("Invalid input: the body must be an object")
        if service_id in ("enable", "disable", "disable-log-reason", "force-down"):
            return await _legacy_update(ctx, service_id, payload)
        status, forced = payload.get("status"), payload.get("forced_down")
        if status not in (None, "enabled", "disabled"):
            raise errors.BadRequest("Invalid input for field/attribute status.")
        if forced is not None and not isinstance(forced, bool):
            raise errors.BadRequest("Invalid input for field/attribute forced_down.")
        if status is None and forced is None:
            raise errors.BadRequest("At least one of status or forced_down must be specified")
        service = await conductor.update_service(
            ctx, service_id=service_id,
            disabled=None if status is None else status == "disabled",
            disabled_reason=_reason(payload), forced_down=forced)
        return {"service": service}

    async def _legacy_update(ctx: RequestContext, action: str, payload: dict) -> dict:
        matches = await conductor.list_services(
            ctx, binary=check.optional_string(payload.get("binary"), field="binary"),
            host=check.optional_string(payload.get("host"), field="host"))
        if len(matches) != 1:
            raise errors.NotFound("Service not found")
        kwargs: dict = {}
        if action == "enable":
            kwargs["disabled"] = False
        elif action in ("disable", "disable-log-reason"):
            kwargs.update(disabled=True, disabled_reason=_reason(payload))
        else:
            kwargs["forced_down"] = bool(payload.get("forced_down"))
        service = await conductor.update_service(ctx, service_id=matches[0]["id"], **kwargs)
        return {"service": {"host": service["host"], "binary": service["binary"],
                            "status": service["status"],
                            "disabled_reason": service["disabled_reason"],
                            "forced_down": service["forced_down"]}}

    @router.delete("/os-services/{service_id}", status_code=204)
    async def delete_service(service_id: str, ctx: AdminContext, mv: Version) -> None:
        await conductor.delete_service(ctx, service_id=service_id)

    async def _nodes(ctx: RequestContext, request: Request) -> list[dict]:
        nodes = await conductor.list_hypervisors(ctx)
        pattern = request.query_params.get("hypervisor_hostname_pattern")
        return [n for n in nodes if not pattern or pattern in n["host"]]

    @router.get("/os-hypervisors")
    async def list_hypervisors(request: Request, ctx: AdminContext, mv: Version) -> dict:
        return {"hypervisors": [_hypervisor(n, mv, detail=False)
                                for n in await _nodes(ctx, request)]}

    @router.get("/os-hypervisors/detail")
    async def list_hypervisors_detail(request: Request, ctx: AdminContext, mv: Version
                                      ) -> dict:
        return {"hypervisors": [_hypervisor(n, mv, detail=True)
                                for n in await _nodes(ctx, request)]}

    @router.get("/os-hypervisors/statistics")
    async def hypervisor_statistics(request: Request, ctx: AdminContext, mv: Version) -> dict:
        nodes = await _nodes(ctx, request)
        stats = {field: sum(n[field] for n in nodes) for field in _STAT_FIELDS}
        stats.update(count=len(nodes), current_workload=0,
                     free_ram_mb=stats["memory_mb"] - stats["memory_mb_used"],
                     free_disk_gb=stats["local_gb"] - stats["local_gb_used"],
                     disk_available_least=stats["local_gb"] - stats["local_gb_used"])
        return {"hypervisor_statistics": stats}

    @router.get("/os-hypervisors/{hypervisor_id}")
    async def show_hypervisor(request: Request, hypervisor_id: str, ctx: AdminContext,
                              mv: Version) -> dict:
        for node in await _nodes(ctx, request):
            if hypervisor_id in (node["id"], node["host"]):
                return {"hypervisor": _hypervisor(node, mv, detail=True)}
        raise errors.NotFound(f"Hypervisor with ID '{excerpt(hypervisor_id)}' could not be "
                             "found.")

    @router.get("/os-migrations")
    async def list_migrations(request: Request, ctx: AdminContext, mv: Version) -> dict:
        params = request.query_params
        filters = {k: params[k] for k in ("instance_uuid", "host", "status", "migration_type")
                   if params.get(k)}
        items = await conductor.list_migrations(ctx, filters=filters)
        for item in items:
            if mv < (2, 59):
                item.pop("uuid")
            if mv < (2, 23):
                item.pop("migration_type")
            item.pop("user_id")
            item.pop("project_id")
            item.update(old_instance_type_id=None, new_instance_type_id=None)
        return {"migrations": items}

    @router.get("/os-availability-zone")
    async def list_zones(ctx: Context, mv: Version) -> dict:
        zones = await conductor.availability_zones(ctx)
        return {"availabilityZoneInfo": [
            {"zoneName": name, "zoneState": {"available": True}, "hosts": None}
            for name in sorted(zones)]}

    @router.get("/os-availability-zone/detail")
    async def list_zones_detail(ctx: AdminContext, mv: Version) -> dict:
        services = await conductor.list_services(ctx)
        zones: dict[str, dict] = {}
        for svc in services:
            hosts = zones.setdefault(svc["zone"], {})
            hosts.setdefault(svc["host"], {})[svc["binary"]] = {
                "available": svc["state"] == "up", "active": svc["status"] == "enabled",
                "updated_at": svc["updated_at"]}
        return {"availabilityZoneInfo": [
            {"zoneName": name, "zoneState": {"available": True}, "hosts": hosts}
            for name, hosts in sorted(zones.items())]}

    return router
