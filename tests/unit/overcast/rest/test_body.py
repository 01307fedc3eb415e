"""JSON bodies decoded at the edge: invalid Unicode is refused once, for every API."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter

from overcast.rest.app import rest_app
from overcast.rest.body import JsonPayload, MalformedJSON, decode_json
from overcast.rest.routing import JSONRoute
from tests.unit.overcast.rest.rest_twins import TokenValidatorTwin

LONE_SURROGATES = [b'{"name": "\\ud800"}', b'{"name": "x\\udc00"}',
                   b'{"name": "\\ud800\\u0041"}', '{"name": "\udcff"}'.encode(
                       "utf-8", "surrogatepass")]


@pytest.mark.parametrize("raw", LONE_SURROGATES)
def test_lone_surrogate_is_refused_as_invalid_unicode(raw):
    with pytest.raises(MalformedJSON, match="not valid Unicode"):
        decode_json(raw)


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(MalformedJSON, match="not valid Unicode"):
        decode_json(b'{"name": "\xff"}')


def test_a_surrogate_pair_is_a_character():
    assert decode_json(b'{"name": "\\ud83d\\ude00"}') == {"name": "\N{GRINNING FACE}"}


def test_malformed_json_message_does_not_repeat_the_input():
    with pytest.raises(MalformedJSON) as caught:
        decode_json(b'{"name": "' + b"x" * 10_000 + b'"')
    assert len(caught.value.message) < 200


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter(route_class=JSONRoute)

    @router.post("/things")
    async def create(payload: JsonPayload) -> dict:
        return {"got": payload}

    app = rest_app(authenticator=TokenValidatorTwin())
    for prefix in ("/compute", "/identity", "/network", "/image"):
        app.include_router(router, prefix=prefix)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize(("path", "find"), [
    ("/compute/things", lambda b: b["badRequest"]),
    ("/identity/things", lambda b: b["error"]),
    ("/network/things", lambda b: b["NeutronError"]),
    ("/image/things", lambda b: b),
])
async def test_lone_surrogate_gets_400_in_the_apis_format(http, path, find):
    response = await http.post(path, content=b'{"name": "\\ud800"}',
                               headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "not valid Unicode" in find(response.json())["message"]


async def test_empty_body_is_none(http):
    response = await http.post("/compute/things")
    assert response.json() == {"got": None}
