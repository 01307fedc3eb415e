"""Flavors, key pairs, limits, quotas and server groups under ``/compute/v2.1``."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from overcast import errors
from overcast.context import RequestContext
from overcast.rest.auth import AdminContext, Context
from overcast.rest.body import JsonPayload
from overcast.rest.responses import FastJSONResponse
from overcast.rest.routing import JSONRoute
from services.compute import validation as check
from services.compute import views
from services.compute.microversion import Version

_REMOVED_IN_2_57 = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _quota_view(project_id: str, limits: dict, mv: tuple[int, int]) -> dict:
    view = {"id": project_id, **limits}
    if mv >= (2, 57):
        for key in _REMOVED_IN_2_57:
            view.pop(key, None)
    return view


def _policy_denied(rule: str) -> errors.Forbidden:
    return errors.Forbidden(f"Policy doesn't allow {rule} to be performed.")


def _keypair_owner(request: Request, ctx: RequestContext, mv: tuple[int, int],
                   action: str, *, user_id: Any = None) -> str | None:
    """The user whose key pairs are meant (None: the caller's own): ``?user_id=``, or the
    body's ``user_id`` on create.

    As Nova: the parameter exists from 2.10 (earlier it is ignored); the policy
    ``os-keypairs:<action>`` is "admin or the user itself", so a member naming another user
    gets 403 rather than having the parameter silently dropped."""
    if user_id is None:
        user_id = request.query_params.get("user_id")
    if mv < (2, 10) or user_id is None or user_id == ctx.user_id:
        return None
    if not ctx.is_admin:
        raise _policy_denied(f"os_compute_api:os-keypairs:{action}")
    return user_id


def build_router(*, conductor: Any) -> APIRouter:
    router = APIRouter(route_class=JSONRoute)

    # -- flavors -----------------------------------------------------------------------

    def _is_public(request: Request) -> bool | None:
        value = request.query_params.get("is_public", "true").lower()
        return None if value == "none" else value not in ("false", "0", "no")

    @router.get("/flavors")
    async def list_flavors(request: Request, ctx: Context, mv: Version) -> dict:
        items = await conductor.list_flavors(ctx, is_public=_is_public(request))
        base = _base(request)
        return {"flavors": [{"id": f["id"], "name": f["name"], "links": views.flavor(
            f, base, mv)["links"], **({"description": f["description"]} if mv >= (2, 55)
                                     else {})} for f in items]}

    @router.get("/flavors/detail")
    async def list_flavors_detail(request: Request, ctx: Context, mv: Version) -> dict:
        items = await conductor.list_flavors(ctx, is_public=_is_public(request))
        return {"flavors": [views.flavor(f, _base(request), mv) for f in items]}

    @router.get("/flavors/{flavor_id}")
    async def show_flavor(request: Request, flavor_id: str, ctx: Context, mv: Version) -> dict:
        return {"flavor": views.flavor(await conductor.get_flavor(ctx, flavor_id=flavor_id),
                                       _base(request), mv)}

    @router.get("/flavors/{flavor_id}/os-extra_specs")
    async def flavor_extra_specs(flavor_id: str, ctx: Context, mv: Version) -> dict:
        return {"extra_specs": (await conductor.get_flavor(ctx, flavor_id=flavor_id))
                ["extra_specs"]}

    @router.post("/flavors/{flavor_id}/os-extra_specs")
    async def set_flavor_extra_specs(flavor_id: str, ctx: AdminContext, mv: Version,
                                     payload: JsonPayload) -> dict:
        specs = check.body_of(payload, "extra_specs")
        return {"extra_specs": await conductor.update_flavor_extra_specs(
            ctx, flavor_id=flavor_id, set_specs=specs)}

    @router.get("/flavors/{flavor_id}/os-extra_specs/{key}")
    async def show_flavor_extra_spec(flavor_id: str, key: str, ctx: Context, mv: Version
                                     ) -> dict:
        specs = (await conductor.get_flavor(ctx, flavor_id=flavor_id))["extra_specs"]
        if key not in specs:
            raise errors.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        return {key: specs[key]}

    @router.delete("/flavors/{flavor_id}/os-extra_specs/{key}")
    async def delete_flavor_extra_spec(flavor_id: str, key: str, ctx: AdminContext,
                                       mv: Version) -> Response:
        await conductor.update_flavor_extra_specs(ctx, flavor_id=flavor_id, set_specs={},
                                                  remove=key)
        return Response(status_code=200)

    @router.post("/flavors")
    async def create_flavor(request: Request, ctx: AdminContext, mv: Version,
                            payload: JsonPayload) -> dict:
        body = check.body_of(payload, "flavor")
        flavor = {"name": check.name(body.get("name")),
                  "id": check.optional_string(body.get("id"), field="id"),
                  "description": check.optional_string(body.get("description"),
                                                       field="description", max_len=65535)}
        for field, minimum in (("vcpus", 1), ("ram", 1), ("disk", 0),
                               ("OS-FLV-EXT-DATA:ephemeral", 0), ("swap", 0)):
            value = body.get(field, 0 if minimum == 0 else None)
            if value == "" and field == "swap":
                value = 0
            flavor[field.split(":")[-1]] = check.bounded_int(value, field, minimum=minimum)
        flavor["is_public"] = bool(body.get("os-flavor-access:is_public", True))
        flavor["rxtx_factor"] = check.rxtx_factor(body.get("rxtx_factor", 1.0))
        return {"flavor": views.flavor(await conductor.create_flavor(ctx, flavor=flavor),
                                       _base(request), mv)}

    @router.delete("/flavors/{flavor_id}", status_code=202)
    async def delete_flavor(flavor_id: str, ctx: AdminContext, mv: Version) -> Response:
        await conductor.delete_flavor(ctx, flavor_id=flavor_id)
        return Response(status_code=202)

    # -- key pairs ---------------------------------------------------------------------

    @router.get("/os-keypairs")
    async def list_keypairs(request: Request, ctx: Context, mv: Version) -> dict:
        items = await conductor.list_keypairs(
            ctx, user_id=_keypair_owner(request, ctx, mv, "index"))
        return {"keypairs": [{"keypair": views.keypair(k, mv, detail=False)} for k in items]}

    @router.post("/os-keypairs")
    async def create_keypair(request: Request, ctx: Context, mv: Version,
                             payload: JsonPayload) -> Any:
        body = check.body_of(payload, "keypair")
        name = check.name(body.get("name"))
        owner = _keypair_owner(request, ctx, mv, "create", user_id=check.optional_string(
            body.get("user_id"), field="user_id"))
        key_type = body.get("type", "ssh") if mv >= (2, 2) else "ssh"
        if key_type not in ("ssh", "x509"):
            raise errors.BadRequest("Invalid input for field/attribute type.")
        public_key = check.optional_string(body.get("public_key"), field="public_key",
                                           max_len=65535)
        item = await conductor.create_keypair(ctx, name=name, public_key=public_key,
                                              key_type=key_type, user_id=owner)
        view = views.keypair(item, mv, detail=False)
        view["user_id"] = item["user_id"]
        return FastJSONResponse({"keypair": view}, status_code=201 if mv >= (2, 2) else 200)

    @router.get("/os-keypairs/{name}")
    async def show_keypair(request: Request, name: str, ctx: Context, mv: Version) -> dict:
        item = await conductor.get_keypair(ctx, name=name,
                                           user_id=_keypair_owner(request, ctx, mv, "show"))
        return {"keypair": views.keypair(item, mv, detail=True)}

    @router.delete("/os-keypairs/{name}")
    async def delete_keypair(request: Request, name: str, ctx: Context, mv: Version
                             ) -> Response:
        await conductor.delete_keypair(ctx, name=name,
                                       user_id=_keypair_owner(request, ctx, mv, "delete"))
        return Response(status_code=204 if mv >= (2, 2) else 202)

    # -- limits and quotas -------------------------------------------------------------

    @router.get("/limits")
    async def limits(request: Request, ctx: Context, mv: Version) -> dict:
        project_id = ctx.project_id
        if "tenant_id" in request.query_params:
            # Nova's os_compute_api:limits:other_project is admin-only, even for one's own id.
            if not ctx.is_admin:
                raise _policy_denied("os_compute_api:limits:other_project")
            project_id = request.query_params["tenant_id"] or project_id
        quotas = await conductor.get_quotas(ctx, project_id=project_id)
        lim, used = quotas["limits"], quotas["usage"]
        absolute = {"maxTotalCores": lim["cores"], "maxTotalInstances": lim["instances"],
                    "maxTotalRAMSize": lim["ram"], "maxServerMeta": lim["metadata_items"],
                    "maxTotalKeypairs": lim["key_pairs"],
                    "maxServerGroups": lim["server_groups"],
                    "maxServerGroupMembers": lim["server_group_members"],
                    "totalCoresUsed": used["cores"], "totalInstancesUsed": used["instances"],
                    "totalRAMUsed": used["ram"],
                    "totalServerGroupsUsed": used["server_groups"]}
        if mv < (2, 57):
            absolute.update(maxPersonality=lim["injected_files"],
                            maxPersonalitySize=lim["injected_file_content_bytes"])
        if mv < (2, 39):
            absolute["maxImageMeta"] = 128
        return {"limits": {"rate": [], "absolute": absolute}}

    @router.get("/os-quota-sets/{project_id}")
    async def show_quotas(project_id: str, ctx: Context, mv: Version) -> dict:
        quotas = await conductor.get_quotas(ctx, project_id=project_id)
        return {"quota_set": _quota_view(project_id, quotas["limits"], mv)}

    @router.get("/os-quota-sets/{project_id}/defaults")
    async def default_quotas(project_id: str, ctx: Context, mv: Version) -> dict:
        quotas = await conductor.get_quotas(ctx, project_id=project_id)
        return {"quota_set": _quota_view(project_id, quotas["defaults"], mv)}

    @router.get("/os-quota-sets/{project_id}/detail")
    async def detail_quotas(project_id: str, ctx: Context, mv: Version) -> dict:
        quotas = await conductor.get_quotas(ctx, project_id=project_id)
        used = quotas["usage"]
        detail = {k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0}
                  for k, v in quotas["limits"].items()}
        return {"quota_set": _quota_view(project_id, detail, mv)}

    @router.put("/os-quota-sets/{project_id}")
    async def update_quotas(project_id: str, ctx: AdminContext, mv: Version,
                            payload: JsonPayload) -> dict:
        body = dict(check.body_of(payload, "quota_set"))
        body.pop("force", None)
        body = {field: check.quota_limit(value, field) for field, value in body.items()}
        limits = await conductor.update_quotas(ctx, project_id=project_id, values=body)
        view = _quota_view(project_id, limits, mv)
        view.pop("id")
        return {"quota_set": view}

    # -- server groups -----------------------------------------------------------------

    @router.get("/os-server-groups")
    async def list_groups(request: Request, ctx: Context, mv: Version) -> dict:
        everyone = request.query_params.get("all_projects", "").lower() in ("1", "true", "yes")
        items = await conductor.list_groups(ctx, all_projects=everyone)
        return {"server_groups": [views.server_group(g, mv) for g in items]}

    @router.post("/os-server-groups")
    async def create_group(ctx: Context, mv: Version, payload: JsonPayload) -> dict:
        body = check.body_of(payload, "server_group")
        name = check.name(body.get("name"))
        if mv >= (2, 64):
            policy, rules = body.get("policy"), body.get("rules") or {}
        else:
            policies = body.get("policies")
            if not isinstance(policies, list) or len(policies) != 1:
                raise errors.BadRequest("Invalid input for field/attribute policies.")
            policy, rules = policies[0], {}
        if not isinstance(policy, str):
            raise errors.BadRequest("Invalid input for field/attribute policy.")
        item = await conductor.create_group(ctx, name=name, policy=policy,
                                            rules=check.group_rules(rules))
        return {"server_group": views.server_group(item, mv)}

    @router.get("/os-server-groups/{group_id}")
    async def show_group(group_id: str, ctx: Context, mv: Version) -> dict:
        return {"server_group": views.server_group(
            await conductor.get_group(ctx, group_id=group_id), mv)}

    @router.delete("/os-server-groups/{group_id}", status_code=204)
    async def delete_group(group_id: str, ctx: Context, mv: Version) -> Response:
        await conductor.delete_group(ctx, group_id=group_id)
        return Response(status_code=204)

    return router
