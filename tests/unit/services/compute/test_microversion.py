"""Microversion negotiation: headers read, ranges enforced, headers answered."""
from __future__ import annotations

import pytest
from starlette.requests import Request

from overcast import errors
from services.compute.microversion import (
    MAX_VERSION,
    MIN_VERSION,
    VersionNotAcceptable,
    negotiate,
    text,
)
from tests.unit.services.compute.compute_twins import auth


def _request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, MIN_VERSION),
    ({"OpenStack-API-Version": "compute 2.47"}, (2, 47)),
    ({"OpenStack-API-Version": "volume 3.10, compute 2.60"}, (2, 60)),
    ({"OpenStack-API-Version": "COMPUTE latest"}, MAX_VERSION),
    ({"X-OpenStack-Nova-API-Version": "2.19"}, (2, 19)),
    # The new header wins over the legacy one.
    ({"OpenStack-API-Version": "compute 2.3", "X-OpenStack-Nova-API-Version": "2.9"}, (2, 3)),
    # A header for another service only: the legacy header (or the minimum) applies.
    ({"OpenStack-API-Version": "volume 3.10"}, MIN_VERSION),
])
def test_the_requested_version_is_read_from_either_header(headers, expected):
    request = _request(headers)
    assert negotiate(request) == expected
    assert request.state.microversion == expected
    assert request.state.response_headers == {
        "OpenStack-API-Version": f"compute {text(expected)}",
        "X-OpenStack-Nova-API-Version": text(expected),
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version"}


@pytest.mark.parametrize("value", ["2", "2.x", "v2.1", "2.01", "02.1", "2.1.1", ""])
def test_a_malformed_version_is_400(value):
    with pytest.raises(errors.BadRequest, match="invalid format"):
        negotiate(_request({"OpenStack-API-Version": f"compute {value}"}))


@pytest.mark.parametrize("value", ["2.0", "1.1", "2.80", "3.0"])
def test_a_version_outside_the_range_is_406(value):
    with pytest.raises(VersionNotAcceptable) as raised:
        negotiate(_request({"OpenStack-API-Version": f"compute {value}"}))
    assert raised.value.code == 406
    assert "Minimum is 2.1 and maximum is 2.79" in raised.value.message


async def test_the_version_headers_reach_the_response(http):
    response = await http.get("/compute/v2.1/flavors", headers=auth(version="2.55"))
    assert response.status_code == 200
    assert response.headers["openstack-api-version"] == "compute 2.55"
    assert response.headers["x-openstack-nova-api-version"] == "2.55"
    refused = await http.get("/compute/v2.1/flavors", headers=auth(version="2.99"))
    assert refused.status_code == 406
    assert refused.json()["notAcceptable"]["code"] == 406
