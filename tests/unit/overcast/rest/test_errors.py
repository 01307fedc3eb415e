"""Errors rendered in the flavour of the OpenStack service that owns the path."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from overcast import errors
from overcast.bus import CallTimeout, ConnectionLost
from overcast.rest.app import rest_app
from overcast.rest.errors import error_body
from tests.unit.overcast.rest.rest_twins import TokenValidatorTwin


class Named(BaseModel):
    name: str


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/missing")
    async def missing() -> dict:
        raise errors.NotFound("Thing x could not be found.")

    @router.get("/conflict")
    async def conflict() -> dict:
        raise errors.Conflict("Busy.")

    @router.get("/timeout")
    async def timeout() -> dict:
        raise CallTimeout("conductor did not answer")

    @router.get("/lost")
    async def lost() -> dict:
        raise ConnectionLost("broker gone")

    @router.get("/crash")
    async def crash() -> dict:
        raise RuntimeError("secret internals")

    @router.post("/named")
    async def named(body: Named) -> dict:
        return {"name": body.name}

    return router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = rest_app(authenticator=TokenValidatorTwin())
    for prefix in ("/compute", "/identity", "/network", "/image"):
        app.include_router(_router(), prefix=prefix)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize(("path", "body"), [
    ("/compute/missing", {"itemNotFound": {"code": 404,
                                           "message": "Thing x could not be found."}}),
    ("/identity/missing", {"error": {"code": 404, "title": "Not Found",
                                     "message": "Thing x could not be found."}}),
    ("/network/missing", {"NeutronError": {"type": "NotFound", "detail": "",
                                           "message": "Thing x could not be found."}}),
    ("/image/missing", {"code": 404, "title": "Not Found",
                        "message": "Thing x could not be found."}),
])
async def test_domain_errors_in_each_flavour(http, path, body):
    response = await http.get(path)
    assert response.status_code == 404
    assert response.json() == body


async def test_nova_titles_follow_the_code(http):
    response = await http.get("/compute/conflict")
    assert response.status_code == 409
    assert response.json() == {"conflictingRequest": {"code": 409, "message": "Busy."}}


@pytest.mark.parametrize("path", ["/compute/timeout", "/compute/lost"])
async def test_a_peer_that_does_not_answer_is_503(http, path):
    response = await http.get(path)
    assert response.status_code == 503
    assert response.json()["serviceUnavailable"]["message"].startswith(
        "A service this request needs is not answering")


async def test_an_unexpected_error_is_500_and_leaks_nothing(http):
    response = await http.get("/network/crash")
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.json()["NeutronError"]["message"] == (
        "An unexpected error occurred; see the api log.")


async def test_bad_input_is_400_naming_the_field(http):
    response = await http.post("/identity/named", json={"name": 3})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("Invalid input: name:")
    neutron = await http.post("/network/named", json={})
    assert neutron.json()["NeutronError"]["type"] == "HTTPBadRequest"


async def test_unknown_routes_and_methods_use_the_flavour_too(http):
    unknown = await http.get("/compute/nope")
    assert unknown.status_code == 404 and unknown.json() == {
        "itemNotFound": {"code": 404, "message": "Not Found"}}
    wrong_method = await http.delete("/identity/missing")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["title"] == "Method Not Allowed"


def test_error_body_falls_back_to_compute_fault_for_unknown_codes():
    assert error_body("/compute/x", 418, "teapot") == {
        "computeFault": {"code": 418, "message": "teapot"}}
    assert error_body("/identity/x", 799, "odd")["error"]["title"] == "Error"
