"""Remote consoles (Nova's ``os-remote-consoles``): a serial console's websocket URL.

- ``POST /servers/{id}/remote-consoles`` (microversion 2.6 and later), body
  ``{"remote_console": {"protocol": "serial", "type": "serial"}}``, answers 200 with
  ``{"remote_console": {"protocol", "type", "url"}}``;
- the ``os-getSerialConsole`` server action (up to 2.5, as in Nova), body
  ``{"os-getSerialConsole": {"type": "serial"}}``, answers ``{"console": {"type", "url"}}``.

Only serial consoles exist here: a protocol or type Nova knows but this cloud does not serve
is a 400 "Unavailable console type ..."; one Nova does not know fails validation (400). The
conductor issues the token only for a server the caller may see (404 otherwise) that is
active (409 otherwise). The URL is the api's own websocket (``console_proxy.py``) with the
token in its query.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from overcast.rest.auth import Context
from overcast.rest.body import JsonPayload
from overcast.rest.responses import FastJSONResponse
from overcast.rest.routing import JSONRoute
from services.compute import validation as check
from services.compute.microversion import Version

SERIAL = "serial"
ACTION = "os-getSerialConsole"
# What Nova's schemas accept (remote_consoles.py); mks from 2.8.
PROTOCOLS = ("vnc", "spice", "rdp", "serial")
TYPES = ("novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial")
MKS = (2, 8)
PROXY_PATH = "/compute/serial"


def _one_of(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. Value: "
                                f"{excerpt(value)}. '{excerpt(value)}' is not one of "
                                f"{list(allowed)}")
    return value


def _only(body: dict, allowed: set[str], key: str) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise errors.BadRequest(f"Invalid input for field/attribute {key}. Additional "
                                f"properties are not allowed ({excerpt(sorted(unknown))})")


def console_url(base: str, token: str) -> str:
    """The proxy's websocket URL for ``token`` on the api at ``base`` (http -> ws)."""
    scheme, _, rest = base.rstrip("/").partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{PROXY_PATH}?" + urlencode(
        {"token": token})


class Consoles:
    """Issues console URLs through the conductor; ``public_url`` is the api's public URL
    (None: the URL the request came in on)."""

    def __init__(self, *, conductor: Any, public_url: str | None = None) -> None:
        self.conductor = conductor
        self.public_url = public_url

    async def url(self, request: Request, ctx: RequestContext, server_id: str,
                  console_type: str) -> str:
        if not check.is_uuid(server_id):
            raise errors.NotFound(f"Instance {excerpt(server_id)} could not be found.")
        token = await self.conductor.create_console_token(ctx, instance_id=server_id,
                                                          console_type=console_type)
        return console_url(self.public_url or str(request.base_url), token.token)

    async def serial_console_action(self, request: Request, ctx: RequestContext,
                                    server_id: str, args: Any, mv: tuple[int, int]
                                    ) -> FastJSONResponse:
        """The legacy ``os-getSerialConsole`` action (2.1-2.5)."""
        if mv >= (2, 6):
            raise errors.NotFound("The resource could not be found.")
        if not isinstance(args, dict):
            raise errors.BadRequest(f"Invalid input for field/attribute {ACTION}. Value: "
                                    f"{excerpt(args)}. {excerpt(args)} is not of type "
                                    "'object'")
        _only(args, {"type"}, ACTION)
        if "type" not in args:
            raise errors.BadRequest(f"Invalid input for field/attribute {ACTION}. Value: "
                                    f"{excerpt(args)}. 'type' is a required property")
        console_type = _one_of(args["type"], (SERIAL,), "type")
        url = await self.url(request, ctx, server_id, console_type)
        return FastJSONResponse({"console": {"type": console_type, "url": url}})


def build_router(consoles: Consoles) -> APIRouter:
    """``/servers/{id}/remote-consoles`` under ``/compute/v2.1``."""
    router = APIRouter(route_class=JSONRoute)

    @router.post("/servers/{server_id}/remote-consoles")
    async def create_remote_console(request: Request, server_id: str, ctx: Context,
                                    mv: Version, payload: JsonPayload) -> dict:
        if mv < (2, 6):
            raise errors.NotFound("The resource could not be found.")
        body = check.body_of(payload, "remote_console")
        _only(body, {"protocol", "type"}, "remote_console")
        for field in ("protocol", "type"):
            if field not in body:
                raise errors.BadRequest(f"Invalid input for field/attribute remote_console. "
                                        f"Value: {excerpt(body)}. '{field}' is a required "
                                        "property")
        mks = mv >= MKS
        protocol = _one_of(body["protocol"], (*PROTOCOLS, "mks") if mks else PROTOCOLS,
                           "protocol")
        console_type = _one_of(body["type"], (*TYPES, "webmks") if mks else TYPES, "type")
        if protocol != SERIAL or console_type != SERIAL:
            raise errors.BadRequest(f"Unavailable console type {console_type}.")
        url = await consoles.url(request, ctx, server_id, console_type)
        return {"remote_console": {"protocol": protocol, "type": console_type, "url": url}}

    return router
