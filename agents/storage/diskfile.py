"""Object files on one node's disk.

Layout under ``root``::

    objects/<partition>/<suffix>/<hash>/<timestamp>.data   the object: data, then metadata
    objects/<partition>/<suffix>/<hash>/<timestamp>.ts     a tombstone: metadata only
    objects/<partition>/<suffix>/<hash>/<timestamp>.meta   metadata set by a later POST
    objects/<partition>/hashes.json, hashes.invalid       cached suffix hashes (see hashes.py)
    tmp/                                                   writes in progress
    quarantined/objects/<hash>-<file>                      files the auditor found corrupt

A file is written to ``tmp/``, fsynced and renamed into its hash directory, so a reader sees
it whole or not at all, and a crash leaves only a temp file. Each file ends with its
metadata (JSON), the metadata's length and a magic number, so data, metadata and checksum
(the MD5 ``etag``) travel together and are replaced together.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from agents.storage import hashes
from overcast.fs import fsync_dir

logger = logging.getLogger(__name__)

TRAILER = struct.Struct(">Q8s")
MAGIC = b"OVCOBJ01"
EXTENSIONS = (".data", ".ts", ".meta")


class DiskFileError(Exception):
    """A file on disk is unreadable or corrupt."""


@dataclasses.dataclass(frozen=True)
class ObjectState:
    """The newest state of one object on this node."""

    exists: bool
    deleted: bool = False
    name: str = ""
    timestamp: str = ""
    meta_timestamp: str = ""
    size: int = 0
    etag: str = ""
    content_type: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    data_path: Path | None = None
    data_offset_end: int = 0

    @property
    def expired(self) -> bool:
        delete_at = self.headers.get("X-Delete-At")
        try:
            return bool(delete_at) and float(delete_at) <= time.time()
        except ValueError:
            return False


NOT_FOUND = ObjectState(exists=False)


def pack_meta(meta: dict[str, Any]) -> bytes:
    raw = orjson.dumps(meta)
    return raw + TRAILER.pack(len(raw), MAGIC)


def read_meta(fd: int, file_size: int) -> tuple[dict[str, Any], int]:
    """The metadata of an open object file and the length of its data."""
    if file_size < TRAILER.size:
        raise DiskFileError("file too short for its trailer")
    length, magic = TRAILER.unpack(os.pread(fd, TRAILER.size, file_size - TRAILER.size))
    data_len = file_size - TRAILER.size - length
    if magic != MAGIC or data_len < 0:
        raise DiskFileError("bad trailer")
    try:
        return orjson.loads(os.pread(fd, length, data_len)), data_len
    except orjson.JSONDecodeError as exc:
        raise DiskFileError(f"bad metadata: {exc}") from None


def read_file_meta(path: Path) -> tuple[dict[str, Any], int]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_meta(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def split_name(name: str) -> tuple[str, str]:
    """``"<ts>.data"`` -> ``("<ts>", ".data")``."""
    stem, dot, ext = name.rpartition(".")
    return stem, dot + ext


def object_dir(root: str | Path, part: int, name_hash: str) -> Path:
    """Where a storage node whose data directory is ``root`` keeps one object's files."""
    return Path(root) / "objects" / str(part) / name_hash[-3:] / name_hash


