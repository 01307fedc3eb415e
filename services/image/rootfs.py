"""Root filesystem archives: which uploads are tar archives (plain, gzip, xz or bzip2).

Only the first bytes are looked at (gzip and xz data are opened just far enough to see the
tar header inside), so detection costs the same for any image size. bzip2 emits nothing
before a whole block (up to 900 kB) is read, so a bzip2 stream is taken on its stream and
block magic alone. The format found becomes
the image's ``overcast_rootfs`` property, which the compute API requires of a boot image.
The formats and their magic bytes are ``overcast.archives``' (which unpacks such archives).
"""
from __future__ import annotations

import lzma
import zlib
from collections.abc import AsyncIterator, Callable

from overcast import archives

PROPERTY = "overcast_rootfs"
FORMATS = archives.FORMATS
HEAD_BYTES = 64 * 1024  # enough compressed data to reach the first tar header
_TAR_MAGIC_AT = archives.TAR_MAGIC_AT

_DECOMPRESSORS: dict[str, Callable[[], object]] = {
    "tar.gz": lambda: zlib.decompressobj(wbits=31),
    "tar.xz": lzma.LZMADecompressor,
}
_BZIP2_BLOCK = b"1AY&SY"  # the first block's magic (the digits of pi)


def _is_tar(head: bytes) -> bool:
    return head[_TAR_MAGIC_AT:_TAR_MAGIC_AT + len(archives.TAR_MAGIC)] == archives.TAR_MAGIC


def detect(head: bytes) -> str | None:
    """The archive format of data starting with ``head``, or None if it is no tar archive."""
    if _is_tar(head):
        return "tar"
    for fmt, make in _DECOMPRESSORS.items():
        if head.startswith(archives.MAGIC[fmt]):
            try:
                inner = make().decompress(head, _TAR_MAGIC_AT + 8)  # type: ignore[attr-defined]
            except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
                return None
            return fmt if _is_tar(inner) else None
    if head.startswith(archives.MAGIC["tar.bz2"]) and head[3:4] in b"123456789" and \
            head[4:10] == _BZIP2_BLOCK:
        return "tar.bz2"
    return None


class HeadRecorder:
    """Passes chunks through, keeping the first ``HEAD_BYTES`` of them for ``detect``."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.head = b""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[:HEAD_BYTES - len(self.head)]
            yield chunk

    def format(self) -> str | None:
        return detect(self.head)
