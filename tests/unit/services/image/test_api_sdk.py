"""openstacksdk's image proxy against the router: version discovery, create+upload, find by
name, JSON-patch updates, download with checksum, members, paging and delete.

The SDK is synchronous, so the image service and the HTTP server each run their own event
loop in a thread; a fake Keystone (only what keystoneauth needs) hands out the catalog.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from overcast import errors
from overcast.bus.signing import Signer
from overcast.context import RequestContext
from services.api.app import create_app
from services.image.api import build_router
from services.image.client import ImageClient
from services.image.service import ImageConfig, ImageService
from tests.unit.services.sdk_helpers import connect, fake_keystone, serving

openstack = pytest.importorskip("openstack")

USERS = {"admin": RequestContext(user_id="u-admin", project_id="p-admin",
                                 roles=("admin", "member")),
         "demo": RequestContext(user_id="u-demo", project_id="p-demo", roles=("member",))}


class TokenAuthenticator:
    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        if token not in USERS:
            raise errors.Unauthorized("The request you have made requires authentication.")
        return USERS[token]


@pytest.fixture
def cloud(tmp_path) -> Iterator[str]:
    """The base URL of an API process serving /identity (fake) and /image (real)."""
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()
    service = ImageService(ImageConfig(listen="127.0.0.1:0", state_dir=str(tmp_path),
                      bus_signing_key="image-tests-signing-key"))
    asyncio.run_coroutine_threadsafe(service.start(), loop).result(30)
    client = ImageClient(f"127.0.0.1:{service.port}",
                         signer=Signer("image-tests-signing-key"))
    users = {name: (ctx, name) for name, ctx in USERS.items()}

    def make_app(base: str) -> FastAPI:
        keystone = fake_keystone(base, service_type="image", service_name="glance",
                                 path="/image", users=users)
        return create_app(authenticator=TokenAuthenticator(),
                          routers=[("/identity", keystone), ("/image", build_router(client))])

    try:
        with serving(make_app) as base:
            yield base
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(10)
        loop.close()


def test_openstacksdk_image_workflow(cloud: str, tmp_path):
    demo, admin = connect(cloud, "demo"), connect(cloud, "admin")
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
