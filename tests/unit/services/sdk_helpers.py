"""What the openstacksdk tests of the REST routers share: a fake Keystone (only what
keystoneauth needs), the app served by uvicorn from a thread (the SDK is synchronous), and an
SDK connection to it."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from overcast.context import RequestContext


def fake_keystone(base: str, *, service_type: str, service_name: str, path: str,
                  users: Mapping[str, tuple[RequestContext, str]]) -> APIRouter:
    """Version discovery and password auth; ``users`` maps a user name to its context and the
    token it gets. The catalog has one endpoint, ``base + path``."""
    router = APIRouter()

    @router.get("/v3")
    async def version() -> dict:
        return {"version": {"id": "v3.14", "status": "stable", "updated": "2020-01-01T00:00:00Z",
                            "links": [{"rel": "self", "href": f"{base}/identity/v3/"}]}}

    @router.post("/v3/auth/tokens")
    async def issue(request: Request) -> JSONResponse:
        name = (await request.json())["auth"]["identity"]["password"]["user"]["name"]
        ctx, token = users[name]
        domain = {"id": "default", "name": "Default"}
        endpoint = {"id": "e1", "interface": "public", "region": "RegionOne",
                    "region_id": "RegionOne", "url": f"{base}{path}"}
        body = {"methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": "2020-01-01T00:00:00.000000Z",
                "user": {"id": ctx.user_id, "name": name, "domain": domain},
                "project": {"id": ctx.project_id, "name": name, "domain": domain},
                "roles": [{"id": r, "name": r} for r in ctx.roles],
                "catalog": [{"type": service_type, "name": service_name, "id": "s1",
                             "endpoints": [endpoint]}]}
        return JSONResponse({"token": body}, status_code=201, headers={"X-Subject-Token": token})

    return router


@contextlib.contextmanager
def serving(make_app: Callable[[str], FastAPI]) -> Iterator[str]:
    """Serve ``make_app(base)`` on a free loopback port until the block ends; yields ``base``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(make_app(base), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


def connect(base: str, user: str):
    import openstack
    return openstack.connect(
        auth_url=f"{base}/identity/v3", username=user, password="secret", project_name=user,
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
        identity_api_version="3", load_yaml_config=False, load_envvars=False)