class DiskStore:
    """The object files of one node."""

    def __init__(self, root: str | Path, *, reclaim_age: float = 7 * 86400,
                 fsync: bool = True) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"
        self.quarantine = self.root / "quarantined" / "objects"
        for path in (self.objects, self.tmp, self.quarantine):
            path.mkdir(parents=True, exist_ok=True)
        self.reclaim_age = reclaim_age
        self.fsync = fsync

    # -- paths -----------------------------------------------------------------------------

    def partition_dir(self, part: int) -> Path:
        return self.objects / str(part)

    def hash_dir(self, part: int, name_hash: str) -> Path:
        return object_dir(self.root, part, name_hash)

    def partitions(self) -> list[int]:
        try:
            return sorted(int(p) for p in os.listdir(self.objects) if p.isdigit())
        except FileNotFoundError:
            return []

    # -- cleanup of one hash directory ------------------------------------------------------

    def cleanup(self, directory: Path) -> list[str]:
        """Drop files superseded by newer ones (and reclaimable tombstones); the files left,
        newest first. Removes the directory when nothing is left."""
        try:
            names = sorted((n for n in os.listdir(directory) if n.endswith(EXTENSIONS)),
                           reverse=True)
        except FileNotFoundError:
            return []
        keep: list[str] = []
        newest: str | None = None
        meta_kept = False
        for name in names:
            _stamp, ext = split_name(name)
            if newest is None and ext in (".data", ".ts"):
                newest = name
                keep.append(name)
            elif newest is None and ext == ".meta" and not meta_kept:
                keep.append(name)
                meta_kept = True
        if newest is not None and newest.endswith(".ts"):
            keep = [newest]
            if time.time() - float(split_name(newest)[0]) > self.reclaim_age:
                keep = []
        elif newest is None:
            keep = []  # only .meta files: nothing to describe
        for name in names:
            if name not in keep:
                _unlink(directory / name)
        if not keep:
            _rmdir_tree_if_empty(directory)
        return keep

    # -- reading -----------------------------------------------------------------------------

    def state(self, part: int, name_hash: str) -> ObjectState:
        """The object's newest state: data (with any newer POSTed metadata) or tombstone."""
        directory = self.hash_dir(part, name_hash)
        try:
            names = sorted(os.listdir(directory), reverse=True)
        except FileNotFoundError:
            return NOT_FOUND
        meta_name = None
        for name in names:
            stamp, ext = split_name(name)
            if ext == ".meta":
                meta_name = meta_name or name
                continue
            if ext == ".ts":
                return ObjectState(exists=False, deleted=True, timestamp=stamp)
            if ext == ".data":
                return self._data_state(directory, name, meta_name)
        return NOT_FOUND

    def _data_state(self, directory: Path, name: str, meta_name: str | None) -> ObjectState:
        path = directory / name
        try:
            meta, data_len = read_file_meta(path)
        except FileNotFoundError:
            return NOT_FOUND
        except DiskFileError as exc:
            logger.warning("unreadable object file %s: %s", path, exc)
            return NOT_FOUND
        headers = dict(meta.get("headers") or {})
        content_type = meta.get("content_type", "")
        meta_ts = meta["timestamp"]
        if meta_name is not None:
            try:
                extra, _ = read_file_meta(directory / meta_name)
                # A POST replaces the user metadata; system metadata stays.
                headers = {k: v for k, v in headers.items() if _is_sys(k)}
                headers.update(extra.get("headers") or {})
                content_type = extra.get("content_type") or content_type
                meta_ts = extra["timestamp"]
            except (FileNotFoundError, DiskFileError):
                pass
        return ObjectState(exists=True, name=meta.get("name", ""),
                           timestamp=meta["timestamp"], meta_timestamp=meta_ts,
                           size=data_len, etag=meta.get("etag", ""),
                           content_type=content_type, headers=headers, data_path=path,
                           data_offset_end=data_len)

    def read(self, state: ObjectState, offset: int = 0, length: int = -1) -> bytes:
        """Bytes of the data file ``state`` describes (raises FileNotFoundError if gone)."""
        end = state.size if length < 0 else min(state.size, offset + length)
        fd = os.open(state.data_path, os.O_RDONLY)
        try:
            return os.pread(fd, max(0, end - offset), offset)
        finally:
            os.close(fd)

    def open_range(self, state: ObjectState, offset: int, length: int,
                   chunk_size: int) -> Iterator[bytes]:
        """A generator of chunks of the data; the file is opened before this returns, so a
        newer write or a delete does not cut the reader short."""
        fd = os.open(state.data_path, os.O_RDONLY)
        end = state.size if length < 0 else min(state.size, offset + length)

        def chunks() -> Iterator[bytes]:
            try:
                position = offset
                while position < end:
                    chunk = os.pread(fd, min(chunk_size, end - position), position)
                    if not chunk:
                        raise DiskFileError("file shorter than its metadata says")
                    position += len(chunk)
                    yield chunk
            finally:
                os.close(fd)
        return chunks()

    # -- writing -----------------------------------------------------------------------------

    def new_writer(self, part: int, name_hash: str) -> ObjectWriter:
        return ObjectWriter(self, part, name_hash)

    def write_whole(self, part: int, name_hash: str, name: str, data: bytes,
                    meta: dict[str, Any]) -> None:
        """Write one complete file (data then metadata) atomically into place."""
        writer = ObjectWriter(self, part, name_hash, checksum=False)
        try:
            writer.write(data)
            writer.commit(name, meta)
        except BaseException:
            writer.abort()
            raise

    def write_raw(self, part: int, name_hash: str, name: str, chunks: Iterator[bytes]) -> None:
        """Place a file received from a peer, as is (its trailer included)."""
        writer = ObjectWriter(self, part, name_hash, checksum=False)
        try:
            for chunk in chunks:
                writer.write(chunk)
            writer.commit(name, None)
        except BaseException:
            writer.abort()
            raise

    def delete_files(self, part: int, name_hash: str, names: list[str]) -> None:
        directory = self.hash_dir(part, name_hash)
        for name in names:
            _unlink(directory / name)
        _rmdir_tree_if_empty(directory)
        hashes.invalidate(self.partition_dir(part), name_hash[-3:])

    def quarantine_file(self, path: Path) -> Path:
        """Move a corrupt file aside so the replicator restores a good copy."""
        directory = path.parent
        target = self.quarantine / f"{directory.name}-{path.name}-{uuid.uuid4().hex[:8]}"
        os.replace(path, target)
        part = int(directory.parent.parent.name)
        hashes.invalidate(self.partition_dir(part), directory.parent.name)
        self.cleanup(directory)
        logger.warning("quarantined %s", path)
        return target

    def clean_tmp(self) -> int:
        removed = 0
        for leftover in self.tmp.iterdir():
            _unlink(leftover)
            removed += 1
        return removed

    def remove_partition_if_empty(self, part: int) -> None:
        directory = self.partition_dir(part)
        try:
            entries = [e for e in os.listdir(directory) if not e.startswith("hashes.")
                       and e != ".lock"]
        except FileNotFoundError:
            return
        if not entries:
            shutil.rmtree(directory, ignore_errors=True)


