"""What every route of the Block Storage API shares: the project in the path, links, query
parameters, list envelopes and the caller's token."""
from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from overcast.rest.auth import Context
from services.volume import faults, paging
from services.volume import microversion as mv
from services.volume import validation as check
from services.volume.views import Links

# Query parameters every list takes that are not filters.
PAGING_KEYS = frozenset({"sort", "sort_key", "sort_dir", "limit", "marker", "offset",
                         "with_count", "all_tenants"})


async def caller(request: Request, ctx: Context) -> RequestContext:
    """The caller's context (a project-scoped token); 403 when the path names another
    project than the token's, unless the caller is an admin."""
    project = request.path_params.get("project_id", "")
    if project and project != ctx.project_id and not ctx.is_admin:
        raise faults.policy_denied()
    return ctx


async def admin_caller(ctx: Annotated[RequestContext, Depends(caller)]) -> RequestContext:
    if not ctx.is_admin:
        raise faults.policy_denied()
    return ctx


Caller = Annotated[RequestContext, Depends(caller)]
AdminCaller = Annotated[RequestContext, Depends(admin_caller)]


def base_url(request: Request) -> str:
    """Where clients reach this API: the configured public URL, else the request's own."""
    public = getattr(request.app.state, "public_url", "")
    return (public or str(request.base_url)).rstrip("/")


def links(request: Request) -> Links:
    root = base_url(request) + "/volume"
    return Links(root=root, project=request.path_params.get("project_id", ""),
                 query=tuple(request.query_params.items()))


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params.items())


def flag(params: Mapping[str, str], key: str) -> bool:
    """A query flag: present and true (``all_tenants=1``, ``with_count=true``)."""
    if key not in params:
        return False
    raw = params[key]
    return True if raw == "" else check.boolean(raw, field=key)


def all_tenants(params: Mapping[str, str], ctx: RequestContext) -> bool:
    """``all_tenants`` counts for admins only (Cinder drops it for others)."""
    return ctx.is_admin and flag(params, "all_tenants")


def metadata_filter(raw: str) -> dict[str, str]:
    """``metadata={"k": "v"}`` (JSON, or the Python literal the clients send)."""
    value: Any
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
    if not isinstance(value, dict):
        raise faults.InvalidInput(f"Invalid metadata filter {excerpt(raw)}")
    return {str(k): str(v) for k, v in value.items()}


def filters(params: Mapping[str, str], *, allowed: Sequence[str],
            booleans: Sequence[str] = ()) -> dict[str, Any]:
    """The list filters among ``params`` (unknown ones are ignored, as before 3.31)."""
    chosen: dict[str, Any] = {}
    for key, raw in params.items():
        if key in PAGING_KEYS or key not in allowed:
            continue
        if key == "metadata":
            chosen[key] = metadata_filter(raw)
        elif key in booleans:
            chosen[key] = check.boolean(raw, field=key)
        else:
            chosen[key] = raw
    return chosen


def listing(name: str, items: list[dict[str, Any]], *, request: Request,
            collection: str, total: int, version: tuple[int, int],
            params: Mapping[str, str]) -> dict[str, Any]:
    """Cinder's list envelope: the items, ``<name>_links`` for the next page, and ``count``
    with ``with_count`` (3.45+)."""
    show_count = version >= mv.SUPPORT_COUNT_INFO and flag(params, "with_count")
    body: dict[str, Any] = {name: items}
    next_link = links(request).collection(collection, items)
    if next_link:
        body[f"{name}_links"] = next_link
    if show_count:
        body["count"] = total
    return body


def page(params: Mapping[str, str], keys: Sequence[str]) -> paging.Page:
    return paging.parse(params, keys=keys)


def token_of(request: Request) -> str:
    token = request.headers.get("x-auth-token")
    if not token:
        raise errors.Unauthorized("The request you have made requires authentication.")
    return token


def action_of(payload: object, known: Mapping[str, Callable[..., Any]]) -> tuple[str, Any]:
    """The one action in an action body (``{"os-extend": {...}}``), known or 400."""
    if not isinstance(payload, Mapping) or len(payload) != 1:
        raise errors.BadRequest("Malformed request body")
    name, args = next(iter(payload.items()))
    if name not in known:
        raise errors.BadRequest(f"There is no such action: {excerpt(name)}")
    return name, args
