"""The Compute API router, mounted by the api process at ``/compute``."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from overcast.bus.signing import Signer
from overcast.rest.routing import JSONRoute
from services.compute import (
    admin_api,
    console_proxy,
    consoles_api,
    diagnostics_api,
    resources_api,
    servers,
    volumes_api,
)
from services.compute.microversion import MAX_VERSION, MIN_VERSION, text

_UPDATED = "2013-07-23T11:33:21Z"


def _version(base: str) -> dict:
    return {"id": "v2.1", "status": "CURRENT", "version": text(MAX_VERSION),
            "min_version": text(MIN_VERSION), "updated": _UPDATED,
            "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"},
                      {"rel": "describedby", "type": "text/html",
                       "href": "https://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def build_router(*, conductor: Any, images: Any, network: Any,
                 console_signer: Signer | None = None, public_url: str | None = None
                 ) -> APIRouter:
    """Version documents (public), the v2.1 API (token required) and, given the cloud's
    ``console_signer``, the serial console websocket (``/serial``, a console token
    required); console URLs point at ``public_url`` (None: the URL a request came in on)."""
    router = APIRouter(route_class=JSONRoute)
    consoles = consoles_api.Consoles(conductor=conductor, public_url=public_url)

    @router.get("")
    @router.get("/")
    async def versions(request: Request) -> dict:
        return {"versions": [_version(str(request.base_url).rstrip("/"))]}

    @router.get("/v2.1")
    @router.get("/v2.1/")
    async def version(request: Request) -> dict:
        return {"version": _version(str(request.base_url).rstrip("/"))}

    v21 = APIRouter(route_class=JSONRoute)
    v21.include_router(servers.build_router(
        conductor=conductor, images=images, network=network,
        extra_actions={consoles_api.ACTION: consoles.serial_console_action}))
    v21.include_router(consoles_api.build_router(consoles))
    v21.include_router(diagnostics_api.build_router(conductor=conductor))
    v21.include_router(volumes_api.build_router(conductor=conductor))
    v21.include_router(resources_api.build_router(conductor=conductor))
    v21.include_router(admin_api.build_router(conductor=conductor))
    router.include_router(v21, prefix="/v2.1")
    if console_signer is not None:
        router.include_router(console_proxy.build_router(console_proxy.SerialProxy(
            conductor=conductor, signer=console_signer)))
    return router
