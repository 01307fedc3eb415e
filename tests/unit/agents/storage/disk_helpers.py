"""Object files written straight to a ``DiskStore`` for the storage node's tests."""
from __future__ import annotations

import hashlib

from agents.storage.diskfile import DiskStore

HASH = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def ts(value: float) -> str:
    return f"{value:016.5f}"


def put(store: DiskStore, name_hash: str, stamp: str, data: bytes = b"data",
        ext: str = ".data") -> None:
    """Write one object file (``.data`` or ``.ts``) of ``name_hash`` in partition 7."""
    meta = {"name": "/a/c/o", "timestamp": stamp, "etag": hashlib.md5(data).hexdigest(),
            "size": len(data), "content_type": "text/plain", "headers": {}}
    if ext == ".ts":
        meta = {"name": "/a/c/o", "timestamp": stamp, "deleted": True}
        data = b""
    store.write_whole(7, name_hash, f"{stamp}{ext}", data, meta)
