"""Volume backups in the object store, through its Swift API (cinder-backup's Swift driver,
in small), under the user's token.

A backup reads the volume's file in chunks of ``chunk_size`` bytes. A chunk that is a hole
or all zeros is recorded as zero and not uploaded; every other chunk is the object
``volume_<volume_id>/<backup_id>/chunk-<n:08d>`` of the backup's container, its ETag (MD5)
checked. An incremental backup (given its parent's manifest) uploads only the chunks whose
SHA-256 differs from the parent's chunk at the same offset; the others point at the
parent's objects (in the parent's container, which the entry names when it is not the
backup's own, as Cinder's incrementals may live in another container than their parent),
so restoring it reads objects of several backups, and a backup must not be deleted while a
later incremental depends on it (the manager's rule).

The manifest, returned and also stored as ``volume_<volume_id>/<backup_id>/manifest.json``::

    {"version": 1, "backup_id", "volume_id", "size_bytes", "chunk_size", "container",
     "chunks": [{"offset", "length", "sha256", "object"[, "container"]}],
                                      # object None: zeros; container: not this backup's
     "object_count", "bytes_uploaded",                       # what this backup uploaded
     "parent_id"}

The objects a backup owns are those under its own ``volume_<volume_id>/<backup_id>/``.
Re-running a backup that was interrupted writes the same objects again. The token is sent
to the object store only and never logged.
"""
from __future__ import annotations

import asyncio
import dataclasses
import errno
import functools
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from overcast.fs import fsync_dir

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ZERO_BLOCK = bytes(1 << 20)
_HEX64 = re.compile(r"[0-9a-f]{64}")


class BackupError(Exception):
    """A backup, restore or delete that could not be done (the message says why)."""


@dataclasses.dataclass(frozen=True)
class _Chunk:
    """One chunk as read: ``data`` None when it is all zeros."""

    data: bytes | None
    sha256: str


