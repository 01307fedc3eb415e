"""Where image bytes live: a file store, and its in-memory twin for tests.

Writers stream: data goes to a temporary file that is fsynced and renamed into place only
once complete, so a reader never sees a partial image and a crash leaves only a temp file.
Checksums are computed on the way through; no image is ever held whole in memory.
"""
from __future__ import annotations

import abc
import asyncio
import dataclasses
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from overcast import errors
from overcast.errors import excerpt
from overcast.fs import fsync_dir

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024


@dataclasses.dataclass(frozen=True)
class StoredData:
    """What a completed write stored."""

    size: int
    md5: str
    sha512: str


class _Digest:
    def __init__(self, max_size: int | None) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()
        self.size = 0
        self.max_size = max_size

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_size is not None and self.size > self.max_size:
            raise errors.PayloadTooLarge(
                f"Image exceeds the storage limit of {self.max_size} bytes.")
        self.md5.update(chunk)
        self.sha512.update(chunk)

    def result(self) -> StoredData:
        return StoredData(size=self.size, md5=self.md5.hexdigest(),
                          sha512=self.sha512.hexdigest())


class ImageStore(abc.ABC):
    """Image data keyed by image id."""

    @abc.abstractmethod
    async def write(self, image_id: str, chunks: AsyncIterator[bytes], *,
                    max_size: int | None = None) -> StoredData:
        """Store everything ``chunks`` yields as ``image_id``'s data, replacing none.

        Raises PayloadTooLarge past ``max_size`` bytes. On any failure nothing is left
        behind and the error propagates.
        """

    @abc.abstractmethod
    def open(self, image_id: str, *, chunk_size: int = CHUNK_SIZE, offset: int = 0,
             length: int | None = None) -> AsyncIterator[bytes]:
        """The data of ``image_id`` in chunks, from byte ``offset`` on, ``length`` bytes of it
        (all the rest when None); NotFound if there is none. Only those bytes are read.

        The data is opened before this returns, so a delete while reading does not cut the
        reader short.
        """

    @abc.abstractmethod
    def delete(self, image_id: str) -> None:
        """Remove ``image_id``'s data if any (idempotent)."""

    @abc.abstractmethod
    def exists(self, image_id: str) -> bool:
        """Whether ``image_id`` has stored data."""

    def cleanup(self) -> None:  # noqa: B027 - optional: a store with nothing to clean keeps it
        """Drop leftovers of writes interrupted by a crash."""


class FileStore(ImageStore):
    """One file per image under ``root``; temporary files under ``root/.tmp``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / ".tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, image_id: str) -> Path:
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise errors.BadRequest(f"Invalid image id {excerpt(image_id)}.")
        return self.root / image_id

    async def write(self, image_id: str, chunks: AsyncIterator[bytes], *,
                    max_size: int | None = None) -> StoredData:
        final = self.path(image_id)
        tmp = self.tmp / f"{image_id}.{uuid.uuid4().hex}"
        digest = _Digest(max_size)

        # SIM115: closed below, on every path. ASYNC230: opening a local file costs less than a
        # thread hop (the fsyncs, which can block, run in threads).
        fh: BinaryIO = open(tmp, "wb")  # noqa: SIM115, ASYNC230 - see above
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                digest.update(chunk)
                fh.write(chunk)
            fh.flush()
            await asyncio.to_thread(os.fsync, fh.fileno())
            fh.close()
            os.replace(tmp, final)
            await asyncio.to_thread(fsync_dir, self.root)
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
        return digest.result()

    def open(self, image_id: str, *, chunk_size: int = CHUNK_SIZE, offset: int = 0,
             length: int | None = None) -> AsyncIterator[bytes]:
        try:
            fh = open(self.path(image_id), "rb")  # noqa: SIM115 - closed by the reader
        except FileNotFoundError:
            raise errors.NotFound(f"No data stored for image {image_id}.") from None
        fh.seek(offset)
        return _read(fh, chunk_size, length)

    def delete(self, image_id: str) -> None:
        self.path(image_id).unlink(missing_ok=True)

    def exists(self, image_id: str) -> bool:
        return self.path(image_id).is_file()

    def cleanup(self) -> None:
        for leftover in self.tmp.iterdir():
            logger.info("removing interrupted upload %s", leftover.name)
            leftover.unlink(missing_ok=True)


async def _read(fh: BinaryIO, chunk_size: int, length: int | None) -> AsyncIterator[bytes]:
    left = length
    try:
        while left is None or left > 0:
            chunk = fh.read(chunk_size if left is None else min(chunk_size, left))
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
            yield chunk
    finally:
        fh.close()


class MemoryStore(ImageStore):
    """The in-memory twin of ``FileStore`` (same contract; for tests and scale runs)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def write(self, image_id: str, chunks: AsyncIterator[bytes], *,
                    max_size: int | None = None) -> StoredData:
        digest = _Digest(max_size)
        parts: list[bytes] = []
        async for chunk in chunks:
            digest.update(chunk)
            parts.append(chunk)
        self.blobs[image_id] = b"".join(parts)
        return digest.result()

    def open(self, image_id: str, *, chunk_size: int = CHUNK_SIZE, offset: int = 0,
             length: int | None = None) -> AsyncIterator[bytes]:
        if image_id not in self.blobs:
            raise errors.NotFound(f"No data stored for image {image_id}.")
        data = self.blobs[image_id]
        return _slices(data[offset:] if length is None else data[offset:offset + length],
                       chunk_size)

    def delete(self, image_id: str) -> None:
        self.blobs.pop(image_id, None)

    def exists(self, image_id: str) -> bool:
        return image_id in self.blobs


async def _slices(data: bytes, chunk_size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start:start + chunk_size]
