"""JSON routes: dicts rendered straight to JSON with the route's status; headers that
dependencies ask for land on the response; request ids on every response."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, Request, Response

from overcast.rest.app import rest_app
from overcast.rest.routing import JSONRoute, add_response_header
from tests.unit.overcast.rest.rest_twins import TokenValidatorTwin


def stamp(request: Request) -> None:
    add_response_header(request, "X-Stamp", "one")
    add_response_header(request, "X-Stamp", "two")  # the last word wins
    add_response_header(request, "Vary", "X-Stamp")


Stamped = Annotated[None, Depends(stamp)]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter(route_class=JSONRoute)

    @router.post("/things", status_code=202)
    async def create(stamped: Stamped) -> dict:
        return {"thing": {"id": "t-1", "tags": ["a"], "size": None}}

    @router.get("/things")
    async def listing() -> list:
        return [{"id": "t-1"}, {"id": "t-2"}]

    @router.delete("/things/{thing_id}", status_code=204)
    async def delete(thing_id: str) -> Response:
        return Response(status_code=204)

    app = rest_app(authenticator=TokenValidatorTwin())
    app.include_router(router, prefix="/compute")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_dict_result_is_json_with_the_routes_status(http):
    response = await http.post("/compute/things")
    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"thing": {"id": "t-1", "tags": ["a"], "size": None}}


async def test_a_list_result_is_json_with_200(http):
    response = await http.get("/compute/things")
    assert response.status_code == 200 and response.json() == [{"id": "t-1"}, {"id": "t-2"}]


async def test_a_response_result_is_passed_through(http):
    response = await http.delete("/compute/things/t-1")
    assert response.status_code == 204 and response.content == b""


async def test_headers_from_dependencies_reach_the_response(http):
    response = await http.post("/compute/things")
    assert response.headers["x-stamp"] == "two"
    assert response.headers["vary"] == "X-Stamp"


async def test_every_response_carries_a_fresh_request_id(http):
    first, second = await http.get("/compute/things"), await http.get("/compute/nope")
    ids = [r.headers["x-openstack-request-id"] for r in (first, second)]
    assert all(i.startswith("req-") for i in ids) and ids[0] != ids[1]
    assert first.headers["x-compute-request-id"] == ids[0]
