"""In-memory (and real-file) twins of what the volume manager drives: the file backend, the
Swift backup store and the image service. Each keeps its real counterpart's contract
(``services/volume/interfaces.py``; ``test_twins.py`` holds them to it) and lets a test hold
an operation half way or make it fail."""
from __future__ import annotations

import asyncio
import hashlib
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from overcast import errors
from overcast.context import RequestContext
from services.volume.backups import BackupError
from services.volume.backups import _check_manifest as backups_check
from services.volume.contract import FILE_NAME

GiB = 1 << 30
CHUNK = 1 << 20


class TwinBackendError(Exception):
    """The backend's BackendError."""


class TwinInvalidImage(TwinBackendError):
    """The backend's InvalidImage."""


class Switches:
    """Failures to inject (``fail["create"] = OSError(...)``, once) and operations to hold
    until released (``hold("create")`` returns the event to set)."""

    def __init__(self) -> None:
        self.fail: dict[str, Exception] = {}
        self._holds: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        self.calls: list[tuple[str, tuple]] = []

    def hold(self, name: str) -> threading.Event:
        self._holds[name] = threading.Event()
        self.entered[name] = threading.Event()
        return self._holds[name]

    def enter(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.entered:
            self.entered[name].set()
        if name in self._holds and not self._holds[name].wait(timeout=30):
            raise TimeoutError(f"{name} held for 30 s")
        if name in self.fail:
            raise self.fail.pop(name)


class TwinBackend:
    """FileBackend's twin: real sparse files of the right size under ``root`` (a header
    line stands in for the filesystem), without mkfs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.switches = Switches()

    def _path(self, kind: str, ident: str) -> Path:
        if not FILE_NAME.fullmatch(f"{kind}-{ident}"):
            raise TwinBackendError(f"invalid {kind} id {ident!r}")
        return self.root / f"{kind}-{ident}"

    def volume_path(self, volume_id: str) -> Path:
        return self._path("volume", volume_id)

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self._path("snapshot", snapshot_id)

    @staticmethod
    def _done(path: Path, size: int | None) -> bool:
        """Whether a creation already finished (the real backend's creations are atomic and
        idempotent); another size is an error, as there."""
        if not path.exists():
            return False
        if size is not None and path.stat().st_size != size:
            raise TwinBackendError(f"{path.name} exists with another size")
        return True

    def _make(self, path: Path, size_gb: int, header: bytes) -> None:
        if self._done(path, size_gb * GiB):
            return
        with path.open("wb") as fh:
            fh.write(header)
            fh.truncate(size_gb * GiB)

    def create(self, volume_id: str, size_gb: int) -> None:
        self.switches.enter("create", volume_id, size_gb)
        self._make(self.volume_path(volume_id), size_gb, b"ext4 empty\n")

    def create_from_image(self, volume_id: str, size_gb: int, image_file: Path) -> None:
        self.switches.enter("create_from_image", volume_id, size_gb, image_file)
        if not tarfile.is_tarfile(image_file):
            raise TwinInvalidImage(f"{image_file.name} is not a root filesystem archive")
        if image_file.stat().st_size > size_gb * GiB:
            raise TwinInvalidImage("the image does not fit")
        self._make(self.volume_path(volume_id), size_gb,
                   b"ext4 from image " + hashlib.md5(image_file.read_bytes(),
                                                     usedforsecurity=False).hexdigest().encode())

    def _copy(self, source: Path, target: Path, size_gb: int) -> None:
        if not source.exists():
            raise TwinBackendError(f"{source.name} does not exist")
        if size_gb and size_gb * GiB < source.stat().st_size:
            raise TwinBackendError(f"a volume made from {source.name} cannot be smaller")
        if self._done(target, size_gb * GiB if size_gb else None):
            return
        with target.open("wb") as fh:  # a sparse copy: only the data is read and written
            fh.truncate(max(size_gb * GiB, source.stat().st_size))
            for offset, piece in data_chunks(source):
                fh.seek(offset)
                fh.write(piece)

    def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        self.switches.enter("create_from_snapshot", volume_id, snapshot_id, size_gb)
        self._copy(self.snapshot_path(snapshot_id), self.volume_path(volume_id), size_gb)

    def create_from_volume(self, volume_id: str, source_id: str, size_gb: int) -> None:
        self.switches.enter("create_from_volume", volume_id, source_id, size_gb)
        self._copy(self.volume_path(source_id), self.volume_path(volume_id), size_gb)

    def snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self.switches.enter("snapshot", volume_id, snapshot_id)
        source = self.volume_path(volume_id)
        self._copy(source, self.snapshot_path(snapshot_id), 0)

    def extend(self, volume_id: str, size_gb: int) -> None:
        self.switches.enter("extend", volume_id, size_gb)
        path = self.volume_path(volume_id)
        if not path.exists():
            raise TwinBackendError(f"{path.name} does not exist")
        if path.stat().st_size > size_gb * GiB:
            raise TwinBackendError("a volume never shrinks")
        with path.open("r+b") as fh:
            fh.truncate(size_gb * GiB)

    def delete(self, volume_id: str) -> None:
        self.switches.enter("delete", volume_id)
        self.volume_path(volume_id).unlink(missing_ok=True)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.switches.enter("delete_snapshot", snapshot_id)
        self.snapshot_path(snapshot_id).unlink(missing_ok=True)

    def used_bytes(self, volume_id: str) -> int:
        return self.volume_path(volume_id).stat().st_blocks * 512

    def check(self) -> None:
        self.switches.enter("check")
        if not self.root.is_dir():
            raise FileNotFoundError(2, "the volumes directory is missing", str(self.root))
        probe = self.root / ".probe"
        probe.write_bytes(b"")
        probe.unlink()

    # -- for tests -------------------------------------------------------------------------

    def files(self) -> set[str]:
        return {p.name for p in self.root.glob("*-*")} if self.root.exists() else set()

    def write(self, volume_id: str, offset: int, data: bytes) -> None:
        with self.volume_path(volume_id).open("r+b") as fh:
            fh.seek(offset)
            fh.write(data)

    def read(self, volume_id: str, offset: int, length: int) -> bytes:
        with self.volume_path(volume_id).open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)


def data_chunks(path: Path) -> Iterator[tuple[int, bytes]]:
    """The CHUNK-aligned pieces of ``path`` that hold data (holes are never read)."""
    with path.open("rb") as fh:
        fd = fh.fileno()
        size = os.fstat(fd).st_size
        position = 0
        while position < size:
            try:
                start = os.lseek(fd, position, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                return
            end = os.lseek(fd, start, os.SEEK_HOLE)
            offset = start // CHUNK * CHUNK
            while offset < end:
                fh.seek(offset)
                yield offset, fh.read(CHUNK)
                offset += CHUNK
            position = offset


class TwinBackupStore:
    """SwiftBackupStore's twin: objects in a dict keyed (account, container, name), and its
    manifest format. Chunks of zeros are not stored (``object`` None); an incremental backup
    stores only the chunks whose SHA-256 differs from its parent's at the same offset."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], bytes] = {}
        self.tokens: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.holds: dict[str, asyncio.Event] = {}

    async def _enter(self, name: str, token: str) -> None:
        self.tokens.append(token)
        if name in self.holds:
            await self.holds[name].wait()
        if name in self.fail:
            raise self.fail.pop(name)

    async def backup(self, *, token: str, project_id: str, backup_id: str, volume_id: str,
                     source: Path, container: str, parent: dict | None = None) -> dict:
        await self._enter("backup", token)
        account = f"AUTH_{project_id}"
        previous = {c["offset"]: {**c, "container": c.get("container") or parent["container"]}
                    for c in (parent or {}).get("chunks", [])}
        chunks, uploaded, count = [], 0, 0
        pieces = await asyncio.to_thread(lambda: list(data_chunks(source)))
        size = await asyncio.to_thread(lambda: source.stat().st_size)
        for offset, piece in pieces:
            if not piece.strip(b"\0"):
                continue
            digest = hashlib.sha256(piece).hexdigest()
            old = previous.get(offset)
            if old is not None and old["sha256"] == digest:
                kept = {k: v for k, v in old.items() if k != "container"}
                if old["container"] != container:  # the parent's, in its own container
                    kept["container"] = old["container"]
                chunks.append(kept)
                continue
            name = f"volume_{volume_id}/{backup_id}/chunk-{offset // CHUNK:08d}"
            self.objects[(account, container, name)] = piece
            chunks.append({"offset": offset, "length": len(piece), "sha256": digest,
                           "object": name})
            uploaded += len(piece)
            count += 1
        return {"version": 1, "backup_id": backup_id, "volume_id": volume_id,
                "size_bytes": size, "chunk_size": CHUNK, "container": container,
                "chunks": chunks, "object_count": count, "bytes_uploaded": uploaded,
                "parent_id": (parent or {}).get("backup_id")}

    def check_manifest(self, manifest: object) -> dict:
        """The real store's check (the twin writes the same manifests)."""
        try:
            return backups_check(manifest)
        except BackupError as exc:
            raise ValueError(str(exc)) from None

    async def restore(self, *, token: str, project_id: str, manifest: dict,
                      target: Path) -> None:
        """``target`` replaced whole by the backed-up volume (``size_bytes`` long)."""
        await self._enter("restore", token)
        account = f"AUTH_{project_id}"

        def write() -> None:
            tmp = target.with_name(f".{target.name}.restore.tmp")
            with tmp.open("wb") as fh:
                fh.truncate(manifest["size_bytes"])
                for chunk in manifest["chunks"]:
                    if chunk["object"] is not None:
                        fh.seek(chunk["offset"])
                        fh.write(self.objects[(account, chunk.get("container")
                                               or manifest["container"], chunk["object"])])
            tmp.rename(target)

        await asyncio.to_thread(write)

    async def delete(self, *, token: str, project_id: str, manifest: dict) -> None:
        await self._enter("delete", token)
        account = f"AUTH_{project_id}"
        prefix = f"volume_{manifest['volume_id']}/{manifest['backup_id']}/"
        for chunk in manifest["chunks"]:  # its own objects only, never its parent's
            if chunk["object"] is not None and chunk["object"].startswith(prefix):
                self.objects.pop((account, manifest["container"], chunk["object"]), None)


class TwinImages:
    """The image service as the volume service sees it: images visible to their owner, or
    to all when public."""

    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.data: dict[str, bytes] = {}

    def add(self, image_id: str, data: bytes, *, owner: str | None = None,
            visibility: str = "public", status: str = "active", **props: Any) -> None:
        self.images[image_id] = {"id": image_id, "name": props.pop("name", image_id),
                                 "status": status, "visibility": visibility, "owner": owner,
                                 "size": len(data), "min_disk": props.pop("min_disk", 0),
                                 "min_ram": 0, "disk_format": "raw",
                                 "container_format": "bare",
                                 "checksum": hashlib.md5(data,
                                                         usedforsecurity=False).hexdigest(),
                                 **props}
        self.data[image_id] = data

    async def get_image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        image = self.images.get(image_id)
        if image is None or not (image["visibility"] == "public" or ctx.is_admin
                                 or image["owner"] == ctx.project_id):
            raise errors.NotFound(f"No image found with ID {image_id}")
        return dict(image)

    async def download(self, ctx: RequestContext, image_id: str, target: Path) -> None:
        await self.get_image(ctx, image_id)
        await asyncio.to_thread(target.write_bytes, self.data[image_id])


def rootfs_tar(path: Path) -> bytes:
    """A tiny root filesystem archive, as bytes."""
    tree = path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "sh").write_text("#!/bin/true\n")
    archive = path / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tree, arcname=".")
    return archive.read_bytes()
