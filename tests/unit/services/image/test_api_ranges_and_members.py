"""Ranged downloads (206, 416, 400) and members on images that are not shared, through the
REST router against a real in-process gRPC image server, answered as Glance answers them."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from overcast import errors
from overcast.context import RequestContext
from services.api.app import create_app
from services.image.api import build_router
from services.image.client import ImageClient
from tests.unit.services.image.image_helpers import ADMIN, ALICE, BOB

DATA = bytes(range(256)) * 40  # 10240 bytes
SIZE = len(DATA)


_CONTEXTS = {"admin": ADMIN, "alice": ALICE, "bob": BOB}


class _Tokens:
    """Tokens are the names of test contexts."""

    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        if token not in _CONTEXTS:
            raise errors.Unauthorized("The request you have made requires authentication.")
        return _CONTEXTS[token]


@pytest.fixture
async def http(client: ImageClient) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(authenticator=_Tokens(), routers=[("/image", build_router(client))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as http:
        yield http


async def _image(http, *, data: bytes | None = DATA, token: str = "alice", **body) -> str:
    created = await http.post("/image/v2/images", headers={"X-Auth-Token": token},
                              json={"disk_format": "raw", "container_format": "bare", **body})
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    if data is not None:
        put = await http.put(f"/image/v2/images/{image_id}/file", content=data, headers={
            "X-Auth-Token": token, "Content-Type": "application/octet-stream"})
        assert put.status_code == 204, put.text
    return image_id


async def _get(http, image_id: str, range_header: str | None, token: str = "alice"):
    headers = {"X-Auth-Token": token}
    if range_header is not None:
        headers["Range"] = range_header
    return await http.get(f"/image/v2/images/{image_id}/file", headers=headers)


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-0", 0, 0),
    ("bytes=10-19", 10, 19),
    ("bytes=10000-", 10000, SIZE - 1),
    ("bytes=-240", SIZE - 240, SIZE - 1),
    ("bytes=-99999", 0, SIZE - 1),
    ("bytes=10200-99999", 10200, SIZE - 1),
    ("Bytes = 5 - 6", 5, 6),
])
async def test_download_ignored_range(http, header, start, end):
    image_id = await _image(http)
    resp = await _get(http, image_id, header)
    assert resp.status_code == 206, resp.text
    assert resp.content == DATA[start:end + 1]
    assert resp.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert resp.headers["content-length"] == str(end + 1 - start)
    assert resp.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(("header", "message"), [
    ("bytes=10240-", "Invalid start position in Range header. Start position MUST be in the "
                     "inclusive range [0, 10239]."),
    ("bytes=99999999999999999999-", "Invalid start position in Range header. Start position "
                                    "MUST be in the inclusive range [0, 10239]."),
    ("bytes=20-10", "Invalid Range header."),
    ("bytes=-0", "Invalid Range header."),
    ("bytes=-", "Invalid Range header."),
    ("items=0-1", "Invalid Range header."),
    ("bytes=a-b", "Invalid Range header."),
    ("bytes=" + "9" * 5000 + "-", "Invalid Range header."),
])
async def test_unsatisfiable_range_was_served_whole(http, header, message):
    image_id = await _image(http)
    resp = await _get(http, image_id, header)
    assert resp.status_code == 416
    assert resp.json() == {"code": 416, "title": "Requested Range Not Satisfiable",
                           "message": message}
    assert resp.headers["content-range"] == f"bytes */{SIZE}"


async def test_multiple_ranges_were_served_whole(http):
    image_id = await _image(http)
    resp = await _get(http, image_id, "bytes=0-1,5-6")
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("Requests with multiple ranges are not supported")


async def test_download_without_range_is_whole_and_200(http):
    image_id = await _image(http)
    resp = await _get(http, image_id, None)
    assert resp.status_code == 200 and resp.content == DATA
    assert "content-range" not in resp.headers


async def test_range_on_an_image_without_data_is_204_and_on_a_hidden_one_404(http):
    queued = await _image(http, data=None)
    assert (await _get(http, queued, "bytes=0-1")).status_code == 204
    private = await _image(http, visibility="private")
    assert (await _get(http, private, "bytes=0-1", token="bob")).status_code == 404
    assert (await _get(http, private, "garbage", token="bob")).status_code == 404


async def test_range_on_an_empty_image_is_416(http):
    image_id = await _image(http, data=b"")
    resp = await _get(http, image_id, "bytes=0-")
    assert resp.status_code == 416 and resp.headers["content-range"] == "bytes */0"


async def test_image_service_refuses_a_range_outside_the_data(client):
    image = await client.create_image(ALICE, {"disk_format": "raw",
                                              "container_format": "bare"})

    async def data() -> AsyncIterator[bytes]:
        yield DATA

    await client.upload(ALICE, image["id"], data())
    with pytest.raises(errors.BadRequest):
        await client.open_download(ALICE, image["id"], offset=SIZE - 1, length=2)
    opened = await client.open_download(ALICE, image["id"], offset=SIZE - 1, length=1)
    assert b"".join([c async for c in opened.chunks]) == DATA[-1:]


@pytest.mark.parametrize("visibility", ["private", "public", "community"])
async def test_members_could_be_added_to_an_image_that_is_not_shared(http, visibility):
    token = "admin" if visibility == "public" else "alice"
    image_id = await _image(http, data=None, token=token, visibility=visibility)
    members = f"/image/v2/images/{image_id}/members"
    headers = {"X-Auth-Token": token}
    added = await http.post(members, json={"member": "project-b"}, headers=headers)
    assert added.status_code == 403
    assert added.json()["message"] == f"Not allowed to create members for image {image_id}."
    listed = await http.get(members, headers=headers)
    assert listed.status_code == 403
    assert listed.json()["message"] == (f"Not allowed to list members for image {image_id}: "
                                        "Only shared images have members.")
    updated = await http.put(f"{members}/project-b", json={"status": "accepted"},
                             headers=headers)
    assert updated.status_code == 403
    assert updated.json()["message"] == f"Not allowed to update members for image {image_id}."
    deleted = await http.delete(f"{members}/project-b", headers=headers)
    assert deleted.status_code == 403
    assert deleted.json()["message"] == f"Not allowed to delete members for image {image_id}."


async def test_members_of_an_image_made_private_no_longer_see_it(http):
    image_id = await _image(http, data=None)  # shared, Glance's default
    members = f"/image/v2/images/{image_id}/members"
    assert (await http.post(members, json={"member": "project-b"},
                            headers={"X-Auth-Token": "alice"})).status_code == 200
    assert (await http.put(f"{members}/project-b", json={"status": "accepted"},
                           headers={"X-Auth-Token": "bob"})).status_code == 200
    assert (await http.get(f"/image/v2/images/{image_id}",
                           headers={"X-Auth-Token": "bob"})).status_code == 200
    made_private = await http.patch(
        f"/image/v2/images/{image_id}", json=[{"op": "replace", "path": "/visibility",
                                               "value": "private"}],
        headers={"X-Auth-Token": "alice",
                 "Content-Type": "application/openstack-images-v2.1-json-patch"})
    assert made_private.status_code == 200, made_private.text
    assert (await http.get(f"/image/v2/images/{image_id}",
                           headers={"X-Auth-Token": "bob"})).status_code == 404
    assert (await http.post(members, json={"member": "project-c"},
                            headers={"X-Auth-Token": "alice"})).status_code == 403
