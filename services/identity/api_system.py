"""/v3/system: role grants on the system (the whole cloud), as ``openstack role add
--system all`` makes them; a user holding one may ask for a system-scoped token."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from overcast.rest.auth import AnyScopeAdminContext, AnyScopeContext
from services.identity.api_common import Urls, require_admin_or_self
from services.identity.manager import IdentityManager
from services.identity.views import collection, json_response, no_content, role_view

_GRANT = "/v3/system/users/{user_id}/roles/{role_id}"


def build_router(manager: IdentityManager, *, prefix: str) -> APIRouter:
    """The system grant routes."""
    router = APIRouter()
    urls = Urls(prefix)
    roles = manager.roles

    @router.put(_GRANT)
    def grant(user_id: str, role_id: str, ctx: AnyScopeAdminContext) -> Response:
        roles.grant_system(user_id=user_id, role_id=role_id)
        return no_content()

    @router.head(_GRANT)
    @router.get(_GRANT)
    def check_grant(user_id: str, role_id: str, ctx: AnyScopeContext) -> Response:
        require_admin_or_self(ctx, user_id)
        granted = roles.is_granted_system(user_id=user_id, role_id=role_id)
        return Response(status_code=204 if granted else 404)

    @router.delete(_GRANT)
    def ungrant(user_id: str, role_id: str, ctx: AnyScopeAdminContext) -> Response:
        roles.ungrant_system(user_id=user_id, role_id=role_id)
        return no_content()

    @router.get("/v3/system/users/{user_id}/roles")
    def list_grants(request: Request, user_id: str, ctx: AnyScopeContext) -> Response:
        require_admin_or_self(ctx, user_id)
        manager.users.get_user(user_id)
        base = urls.v3(request)
        found = roles.roles_on_system(user_id=user_id)
        return json_response(collection(request, "roles", [role_view(r, base) for r in found]))

    return router
