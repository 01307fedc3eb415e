"""ImageClient against the real gRPC image server, in process on 127.0.0.1:0."""
from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from overcast import errors
from overcast.context import RequestContext
from overcast.testing import eventually
from services.image.client import ImageClient
from tests.unit.services.image.image_helpers import ADMIN, ALICE, BOB, chunks_of

RAW = {"disk_format": "raw", "container_format": "bare"}


async def test_create_upload_download_roundtrip(client: ImageClient, image_service):
    data = os.urandom(5 * 1024 * 1024 + 123)
    image = await client.create_image(ALICE, {"name": "big", "os_distro": "busybox",
                                              "tags": ["t"], "min_ram": 64, **RAW})
    assert image["status"] == "queued" and image["os_distro"] == "busybox"
    assert image["self"] == f"/v2/images/{image['id']}" and image["tags"] == ["t"]
    assert image["created_at"].endswith("Z") and image["min_ram"] == 64

    done = await client.upload(ALICE, image["id"], chunks_of(data, 1024 * 1024))
    assert done["status"] == "active" and done["size"] == len(data)
    assert done["checksum"] == hashlib.md5(data).hexdigest()
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest()

    received = bytearray()
    largest = 0
    async for chunk in client.download(ALICE, image["id"]):
        largest = max(largest, len(chunk))
        received += chunk
    assert bytes(received) == data
    assert largest <= 64 * 1024  # streamed in store-sized chunks

    opened = await client.open_download(ALICE, image["id"])
    assert opened.size == len(data) and opened.checksum == done["checksum"]
    async for _ in opened.chunks:
        break  # abandoning a download midway must not hang or leak


async def test_get_list_update_delete(client: ImageClient):
    image = await client.create_image(ALICE, {"name": "one", **RAW})
    assert (await client.get_image(ALICE, image["id"]))["name"] == "one"
    page = await client.list_images(ALICE, filters={"name": "one"})
    assert [i["id"] for i in page["images"]] == [image["id"]] and page["next_marker"] is None
    updated = await client.update_image(ALICE, image["id"], [
        {"op": "replace", "path": "name", "value": "two"},
        {"op": "add", "path": "hw_disk_bus", "value": "virtio"},
        {"op": "replace", "path": "min_disk", "value": 3},
        {"op": "replace", "path": "protected", "value": True}])
    assert (updated["name"], updated["hw_disk_bus"], updated["min_disk"]) == ("two", "virtio", 3)
    assert updated["protected"] is True
    with pytest.raises(errors.Forbidden):
        await client.delete_image(ALICE, image["id"])
    await client.update_image(ALICE, image["id"],
                              [{"op": "replace", "path": "protected", "value": False}])
    await client.add_tag(ALICE, image["id"], "blue")
    assert (await client.get_image(ALICE, image["id"]))["tags"] == ["blue"]
    await client.delete_tag(ALICE, image["id"], "blue")
    await client.delete_image(ALICE, image["id"])
    with pytest.raises(errors.NotFound):
        await client.get_image(ALICE, image["id"])


async def test_paging_through_grpc(client: ImageClient):
    for n in range(5):
        await client.create_image(ALICE, {"name": f"p{n}"})
    page = await client.list_images(ALICE, limit=2, sort=[("name", "asc")])
    assert [i["name"] for i in page["images"]] == ["p0", "p1"]
    page = await client.list_images(ALICE, limit=2, marker=page["next_marker"],
                                    sort=[("name", "asc")])
    assert [i["name"] for i in page["images"]] == ["p2", "p3"]