class ObjectWriter:
    """One file being written: ``write`` chunks, then ``commit`` or ``abort``."""

    def __init__(self, store: DiskStore, part: int, name_hash: str, *,
                 checksum: bool = True) -> None:
        self.store = store
        self.part = part
        self.hash = name_hash
        self.tmp_path = store.tmp / f"{name_hash}.{uuid.uuid4().hex}"
        self.fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self.md5 = hashlib.md5(usedforsecurity=False) if checksum else None
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if self.md5 is not None:
            self.md5.update(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(chunk)

    @property
    def etag(self) -> str:
        return self.md5.hexdigest() if self.md5 is not None else ""

    def commit(self, name: str, meta: dict[str, Any] | None) -> None:
        """Append the metadata, make the file durable and rename it into place."""
        if meta is not None:
            os.write(self.fd, pack_meta(meta))
        if self.store.fsync:
            os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        directory = self.store.hash_dir(self.part, self.hash)
        for attempt in range(3):
            directory.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(self.tmp_path, directory / name)
                break
            except FileNotFoundError:
                # A concurrent cleanup removed the empty directory; make it again.
                if attempt == 2:
                    raise
        if self.store.fsync:
            fsync_dir(directory)
        self.store.cleanup(directory)
        hashes.invalidate(self.store.partition_dir(self.part), self.hash[-3:])

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        _unlink(self.tmp_path)


def _is_sys(header: str) -> bool:
    lower = header.lower()
    return lower.startswith("x-object-sysmeta-") or lower in (
        "x-static-large-object", "x-object-manifest")


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _rmdir_tree_if_empty(hash_dir: Path) -> None:
    """Remove an empty hash directory and its suffix directory if that is empty too."""
    for directory in (hash_dir, hash_dir.parent):
        try:
            os.rmdir(directory)
        except OSError:
            return
