"""Request and response plumbing of the proxy: a small raw-ASGI layer, Swift-style errors.

The proxy speaks ASGI directly (no framework): per-request costs matter at hundreds of
requests a second, and bodies must stream both ways without buffering.
"""
from __future__ import annotations

import email.utils
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

REASONS = {
    400: ("Bad Request", "The server could not comply with the request since it is either "
          "malformed or otherwise incorrect."),
    401: ("Unauthorized", "This server could not verify that you are authorized to access "
          "the document you requested."),
    403: ("Forbidden", "Access was denied to this resource."),
    404: ("Not Found", "The resource could not be found."),
    405: ("Method Not Allowed", "The method is not allowed for this resource."),
    409: ("Conflict", "There was a conflict when trying to complete your request."),
    411: ("Length Required", "Length Required"),
    412: ("Precondition Failed", "A precondition for this request was not met."),
    413: ("Request Entity Too Large", "The body of your request was too large for this "
          "server."),
    416: ("Requested Range Not Satisfiable", "The Range requested is not available."),
    422: ("Unprocessable Entity", "Unable to process the contained instructions"),
    499: ("Client Disconnect", "The client was disconnected during request."),
    500: ("Internal Error", "The server has either erred or is incapable of performing the "
          "requested operation."),
    503: ("Service Unavailable", "The server is currently unavailable. Please try again at "
          "a later time."),
}

HTML = "text/html; charset=UTF-8"
PLAIN = "text/plain; charset=utf-8"


class HTTPError(Exception):
    """An error response; ``body`` defaults to Swift's HTML page for the status."""

    def __init__(self, status: int, body: str | None = None, *,
                 headers: dict[str, str] | None = None, content_type: str | None = None
                 ) -> None:
        super().__init__(f"{status} {body or ''}")
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type

    def response(self) -> Response:
        if self.body is None:
            title, text = REASONS.get(self.status, ("Error", ""))
            body = f"<html><h1>{title}</h1><p>{text}</p></html>"
            content_type = self.content_type or HTML
        else:
            body, content_type = self.body, self.content_type or PLAIN
        return Response(self.status, dict(self.headers, **{"Content-Type": content_type}),
                        body.encode())


class Request:
    __slots__ = (
        "_consumed",
        "ctx",
        "headers",
        "method",
        "objects_gate",
        "owner",
        "path",
        "query",
        "receive",
        "scope",
        "trans_id",
    )

    def __init__(self, scope: dict, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        self.query: dict[str, str] = dict(parse_qsl(raw_query, keep_blank_values=True))
        self.headers: dict[str, str] = {k.decode("latin-1"): v.decode("latin-1")
                                        for k, v in scope["headers"]}
        self.trans_id = f"tx{uuid.uuid4().hex[:21]}-{int(time.time()):010x}"
        self.ctx: Any = None
        # Whether the requester owns the account (may see and change ACLs and metadata).
        self.owner = False
        # Set by access control: may the requester read or write another container's
        # objects (the segments of a large object)?
        self.objects_gate: Callable[..., Awaitable[bool]] | None = None
        self._consumed = False

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def content_length(self) -> int | None:
        raw = self.headers.get("content-length")
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise HTTPError(400, "Invalid Content-Length") from None
        if value < 0:
            raise HTTPError(400, "Invalid Content-Length")
        return value

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The request body as it arrives."""
        if self._consumed:
            return
        self._consumed = True
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise HTTPError(499)
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return

    async def read(self, limit: int) -> bytes:
        """The whole body; 413 past ``limit`` bytes."""
        parts, size = [], 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, "Your request is too large.")
            parts.append(chunk)
        return b"".join(parts)


class Response:
    __slots__ = ("body", "content_length", "headers", "status", "stream")

    def __init__(self, status: int, headers: dict[str, str] | None = None,
                 body: bytes = b"", *, stream: AsyncIterator[bytes] | None = None,
                 content_length: int | None = None) -> None:
        self.status = status
        self.headers = headers if headers is not None else {}
        self.body = body
        self.stream = stream
        self.content_length = content_length


async def send_response(send: Send, response: Response, *, head: bool = False) -> None:
    headers = response.headers
    if response.stream is None:
        length = response.content_length if response.content_length is not None \
            else len(response.body)
    else:
        length = response.content_length
    raw = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
    if length is not None and "Content-Length" not in headers:
        raw.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": raw})
    if head or response.status in (204, 304):
        if response.stream is not None:
            await response.stream.aclose()  # type: ignore[attr-defined]
        await send({"type": "http.response.body", "body": b""})
        return
    if response.stream is None:
        await send({"type": "http.response.body", "body": response.body})
        return
    try:
        async for chunk in response.stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        await response.stream.aclose()  # type: ignore[attr-defined]
    await send({"type": "http.response.body", "body": b""})


def title_case(header: str) -> str:
    """``x-object-meta-color`` as Swift stores and returns it: ``X-Object-Meta-Color``."""
    return "-".join(p.capitalize() for p in header.split("-"))


def http_date(timestamp: float | str) -> str:
    """An HTTP date, rounded up to the second as Swift's Last-Modified is."""
    return email.utils.formatdate(math.ceil(float(timestamp)), usegmt=True)


def parse_http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed is not None else None
