"""The Glance v2 REST router, in the real API app, against a real in-process gRPC image server."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from typing import ClassVar

import httpx
import pytest

from overcast import errors
from overcast.context import RequestContext
from services.api.app import create_app
from services.image.api import build_router
from services.image.client import ImageClient
from tests.unit.services.image.image_helpers import ADMIN, ALICE, BOB

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
OCTET = {"Content-Type": "application/octet-stream"}
MISSING = "6a3f1e48-8f8e-4d55-a6c2-0a8a3a1c1b6e"


class FakeAuthenticator:
    """Tokens are the names of test contexts."""

    contexts: ClassVar[dict[str, RequestContext]] = {"admin": ADMIN, "alice": ALICE, "bob": BOB}

    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        try:
            ctx = self.contexts[token]
        except KeyError:
            raise errors.Unauthorized(
                "The request you have made requires authentication.") from None
        return RequestContext(**{**ctx.to_dict(), "roles": ctx.roles, "request_id": request_id})


@pytest.fixture
async def http(client: ImageClient) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(authenticator=FakeAuthenticator(), routers=[("/image", build_router(client))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"X-Auth-Token": token, **headers}


async def _create(http: httpx.AsyncClient, token: str = "alice", **body) -> dict:
    response = await http.post("/image/v2/images", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()


async def test_versions_are_public_with_absolute_links(http):
    root = await http.get("/image")
    assert root.status_code == 300
    versions = root.json()["versions"]
    assert versions[0] == {"id": "v2.16", "status": "CURRENT",
                           "links": [{"rel": "self", "href": "http://testserver/image/v2/"}]}
    assert versions[-1]["id"] == "v2.0" and len(versions) == 17
    assert (await http.get("/image/")).status_code == 300
    listed = await http.get("/image/versions")
    assert listed.status_code == 200 and listed.json() == root.json()


async def test_token_required(http):
    response = await http.get("/image/v2/images")
    assert response.status_code == 401
    assert response.json()["code"] == 401
    assert (await http.get("/image/v2/images", headers=auth("nobody"))).status_code == 401


async def test_create_show_list_delete(http):
    response = await http.post("/image/v2/images", headers=auth("alice"), json={
        "name": "cirros-test", "disk_format": "qcow2", "container_format": "bare",
        "tags": ["a"], "os_distro": "cirros", "owner_specified.openstack.md5": ""})
    assert response.status_code == 201
    image = response.json()
    assert response.headers["location"] == f"http://testserver/image/v2/images/{image['id']}"
    assert image["status"] == "queued" and image["visibility"] == "shared"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"
    assert image["os_distro"] == "cirros" and image["owner"] == "project-a"
    assert {"size", "checksum", "os_hash_algo", "os_hash_value", "min_disk", "min_ram",
            "protected", "created_at", "updated_at", "virtual_size", "os_hidden"} <= set(image)
    assert "x-openstack-request-id" in response.headers

    shown = await http.get(f"/image/v2/images/{image['id']}", headers=auth("alice"))
    assert shown.status_code == 200 and shown.json() == image

    listed = (await http.get("/image/v2/images", headers=auth("alice"))).json()
    assert [i["id"] for i in listed["images"]] == [image["id"]]
    assert listed["first"] == "/v2/images" and listed["schema"] == "/v2/schemas/images"
    assert "next" not in listed

    assert (await http.get(f"/image/v2/images/{image['id']}",
                           headers=auth("bob"))).status_code == 404
    deleted = await http.delete(f"/image/v2/images/{image['id']}", headers=auth("alice"))
    assert deleted.status_code == 204 and deleted.content == b""
    gone = await http.get(f"/image/v2/images/{image['id']}", headers=auth("alice"))
    assert gone.status_code == 404
    assert gone.json() == {"code": 404, "title": "Not Found",
                           "message": f"No image found with ID {image['id']}"}


async def test_list_paging_links_and_filters(http):
    for n in range(3):
        await _create(http, name=f"img-{n}", hw_arch="x86_64" if n else "aarch64")
    first = await http.get("/image/v2/images?limit=2&sort=name:asc", headers=auth("alice"))
    body = first.json()
    assert [i["name"] for i in body["images"]] == ["img-0", "img-1"]
    assert body["first"] == "/v2/images?limit=2&sort=name%3Aasc"
    assert body["next"].startswith("/v2/images?limit=2&sort=name%3Aasc&marker=")
    second = (await http.get("/image" + body["next"], headers=auth("alice"))).json()
    assert [i["name"] for i in second["images"]] == ["img-2"] and "next" not in second
    classic = await http.get("/image/v2/images?sort_key=name&sort_dir=desc",
                             headers=auth("alice"))
    assert [i["name"] for i in classic.json()["images"]] == ["img-2", "img-1", "img-0"]
    arm = await http.get("/image/v2/images?hw_arch=aarch64", headers=auth("alice"))
    assert [i["name"] for i in arm.json()["images"]] == ["img-0"]
    for bad in ("limit=x", "limit=-1", "sort_key=owner", "sort_dir=up", "visibility=world",
                "member_status=maybe", "protected=perhaps", "marker=" + MISSING,
                "sort=name&sort_key=id"):
        response = await http.get(f"/image/v2/images?{bad}", headers=auth("alice"))
        assert response.status_code == 400, bad
        assert response.json()["code"] == 400


async def test_upload_and_download_stream(http):
    image = await _create(http, name="data", disk_format="raw", container_format="bare")
    url = f"/image/v2/images/{image['id']}/file"
    empty = await http.get(url, headers=auth("alice"))
    assert empty.status_code == 204

    data = os.urandom(3 * 1024 * 1024 + 7)

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 512 * 1024):
            yield data[start:start + 512 * 1024]

    put = await http.put(url, content=body(), headers=auth("alice", **OCTET))
    assert put.status_code == 204, put.text
    shown = (await http.get(f"/image/v2/images/{image['id']}", headers=auth("alice"))).json()
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"

    got = await http.get(url, headers=auth("alice"))
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-md5"] == hashlib.md5(data).hexdigest()
    assert got.headers["content-type"] == "application/octet-stream"
    assert int(got.headers["content-length"]) == len(data)

    again = await http.put(url, content=b"x", headers=auth("alice", **OCTET))
    assert again.status_code == 409
    assert (await http.get(url, headers=auth("bob"))).status_code == 404


async def test_upload_content_type_and_ownership(http):
    image = await _create(http, name="x", disk_format="raw", container_format="bare",
                          visibility="community")
    url = f"/image/v2/images/{image['id']}/file"
    wrong = await http.put(url, content=b"x", headers=auth("alice", **{
        "Content-Type": "application/json"}))
    assert wrong.status_code == 415
    assert (await http.put(url, content=b"x", headers=auth("bob", **OCTET))).status_code == 403


async def test_upload_by_non_owner_is_403_before_any_data_moves_when_the_service_is_slow(
        http, image_service, monkeypatch):
    """Regression: on a loaded machine a PUT by a user who does not own the image got 500
    ("Internal error from Core") instead of 403. The API began streaming the body into the
    gRPC call before the image service had checked ownership, and grpc.aio turns a write
    that meets the service's refusal into INTERNAL. Here the service is made slow to refuse
    (it waits, boundedly, for body bytes to arrive): the answer must still be 403, and not
    one byte of the body may have been read."""
    image = await _create(http, name="x", disk_format="raw", container_format="bare",
                          visibility="community")
    body_read = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        body_read.set()
        yield b"x" * 100_000

    check_and_store = image_service.manager.upload

    async def slow_to_refuse(ctx: RequestContext, image_id: str,
                             chunks: AsyncIterator[bytes]) -> dict:
        # A loaded service answers late; the bound is what "late" means here.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(body_read.wait(), timeout=1.0)
        return await check_and_store(ctx, image_id, chunks)

    monkeypatch.setattr(image_service.manager, "upload", slow_to_refuse)
    response = await http.put(f"/image/v2/images/{image['id']}/file", content=body(),
                              headers=auth("bob", **OCTET))
    assert response.status_code == 403, response.text
    assert response.json()["title"] == "Forbidden"
    assert not body_read.is_set(), "the API read image data before the service accepted it"


async def test_patch(http):
    image = await _create(http, name="before", disk_format="raw", container_format="bare")
    url = f"/image/v2/images/{image['id']}"
    response = await http.patch(url, headers=auth("alice", **PATCH), json=[
        {"op": "replace", "path": "/name", "value": "after"},
        {"op": "add", "path": "/hw_qemu_guest_agent", "value": "yes"},
        {"op": "add", "path": "/tags", "value": ["x", "y"]},
        {"op": "replace", "path": "/min_ram", "value": 128},
        {"op": "replace", "path": "/visibility", "value": "private"}])
    assert response.status_code == 200, response.text
    patched = response.json()
    assert (patched["name"], patched["hw_qemu_guest_agent"], patched["min_ram"]) == (
        "after", "yes", 128)
    assert patched["tags"] == ["x", "y"] and patched["visibility"] == "private"
    removed = await http.patch(url, headers=auth("alice", **PATCH),
                               json=[{"op": "remove", "path": "/hw_qemu_guest_agent"}])
    assert "hw_qemu_guest_agent" not in removed.json()
    draft4 = await http.patch(url, json=[{"replace": "/name", "value": "d4"}], headers=auth(
        "alice", **{"Content-Type": "application/openstack-images-v2.0-json-patch"}))
    assert draft4.status_code == 200 and draft4.json()["name"] == "d4"

    cases = [
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "replace", "path": "/id", "value": MISSING}], 403),
        ([{"op": "remove", "path": "/name"}], 403),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], 403),
        ([{"op": "replace", "path": "/nope", "value": "x"}], 409),
        ([{"op": "move", "path": "/name", "value": "x"}], 400),
        ([{"op": "replace", "path": "name", "value": "x"}], 400),
        ([{"op": "replace", "path": "/a/b", "value": "x"}], 400),
        ([{"op": "replace", "path": "/name"}], 400),
        ([{"op": "replace", "path": "/name", "value": "n" * 256}], 400),
        ([{"op": "replace", "path": "/disk_format", "value": "floppy"}], 400),
        ([{"op": "add", "path": "/custom", "value": 5}], 400),
        ({"op": "replace"}, 400),
    ]
    for body, status in cases:
        response = await http.patch(url, json=body, headers=auth("alice", **PATCH))
        assert response.status_code == status, (body, response.text)
        assert response.json()["code"] == status
    plain = await http.patch(url, json=[], headers=auth("alice"))
    assert plain.status_code == 415
    bad_json = await http.patch(url, content=b"[{", headers=auth("alice", **PATCH))
    assert bad_json.status_code == 400
    public = await http.patch(url, headers=auth("admin", **PATCH),
                              json=[{"op": "replace", "path": "/visibility", "value": "public"}])
    assert public.status_code == 200 and public.json()["visibility"] == "public"


async def test_create_errors(http):
    cases = [
        ({"name": "n" * 256}, 400),
        ({"disk_format": "floppy"}, 400),
        ({"container_format": "zip"}, 400),
        ({"min_disk": "1"}, 400),
        ({"id": "not-a-uuid"}, 400),
        ({"visibility": "public"}, 403),
        ({"status": "active"}, 403),
        ({"self": "/x"}, 403),
        ({"deleted": "yes"}, 403),
        ({"os_glance_import_task": "x"}, 403),
        ([], 400),
    ]
    for body, status in cases:
        response = await http.post("/image/v2/images", json=body, headers=auth("alice"))
        assert response.status_code == status, (body, response.text)
    bad = await http.post("/image/v2/images", content=b"{not json", headers=auth("alice"))
    assert bad.status_code == 400 and bad.json()["title"] == "Bad Request"
    assert (await _create(http, "admin", visibility="public"))["visibility"] == "public"


async def test_bad_uuid_is_not_found(http):
    for path in ("/image/v2/images/not-a-uuid", "/image/v2/images/not-a-uuid/file",
                 f"/image/v2/images/{MISSING}"):
        response = await http.get(path, headers=auth("alice"))
        assert response.status_code == 404, path
    deleted = await http.delete("/image/v2/images/not-a-uuid", headers=auth("alice"))
    assert deleted.status_code == 404


async def test_protected_delete_is_forbidden(http):
    image = await _create(http, protected=True)
    response = await http.delete(f"/image/v2/images/{image['id']}", headers=auth("alice"))
    assert response.status_code == 403 and "protected" in response.json()["message"]


async def test_tags(http):
    image = await _create(http)
    url = f"/image/v2/images/{image['id']}/tags"
    assert (await http.put(f"{url}/red", headers=auth("alice"))).status_code == 204
    assert (await http.put(f"{url}/red", headers=auth("alice"))).status_code == 204
    shown = await http.get(f"/image/v2/images/{image['id']}", headers=auth("alice"))
    assert shown.json()["tags"] == ["red"]
    tagged = await http.get("/image/v2/images?tag=red", headers=auth("alice"))
    assert [i["id"] for i in tagged.json()["images"]] == [image["id"]]
    assert (await http.delete(f"{url}/red", headers=auth("alice"))).status_code == 204
    assert (await http.delete(f"{url}/red", headers=auth("alice"))).status_code == 404


async def test_members(http):
    image = await _create(http, name="shared")
    url = f"/image/v2/images/{image['id']}/members"
    added = await http.post(url, json={"member": "project-b"}, headers=auth("alice"))
    assert added.status_code == 200
    assert added.json()["status"] == "pending" and added.json()["member_id"] == "project-b"
    duplicate = await http.post(url, json={"member": "project-b"}, headers=auth("alice"))
    assert duplicate.status_code == 409
    assert (await http.post(url, json={}, headers=auth("alice"))).status_code == 400
    listed = (await http.get(url, headers=auth("alice"))).json()
    assert listed["schema"] == "/v2/schemas/members"
    assert [m["member_id"] for m in listed["members"]] == ["project-b"]

    bob_list = (await http.get("/image/v2/images", headers=auth("bob"))).json()
    assert image["id"] not in [i["id"] for i in bob_list["images"]]
    forbidden = await http.put(f"{url}/project-b", json={"status": "accepted"},
                               headers=auth("alice"))
    assert forbidden.status_code == 403
    invalid = await http.put(f"{url}/project-b", json={"status": "maybe"}, headers=auth("bob"))
    assert invalid.status_code == 400
    accepted = await http.put(f"{url}/project-b", json={"status": "accepted"},
                              headers=auth("bob"))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    shown = await http.get(f"{url}/project-b", headers=auth("bob"))
    assert shown.status_code == 200 and shown.json()["schema"] == "/v2/schemas/member"
    bob_list = (await http.get("/image/v2/images", headers=auth("bob"))).json()
    assert image["id"] in [i["id"] for i in bob_list["images"]]

    assert (await http.delete(f"{url}/project-b", headers=auth("alice"))).status_code == 204
    assert (await http.get(f"/image/v2/images/{image['id']}",
                           headers=auth("bob"))).status_code == 404
    private = await _create(http, visibility="private")
    refused = await http.post(f"/image/v2/images/{private['id']}/members",
                              json={"member": "project-b"}, headers=auth("alice"))
    assert refused.status_code == 403


async def test_schemas(http):
    image = await http.get("/image/v2/schemas/image", headers=auth("alice"))
    assert image.status_code == 200
    schema = image.json()
    assert schema["name"] == "image" and "disk_format" in schema["properties"]
    assert schema["additionalProperties"] == {"type": "string"}
    images = (await http.get("/image/v2/schemas/images", headers=auth("alice"))).json()
    assert images["properties"]["images"]["items"]["name"] == "image"
    for name in ("member", "members"):
        response = await http.get(f"/image/v2/schemas/{name}", headers=auth("alice"))
        assert response.status_code == 200 and response.json()["name"] == name


async def test_unknown_route_and_method(http):
    assert (await http.get("/image/v2/nothing", headers=auth("alice"))).status_code == 404
    response = await http.post("/image/v2/images/" + MISSING, headers=auth("alice"))
    assert response.status_code == 405 and response.json()["code"] == 405


async def test_a_huge_list_limit_is_clamped_not_a_500(http):
    await _create(http, name="one")
    for limit in (str(2**64), "1" + "0" * 100):
        response = await http.get(f"/image/v2/images?limit={limit}", headers=auth("alice"))
        assert response.status_code == 200, response.text
        assert [i["name"] for i in response.json()["images"]] == ["one"]
