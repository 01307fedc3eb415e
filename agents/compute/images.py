"""The host's image cache: each image is downloaded once per host, into
``<state>/compute/<host>/images/<id>.<md5>``, and shared by every guest booted from it.

The file is named by the image's checksum too, so an image whose data changed under the same
id (the default ``cirros``, deleted and registered again) is fetched again, not booted stale.

A download goes to a temporary file beside its place, is checked against the image's MD5
and renamed into place, so a cached file is always whole; one download per image runs at a
time (later callers wait for it and use its file).
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from overcast import errors
from overcast.context import RequestContext

logger = logging.getLogger(__name__)


class ImageCache:
    def __init__(self, root: Path, images: Any) -> None:
        self.root = root
        self.images = images  # an ImageClient: open_download(ctx, image_id)
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, image_id: str, checksum: str | None = None) -> Path:
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise errors.BadRequest(f"Invalid image id {image_id!r}")
        if checksum is not None and not checksum.isalnum():
            raise errors.BadRequest(f"Invalid checksum {checksum!r}")
        return self.root / (f"{image_id}.{checksum}" if checksum else image_id)

    async def fetch(self, ctx: RequestContext, image_id: str) -> Path:
        """The cached file of ``image_id``, downloaded first if it is not cached yet; the
        image service's errors (NotFound, Forbidden, ...) are raised as they are."""
        self.path(image_id)  # a bad id is refused before anything is asked
        image = await self.images.get_image(ctx, image_id)
        path = self.path(image_id, image.get("checksum"))
        if path.exists():
            return path
        lock = self._locks.setdefault(image_id, asyncio.Lock())
        async with lock:
            if not path.exists():
                await self._download(ctx, image_id, path)
        return path

    async def _download(self, ctx: RequestContext, image_id: str, path: Path) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        opened = await self.images.open_download(ctx, image_id)
        if opened.chunks is None:
            raise errors.Conflict(f"Image {image_id} has no data "
                                  f"(status {opened.image['status']}).")
        tmp = path.with_name(f".{image_id}.{uuid.uuid4().hex}.part")
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        try:
            sink = await asyncio.to_thread(tmp.open, "wb")
            try:
                async for chunk in opened.chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(sink.write, chunk)
                await asyncio.to_thread(os.fsync, sink.fileno())
            finally:
                sink.close()
            if opened.checksum and digest.hexdigest() != opened.checksum:
                raise errors.ServiceUnavailable(
                    f"Image {image_id} arrived damaged (checksum mismatch)")
            await asyncio.to_thread(os.replace, tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(tmp.unlink)
        logger.info("image %s cached (%d bytes)", image_id, size)

    def remove(self, image_id: str) -> None:
        """Forget a cached image (a deleted temporary snapshot). Idempotent."""
        for cached in (self.path(image_id), *self.root.glob(f"{image_id}.*")):
            cached.unlink(missing_ok=True)
