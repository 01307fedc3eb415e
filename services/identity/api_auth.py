"""/v3/auth: issue, validate and revoke tokens; the caller's catalog, projects, domains."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from overcast.errors import BadRequest, Forbidden
from overcast.rest.auth import AnyScopeContext
from services.identity.api_common import POLICY_DENIED, JsonBody, Urls
from services.identity.auth_request import parse_auth_request
from services.identity.manager import IdentityManager
from services.identity.tokens import TokenData
from services.identity.views import (
    collection,
    domain_view,
    json_response,
    no_content,
    project_view,
    token_body,
)


def build_router(manager: IdentityManager, *, prefix: str) -> APIRouter:
    """The /v3/auth routes."""
    router = APIRouter()
    urls = Urls(prefix)

    def render(request: Request, token: str, data: TokenData, *, status: int) -> Response:
        catalog = None if "nocatalog" in request.query_params else manager.catalog.catalog(
            project_id=data.project_id, user_id=data.user_id)
        body = token_body(data, domain_names=manager.resources.domain_names(),
                          catalog=catalog)
        return json_response(body, status=status, headers={"X-Subject-Token": token})

    def subject(request: Request, ctx: AnyScopeContext) -> tuple[str, TokenData]:
        """The X-Subject-Token and what it says, if the caller may look at it."""
        token = request.headers.get("x-subject-token")
        if not token:
            raise BadRequest("Expecting to find X-Subject-Token in the request headers.")
        data = manager.validate_token(token)
        if not ctx.is_admin and data.user_id != ctx.user_id:
            raise Forbidden(POLICY_DENIED)
        return token, data

    @router.post("/v3/auth/tokens")
    def issue_token(request: Request, body: JsonBody) -> Response:
        """Authenticate (password or token) and answer 201 with the token in X-Subject-Token."""
        token, data = manager.issue_token(parse_auth_request(body))
        return render(request, token, data, status=201)

    @router.get("/v3/auth/tokens")
    def validate_token(request: Request, ctx: AnyScopeContext) -> Response:
        token, data = subject(request, ctx)
        return render(request, token, data, status=200)

    @router.head("/v3/auth/tokens")
    def check_token(request: Request, ctx: AnyScopeContext) -> Response:
        token, _ = subject(request, ctx)
        return Response(status_code=200, headers={"X-Subject-Token": token})

    @router.delete("/v3/auth/tokens")
    def revoke_token(request: Request, ctx: AnyScopeContext) -> Response:
        token, _ = subject(request, ctx)
        manager.revoke_token(token)
        return no_content()

    @router.get("/v3/auth/catalog")
    def auth_catalog(request: Request, ctx: AnyScopeContext) -> Response:
        if ctx.project_id is None and ctx.domain_id is None and ctx.system_scope is None:
            raise Forbidden("A scoped token is required to retrieve a service catalog.")
        catalog = manager.catalog.catalog(project_id=ctx.project_id, user_id=ctx.user_id)
        return json_response(collection(request, "catalog", catalog))

    @router.get("/v3/auth/projects")
    def auth_projects(request: Request, ctx: AnyScopeContext) -> Response:
        base = urls.v3(request)
        projects = manager.projects_for_user(ctx.user_id or "")
        return json_response(collection(request, "projects",
                                        [project_view(p, base) for p in projects]))

    @router.get("/v3/auth/system")
    def auth_system(request: Request, ctx: AnyScopeContext) -> Response:
        """The systems the caller may scope a token to: ``[{"all": true}]`` or none."""
        systems = [{"all": True}] if manager.has_system_access(ctx.user_id or "") else []
        return json_response({"system": systems,
                              "links": {"self": f"{urls.v3(request)}/auth/system"}})

    @router.get("/v3/auth/domains")
    def auth_domains(request: Request, ctx: AnyScopeContext) -> Response:
        base = urls.v3(request)
        domains = manager.domains_for_user(ctx.user_id or "")
        return json_response(collection(request, "domains",
                                        [domain_view(d, base) for d in domains]))

    return router
