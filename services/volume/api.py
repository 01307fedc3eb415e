"""The Block Storage API v3 as the volume process serves it on its own port: version
documents at ``/volume/`` and ``/volume/v3/`` (public), and every resource under both
``/volume/v3/{project_id}/...`` and ``/volume/v3/...`` (3.67), tokens checked by the
validator handed in. Errors are Cinder's fault documents."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from overcast.rest.app import rest_app
from overcast.rest.auth import TokenValidator
from overcast.rest.errors import error_body
from overcast.rest.responses import FastJSONResponse
from overcast.rest.routing import JSONRoute
from services.volume import (
    api_admin,
    api_attachments,
    api_backups,
    api_common,
    api_snapshots,
    api_volumes,
)
from services.volume import microversion as mv
from services.volume.faults import QuotaError
from services.volume.manager import VolumeManager

PREFIX = "/volume"
_UPDATED = "2023-08-31T00:00:00Z"


def version_document(root: str) -> dict[str, Any]:
    """Cinder's v3 version entry; ``root`` is ``http://host:8776/volume``."""
    return {"id": "v3.0", "status": "CURRENT", "version": mv.text(mv.MAX_VERSION),
            "min_version": mv.text(mv.MIN_VERSION), "updated": _UPDATED,
            "links": [{"rel": "describedby", "type": "text/html",
                       "href": "https://docs.openstack.org/"},
                      {"rel": "self", "href": f"{root}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}


async def on_quota_error(request: Request, exc: QuotaError) -> FastJSONResponse:
    """Cinder's over-quota fault: 413 with ``retryAfter`` and a ``Retry-After`` header."""
    body = error_body(request.url.path, exc.code, exc.message)
    next(iter(body.values()))["retryAfter"] = "0"
    return FastJSONResponse(body, status_code=exc.code, headers={"Retry-After": "0"})


async def on_version_not_acceptable(request: Request, exc: mv.VersionNotAcceptable
                                   ) -> FastJSONResponse:
    """406 as Cinder's fault wrapper names it (it has no title of its own for 406)."""
    return FastJSONResponse({"computeFault": {"code": 406, "message": exc.message}},
                            status_code=406)


def build_app(manager: VolumeManager, *, authenticator: TokenValidator,
              public_url: str = "") -> FastAPI:
    """The app; links and version documents point at ``public_url`` (empty: the URL each
    request came in on)."""
    app = rest_app(authenticator=authenticator, title="Overcast Block Storage")
    app.state.public_url = public_url
    app.add_exception_handler(QuotaError, on_quota_error)  # type: ignore[arg-type]
    app.add_exception_handler(mv.VersionNotAcceptable,
                              on_version_not_acceptable)  # type: ignore[arg-type]

    versions = APIRouter(route_class=JSONRoute)

    def _root(request: Request) -> str:
        return api_common.base_url(request) + PREFIX

    @versions.get(PREFIX, status_code=300)
    @versions.get(f"{PREFIX}/", status_code=300)
    async def all_versions(request: Request) -> dict:
        return {"versions": [version_document(_root(request))]}

    @versions.get(f"{PREFIX}/v3")
    @versions.get(f"{PREFIX}/v3/")
    async def v3_versions(request: Request) -> dict:
        return {"versions": [version_document(_root(request))]}

    app.include_router(versions)
    v3 = APIRouter(route_class=JSONRoute)
    for module in (api_volumes, api_snapshots, api_backups, api_attachments, api_admin):
        v3.include_router(module.build_router(manager))
    # Without a project first (3.67): a path such as /v3/volumes/detail must never be read
    # as project "volumes".
    app.include_router(v3, prefix=f"{PREFIX}/v3")
    app.include_router(v3, prefix=f"{PREFIX}/v3/{{project_id}}")
    # A path Cinder does not route is 404, also with a trailing slash: ``/volumes/`` names
    # no volume (and must not be redirected to the list, or to a DELETE of the list).
    app.router.redirect_slashes = False
    return app
