"""The Neutron v2.0 REST API (a subset), mounted by the api process under ``/network``.

Translation only: parse the body and query, call the manager, wrap the result in Neutron's
envelope. Errors are domain errors; ``overcast.rest.errors`` renders them as NeutronError.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from overcast.rest.auth import Context
from overcast.rest.body import MalformedJSON, decode_json
from services.network import exceptions as exc
from services.network.extensions import BY_ALIAS, EXTENSIONS
from services.network.manager import NetworkManager
from services.network.query import ListQuery, select

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Collection:
    path: str            # URL segment: "security-groups"
    singular: str        # body key: "security_group"
    plural: str          # body key: "security_groups"
    lister: Callable[..., Awaitable[Any]]
    getter: Callable[..., Awaitable[dict]]
    creator: Callable[..., Awaitable[dict]]
    updater: Callable[..., Awaitable[dict]] | None
    deleter: Callable[..., Awaitable[None]]
    taggable: bool = True


def _collections(mgr: NetworkManager) -> list[_Collection]:
    return [
        _Collection("networks", "network", "networks", mgr.list_networks, mgr.get_network,
                    mgr.create_network, mgr.update_network, mgr.delete_network),
        _Collection("subnets", "subnet", "subnets", mgr.list_subnets, mgr.get_subnet,
                    mgr.create_subnet, mgr.update_subnet, mgr.delete_subnet),
        _Collection("ports", "port", "ports", mgr.list_ports, mgr.get_port, mgr.create_port,
                    mgr.update_port, mgr.delete_port),
        _Collection("security-groups", "security_group", "security_groups",
                    mgr.list_security_groups, mgr.get_security_group,
                    mgr.create_security_group, mgr.update_security_group,
                    mgr.delete_security_group),
        _Collection("security-group-rules", "security_group_rule", "security_group_rules",
                    mgr.list_security_group_rules, mgr.get_security_group_rule,
                    mgr.create_security_group_rule, None, mgr.delete_security_group_rule,
                    taggable=False),
    ]


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise exc.HTTPBadRequest("Resource body required")
    try:
        return decode_json(raw)
    except MalformedJSON as error:
        raise exc.MalformedRequestBody(reason=error.reason) from None


def _here(request: Request) -> str:
    """This request's URL without query or trailing slash (absolute, for links)."""
    return str(request.url.replace(query="", fragment="")).rstrip("/")


def build_router(manager: NetworkManager) -> APIRouter:
    """Routes for prefix ``/network``: the versions document (public), then ``/v2.0/...``
    behind a token (as Neutron's paste pipeline puts keystone auth on everything below it)."""
    router = APIRouter()
    collections = _collections(manager)

    @router.get("", response_model=None)
    @router.get("/", response_model=None)
    async def versions(request: Request) -> dict:
        return {"versions": [{"id": "v2.0", "status": "CURRENT",
                              "links": [{"href": _here(request) + "/v2.0/", "rel": "self"}]}]}

    @router.get("/v2.0", response_model=None)
    @router.get("/v2.0/", response_model=None)
    async def resources(request: Request, ctx: Context) -> dict:
        base = _here(request)
        return {"resources": [
            {"name": c.singular, "collection": c.plural,
             "links": [{"href": f"{base}/{c.path}", "rel": "self"}]}
            for c in collections]}

    @router.get("/v2.0/extensions", response_model=None)
    async def list_extensions(ctx: Context) -> dict:
        return {"extensions": EXTENSIONS}

    @router.get("/v2.0/extensions/{alias}", response_model=None)
    async def show_extension(alias: str, ctx: Context) -> dict:
        if alias not in BY_ALIAS:
            raise exc.ExtensionNotFound(alias=alias)
        return {"extension": BY_ALIAS[alias]}

    for collection in collections:
        _add_collection(router, collection)
        if collection.taggable:
            _add_tags(router, manager, collection)
    return router


