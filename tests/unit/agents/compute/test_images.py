"""The host's image cache: one whole download per image, atomic, shared by every spawn."""
from __future__ import annotations

import asyncio
import hashlib

import pytest

from agents.compute.images import ImageCache
from overcast import errors
from overcast.context import RequestContext
from overcast.testing import eventually
from services.image.client import ImageDownload

CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))
DATA = b"root filesystem" * 10_000


class Images:
    """open_download over one image; ``gate`` holds every download until it is set."""

    def __init__(self, *, checksum: str | None = None) -> None:
        self.downloads = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.checksum = checksum or hashlib.md5(DATA).hexdigest()

    async def get_image(self, ctx, image_id):
        if image_id == "missing":
            raise errors.NotFound(f"No image found with ID {image_id}")
        return {"id": image_id, "status": "active", "checksum": self.checksum}

    async def open_download(self, ctx, image_id):
        if image_id == "missing":
            raise errors.NotFound(f"No image found with ID {image_id}")
        self.downloads += 1

        async def chunks():
            for start in range(0, len(DATA), 4096):
                await self.gate.wait()
                yield DATA[start:start + 4096]
        return ImageDownload(image={"id": image_id, "status": "active",
                                    "checksum": self.checksum}, chunks=chunks())


async def test_concurrent_fetches_download_once(tmp_path):
    images = Images()
    images.gate.clear()
    cache = ImageCache(tmp_path / "images", images)
    first = asyncio.ensure_future(cache.fetch(CTX, "img"))
    second = asyncio.ensure_future(cache.fetch(CTX, "img"))
    await eventually(lambda: images.downloads == 1)  # the first is held in its download
    cached = tmp_path / "images" / f"img.{images.checksum}"
    assert not cached.exists()  # nothing half-made in place
    images.gate.set()
    assert await first == await second == cached
    assert cached.read_bytes() == DATA
    assert images.downloads == 1
    await cache.fetch(CTX, "img")
    assert images.downloads == 1


async def test_new_data_under_the_same_id_is_fetched_again(tmp_path):
    images = Images()
    cache = ImageCache(tmp_path / "images", images)
    first = await cache.fetch(CTX, "img")
    images.checksum = hashlib.md5(DATA).hexdigest()[::-1]  # the image was registered again
    with pytest.raises(errors.ServiceUnavailable, match="checksum"):
        await cache.fetch(CTX, "img")  # the twin's data did not change: it arrives "damaged"
    assert images.downloads == 2
    assert first.exists()
    cache.remove("img")
    assert list((tmp_path / "images").iterdir()) == []


async def test_a_damaged_download_leaves_nothing_cached(tmp_path):
    cache = ImageCache(tmp_path / "images", Images(checksum="0" * 32))
    with pytest.raises(errors.ServiceUnavailable, match="checksum"):
        await cache.fetch(CTX, "img")
    assert list((tmp_path / "images").iterdir()) == []


async def test_the_image_services_errors_come_through(tmp_path):
    cache = ImageCache(tmp_path / "images", Images())
    with pytest.raises(errors.NotFound):
        await cache.fetch(CTX, "missing")
    with pytest.raises(errors.BadRequest):
        await cache.fetch(CTX, "../escape")
