"""The FastAPI application that mounts every service's router under its DevStack prefix."""
from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from overcast.rest.app import rest_app
from overcast.rest.auth import TokenValidator


def create_app(*, authenticator: TokenValidator,
               routers: Iterable[tuple[str, APIRouter]]) -> FastAPI:
    """An app whose routes are ``routers`` (prefix, router); tokens checked by ``authenticator``."""
    app = rest_app(authenticator=authenticator)
    for prefix, router in routers:
        app.include_router(router, prefix=prefix)
    return app
