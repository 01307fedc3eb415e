"""The request-body size limit: 413 in each API's format, without reading an oversized body."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, Request

from overcast.rest.app import rest_app
from overcast.rest.body import JsonPayload
from overcast.rest.limits import MAX_REQUEST_BODY_BYTES, streaming_body
from overcast.rest.routing import JSONRoute
from tests.unit.overcast.rest.rest_twins import TokenValidatorTwin

LIMIT = 1024
TOO_LARGE = f"Request is too large. Larger than max_request_body_size ({LIMIT})."


def _router() -> APIRouter:
    router = APIRouter(route_class=JSONRoute)

    @router.post("/echo-size")
    async def echo_size(payload: JsonPayload) -> dict:
        return {"keys": len(payload or {})}

    @router.put("/data")
    @streaming_body
    async def data(request: Request) -> dict:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    return router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = rest_app(authenticator=TokenValidatorTwin(), max_request_body_bytes=LIMIT)
    for prefix in ("/compute", "/identity", "/network", "/image"):
        app.include_router(_router(), prefix=prefix)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _chunks(total: int, size: int = 256):
    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        while sent < total:
            yield b" " * min(size, total - sent)
            sent += size
    return chunks()


def test_default_limit_is_novas_112_kib():
    assert MAX_REQUEST_BODY_BYTES == 112 * 1024


async def test_a_body_at_the_limit_is_served(http):
    body = b"{}" + b" " * (LIMIT - 2)
    response = await http.post("/compute/echo-size", content=body)
    assert response.status_code == 200


@pytest.mark.parametrize(("path", "find"), [
    ("/compute/echo-size", lambda b: b["overLimit"]),
    ("/identity/echo-size", lambda b: b["error"]),
    ("/network/echo-size", lambda b: b["NeutronError"]),
    ("/image/echo-size", lambda b: b),
])
async def test_oversized_body_with_content_length_gets_413_in_the_apis_format(http, path,
                                                                              find):
    response = await http.post(path, content=b"[" + b"1," * LIMIT + b"1]")
    assert response.status_code == 413
    assert find(response.json())["message"] == TOO_LARGE
    assert response.headers["x-openstack-request-id"].startswith("req-")
    assert len(response.content) < 300


async def test_oversized_chunked_body_is_refused_while_counting(http):
    response = await http.post("/compute/echo-size", content=_chunks(LIMIT * 50))
    assert response.status_code == 413
    assert response.json()["overLimit"]["message"] == TOO_LARGE


async def test_small_chunked_body_is_served(http):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": '
        yield b'1}'
    response = await http.post("/network/echo-size", content=chunks())
    assert response.status_code == 200
    assert response.json() == {"keys": 1}


async def test_streaming_route_takes_a_body_over_the_limit(http):
    response = await http.put("/image/data", content=_chunks(LIMIT * 20))
    assert response.status_code == 200
    assert response.json() == {"size": LIMIT * 20}


async def test_streaming_mark_is_per_route_not_per_path_prefix(http):
    response = await http.post("/image/echo-size", content=_chunks(LIMIT * 20))
    assert response.status_code == 413