def _add_collection(router: APIRouter, c: _Collection) -> None:
    base = f"/v2.0/{c.path}"

    async def list_(request: Request, ctx: Context) -> dict:
        query = ListQuery.from_params(request.query_params.multi_items())
        page = await c.lister(ctx, query)
        body: dict[str, Any] = {c.plural: [select(i, query.fields) for i in page.items]}
        if page.next_marker:
            url = request.url.remove_query_params("marker").include_query_params(
                marker=page.next_marker)
            body[f"{c.plural}_links"] = [{"href": str(url), "rel": "next"}]
        return body

    async def show(item_id: str, request: Request, ctx: Context) -> dict:
        fields = ListQuery.from_params(request.query_params.multi_items()).fields
        return {c.singular: select(await c.getter(ctx, item_id), fields)}

    async def create(request: Request, response: Response, ctx: Context) -> dict:
        body = await _json(request)
        if isinstance(body, dict) and c.singular in body and len(body) == 1:
            made = {c.singular: await c.creator(ctx, body[c.singular])}
        elif isinstance(body, dict) and isinstance(body.get(c.plural), list) and len(body) == 1:
            made = {c.plural: await _bulk(c, ctx, body[c.plural])}
        else:
            raise exc.HTTPBadRequest(f"Unable to find '{c.singular}' in request body")
        response.status_code = 201
        return made

    async def update(item_id: str, request: Request, ctx: Context) -> dict:
        body = await _json(request)
        if not isinstance(body, dict) or c.singular not in body or len(body) != 1:
            raise exc.HTTPBadRequest(f"Unable to find '{c.singular}' in request body")
        return {c.singular: await c.updater(ctx, item_id, body[c.singular])}

    async def delete(item_id: str, ctx: Context) -> Response:
        await c.deleter(ctx, item_id)
        return Response(status_code=204)

    router.add_api_route(base, list_, methods=["GET"], response_model=None)
    router.add_api_route(base, create, methods=["POST"], response_model=None)
    router.add_api_route(base + "/{item_id}", show, methods=["GET"], response_model=None)
    if c.updater is not None:
        router.add_api_route(base + "/{item_id}", update, methods=["PUT"], response_model=None)
    router.add_api_route(base + "/{item_id}", delete, methods=["DELETE"], response_model=None)


async def _bulk(c: _Collection, ctx: Any, items: list[Any]) -> list[dict]:
    """Create all or none: what was made before a failure is deleted again."""
    made: list[dict] = []
    try:
        for item in items:
            made.append(await c.creator(ctx, item))
    except Exception:
        for done in reversed(made):
            try:
                await c.deleter(ctx, done["id"])
            except Exception:  # noqa: BLE001 - keep the first error; the rest is cleanup
                logger.warning("bulk %s create: could not undo %s", c.singular, done["id"])
        raise
    return made


def _add_tags(router: APIRouter, mgr: NetworkManager, c: _Collection) -> None:
    base = f"/v2.0/{c.path}/{{item_id}}/tags"
    kind = c.singular

    async def get_all(item_id: str, ctx: Context) -> dict:
        return {"tags": await mgr.get_tags(ctx, kind, item_id)}

    async def replace(item_id: str, request: Request, ctx: Context) -> dict:
        body = await _json(request)
        if not isinstance(body, dict) or "tags" not in body:
            raise exc.HTTPBadRequest("Unable to find 'tags' in request body")
        return {"tags": await mgr.set_tags(ctx, kind, item_id, body["tags"])}

    async def clear(item_id: str, ctx: Context) -> Response:
        await mgr.remove_tag(ctx, kind, item_id)
        return Response(status_code=204)

    async def check(item_id: str, tag: str, ctx: Context) -> Response:
        await mgr.has_tag(ctx, kind, item_id, tag)
        return Response(status_code=204)

    async def add(item_id: str, tag: str, ctx: Context) -> Response:
        await mgr.add_tag(ctx, kind, item_id, tag)
        return Response(status_code=201)

    async def remove(item_id: str, tag: str, ctx: Context) -> Response:
        await mgr.remove_tag(ctx, kind, item_id, tag)
        return Response(status_code=204)

    router.add_api_route(base, get_all, methods=["GET"], response_model=None)
    router.add_api_route(base, replace, methods=["PUT"], response_model=None)
    router.add_api_route(base, clear, methods=["DELETE"], response_model=None)
    router.add_api_route(base + "/{tag}", check, methods=["GET"], response_model=None)
    router.add_api_route(base + "/{tag}", add, methods=["PUT"], response_model=None)
    router.add_api_route(base + "/{tag}", remove, methods=["DELETE"], response_model=None)
