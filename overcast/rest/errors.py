"""Errors at the edge, each in the format of the OpenStack service that owns the path."""
from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from overcast import errors
from overcast.bus import CallTimeout, ConnectionLost
from overcast.rest.responses import FastJSONResponse

logger = logging.getLogger(__name__)

_NOVA_TITLES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
                405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest",
                413: "overLimit", 415: "unsupportedMediaType", 500: "computeFault",
                501: "notImplemented", 503: "serviceUnavailable"}


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def error_body(path: str, code: int, message: str, *, kind: str = "") -> dict:
    """The error document a stock client expects for ``path``."""
    if path.startswith("/identity"):
        return {"error": {"code": code, "title": _phrase(code), "message": message}}
    if path.startswith("/network"):
        return {"NeutronError": {"type": kind or _phrase(code).replace(" ", ""),
                                 "message": message, "detail": ""}}
    if path.startswith("/image"):
        return {"code": code, "title": _phrase(code), "message": message}
    return {_NOVA_TITLES.get(code, "computeFault"): {"code": code, "message": message}}


def error_response(request: Request, code: int, message: str, *, kind: str = "",
                   headers: dict | None = None) -> FastJSONResponse:
    """``error_body`` for the request's path, as a response with status ``code``."""
    return FastJSONResponse(error_body(request.url.path, code, message, kind=kind),
                          status_code=code, headers=headers)


async def on_domain_error(request: Request, exc: errors.OvercastError) -> FastJSONResponse:
    if exc.code >= 500:
        logger.warning("%s %s failed: %s", request.method, request.url.path, exc.message)
    headers = {"WWW-Authenticate": 'Keystone uri="/identity"'} if exc.code == 401 else None
    return error_response(request, exc.code, exc.message, kind=type(exc).__name__,
                          headers=headers)


async def on_validation_error(request: Request, exc: RequestValidationError) -> FastJSONResponse:
    problems = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        problems.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return error_response(request, 400, "Invalid input: " + "; ".join(problems),
                          kind="HTTPBadRequest")


async def on_http_error(request: Request, exc: StarletteHTTPException) -> FastJSONResponse:
    return error_response(request, exc.status_code, str(exc.detail or _phrase(exc.status_code)))


async def on_unexpected_error(request: Request, exc: Exception) -> FastJSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "An unexpected error occurred; see the api log.")


async def on_peer_unavailable(request: Request, exc: Exception) -> FastJSONResponse:
    logger.warning("%s %s: a service did not answer: %s", request.method, request.url.path,
                   exc)
    return error_response(request, 503, "A service this request needs is not answering; "
                          "try again later.", kind="ServiceUnavailable")


def install(app: FastAPI) -> None:
    """Render every error ``app`` raises as the owning service's error document."""
    app.add_exception_handler(errors.OvercastError, on_domain_error)
    app.add_exception_handler(CallTimeout, on_peer_unavailable)
    app.add_exception_handler(ConnectionLost, on_peer_unavailable)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
