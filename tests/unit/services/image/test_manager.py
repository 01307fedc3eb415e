"""ImageManager without any transport: state machine, checksums, visibility, members, patches."""
from __future__ import annotations

import asyncio
import hashlib
import os

import pytest

from overcast import errors
from overcast.context import RequestContext
from services.image.manager import Change, ImageManager
from tests.unit.services.image.image_helpers import ADMIN, ALICE, BOB, CAROL, chunks_of

RAW = {"disk_format": "raw", "container_format": "bare"}


async def _failing(data: bytes):
    yield data
    raise OSError("connection reset by peer")


async def test_upload_goes_queued_saving_active(manager: ImageManager):
    seen = []

    async def watching():
        yield b"a" * 1000
        seen.append((await manager.get_image(ALICE, image["id"]))["status"])
        yield b"b" * 1000

    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    assert image["status"] == "queued" and image["size"] is None
    assert image["visibility"] == "shared" and image["owner"] == "project-a"
    done = await manager.upload(ALICE, image["id"], watching())
    assert seen == ["saving"]
    assert done["status"] == "active" and done["size"] == 2000


async def test_checksums_are_md5_and_sha512(manager: ImageManager, store):
    data = os.urandom(300_000)
    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    done = await manager.upload(ALICE, image["id"], chunks_of(data, 7_000))
    assert done["checksum"] == hashlib.md5(data).hexdigest()
    assert done["os_hash_algo"] == "sha512"
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest()
    _got, chunks = await manager.open_download(ALICE, image["id"])
    assert b"".join([c async for c in chunks]) == data


async def test_failed_upload_kills_image_and_removes_data(manager: ImageManager, store):
    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    with pytest.raises(OSError):
        await manager.upload(ALICE, image["id"], _failing(b"x" * 5000))
    killed = await manager.get_image(ALICE, image["id"])
    assert killed["status"] == "killed" and killed["size"] is None
    assert not store.exists(image["id"])
    assert list(store.tmp.iterdir()) == []


async def test_upload_twice_is_conflict(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    await manager.upload(ALICE, image["id"], chunks_of(b"data"))
    with pytest.raises(errors.Conflict):
        await manager.upload(ALICE, image["id"], chunks_of(b"again"))


async def test_upload_to_killed_image_is_conflict(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    with pytest.raises(OSError):
        await manager.upload(ALICE, image["id"], _failing(b"x"))
    with pytest.raises(errors.Conflict):
        await manager.upload(ALICE, image["id"], chunks_of(b"again"))


async def test_upload_needs_formats(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "img"})
    with pytest.raises(errors.BadRequest):
        await manager.upload(ALICE, image["id"], chunks_of(b"data"))


async def test_upload_over_size_cap_is_too_large_and_killed(manager: ImageManager):
    manager.max_image_size = 1000
    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    with pytest.raises(errors.PayloadTooLarge):
        await manager.upload(ALICE, image["id"], chunks_of(b"x" * 5000, 600))
    assert (await manager.get_image(ALICE, image["id"]))["status"] == "killed"


async def test_recover_kills_interrupted_uploads(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    with manager.db.session() as session:
        from services.image.models import Image
        session.get(Image, image["id"]).status = "saving"
    assert manager.recover() == 1
    assert (await manager.get_image(ALICE, image["id"]))["status"] == "killed"


async def test_private_image_hidden_from_other_projects(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "secret", "visibility": "private"})
    with pytest.raises(errors.NotFound):
        await manager.get_image(BOB, image["id"])
    images, _ = await manager.list_images(BOB)
    assert image["id"] not in [i["id"] for i in images]
    with pytest.raises(errors.NotFound):
        await manager.delete_image(BOB, image["id"])
    assert (await manager.get_image(ADMIN, image["id"]))["name"] == "secret"


async def test_admin_sees_all(manager: ImageManager):
    ids = set()
    for ctx, visibility in ((ALICE, "private"), (BOB, "shared"), (CAROL, "community")):
        ids.add((await manager.create_image(ctx, {"visibility": visibility}))["id"])
    images, _ = await manager.list_images(ADMIN)
    assert ids <= {i["id"] for i in images}


async def test_shared_visible_to_members_after_add(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "shared"})
    with pytest.raises(errors.NotFound):
        await manager.get_image(BOB, image["id"])
    member = await manager.add_member(ALICE, image["id"], BOB.project_id)
    assert member["status"] == "pending"
    assert (await manager.get_image(BOB, image["id"]))["id"] == image["id"]
    # Glance lists only accepted shares by default.
    images, _ = await manager.list_images(BOB)
    assert image["id"] not in [i["id"] for i in images]
    images, _ = await manager.list_images(BOB, filters={"member_status": "pending"})
    assert image["id"] in [i["id"] for i in images]
    await manager.update_member(BOB, image["id"], BOB.project_id, "accepted")
    images, _ = await manager.list_images(BOB)
    assert image["id"] in [i["id"] for i in images]
    with pytest.raises(errors.NotFound):
        await manager.get_image(CAROL, image["id"])
    # A member may use the image but not change it.
    with pytest.raises(errors.Forbidden):
        await manager.update_image(BOB, image["id"], [Change("replace", "name", "x")])


