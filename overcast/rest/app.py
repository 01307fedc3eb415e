"""The FastAPI application every REST edge starts from: JSON by default, OpenStack-shaped
errors, a request id on every response, a size limit on request bodies and the token validator
the routes check against."""
from __future__ import annotations

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from overcast import context
from overcast.context import new_request_id
from overcast.rest import errors
from overcast.rest.auth import TokenValidator
from overcast.rest.limits import MAX_REQUEST_BODY_BYTES, RequestBodyLimit
from overcast.rest.responses import FastJSONResponse


def rest_app(*, authenticator: TokenValidator, title: str = "Overcast",
             max_request_body_bytes: int = MAX_REQUEST_BODY_BYTES) -> FastAPI:
    """An app with no routes yet whose ``Context`` dependencies ask ``authenticator``.

    A request body over ``max_request_body_bytes`` gets 413, without being buffered, except
    on routes marked ``overcast.rest.limits.streaming_body`` (``RequestBodyLimit``)."""
    app = FastAPI(title=title, default_response_class=FastJSONResponse,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.authenticator = authenticator
    errors.install(app)
    app.add_middleware(RequestBodyLimit, max_bytes=max_request_body_bytes)

    @app.middleware("http")
    async def request_id(request: Request, call_next: RequestResponseEndpoint) -> Response:
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

    return app
