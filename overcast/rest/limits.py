"""A size limit on request bodies, for every REST API the app serves.

Nova (through oslo.middleware's ``sizelimit``) refuses a body larger than
``max_request_body_size``, 112 KiB by default, with 413. Here the limit is enforced without
buffering: when a route first reads its body, a declared ``Content-Length`` over the limit is
refused before a byte is read, and a chunked body is counted as it is read, failing as soon as
it passes the limit. The refusal is an ``OvercastError``, so it is rendered in the error format
of the API that owns the path (Starlette's own limiter answers in plain text).

A route whose body is data rather than an API document (an image upload) is marked with
``@streaming_body`` and left unbounded. The check waits for the first read because only then
is the route known (``scope["endpoint"]``); a body no route reads is never buffered anyway.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast import errors

MAX_REQUEST_BODY_BYTES = 114688  # oslo.middleware's default max_request_body_size (112 KiB)

_STREAMING = "_overcast_streaming_body"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def streaming_body(endpoint: Endpoint) -> Endpoint:
    """Mark a route whose request body is streamed data, exempt from the size limit.

    Put it below the router's decorator, so the route is built from the marked function."""
    setattr(endpoint, _STREAMING, True)
    return endpoint


class RequestTooLarge(errors.PayloadTooLarge):
    """The request body is larger than the API takes."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"Request is too large. Larger than max_request_body_size "
                         f"({max_bytes}).")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class RequestBodyLimit:
    """ASGI middleware: ``RequestTooLarge`` (413) for a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_REQUEST_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._bounded(scope, receive), send)

    def _bounded(self, scope: Scope, receive: Receive) -> Receive:
        received = 0
        unbounded: bool | None = None  # decided at the first read, once the route is known

        async def bounded_receive() -> Message:
            nonlocal received, unbounded
            if unbounded is None:
                unbounded = getattr(scope.get("endpoint"), _STREAMING, False)
                declared = _declared_length(scope)
                if not unbounded and declared is not None and declared > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            message = await receive()
            if not unbounded and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            return message

        return bounded_receive
