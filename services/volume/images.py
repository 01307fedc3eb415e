"""Images for volumes made from them: the image service (over its gRPC client, under the
caller's context) as the manager's ``ImageSource``, and the image's properties a volume keeps
(Cinder's ``volume_image_metadata``)."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from overcast import errors
from overcast.context import RequestContext

logger = logging.getLogger(__name__)

# The image fields Cinder copies into a volume's glance metadata, besides its properties.
_IMAGE_FIELDS = ("checksum", "container_format", "disk_format", "min_disk", "min_ram", "size")
# Image fields that are not properties (never copied as such).
_NOT_PROPERTIES = frozenset({"id", "name", "status", "visibility", "owner", "protected",
                             "os_hidden", "tags", "created_at", "updated_at", "file",
                             "schema", "self", "locations", "direct_url", "virtual_size",
                             "os_hash_algo", "os_hash_value", "stores", *_IMAGE_FIELDS})


def volume_image_metadata(image: dict[str, Any]) -> dict[str, str]:
    """What a volume made from ``image`` shows as ``volume_image_metadata``: the image's id,
    name, formats, sizes and checksum, and its own properties, every value a string."""
    meta = {"image_id": str(image["id"]), "image_name": str(image.get("name") or "")}
    for field in _IMAGE_FIELDS:
        if image.get(field) is not None:
            meta[field] = str(image[field])
    for key, value in image.items():
        if key not in _NOT_PROPERTIES and value is not None and not isinstance(value,
                                                                                (dict, list)):
            meta[key] = str(value)
    return meta


class ImageServiceSource:
    """``ImageSource`` over ``services.image.client.ImageClient``."""

    def __init__(self, client: Any) -> None:
        self.client = client  # an ImageClient: get_image, open_download, close

    async def get_image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        return await self.client.get_image(ctx, image_id)

    async def download(self, ctx: RequestContext, image_id: str, target: Path) -> None:
        opened = await self.client.open_download(ctx, image_id)
        if opened.chunks is None:
            raise errors.Conflict(f"Image {image_id} has no data "
                                  f"(status {opened.image['status']}).")
        digest = hashlib.md5(usedforsecurity=False)
        sink = await asyncio.to_thread(target.open, "wb")
        try:
            async for chunk in opened.chunks:
                digest.update(chunk)
                await asyncio.to_thread(sink.write, chunk)
            await asyncio.to_thread(os.fsync, sink.fileno())
        finally:
            sink.close()
        if opened.checksum and digest.hexdigest() != opened.checksum:
            raise errors.ServiceUnavailable(f"Image {image_id} arrived damaged "
                                            f"(checksum mismatch)")
        logger.info("image %s downloaded for a volume", image_id)

    async def close(self) -> None:
        await self.client.close()