async def test_member_rules(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "shared"})
    await manager.add_member(ALICE, image["id"], BOB.project_id)
    await manager.add_member(ALICE, image["id"], CAROL.project_id)
    with pytest.raises(errors.Conflict):
        await manager.add_member(ALICE, image["id"], BOB.project_id)
    with pytest.raises(errors.Forbidden):  # only the member answers
        await manager.update_member(ALICE, image["id"], BOB.project_id, "accepted")
    with pytest.raises(errors.BadRequest):
        await manager.update_member(BOB, image["id"], BOB.project_id, "maybe")
    assert len(await manager.list_members(ALICE, image["id"])) == 2
    assert [m["member_id"] for m in await manager.list_members(BOB, image["id"])] == [
        BOB.project_id]
    with pytest.raises(errors.Forbidden):
        await manager.delete_member(BOB, image["id"], CAROL.project_id)
    await manager.delete_member(ALICE, image["id"], CAROL.project_id)
    with pytest.raises(errors.NotFound):
        await manager.get_image(CAROL, image["id"])
    private = await manager.create_image(ALICE, {"visibility": "private"})
    with pytest.raises(errors.Forbidden):
        await manager.add_member(ALICE, private["id"], BOB.project_id)


async def test_only_admin_may_publicize(manager: ImageManager):
    with pytest.raises(errors.Forbidden):
        await manager.create_image(ALICE, {"visibility": "public"})
    image = await manager.create_image(ALICE, {"name": "x"})
    with pytest.raises(errors.Forbidden):
        await manager.update_image(ALICE, image["id"], [Change("replace", "visibility", "public")])
    public = await manager.update_image(ADMIN, image["id"],
                                        [Change("replace", "visibility", "public")])
    assert public["visibility"] == "public"
    assert (await manager.get_image(BOB, image["id"]))["visibility"] == "public"
    community = await manager.update_image(ALICE, image["id"],
                                           [Change("replace", "visibility", "community")])
    assert community["visibility"] == "community"


async def test_community_listed_only_when_asked(manager: ImageManager):
    image = await manager.create_image(ALICE, {"visibility": "community"})
    assert (await manager.get_image(BOB, image["id"]))["id"] == image["id"]
    default, _ = await manager.list_images(BOB)
    assert image["id"] not in [i["id"] for i in default]
    community, _ = await manager.list_images(BOB, filters={"visibility": "community"})
    assert [i["id"] for i in community] == [image["id"]]


async def test_only_owner_or_admin_modifies(manager: ImageManager):
    image = await manager.create_image(ALICE, {"visibility": "community"})
    with pytest.raises(errors.Forbidden):
        await manager.delete_image(BOB, image["id"])
    with pytest.raises(errors.Forbidden):
        await manager.upload(BOB, image["id"], chunks_of(b"x"))
    await manager.update_image(ADMIN, image["id"], [Change("add", "note", "by admin")])
    await manager.delete_image(ADMIN, image["id"])


