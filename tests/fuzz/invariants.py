"""What must hold after every fuzzed request: no 5xx, no traceback, an error body in the
API's own format, and the service still answers a plain authenticated GET."""
from __future__ import annotations

import json

import httpx

from tests.fuzz.target import Cloud

# A cheap authenticated read per API: answered 200 while the service is healthy.
HEALTH = {
    "identity": "/identity/v3/projects",
    "compute": "/compute/v2.1/flavors",
    "image": "/image/v2/images?limit=1",
    "network": "/network/v2.0/networks?limit=1",
    "volume": "/volume/v3/volumes?limit=1",
}


def api_of(path: str) -> str:
    for api in HEALTH:
        if path.startswith(f"/{api}"):
            return api
    return "swift"


def _describe(response: httpx.Response) -> str:
    request = response.request
    body = request.content[:300] if request.content else b""
    headers = {k: v for k, v in request.headers.items()
               if k not in ("x-auth-token", "host", "accept", "accept-encoding", "connection",
                            "user-agent", "content-length")}
    token = request.headers.get("x-auth-token")
    return (f"{request.method} {request.url} token={token[:8] + '…' if token else None} "
            f"headers={headers!r} "
            f"body={body!r} -> {response.status_code} {response.text[:500]!r}")


def _error_format_holds(api: str, code: int, document: object) -> bool:
    if not isinstance(document, dict):
        return False
    if api == "identity":
        error = document.get("error")
        return isinstance(error, dict) and error.get("code") == code and "message" in error
    if api == "network":
        error = document.get("NeutronError")
        return isinstance(error, dict) and {"type", "message", "detail"} <= error.keys()
    if api == "image":
        return document.get("code") == code and "message" in document
    # compute and volume (Cinder's faults): {"badRequest": {"code": 400, "message": ...}},
    # one key
    if len(document) != 1:
        return False
    (error,) = document.values()
    return isinstance(error, dict) and error.get("code") == code and "message" in error


def assert_answer_sane(response: httpx.Response) -> None:
    """The status is below 500, the body holds no traceback, and an error is in the format
    of the API that owns the path (Swift's errors are plain text)."""
    assert response.status_code < 500, _describe(response)
    assert "Traceback (most recent call last)" not in response.text, _describe(response)
    if response.status_code < 400 or response.request.method == "HEAD":
        return
    api = api_of(response.request.url.path)
    if api == "swift":
        return
    try:
        document = json.loads(response.content)
    except ValueError:
        raise AssertionError("error body is not JSON: " + _describe(response)) from None
    assert _error_format_holds(api, response.status_code, document), (
        f"error not in the {api} format: " + _describe(response))


def assert_still_answers(cloud: Cloud, api: str) -> None:
    """A plain authenticated GET on ``api`` (or the admin's Swift account) is answered."""
    path = HEALTH.get(api) or f"/v1/AUTH_{cloud.projects['admin']}"
    response = cloud.request("GET", path)
    assert response.status_code in (200, 204), (
        f"{api} stopped answering after the request: " + _describe(response))


def check(cloud: Cloud, response: httpx.Response) -> None:
    """Every invariant, for the API of ``response``'s path."""
    assert_answer_sane(response)
    assert_still_answers(cloud, api_of(response.request.url.path))


def listed_ids(cloud: Cloud, path: str, key: str, *, token: str = "admin",
               field: str = "id") -> set[str]:
    """The ids a listing shows now (to tell whether a refused create left something)."""
    response = cloud.request("GET", path, token=token)
    assert response.status_code == 200, _describe(response)
    return {item[field] for item in response.json()[key]}
