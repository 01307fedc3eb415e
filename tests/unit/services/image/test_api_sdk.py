"""openstacksdk's image proxy against the router: version discovery, create+upload, find by
name, JSON-patch updates, download with checksum, members, paging and delete.

The SDK is synchronous, so the image service and the HTTP server each run their own event
loop in a thread; a fake Keystone (only what keystoneauth needs) hands out the catalog.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from overcast import errors
from overcast.context import RequestContext
from services.api.app import create_app
from services.image.api import build_router
from services.image.client import ImageClient
from services.image.service import ImageConfig, ImageService

openstack = pytest.importorskip("openstack")
uvicorn = pytest.importorskip("uvicorn")

USERS = {"admin": RequestContext(user_id="u-admin", project_id="p-admin",
                                 roles=("admin", "member")),
         "demo": RequestContext(user_id="u-demo", project_id="p-demo", roles=("member",))}


class TokenAuthenticator:
    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        if token not in USERS:
            raise errors.Unauthorized("The request you have made requires authentication.")
        return USERS[token]


def _fake_keystone(base: str) -> APIRouter:
    router = APIRouter()

    @router.get("/v3")
    async def version() -> dict:
        return {"version": {"id": "v3.14", "status": "stable", "updated": "2020-01-01T00:00:00Z",
                            "links": [{"rel": "self", "href": f"{base}/identity/v3/"}]}}

    @router.post("/v3/auth/tokens")
    async def issue(request: Request) -> JSONResponse:
        name = (await request.json())["auth"]["identity"]["password"]["user"]["name"]
        ctx = USERS[name]
        domain = {"id": "default", "name": "Default"}
        endpoint = {"id": "e1", "interface": "public", "region": "RegionOne",
                    "region_id": "RegionOne", "url": f"{base}/image"}
        token = {"methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
                 "issued_at": "2020-01-01T00:00:00.000000Z",
                 "user": {"id": ctx.user_id, "name": name, "domain": domain},
                 "project": {"id": ctx.project_id, "name": name, "domain": domain},
                 "roles": [{"id": r, "name": r} for r in ctx.roles],
                 "catalog": [{"type": "image", "name": "glance", "id": "s1",
                              "endpoints": [endpoint]}]}
        return JSONResponse({"token": token}, status_code=201, headers={"X-Subject-Token": name})

    return router


@pytest.fixture
def cloud(tmp_path) -> Iterator[str]:
    """The base URL of an API process serving /identity (fake) and /image (real)."""
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()
    service = ImageService(ImageConfig(listen="127.0.0.1:0", state_dir=str(tmp_path)))
    asyncio.run_coroutine_threadsafe(service.start(), loop).result(30)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    client = ImageClient(f"127.0.0.1:{service.port}")
    app = create_app(authenticator=TokenAuthenticator(),
                     routers=[("/identity", _fake_keystone(base)),
                              ("/image", build_router(client))])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    http_thread = threading.Thread(target=server.run, daemon=True)
    http_thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        http_thread.join(10)
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(10)
        loop.close()


def _connect(base: str, user: str):
    return openstack.connect(
        auth_url=f"{base}/identity/v3", username=user, password="secret", project_name=user,
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
        identity_api_version="3", load_yaml_config=False, load_envvars=False)


def test_openstacksdk_image_workflow(cloud: str, tmp_path):
    demo, admin = _connect(cloud, "demo"), _connect(cloud, "admin")
    assert [i.name for i in demo.image.images()] == ["cirros"]

    data = os.urandom(2 * 1024 * 1024 + 5)
    path = tmp_path / "disk.raw"
    path.write_bytes(data)
    image = demo.image.create_image("sdk-img", filename=str(path), disk_format="raw",
                                    container_format="bare", meta={"purpose": "test"},
                                    validate_checksum=True)
    image = demo.image.get_image(image)
    assert (image.status, image.size) == ("active", len(data))
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.properties["purpose"] == "test" and image.owner == "p-demo"
    assert demo.image.find_image("sdk-img").id == image.id

    demo.image.update_image(image, name="sdk-img-2", purpose="changed", min_ram=64)
    image = demo.image.get_image(image.id)
    assert (image.name, image.min_ram, image.properties["purpose"]) == ("sdk-img-2", 64,
                                                                       "changed")
    response = demo.image.download_image(image, stream=True)
    assert b"".join(response.iter_content(65536)) == data

    demo.image.add_tag(image, "blue")
    assert demo.image.get_image(image.id).tags == ["blue"]
    member = demo.image.add_member(image, member_id="p-admin")
    assert member.status == "pending"
    admin.image.update_member(member, image, status="accepted")
    assert demo.image.get_member(member="p-admin", image=image).status == "accepted"
    assert len(list(demo.image.images(limit=1))) == 2  # follows "next" links

    # Fetch afresh: the SDK's add_tag edits the local copy, and a PATCH made from it would
    # carry "/tags/0", which Glance (and this router) rejects with 400.
    image = demo.image.get_image(image.id)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        demo.image.update_image(image, visibility="public")
    demo.image.delete_image(image)
    assert [i.name for i in demo.image.images()] == ["cirros"]