async def test_protected_image_cannot_be_deleted(manager: ImageManager):
    image = await manager.create_image(ALICE, {"protected": True})
    with pytest.raises(errors.Forbidden):
        await manager.delete_image(ALICE, image["id"])
    await manager.update_image(ALICE, image["id"], [Change("replace", "protected", False)])
    await manager.delete_image(ALICE, image["id"])
    with pytest.raises(errors.NotFound):
        await manager.get_image(ALICE, image["id"])


async def test_validation(manager: ImageManager):
    with pytest.raises(errors.BadRequest):
        await manager.create_image(ALICE, {"name": "n" * 256})
    with pytest.raises(errors.BadRequest):
        await manager.create_image(ALICE, {"disk_format": "floppy"})
    with pytest.raises(errors.BadRequest):
        await manager.create_image(ALICE, {"container_format": "zip"})
    with pytest.raises(errors.BadRequest):
        await manager.create_image(ALICE, {"min_disk": "big"})
    with pytest.raises(errors.BadRequest):
        await manager.create_image(ALICE, {"custom": 5})
    with pytest.raises(errors.Forbidden):
        await manager.create_image(ALICE, {"status": "active"})
    with pytest.raises(errors.Forbidden):
        await manager.create_image(ALICE, {"owner": "project-b"})
    with pytest.raises(errors.NotFound):
        await manager.get_image(ALICE, "not-a-uuid")
    image = await manager.create_image(ALICE, {"id": "8a6c3c0e-4e5e-4b8e-9c1e-2f2b1c9d0e11"})
    with pytest.raises(errors.Conflict):
        await manager.create_image(ALICE, {"id": image["id"]})


async def test_patch_semantics(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "a", "os_distro": "debian", **RAW})
    updated = await manager.update_image(ALICE, image["id"], [
        Change("replace", "name", "b"), Change("add", "hw_arch", "x86_64"),
        Change("replace", "os_distro", "ubuntu"), Change("replace", "tags", ["t1", "t2"]),
        Change("replace", "min_disk", 2)])
    assert (updated["name"], updated["hw_arch"], updated["os_distro"]) == ("b", "x86_64", "ubuntu")
    assert updated["tags"] == ["t1", "t2"] and updated["min_disk"] == 2
    removed = await manager.update_image(ALICE, image["id"], [Change("remove", "hw_arch")])
    assert "hw_arch" not in removed
    for change, error in ((Change("replace", "missing", "x"), errors.Conflict),
                          (Change("remove", "missing"), errors.Conflict),
                          (Change("remove", "name"), errors.Forbidden),
                          (Change("replace", "status", "active"), errors.Forbidden),
                          (Change("replace", "checksum", "0"), errors.Forbidden),
                          (Change("add", "deleted", "x"), errors.Forbidden),
                          (Change("replace", "owner", "project-b"), errors.Forbidden),
                          (Change("replace", "min_ram", -1), errors.BadRequest)):
        with pytest.raises(error):
            await manager.update_image(ALICE, image["id"], [change])
    # All or nothing: a failing change leaves earlier ones unapplied.
    with pytest.raises(errors.Forbidden):
        await manager.update_image(ALICE, image["id"], [Change("replace", "name", "c"),
                                                         Change("remove", "name")])
    assert (await manager.get_image(ALICE, image["id"]))["name"] == "b"
    await manager.upload(ALICE, image["id"], chunks_of(b"data"))
    with pytest.raises(errors.Forbidden):
        await manager.update_image(ALICE, image["id"], [Change("replace", "disk_format", "qcow2")])


async def test_tags(manager: ImageManager):
    image = await manager.create_image(ALICE, {"tags": ["a"]})
    await manager.add_tag(ALICE, image["id"], "b")
    await manager.add_tag(ALICE, image["id"], "b")
    assert (await manager.get_image(ALICE, image["id"]))["tags"] == ["a", "b"]
    await manager.delete_tag(ALICE, image["id"], "a")
    with pytest.raises(errors.NotFound):
        await manager.delete_tag(ALICE, image["id"], "a")
    tagged, _ = await manager.list_images(ALICE, filters={"tags": ["b"]})
    assert [i["id"] for i in tagged] == [image["id"]]


