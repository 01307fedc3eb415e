"""The FastAPI application that mounts every service's router under its DevStack prefix."""
from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI, Request
from overcast.http import FastJSONResponse

from overcast import context
from overcast.context import new_request_id
from services.api import errors
from services.api.auth import Authenticator


def create_app(*, authenticator: Authenticator,
               routers: Iterable[tuple[str, APIRouter]]) -> FastAPI:
    """An app whose routes are ``routers`` (prefix, router); tokens checked by ``authenticator``."""
    app = FastAPI(title="Overcast", default_response_class=FastJSONResponse,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.authenticator = authenticator
    errors.install(app)

    @app.middleware("http")
    async def request_id(request: Request, call_next):  # noqa: ANN001, ANN202
        rid = new_request_id()
        request.state.request_id = rid
        token = context.bind(None)
        try:
            response = await call_next(request)
        finally:
            context.reset(token)
        for name, value in getattr(request.state, "response_headers", {}).items():
            response.headers[name] = value
        response.headers["x-openstack-request-id"] = rid
        response.headers["x-compute-request-id"] = rid
        return response

    for prefix, router in routers:
        app.include_router(router, prefix=prefix)
    return app
