"""A guest's disk into an image: the driver writes the file, the image service takes it.

The image record was made by the API (queued, owned by the user's project); the upload runs
under the user's own context, so the image service checks the same rights it would for the
user, and takes the image through ``saving`` to ``active``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agents.compute.driver import ComputeDriver
from overcast.context import RequestContext

logger = logging.getLogger(__name__)

CHUNK = 1 << 20
ROOTFS_PROPERTY = "overcast_rootfs"  # the root filesystem archive's format, as the driver says


async def file_chunks(path: Path, size: int = CHUNK) -> AsyncIterator[bytes]:
    source = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(source.read, size):
            yield chunk
    finally:
        source.close()


async def snapshot_to_image(ctx: RequestContext, *, driver: ComputeDriver, images: Any,
                            instance_id: str, image_id: str, workdir: Path) -> dict:
    """Write the guest's disk into the image ``image_id`` and mark its format; returns the
    image, active. On failure the image is deleted (so no half image is left) and the error
    raised again. Idempotent: an image that is no longer ``queued`` was (or is being)
    uploaded by an earlier delivery of the same message, and is left as it is."""
    current = await images.get_image(ctx, image_id)
    if current.get("status") != "queued":
        logger.info("image %s is already %s: snapshot not repeated", image_id,
                    current.get("status"))
        return current
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    target = workdir / f"{image_id}.snapshot"
    try:
        fmt = await driver.snapshot(instance_id, target)
        await images.update_image(ctx, image_id, [
            {"op": "add", "path": ROOTFS_PROPERTY, "value": fmt}])
        image = await images.upload(ctx, image_id, file_chunks(target))
    except BaseException:
        with contextlib.suppress(Exception):
            await images.delete_image(ctx, image_id)
        raise
    finally:
        await asyncio.to_thread(target.unlink, missing_ok=True)
    logger.info("snapshot of %s uploaded as image %s (%s)", instance_id, image_id, fmt)
    return image
