"""Keystone's JSON shapes for identity records, tokens and collections."""
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request, Response

from services.identity.models import (
    Domain,
    Endpoint,
    Project,
    Region,
    Role,
    RoleAssignment,
    Service,
    SystemRoleAssignment,
    User,
)
from services.identity.tokens import TokenData


def json_response(body: Any, *, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=dict(headers or {}),
                    media_type="application/json")


def no_content() -> Response:
    return Response(status_code=204)


def isotime(ts: float) -> str:
    """``ts`` as Keystone writes times: ISO 8601, UTC, microseconds, trailing Z."""
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def identity_url(request: Request, prefix: str) -> str:
    """The absolute URL of the identity API root (without the version)."""
    return str(request.base_url).rstrip("/") + prefix


def collection(request: Request, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A Keystone list document: the items and links (never paginated here)."""
    return {key: items, "links": {"self": str(request.url), "previous": None, "next": None}}


def _self(base: str, kind: str, ident: str) -> dict[str, str]:
    return {"self": f"{base}/{kind}/{ident}"}


def domain_view(d: Domain, base: str) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
            "tags": list(d.tags or []), "options": {}, "links": _self(base, "domains", d.id)}


def project_view(p: Project, base: str) -> dict[str, Any]:
    view = dict(p.extra or {})
    view.update({"id": p.id, "name": p.name, "domain_id": p.domain_id,
                 "description": p.description, "enabled": p.enabled,
                 "parent_id": p.domain_id, "is_domain": False, "tags": list(p.tags or []),
                 "options": {}, "links": _self(base, "projects", p.id)})
    return view


def user_view(u: User, base: str) -> dict[str, Any]:
    view = dict(u.extra or {})
    view.update({"id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
                 "password_expires_at": None, "options": {},
                 "links": _self(base, "users", u.id)})
    if u.default_project_id is not None:
        view["default_project_id"] = u.default_project_id
    if u.description is not None:
        view["description"] = u.description
    return view


def role_view(r: Role, base: str) -> dict[str, Any]:
    view: dict[str, Any] = {"id": r.id, "name": r.name, "domain_id": None, "options": {},
                            "links": _self(base, "roles", r.id)}
    if r.description is not None:
        view["description"] = r.description
    return view


def service_view(s: Service, base: str) -> dict[str, Any]:
    return {"id": s.id, "type": s.type, "name": s.name, "description": s.description,
            "enabled": s.enabled, "links": _self(base, "services", s.id)}


def endpoint_view(e: Endpoint, base: str) -> dict[str, Any]:
    return {"id": e.id, "interface": e.interface, "region": e.region_id,
            "region_id": e.region_id, "service_id": e.service_id, "url": e.url,
            "enabled": e.enabled, "links": _self(base, "endpoints", e.id)}


def region_view(r: Region, base: str) -> dict[str, Any]:
    return {"id": r.id, "description": r.description, "parent_region_id": r.parent_region_id,
            "links": _self(base, "regions", r.id)}


def assignment_view(a: RoleAssignment | SystemRoleAssignment, base: str, *,
                    names: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One role assignment, on a project or on the system; with ``names`` (see
    ``api_roles``) ids come with their names."""
    role: dict[str, Any] = {"id": a.role_id}
    user: dict[str, Any] = {"id": a.user_id}
    refs = [(role, "roles"), (user, "users")]
    if isinstance(a, SystemRoleAssignment):
        scope: dict[str, Any] = {"system": {"all": True}}
        link = f"{base}/system/users/{a.user_id}/roles/{a.role_id}"
    else:
        project: dict[str, Any] = {"id": a.project_id}
        refs.append((project, "projects"))
        scope = {"project": project}
        link = f"{base}/projects/{a.project_id}/users/{a.user_id}/roles/{a.role_id}"
    if names is not None:
        for ref, table in refs:
            ref.update(names[table].get(ref["id"], {}))
    return {"role": role, "user": user, "scope": scope, "links": {"assignment": link}}


def token_body(data: TokenData, *, domain_names: Mapping[str, str],
               catalog: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The ``{"token": ...}`` document for ``data``, with the catalog unless it is None.

    An unscoped token has neither roles nor catalog, as in Keystone.
    """
    def domain_ref(domain_id: str) -> dict[str, str]:
        return {"id": domain_id, "name": domain_names.get(domain_id, domain_id)}

    token: dict[str, Any] = {
        "methods": list(data.methods),
        "user": {"id": data.user_id, "name": data.user_name,
                 "domain": domain_ref(data.user_domain_id), "password_expires_at": None},
        "audit_ids": list(data.audit_ids),
        "expires_at": isotime(data.expires_at),
        "issued_at": isotime(data.issued_at),
    }
    scoped = False
    if data.project_id is not None:
        token["project"] = {"id": data.project_id, "name": data.project_name,
                            "domain": domain_ref(data.project_domain_id or "")}
        token["is_domain"] = False
        scoped = True
    elif data.domain_id is not None:
        token["domain"] = domain_ref(data.domain_id)
        scoped = True
    elif data.system_all:
        token["system"] = {"all": True}
        scoped = True
    if scoped:
        token["roles"] = [{"id": i, "name": n} for i, n in data.roles]
        if catalog is not None:
            token["catalog"] = catalog
    return {"token": token}
