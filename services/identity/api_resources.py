"""/v3/domains, /v3/projects and /v3/users."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from overcast.errors import BadRequest, Forbidden
from overcast.rest.auth import AnyScopeAdminContext, AnyScopeContext
from services.identity import policy
from services.identity import validation as v
from services.identity.api_common import (
    POLICY_DENIED,
    JsonBody,
    Urls,
    enabled_filter,
    extra_attributes,
    query,
    require_admin_or_self,
)
from services.identity.manager import DEFAULT_DOMAIN_ID, IdentityManager
from services.identity.passwords import MAX_PASSWORD_LENGTH
from services.identity.views import (
    collection,
    domain_view,
    json_response,
    no_content,
    project_view,
    user_view,
)

_PROJECT_KNOWN = frozenset({"id", "name", "domain_id", "description", "enabled", "tags",
                            "parent_id", "is_domain", "options", "links"})
_USER_KNOWN = frozenset({"id", "name", "domain_id", "password", "enabled",
                         "default_project_id", "description", "options", "links",
                         "password_expires_at", "federated", "original_password"})


def _password(data: dict[str, Any], field: str = "password") -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_PASSWORD_LENGTH:
        raise BadRequest(f"Invalid input for field '{field}': must be a string of at most "
                         f"{MAX_PASSWORD_LENGTH} characters.")
    return value


def _given(data: dict[str, Any], *, nullable: frozenset[str] = frozenset(),
           **values: Any) -> dict[str, Any]:
    """The values whose keys the client sent (so that a PATCH touches only those); a null
    sent for a field that cannot be null is ignored."""
    return {k: val for k, val in values.items()
            if k in data and (val is not None or k in nullable)}


def _domain_changes(data: dict[str, Any]) -> dict[str, Any]:
    return _given(data, name=v.name(data, max_length=v.DOMAIN_NAME_MAX, required=False),
                  description=v.text(data, "description") or "",
                  enabled=v.boolean(data, "enabled"), tags=v.tags(data) or [])


def _project_changes(data: dict[str, Any]) -> dict[str, Any]:
    changes = _given(data, name=v.name(data, max_length=v.PROJECT_NAME_MAX, required=False),
                     description=v.text(data, "description") or "",
                     enabled=v.boolean(data, "enabled"), tags=v.tags(data) or [])
    extra = extra_attributes(data, _PROJECT_KNOWN)
    if extra:
        changes["extra"] = extra
    return changes


def _user_changes(data: dict[str, Any]) -> dict[str, Any]:
    changes = _given(data, nullable=frozenset({"default_project_id", "description"}),
                     name=v.name(data, max_length=v.USER_NAME_MAX, required=False),
                     enabled=v.boolean(data, "enabled"),
                     default_project_id=v.text(data, "default_project_id",
                                               max_length=v.ID_MAX),
                     description=v.text(data, "description"), password=_password(data))
    extra = extra_attributes(data, _USER_KNOWN)
    if extra:
        changes["extra"] = extra
    return changes


def build_router(manager: IdentityManager, *, prefix: str) -> APIRouter:
    """The domain, project and user routes."""
    router = APIRouter()
    urls = Urls(prefix)
    resources, users = manager.resources, manager.users

    # -- domains ------------------------------------------------------------------------

    @router.get("/v3/domains")
    def list_domains(request: Request, ctx: AnyScopeContext) -> Response:
        """Every domain for an admin; for a reader's domain-scoped token, that domain
        (Keystone's ``identity:list_domains``); 403 for other tokens."""
        only = policy.domains_visible_in_list(ctx)
        found = resources.list_domains(name=query(request, "name"),
                                       enabled=enabled_filter(request),
                                       ids=None if only is None else {only})
        base = urls.v3(request)
        return json_response(collection(request, "domains",
                                        [domain_view(d, base) for d in found]))

    @router.get("/v3/domains/{domain_id}")
    def show_domain(request: Request, domain_id: str, ctx: AnyScopeContext) -> Response:
        """A domain, for an admin or a token scoped to it or to one of its projects."""
        policy.enforce_get_domain(ctx, domain_id)
        return json_response({"domain": domain_view(resources.get_domain(domain_id),
                                                    urls.v3(request))})

    @router.post("/v3/domains")
    def create_domain(request: Request, body: JsonBody, ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "domain")
        changes = _domain_changes(data)
        domain = resources.create_domain(
            name=v.name(data, max_length=v.DOMAIN_NAME_MAX), description=changes.get(
                "description", ""), enabled=changes.get("enabled") is not False,
            tags=changes.get("tags"),
            domain_id=v.text(data, "explicit_domain_id", max_length=v.ID_MAX))
        return json_response({"domain": domain_view(domain, urls.v3(request))}, status=201)

    @router.patch("/v3/domains/{domain_id}")
    def update_domain(request: Request, domain_id: str, body: JsonBody,
                      ctx: AnyScopeAdminContext) -> Response:
        domain = resources.update_domain(domain_id, _domain_changes(v.member(body, "domain")))
        return json_response({"domain": domain_view(domain, urls.v3(request))})

    @router.delete("/v3/domains/{domain_id}")
    def delete_domain(domain_id: str, ctx: AnyScopeAdminContext) -> Response:
        resources.delete_domain(domain_id)
        return no_content()

    # -- projects -----------------------------------------------------------------------

    @router.get("/v3/projects")
    def list_projects(request: Request, ctx: AnyScopeContext) -> Response:
        """Every project for an admin; for others, the projects they hold a role on."""
        ids = None if ctx.is_admin else manager.roles.project_ids_for_user(ctx.user_id)
        found = resources.list_projects(name=query(request, "name"),
                                        domain_id=query(request, "domain_id"),
                                        enabled=enabled_filter(request), ids=ids)
        base = urls.v3(request)
        return json_response(collection(request, "projects",
                                        [project_view(p, base) for p in found]))

    @router.get("/v3/projects/{project_id}")
    def show_project(request: Request, project_id: str, ctx: AnyScopeContext) -> Response:
        project = resources.get_project(project_id)
        if not ctx.is_admin and ctx.project_id != project.id and project.id not in \
                manager.roles.project_ids_for_user(ctx.user_id):
            raise Forbidden(POLICY_DENIED)
        return json_response({"project": project_view(project, urls.v3(request))})

    @router.post("/v3/projects")
    def create_project(request: Request, body: JsonBody, ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "project")
        name = v.name(data, max_length=v.PROJECT_NAME_MAX)
        domain_id = v.text(data, "domain_id", max_length=v.ID_MAX) or DEFAULT_DOMAIN_ID
        if data.get("is_domain"):
            raise BadRequest("Projects acting as domains are not supported.")
        parent_id = v.text(data, "parent_id", max_length=v.ID_MAX)
        if parent_id not in (None, domain_id):
            raise BadRequest("Hierarchical projects are not supported; parent_id must be "
                             "the project's domain.")
        changes = _project_changes(data)
        project = resources.create_project(
            name=name or "", domain_id=domain_id, description=changes.get("description", ""),
            enabled=changes.get("enabled", True), tags=changes.get("tags"),
            extra=changes.get("extra"))
        return json_response({"project": project_view(project, urls.v3(request))},
                             status=201)

    @router.patch("/v3/projects/{project_id}")
    def update_project(request: Request, project_id: str, body: JsonBody,
                       ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "project")
        current = resources.get_project(project_id)
        if data.get("domain_id", current.domain_id) != current.domain_id:
            raise BadRequest("Update of domain_id is not allowed.")
        project = resources.update_project(project_id, _project_changes(data))
        return json_response({"project": project_view(project, urls.v3(request))})

    @router.delete("/v3/projects/{project_id}")
    def delete_project(project_id: str, ctx: AnyScopeAdminContext) -> Response:
        resources.delete_project(project_id)
        return no_content()

    # -- users --------------------------------------------------------------------------

    @router.get("/v3/users")
    def list_users(request: Request, ctx: AnyScopeAdminContext) -> Response:
        found = users.list_users(name=query(request, "name"),
                                 domain_id=query(request, "domain_id"),
                                 enabled=enabled_filter(request))
        base = urls.v3(request)
        return json_response(collection(request, "users", [user_view(u, base) for u in found]))

    @router.get("/v3/users/{user_id}")
    def show_user(request: Request, user_id: str, ctx: AnyScopeContext) -> Response:
        require_admin_or_self(ctx, user_id)
        return json_response({"user": user_view(users.get_user(user_id), urls.v3(request))})

    @router.post("/v3/users")
    def create_user(request: Request, body: JsonBody, ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "user")
        name = v.name(data, max_length=v.USER_NAME_MAX)
        changes = _user_changes(data)
        user = users.create_user(
            name=name or "",
            domain_id=v.text(data, "domain_id", max_length=v.ID_MAX) or DEFAULT_DOMAIN_ID,
            password=changes.get("password"), enabled=changes.get("enabled", True),
            default_project_id=changes.get("default_project_id"),
            description=changes.get("description"), extra=changes.get("extra"))
        return json_response({"user": user_view(user, urls.v3(request))}, status=201)

    @router.patch("/v3/users/{user_id}")
    def update_user(request: Request, user_id: str, body: JsonBody,
                    ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "user")
        current = users.get_user(user_id)
        if data.get("domain_id", current.domain_id) != current.domain_id:
            raise BadRequest("Update of domain_id is not allowed.")
        user = users.update_user(user_id, _user_changes(data))
        return json_response({"user": user_view(user, urls.v3(request))})

    @router.delete("/v3/users/{user_id}")
    def delete_user(user_id: str, ctx: AnyScopeAdminContext) -> Response:
        users.delete_user(user_id)
        return no_content()

    @router.get("/v3/users/{user_id}/projects")
    def list_user_projects(request: Request, user_id: str, ctx: AnyScopeContext) -> Response:
        require_admin_or_self(ctx, user_id)
        users.get_user(user_id)
        found = resources.list_projects(ids=manager.roles.project_ids_for_user(user_id),
                                        name=query(request, "name"),
                                        domain_id=query(request, "domain_id"),
                                        enabled=enabled_filter(request))
        base = urls.v3(request)
        return json_response(collection(request, "projects",
                                        [project_view(p, base) for p in found]))

    @router.post("/v3/users/{user_id}/password")
    def change_password(user_id: str, body: JsonBody) -> Response:
        """Change one's own password; the original password is the credential (Keystone
        asks for no token here)."""
        data = v.member(body, "user")
        new, original = _password(data), _password(data, "original_password")
        if new is None or original is None:
            raise BadRequest("Expecting to find password and original_password in user.")
        users.change_password(user_id, original_password=original, new_password=new)
        return no_content()

    return router
