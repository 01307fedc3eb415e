"""The identity REST API (Keystone v3 subset), mounted by the api process under /identity."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services.identity import api_auth, api_catalog, api_resources, api_roles, api_system
from services.identity.manager import IdentityManager
from services.identity.views import identity_url, json_response

V3_ID = "v3.14"
V3_UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def _v3_version(request: Request, prefix: str) -> dict[str, Any]:
    return {"id": V3_ID, "status": "stable", "updated": V3_UPDATED,
            "links": [{"rel": "self", "href": identity_url(request, prefix) + "/v3/"}],
            "media-types": [{"base": "application/json", "type": MEDIA_TYPE}]}


def build_router(manager: IdentityManager, *, prefix: str = "/identity") -> APIRouter:
    """Every identity route, with paths relative to ``prefix`` (where the app mounts it;
    used to build the absolute links in responses)."""
    router = APIRouter()

    def versions(request: Request) -> Response:
        """Version discovery: 300 Multiple Choices listing v3, as Keystone answers."""
        return json_response({"versions": {"values": [_v3_version(request, prefix)]}},
                             status=300)

    def version_v3(request: Request) -> Response:
        return json_response({"version": _v3_version(request, prefix)})

    for path in ("", "/"):
        router.add_api_route(path, versions, methods=["GET"])
    for path in ("/v3", "/v3/"):
        router.add_api_route(path, version_v3, methods=["GET"])

    router.include_router(api_auth.build_router(manager, prefix=prefix))
    router.include_router(api_resources.build_router(manager, prefix=prefix))
    router.include_router(api_roles.build_router(manager, prefix=prefix))
    router.include_router(api_system.build_router(manager, prefix=prefix))
    router.include_router(api_catalog.build_router(manager, prefix=prefix))
    return router