async def test_errors_map_to_domain_errors(client: ImageClient):
    with pytest.raises(errors.NotFound):
        await client.get_image(ALICE, "6a3f1e48-8f8e-4d55-a6c2-0a8a3a1c1b6e")
    with pytest.raises(errors.NotFound):
        await client.open_download(ALICE, "6a3f1e48-8f8e-4d55-a6c2-0a8a3a1c1b6e")
    with pytest.raises(errors.NotFound):
        async for _ in client.download(ALICE, "6a3f1e48-8f8e-4d55-a6c2-0a8a3a1c1b6e"):
            pass
    with pytest.raises(errors.BadRequest):
        await client.create_image(ALICE, {"name": "x" * 300})
    with pytest.raises(errors.Forbidden):
        await client.create_image(ALICE, {"visibility": "public"})
    image = await client.create_image(ALICE, {"name": "once", **RAW})
    with pytest.raises(errors.Conflict):  # queued: no data yet
        async for _ in client.download(ALICE, image["id"]):
            pass
    await client.upload(ALICE, image["id"], chunks_of(b"data"))
    with pytest.raises(errors.Conflict):
        await client.upload(ALICE, image["id"], chunks_of(b"again"))
    with pytest.raises(errors.NotFound):
        await client.upload(BOB, "6a3f1e48-8f8e-4d55-a6c2-0a8a3a1c1b6e", chunks_of(b"x"))


async def test_aborted_upload_kills_image(client: ImageClient, image_service):
    image = await client.create_image(ALICE, {"name": "broken", **RAW})

    async def failing():
        yield b"x" * 200_000
        raise OSError("client went away")

    with pytest.raises(errors.BadRequest):
        await client.upload(ALICE, image["id"], failing())

    async def killed() -> bool:
        return (await client.get_image(ALICE, image["id"]))["status"] == "killed"

    await eventually(killed)
    store = image_service.manager.store
    assert not store.exists(image["id"]) and list(store.tmp.iterdir()) == []


async def test_members_through_grpc(client: ImageClient):
    image = await client.create_image(ALICE, {"name": "shared"})
    member = await client.add_member(ALICE, image["id"], BOB.project_id)
    assert member == {**member, "image_id": image["id"], "member_id": BOB.project_id,
                      "status": "pending", "schema": "/v2/schemas/member"}
    accepted = await client.update_member(BOB, image["id"], BOB.project_id, "accepted")
    assert accepted["status"] == "accepted"
    assert (await client.get_member(BOB, image["id"], BOB.project_id))["status"] == "accepted"
    assert [m["member_id"] for m in await client.list_members(ALICE, image["id"])] == [
        BOB.project_id]
    listed = await client.list_images(BOB)
    assert image["id"] in [i["id"] for i in listed["images"]]
    await client.delete_member(ALICE, image["id"], BOB.project_id)
    with pytest.raises(errors.NotFound):
        await client.get_image(BOB, image["id"])
    assert (await client.get_image(ADMIN, image["id"]))["id"] == image["id"]


async def test_upload_cut_short_by_the_size_cap_is_413_not_internal_error(
        client: ImageClient, image_service, monkeypatch):
    """Regression: when the service ends an upload while the client is writing, grpc.aio
    replaces the service's status with INTERNAL ("Internal error from Core"), and the API
    answered 500. Each upload here writes its last chunk just as the service refuses (after
    0 to 14 turns of the event loop, so that some writes are in flight when the refusal
    lands); every one must come back as the 413 the service sent."""
    monkeypatch.setattr(image_service.manager, "max_image_size", 1000)
    refused = asyncio.Event()
    store_data = image_service.manager.upload

    async def signal_refusal(ctx: RequestContext, image_id: str,
                             chunks: AsyncIterator[bytes]) -> dict:
        try:
            return await store_data(ctx, image_id, chunks)
        finally:
            refused.set()

    monkeypatch.setattr(image_service.manager, "upload", signal_refusal)
    for attempt in range(150):
        image = await client.create_image(ALICE, {"name": f"cap-{attempt}", **RAW})
        refused.clear()

        async def over_the_cap(turns: int = attempt % 15) -> AsyncIterator[bytes]:
            yield b"x" * 1500
            await refused.wait()
            for _ in range(turns):
                await asyncio.sleep(0)
            yield b"y" * 10

        with pytest.raises(errors.PayloadTooLarge):
            await client.upload(ALICE, image["id"], over_the_cap())
        assert (await client.get_image(ALICE, image["id"]))["status"] == "killed"