async def test_list_filters_sort_and_pages(manager: ImageManager):
    ids = []
    for n in range(7):
        image = await manager.create_image(ALICE, {"name": f"img-{n}", "flavor": str(n % 2),
                                                   **RAW})
        ids.append(image["id"])
    await manager.upload(ALICE, ids[3], chunks_of(b"x" * 30))
    seen, marker = [], None
    while True:
        page, marker = await manager.list_images(ALICE, limit=3, marker=marker,
                                                 sort=[("name", "asc")])
        seen += [i["name"] for i in page]
        if marker is None:
            break
    assert seen == [f"img-{n}" for n in range(7)]
    newest, _ = await manager.list_images(ALICE)
    assert [i["id"] for i in newest] == ids[::-1]
    odd, _ = await manager.list_images(ALICE, filters={"flavor": "1"})
    assert sorted(i["name"] for i in odd) == ["img-1", "img-3", "img-5"]
    active, _ = await manager.list_images(ALICE, filters={"status": "active"})
    assert [i["id"] for i in active] == [ids[3]]
    by_size, _ = await manager.list_images(ALICE, sort=[("size", "desc")], limit=1)
    assert by_size[0]["id"] == ids[3]
    named, _ = await manager.list_images(ALICE, filters={"name": "img-2"})
    assert [i["id"] for i in named] == [ids[2]]
    with pytest.raises(errors.BadRequest):
        await manager.list_images(ALICE, sort=[("owner", "asc")])
    with pytest.raises(errors.BadRequest):
        await manager.list_images(ALICE, marker="8a6c3c0e-4e5e-4b8e-9c1e-2f2b1c9d0e11")
    with pytest.raises(errors.BadRequest):
        await manager.list_images(ALICE, filters={"visibility": "everyone"})


async def test_hidden_images_listed_only_on_request(manager: ImageManager):
    image = await manager.create_image(ALICE, {"os_hidden": True})
    default, _ = await manager.list_images(ALICE)
    assert image["id"] not in [i["id"] for i in default]
    hidden, _ = await manager.list_images(ALICE, filters={"os_hidden": True})
    assert [i["id"] for i in hidden] == [image["id"]]


async def test_download_of_queued_image_has_no_data(manager: ImageManager):
    image = await manager.create_image(ALICE, {})
    view, chunks = await manager.open_download(ALICE, image["id"])
    assert chunks is None and view["status"] == "queued"


async def test_context_without_project_owns_nothing(manager: ImageManager):
    image = await manager.create_image(ALICE, {})
    anonymous = RequestContext(roles=("member",))
    with pytest.raises(errors.NotFound):
        await manager.get_image(anonymous, image["id"])


class HeldUpload:
    """Upload data that stops after its first chunk until ``release`` is set."""

    def __init__(self) -> None:
        self.first_chunk_taken = asyncio.Event()
        self.release = asyncio.Event()

    async def chunks(self):
        yield b"first"
        self.first_chunk_taken.set()
        await self.release.wait()
        yield b"second"


async def test_concurrent_upload_is_conflict(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    held = HeldUpload()
    first = asyncio.create_task(manager.upload(ALICE, image["id"], held.chunks()))
    await held.first_chunk_taken.wait()
    with pytest.raises(errors.Conflict):
        await manager.upload(ALICE, image["id"], chunks_of(b"other"))
    held.release.set()
    assert (await first)["size"] == len(b"firstsecond")


async def test_delete_during_upload_discards_data(manager: ImageManager, store):
    image = await manager.create_image(ALICE, {"name": "img", **RAW})
    held = HeldUpload()
    upload = asyncio.create_task(manager.upload(ALICE, image["id"], held.chunks()))
    await held.first_chunk_taken.wait()
    await manager.delete_image(ALICE, image["id"])
    held.release.set()
    with pytest.raises(errors.Conflict):
        await upload
    assert not store.exists(image["id"])
