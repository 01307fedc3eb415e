"""/v3/roles, role grants on projects, and /v3/role_assignments."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from overcast.errors import Forbidden
from overcast.rest.auth import AnyScopeAdminContext, AnyScopeContext
from services.identity import validation as v
from services.identity.api_common import POLICY_DENIED, JsonBody, Urls, query, require_admin_or_self
from services.identity.manager import IdentityManager
from services.identity.models import RoleAssignment, SystemRoleAssignment
from services.identity.views import (
    assignment_view,
    collection,
    json_response,
    no_content,
    role_view,
)

# Filters naming assignments Overcast never has (groups, domains, inheritance): with any of
# them the answer is an empty list, as Keystone's would be.
_NEVER_MATCHING = ("group.id", "scope.domain.id", "scope.OS-INHERIT:inherited_to")

_GRANT = "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"


def build_router(manager: IdentityManager, *, prefix: str) -> APIRouter:
    """The role, grant and role assignment routes."""
    router = APIRouter()
    urls = Urls(prefix)
    roles = manager.roles

    @router.get("/v3/roles")
    def list_roles(request: Request, ctx: AnyScopeContext) -> Response:
        base = urls.v3(request)
        found = roles.list_roles(name=query(request, "name"))
        return json_response(collection(request, "roles", [role_view(r, base) for r in found]))

    @router.get("/v3/roles/{role_id}")
    def show_role(request: Request, role_id: str, ctx: AnyScopeContext) -> Response:
        return json_response({"role": role_view(roles.get_role(role_id), urls.v3(request))})

    @router.post("/v3/roles")
    def create_role(request: Request, body: JsonBody, ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "role")
        role = roles.create_role(name=v.name(data, max_length=v.ROLE_NAME_MAX) or "",
                                 description=v.text(data, "description"))
        return json_response({"role": role_view(role, urls.v3(request))}, status=201)

    @router.patch("/v3/roles/{role_id}")
    def update_role(request: Request, role_id: str, body: JsonBody,
                    ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "role")
        changes: dict[str, Any] = {}
        if data.get("name") is not None:
            changes["name"] = v.name(data, max_length=v.ROLE_NAME_MAX)
        if "description" in data:
            changes["description"] = v.text(data, "description")
        role = roles.update_role(role_id, changes)
        return json_response({"role": role_view(role, urls.v3(request))})

    @router.delete("/v3/roles/{role_id}")
    def delete_role(role_id: str, ctx: AnyScopeAdminContext) -> Response:
        roles.delete_role(role_id)
        return no_content()

    # -- grants on projects -------------------------------------------------------------

    @router.put(_GRANT)
    def grant(project_id: str, user_id: str, role_id: str, ctx: AnyScopeAdminContext) -> Response:
        roles.grant(user_id=user_id, project_id=project_id, role_id=role_id)
        return no_content()

    @router.head(_GRANT)
    def check_grant(project_id: str, user_id: str, role_id: str, ctx: AnyScopeContext) -> Response:
        require_admin_or_self(ctx, user_id)
        granted = roles.is_granted(user_id=user_id, project_id=project_id, role_id=role_id)
        return Response(status_code=204 if granted else 404)

    @router.delete(_GRANT)
    def ungrant(project_id: str, user_id: str, role_id: str, ctx: AnyScopeAdminContext) -> Response:
        roles.ungrant(user_id=user_id, project_id=project_id, role_id=role_id)
        return no_content()

    @router.get("/v3/projects/{project_id}/users/{user_id}/roles")
    def list_grants(request: Request, project_id: str, user_id: str,
                    ctx: AnyScopeContext) -> Response:
        require_admin_or_self(ctx, user_id)
        manager.resources.get_project(project_id)
        manager.users.get_user(user_id)
        base = urls.v3(request)
        found = roles.roles_on_project(user_id=user_id, project_id=project_id)
        return json_response(collection(request, "roles", [role_view(r, base) for r in found]))

    # -- role assignments ---------------------------------------------------------------

    def names() -> dict[str, dict[str, dict[str, Any]]]:
        """Names of every role, user and project by id, for ``include_names``."""
        domains = manager.resources.domain_names()

        def domain(domain_id: str) -> dict[str, str]:
            return {"id": domain_id, "name": domains.get(domain_id, domain_id)}

        return {
            "roles": {r.id: {"name": r.name} for r in roles.list_roles()},
            "users": {u.id: {"name": u.name, "domain": domain(u.domain_id)}
                      for u in manager.users.list_users()},
            "projects": {p.id: {"name": p.name, "domain": domain(p.domain_id)}
                         for p in manager.resources.list_projects()},
        }

    @router.get("/v3/role_assignments")
    def list_role_assignments(request: Request, ctx: AnyScopeContext) -> Response:
        """Assignments filtered by user.id, scope.project.id, scope.system and role.id,
        on projects and on the system. A non-admin may only list their own (user.id set to
        themself)."""
        user_id = query(request, "user.id")
        if not ctx.is_admin and (user_id is None or user_id != ctx.user_id):
            raise Forbidden(POLICY_DENIED)
        project_id = query(request, "scope.project.id")
        system = query(request, "scope.system")
        role_id = query(request, "role.id")
        found: list[RoleAssignment | SystemRoleAssignment] = []
        if not any(key in request.query_params for key in _NEVER_MATCHING):
            if system is None:
                found.extend(roles.list_assignments(user_id=user_id, project_id=project_id,
                                                    role_id=role_id))
            if project_id is None and system in (None, "all"):
                found.extend(roles.list_system_assignments(user_id=user_id, role_id=role_id))
        lookup = names() if v.query_flag(request.query_params.get("include_names")) else None
        base = urls.v3(request)
        return json_response(collection(request, "role_assignments",
                                        [assignment_view(a, base, names=lookup)
                                         for a in found]))

    return router
