"""The token dependency: who gets a context, who gets 401 or 403, and what is bound."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter

from overcast import context
from overcast.rest.app import rest_app
from overcast.rest.auth import AdminContext, AnyScopeAdminContext, AnyScopeContext, Context
from tests.unit.overcast.rest.rest_twins import TokenValidatorTwin


@pytest.fixture
def validator() -> TokenValidatorTwin:
    return TokenValidatorTwin()


@pytest.fixture
async def http(validator: TokenValidatorTwin) -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(ctx: Context) -> dict:
        bound = context.current()
        return {"user": ctx.user_id, "project": ctx.project_id,
                "request_id": ctx.request_id, "bound": bound.user_id if bound else None}

    @router.get("/admin-only")
    async def admin_only(ctx: AdminContext) -> dict:
        return {"user": ctx.user_id}

    @router.get("/any-scope")
    async def any_scope(ctx: AnyScopeContext) -> dict:
        return {"user": ctx.user_id, "project": ctx.project_id}

    @router.get("/any-scope-admin")
    async def any_scope_admin(ctx: AnyScopeAdminContext) -> dict:
        return {"user": ctx.user_id}

    @router.get("/public")
    async def public() -> dict:
        return {"bound": context.current() is not None}

    app = rest_app(authenticator=validator)
    app.include_router(router, prefix="/compute")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_valid_token_gives_the_route_its_context_and_binds_it(http, validator):
    response = await http.get("/compute/whoami", headers={"X-Auth-Token": "member"})
    assert response.status_code == 200
    body = response.json()
    assert (body["user"], body["project"], body["bound"]) == ("u-member", "p-1", "u-member")
    # The validator is asked with the request id the response carries.
    assert validator.asked == [("member", response.headers["x-openstack-request-id"])]
    assert body["request_id"] == response.headers["x-openstack-request-id"]


async def test_a_missing_token_is_401_without_asking_the_validator(http, validator):
    response = await http.get("/compute/whoami")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Keystone uri="/identity"'
    assert response.json() == {"unauthorized": {
        "code": 401, "message": "The request you have made requires authentication."}}
    assert validator.asked == []


async def test_a_token_the_validator_refuses_is_401(http):
    response = await http.get("/compute/whoami", headers={"X-Auth-Token": "forged"})
    assert response.status_code == 401
    assert "unauthorized" in response.json()


async def test_admin_routes_refuse_members_and_admit_admins(http):
    member = await http.get("/compute/admin-only", headers={"X-Auth-Token": "member"})
    assert member.status_code == 403
    assert member.json()["forbidden"]["message"] == (
        "Policy doesn't allow this operation to be performed.")
    admin = await http.get("/compute/admin-only", headers={"X-Auth-Token": "admin"})
    assert admin.status_code == 200 and admin.json() == {"user": "u-admin"}


async def test_routes_without_the_dependency_are_public_and_bind_nothing(http):
    response = await http.get("/compute/public")
    assert response.status_code == 200 and response.json() == {"bound": False}


@pytest.mark.parametrize("token", ["unscoped", "domain-admin"])
@pytest.mark.parametrize("route", ["/compute/whoami", "/compute/admin-only"])
async def test_project_apis_refuse_a_token_without_a_project(http, token, route):
    response = await http.get(route, headers={"X-Auth-Token": token})
    assert response.status_code == 403
    assert "project-scoped token" in response.json()["forbidden"]["message"]


async def test_any_scope_routes_take_every_scope_and_still_check_admin(http):
    unscoped = await http.get("/compute/any-scope", headers={"X-Auth-Token": "unscoped"})
    assert unscoped.status_code == 200
    assert unscoped.json() == {"user": "u-member", "project": None}
    refused = await http.get("/compute/any-scope-admin", headers={"X-Auth-Token": "unscoped"})
    assert refused.status_code == 403
    admitted = await http.get("/compute/any-scope-admin",
                              headers={"X-Auth-Token": "domain-admin"})
    assert admitted.status_code == 200 and admitted.json() == {"user": "u-admin"}
    assert (await http.get("/compute/any-scope")).status_code == 401