@functools.lru_cache(maxsize=8)
def _zero_sha256(length: int) -> str:
    digest = hashlib.sha256()
    for _ in range(length // len(_ZERO_BLOCK)):
        digest.update(_ZERO_BLOCK)
    digest.update(_ZERO_BLOCK[:length % len(_ZERO_BLOCK)])
    return digest.hexdigest()


def _all_zero(data: bytes) -> bool:
    step = len(_ZERO_BLOCK)
    for start in range(0, len(data), step):
        if not data.startswith(_ZERO_BLOCK[:min(step, len(data) - start)], start):
            return False
    return True


# Each thread opens the file itself: a thread outlives the task that awaited it when that
# task is cancelled, and must never be left using a descriptor closed (and reused) meanwhile.


def _read_chunk(path: Path, offset: int, length: int) -> _Chunk:
    """The chunk of file ``path`` at ``offset``; a hole is not even read."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            data_at = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole from offset to the end
                data_at = offset + length
            elif exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                data_at = offset
            else:
                raise
        if data_at >= offset + length:
            return _Chunk(None, _zero_sha256(length))
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    if len(data) != length:
        raise BackupError(f"the volume file shrank during the backup (at {offset})")
    if _all_zero(data):
        return _Chunk(None, _zero_sha256(length))
    return _Chunk(data, hashlib.sha256(data).hexdigest())


def _md5(data: bytes) -> str:
    """The ETag of an object holding ``data``; only for chunks that are uploaded (an
    incremental reads and hashes every chunk, and MD5 costs twice SHA-256's CPU)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _write_chunk(path: Path, entry: dict[str, Any], data: bytes) -> None:
    """Write a restored chunk into file ``path`` after checking it."""
    if len(data) != entry["length"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise BackupError(f"the backup's chunk {entry['object']} does not match its "
                          "checksum")
    fd = os.open(path, os.O_WRONLY)
    try:
        view, offset = memoryview(data), entry["offset"]
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
    finally:
        os.close(fd)


def _new_file(path: Path, size: int, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_id(kind: str, value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BackupError(f"invalid {kind} {value!r}")
    return value


def _check_container(container: object) -> str:
    if not isinstance(container, str) or not 0 < len(container.encode()) <= 256 or \
            "/" in container or container in (".", "..") or not container.isprintable():
        raise BackupError(f"invalid container name {container!r}")
    return container


def _prefix(volume_id: str, backup_id: str) -> str:
    return f"volume_{volume_id}/{backup_id}/"


def _check_manifest(manifest: object) -> dict[str, Any]:
    """``manifest`` if it is a version 1 manifest whose chunks lie inside its size."""
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise BackupError("not a backup manifest of version 1")
    try:
        _check_id("backup id", manifest["backup_id"])
        _check_id("volume id", manifest["volume_id"])
        _check_container(manifest["container"])
        size, chunk_size = manifest["size_bytes"], manifest["chunk_size"]
        if not (isinstance(size, int) and isinstance(chunk_size, int) and size >= 0
                and chunk_size > 0):
            raise BackupError("the manifest's sizes are invalid")
        owned = f"volume_{manifest['volume_id']}/"
        for entry in manifest["chunks"]:
            offset, length, obj = entry["offset"], entry["length"], entry["object"]
            if "container" in entry:
                try:
                    _check_container(entry["container"])
                except BackupError:
                    raise BackupError(f"the manifest's chunk at {offset!r} names an invalid "
                                      "container") from None
            if not (isinstance(offset, int) and isinstance(length, int) and offset >= 0
                    and 0 < length <= chunk_size and offset + length <= size
                    and isinstance(entry["sha256"], str) and _HEX64.fullmatch(entry["sha256"])
                    and (obj is None or (isinstance(obj, str) and obj.startswith(owned)
                                         and ".." not in obj.split("/")))):
                raise BackupError(f"the manifest's chunk at {offset!r} is invalid")
    except (KeyError, TypeError) as exc:
        raise BackupError(f"the manifest is incomplete: {exc!r}") from None
    return manifest


class _Bounded:
    """Runs coroutines with at most ``limit`` at once; the first failure is raised by the
    next ``start`` or by ``wait``, and cancels the others."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task] = set()
        self._failure: BaseException | None = None

    async def start(self, work: Callable[[], Awaitable[None]]) -> None:
        """Start ``work()`` once a slot is free."""
        await self._slots.acquire()
        if self._failure is not None:
            self._slots.release()
            raise self._failure
        task = asyncio.create_task(work())
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()

    async def wait(self) -> None:
        """Wait for everything started; raise the first failure."""
        while self._tasks and self._failure is None:
            await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_EXCEPTION)
        if self._failure is not None:
            raise self._failure

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class SwiftBackupStore:
    """Backups of volume files as chunk objects in a project's object store account."""

    def __init__(self, account_url_template: str, *, chunk_size: int = 4 * 2**20,
                 concurrency: int = 4, timeout: float = 60.0) -> None:
        """``account_url_template`` is the object store's account URL with
        ``%(project_id)s`` in it (as the catalog lists it); at most ``concurrency`` chunks
        are transferred at once, and at most one more is held in memory.

        ``chunk_size`` is the unit of zero-skipping and of incremental change: a chunk with
        any data is stored whole. An ext4 volume keeps a few KiB of metadata in every
        128 MiB group, so with 32 MiB chunks an empty 1 GiB volume stored 192 MiB of
        zeros, and a 4 MiB change cost an incremental 96 MiB; with 4 MiB chunks, 24 MiB
        and 12 MiB (bench/volumes.py, docs/benchmarks.md)."""
        if chunk_size < 1 or concurrency < 1:
            raise ValueError("chunk_size and concurrency must be positive")
        self._template = account_url_template
        self._chunk_size = chunk_size
        self._concurrency = concurrency
        limits = httpx.Limits(max_connections=concurrency + 1,
                              max_keepalive_connections=concurrency + 1)
        self._client = httpx.AsyncClient(
            timeout=timeout, transport=httpx.AsyncHTTPTransport(retries=2, limits=limits))

    async def close(self) -> None:
        await self._client.aclose()

    def check_manifest(self, manifest: object) -> dict:
        """``manifest`` if this store can restore and delete with it (a backup record
        imported from elsewhere); ``ValueError`` saying what is wrong otherwise."""
        try:
            return _check_manifest(manifest)
        except BackupError as exc:
            raise ValueError(str(exc)) from None

    # -- HTTP ----------------------------------------------------------------------------

    def _url(self, project_id: str, container: str, obj: str | None = None) -> str:
        account = self._template.replace("%(project_id)s", _check_id("project id",
                                                                      project_id))
        url = f"{account.rstrip('/')}/{quote(container, safe='')}"
        return url if obj is None else f"{url}/{quote(obj, safe='/')}"

    async def _request(self, method: str, url: str, token: str, *, what: str,
                       ok: tuple[int, ...], content: bytes | None = None,
                       headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = await self._client.request(
                method, url, content=content, headers={"X-Auth-Token": token, **(headers or {})})
        except httpx.HTTPError as exc:
            raise BackupError(f"the object store could not be reached to {what}: "
                              f"{type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise BackupError(f"not authorized by the object store to {what} "
                              f"(HTTP {response.status_code})")
        if response.status_code not in ok:
            raise BackupError(f"the object store could not {what}: HTTP "
                              f"{response.status_code} {response.text[:200].strip()}")
        return response

    async def _put_object(self, token: str, url: str, name: str, data: bytes, md5: str,
                          *, content_type: str = "application/octet-stream") -> None:
        response = await self._request(
            "PUT", url, token, what=f"store {name}", ok=(201,), content=data,
            headers={"ETag": md5, "Content-Type": content_type})
        answered = response.headers.get("ETag", "").strip('"').lower()
        if answered != md5:
            raise BackupError(f"the object store stored {name} with ETag {answered!r}, "
                              f"not {md5!r}")

    # -- backup --------------------------------------------------------------------------

    async def backup(self, *, token: str, project_id: str, backup_id: str, volume_id: str,
                     source: Path, container: str, parent: dict | None = None) -> dict:
        """Back up the volume file ``source`` into ``container`` (made if missing) and
        return the manifest; incremental on top of ``parent`` (a manifest of the same
        volume, in any container) when given. Raises ``BackupError``; what was
        uploaded before a failure is removed (a retry writes the same objects anyway)."""
        _check_id("backup id", backup_id)
        _check_id("volume id", volume_id)
        _check_container(container)
        chunk_size, previous = self._chunk_size, {}
        if parent is not None:
            _check_manifest(parent)
            if parent["volume_id"] != volume_id:
                raise BackupError("an incremental backup's parent must be of the same volume")
            chunk_size = parent["chunk_size"]  # so that chunks line up with the parent's
            previous = {(c["offset"], c["length"]): {
                **c, "container": c.get("container") or parent["container"]}
                for c in parent["chunks"]}
        await self._request("PUT", self._url(project_id, container), token,
                            what=f"create container {container}", ok=(201, 202, 204))
        prefix = _prefix(volume_id, backup_id)
        uploaded: list[str] = []
        try:
            chunks, sent = await self._upload_chunks(
                token=token, project_id=project_id, container=container, prefix=prefix,
                source=source, chunk_size=chunk_size, previous=previous, uploaded=uploaded)
            manifest = {
                "version": MANIFEST_VERSION, "backup_id": backup_id, "volume_id": volume_id,
                "size_bytes": sum(c["length"] for c in chunks), "chunk_size": chunk_size,
                "container": container, "chunks": chunks, "object_count": len(uploaded),
                "bytes_uploaded": sent,
                "parent_id": parent["backup_id"] if parent is not None else None}
            body = json.dumps(manifest, separators=(",", ":")).encode()
            name = f"{prefix}manifest.json"
            await self._put_object(token, self._url(project_id, container, name), name, body,
                                   hashlib.md5(body, usedforsecurity=False).hexdigest(),
                                   content_type="application/json")
        except BackupError:
            await self._remove(token, project_id, container, uploaded, quiet=True)
            raise
        logger.info("backup %s of volume %s: %d chunks, %d uploaded (%d bytes)", backup_id,
                    volume_id, len(chunks), len(uploaded), sent)
        return manifest

    async def _upload_chunks(self, *, token: str, project_id: str, container: str,
                             prefix: str, source: Path, chunk_size: int,
                             previous: dict[tuple[int, int], dict], uploaded: list[str]
                             ) -> tuple[list[dict], int]:
        """The manifest's chunk entries and the bytes uploaded; ``uploaded`` gets the name
        of each object this backup stores."""
        try:
            size = (await asyncio.to_thread(os.stat, source)).st_size
        except OSError as exc:
            raise BackupError(f"the volume file cannot be read: {exc}") from None
        chunks: list[dict] = []
        sent = 0
        transfers = _Bounded(self._concurrency)
        try:
            for index, offset in enumerate(range(0, size, chunk_size)):
                length = min(chunk_size, size - offset)
                try:
                    chunk = await asyncio.to_thread(_read_chunk, source, offset, length)
                except OSError as exc:
                    raise BackupError(f"the volume file cannot be read: {exc}") from None
                entry = {"offset": offset, "length": length, "sha256": chunk.sha256,
                         "object": None}
                chunks.append(entry)
                if chunk.data is None:
                    continue
                same = previous.get((offset, length))
                if same is not None and same["sha256"] == chunk.sha256 and same["object"]:
                    entry["object"] = same["object"]
                    if same["container"] != container:
                        entry["container"] = same["container"]
                    continue
                name = entry["object"] = f"{prefix}chunk-{index:08d}"
                url = self._url(project_id, container, name)

                async def put(url: str = url, name: str = name, data: bytes = chunk.data
                              ) -> None:
                    md5 = await asyncio.to_thread(_md5, data)
                    await self._put_object(token, url, name, data, md5)

                uploaded.append(name)  # before it is sent: a failure removes it too
                sent += length
                await transfers.start(put)
                del chunk, put  # the chunk's bytes now belong to its upload alone
            await transfers.wait()
        finally:
            await transfers.cancel()
        return chunks, sent

    # -- restore -------------------------------------------------------------------------

    async def restore(self, *, token: str, project_id: str, manifest: dict,
                      target: Path) -> None:
        """Make ``target`` hold exactly the backed-up volume (``size_bytes`` long, holes
        for zero chunks; a larger volume is grown afterwards by the backend's ``extend``).
        Each chunk's SHA-256 is checked; the file is built beside ``target``, fsynced and
        renamed over it, so a failed restore leaves ``target`` as it was."""
        _check_manifest(manifest)
        target = Path(target)
        container = manifest["container"]
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.restore.tmp")
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o600
        try:
            await asyncio.to_thread(_new_file, tmp, manifest["size_bytes"], mode)
        except OSError as exc:
            raise BackupError(f"cannot restore into {target.name}: {exc}") from None
        transfers = _Bounded(self._concurrency)
        try:
            try:
                for entry in manifest["chunks"]:
                    if entry["object"] is None:
                        continue

                    async def fetch(entry: dict = entry) -> None:
                        name = entry["object"]
                        where = entry.get("container") or container
                        response = await self._request(
                            "GET", self._url(project_id, where, name), token,
                            what=f"read {name}", ok=(200,))
                        await asyncio.to_thread(_write_chunk, tmp, entry, response.content)

                    await transfers.start(fetch)
                await transfers.wait()
            finally:
                await transfers.cancel()
            await asyncio.to_thread(_fsync, tmp)
            os.rename(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BackupError(f"cannot restore into {target.name}: {exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        await asyncio.to_thread(fsync_dir, target.parent)
        logger.info("backup %s restored into %s", manifest["backup_id"], target.name)

    # -- delete --------------------------------------------------------------------------

    async def delete(self, *, token: str, project_id: str, manifest: dict) -> None:
        """Remove the backup's own objects (not its parent's) and its manifest object;
        objects already gone are no error, so it can be repeated."""
        _check_manifest(manifest)
        prefix = _prefix(manifest["volume_id"], manifest["backup_id"])
        own = [c["object"] for c in manifest["chunks"]
               if c["object"] is not None and c["object"].startswith(prefix)
               and c.get("container", manifest["container"]) == manifest["container"]]
        await self._remove(token, project_id, manifest["container"],
                           [*own, f"{prefix}manifest.json"])
        logger.info("backup %s deleted (%d objects)", manifest["backup_id"], len(own) + 1)

    async def _remove(self, token: str, project_id: str, container: str, names: list[str],
                      *, quiet: bool = False) -> None:
        """DELETE ``names`` (missing ones are fine); with ``quiet``, failures are only
        logged (cleaning up after a failed backup)."""
        transfers = _Bounded(self._concurrency)

        async def remove(name: str) -> None:
            await self._request("DELETE", self._url(project_id, container, name), token,
                                what=f"delete {name}", ok=(204, 200, 404))

        try:
            for name in list(dict.fromkeys(names)):
                await transfers.start(functools.partial(remove, name))
            await transfers.wait()
        except BackupError as exc:
            if not quiet:
                raise
            logger.warning("objects of a failed backup left in %s: %s", container, exc)
        finally:
            await transfers.cancel()
