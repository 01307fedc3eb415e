"""Backups through the Swift API, against a real HTTP server on loopback that keeps objects
as Swift does for what the backups use (containers made by PUT; objects PUT, GET and
DELETEd; ETags checked; tokens required)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import pytest

import services.volume.backups as backups
from overcast.http import HttpServer
from services.volume.backups import BackupError, SwiftBackupStore

TOKEN = "gAAAA-a-valid-token"
PROJECT = "0123456789abcdef0123456789abcdef"
MIB = 1 << 20
CHUNK = MIB


class SwiftTwin:
    """An object store account API on the wire: ``/v1/AUTH_<project>/<container>[/<obj>]``."""

    def __init__(self) -> None:
        self.containers: dict[tuple[str, str], dict[str, bytes]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, container/object)
        self.wrong_etag = False
        self.in_flight = 0
        self.most_in_flight = 0
        self.hold_until: int | None = None  # PUTs wait until this many are in flight
        self._crowd = asyncio.Event()

    def objects(self, container: str = "volumebackups") -> dict[str, bytes]:
        return self.containers.get((f"AUTH_{PROJECT}", container), {})

    def puts(self, suffix: str = "") -> list[str]:
        return [path for method, path in self.requests
                if method == "PUT" and "/" in path and path.endswith(suffix)]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        parts = []
        while True:
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(parts)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, reply, extra = await self.handle(scope["method"], scope["path"], headers, body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in extra.items()]
                    + [(b"content-length", str(len(reply)).encode())]})
        await send({"type": "http.response.body", "body": reply})

    async def handle(self, method: str, path: str, headers: dict[str, str], body: bytes
                     ) -> tuple[int, bytes, dict[str, str]]:
        if headers.get("x-auth-token") != TOKEN:
            return 401, b"Unauthorized", {}
        _, version, account, rest = path.split("/", 3)
        container, _, obj = rest.partition("/")
        obj = unquote(obj)
        self.requests.append((method, f"{container}/{obj}" if obj else container))
        key = (account, unquote(container))
        if version != "v1" or account != f"AUTH_{PROJECT}":
            return 404, b"Not Found", {}
        if not obj:
            if method != "PUT":
                return 405, b"", {}
            created = key not in self.containers
            self.containers.setdefault(key, {})
            return (201 if created else 202), b"", {}
        if key not in self.containers:
            return 404, b"no such container", {}
        store = self.containers[key]
        if method == "PUT":
            etag = hashlib.md5(body).hexdigest()
            if headers.get("etag", etag).strip('"') != etag:
                return 422, b"Unprocessable Entity", {}
            await self._crowded()
            store[obj] = body
            return 201, b"", {"etag": "0" * 32 if self.wrong_etag else etag}
        if method == "GET":
            if obj not in store:
                return 404, b"Not Found", {}
            return 200, store[obj], {"etag": hashlib.md5(store[obj]).hexdigest()}
        if method == "DELETE":
            return (204, b"", {}) if store.pop(obj, None) is not None else (404, b"", {})
        return 405, b"", {}

    async def _crowded(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.hold_until is not None:
                if self.in_flight >= self.hold_until:
                    self._crowd.set()
                await asyncio.wait_for(self._crowd.wait(), timeout=10)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def swift() -> AsyncIterator[tuple[SwiftTwin, str]]:
    twin = SwiftTwin()
    server = HttpServer(twin, host="127.0.0.1", port=0)
    await server.start()
    port = server.server.servers[0].sockets[0].getsockname()[1]
    yield twin, f"http://127.0.0.1:{port}/v1/AUTH_%(project_id)s"
    await server.stop()


@pytest.fixture
async def store(swift) -> AsyncIterator[SwiftBackupStore]:
    backend = SwiftBackupStore(swift[1], chunk_size=CHUNK, concurrency=3, timeout=20)
    yield backend
    await backend.close()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sparse_volume(path: Path, size: int, writes: dict[int, bytes]) -> Path:
    """A sparse file of ``size`` bytes with ``writes`` (offset -> bytes) in it."""
    with open(path, "wb") as fh:
        fh.truncate(size)
        for offset, data in writes.items():
            fh.seek(offset)
            fh.write(data)
    return path


def overwrite(path: Path, writes: dict[int, bytes]) -> None:
    with open(path, "r+b") as fh:
        for offset, data in writes.items():
            fh.seek(offset)
            fh.write(data)


VOLUME = str(uuid.uuid4())
SIZE = 10 * MIB
WRITES = {
    0: b"superblock" + os.urandom(4000),
    3 * MIB + MIB // 2: os.urandom(MIB),  # across chunks 3 and 4
    6 * MIB: bytes(MIB),                  # written, but zeros: not uploaded
    SIZE - 100: b"the very end of the volume!",
}
DATA_CHUNKS = [0, 3, 4, 9]


async def backup(store: SwiftBackupStore, source: Path, backup_id: str,
                 parent: dict | None = None, **kwargs) -> dict:
    return await store.backup(token=TOKEN, project_id=PROJECT, backup_id=backup_id,
                              volume_id=VOLUME, source=source, container="volumebackups",
                              parent=parent, **kwargs)


async def restore(store: SwiftBackupStore, manifest: dict, target: Path) -> None:
    await store.restore(token=TOKEN, project_id=PROJECT, manifest=manifest, target=target)


async def test_a_full_backup_restores_byte_for_byte(swift, store, tmp_path: Path) -> None:
    twin, _ = swift
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    backup_id = str(uuid.uuid4())
    manifest = await backup(store, source, backup_id)

    prefix = f"volume_{VOLUME}/{backup_id}/"
    assert [c["offset"] for c in manifest["chunks"]] == list(range(0, SIZE, CHUNK))
    assert [i for i, c in enumerate(manifest["chunks"]) if c["object"]] == DATA_CHUNKS
    assert manifest["chunks"][3]["object"] == f"{prefix}chunk-00000003"
    assert manifest["object_count"] == len(DATA_CHUNKS)
    assert manifest["bytes_uploaded"] == len(DATA_CHUNKS) * CHUNK
    assert (manifest["version"], manifest["size_bytes"], manifest["chunk_size"]) == \
        (1, SIZE, CHUNK)
    assert (manifest["backup_id"], manifest["volume_id"], manifest["container"],
            manifest["parent_id"]) == (backup_id, VOLUME, "volumebackups", None)
    data = source.read_bytes()
    for chunk in manifest["chunks"]:
        piece = data[chunk["offset"]:chunk["offset"] + chunk["length"]]
        assert chunk["sha256"] == hashlib.sha256(piece).hexdigest()
    stored = twin.objects()
    assert sorted(stored) == sorted([f"{prefix}chunk-{i:08d}" for i in DATA_CHUNKS]
                                    + [f"{prefix}manifest.json"])
    assert json.loads(stored[f"{prefix}manifest.json"]) == manifest
    assert stored[f"{prefix}chunk-00000009"] == data[9 * MIB:]

    target = tmp_path / "restored"
    await restore(store, manifest, target)
    assert target.stat().st_size == SIZE
    assert sha256_of(target) == sha256_of(source)
    assert target.stat().st_blocks * 512 <= (len(DATA_CHUNKS) + 1) * CHUNK  # holes kept
    assert sorted(os.listdir(tmp_path)) == ["restored", "volume"]


async def test_an_incremental_uploads_only_changed_chunks_and_restores(
        swift, store, tmp_path: Path) -> None:
    twin, _ = swift
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    original = sha256_of(source)
    full_id, incr_id = str(uuid.uuid4()), str(uuid.uuid4())
    full = await backup(store, source, full_id)
    overwrite(source, {4 * MIB + 10: b"changed", 7 * MIB: b"new data"})  # one new chunk
    changed = sha256_of(source)
    twin.requests.clear()

    incremental = await backup(store, source, incr_id, parent=full)

    own = f"volume_{VOLUME}/{incr_id}/"
    assert sorted(twin.puts()) == [f"volumebackups/{own}chunk-00000004",
                                   f"volumebackups/{own}chunk-00000007",
                                   f"volumebackups/{own}manifest.json"]
    assert (incremental["object_count"], incremental["bytes_uploaded"]) == (2, 2 * CHUNK)
    assert incremental["parent_id"] == full_id
    assert incremental["chunks"][3]["object"] == full["chunks"][3]["object"]
    assert incremental["chunks"][4]["object"] == f"{own}chunk-00000004"

    await restore(store, incremental, tmp_path / "from-incremental")
    assert sha256_of(tmp_path / "from-incremental") == changed
    await restore(store, full, tmp_path / "from-full")
    assert sha256_of(tmp_path / "from-full") == original

    # An incremental of the incremental reads objects of all three backups.
    third = await backup(store, source, str(uuid.uuid4()), parent=incremental)
    assert third["object_count"] == 0
    await restore(store, third, tmp_path / "from-third")
    assert sha256_of(tmp_path / "from-third") == changed


async def test_delete_removes_only_the_backups_own_objects(swift, store,
                                                           tmp_path: Path) -> None:
    twin, _ = swift
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    full_id, incr_id = str(uuid.uuid4()), str(uuid.uuid4())
    full = await backup(store, source, full_id)
    overwrite(source, {0: b"new superblock"})
    incremental = await backup(store, source, incr_id, parent=full)
    full_objects = {name for name in twin.objects() if f"/{full_id}/" in name}

    await store.delete(token=TOKEN, project_id=PROJECT, manifest=incremental)
    assert set(twin.objects()) == full_objects
    await store.delete(token=TOKEN, project_id=PROJECT, manifest=incremental)  # again: fine
    await restore(store, full, tmp_path / "restored")  # the parent is whole
    assert (tmp_path / "restored").read_bytes()[:10] == b"superblock"

    await store.delete(token=TOKEN, project_id=PROJECT, manifest=full)
    assert twin.objects() == {}


async def test_a_rejected_token_is_a_backup_error_and_leaves_no_objects(
        swift, store, tmp_path: Path, caplog) -> None:
    twin, _ = swift
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    with pytest.raises(BackupError, match="not authorized") as caught:
        await store.backup(token="expired-token", project_id=PROJECT,
                           backup_id=str(uuid.uuid4()), volume_id=VOLUME, source=source,
                           container="volumebackups")
    assert "401" in str(caught.value)
    assert twin.containers == {}
    manifest = await backup(store, source, str(uuid.uuid4()))
    with pytest.raises(BackupError, match="not authorized"):
        await store.restore(token="expired-token", project_id=PROJECT, manifest=manifest,
                            target=tmp_path / "restored")
    with pytest.raises(BackupError, match="not authorized"):
        await store.delete(token="expired-token", project_id=PROJECT, manifest=manifest)
    assert "expired-token" not in caplog.text and TOKEN not in caplog.text
    assert sorted(os.listdir(tmp_path)) == ["volume"]


async def test_an_etag_that_does_not_match_fails_the_backup_and_removes_its_chunks(
        swift, store, tmp_path: Path) -> None:
    twin, _ = swift
    twin.wrong_etag = True
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    with pytest.raises(BackupError, match="ETag"):
        await backup(store, source, str(uuid.uuid4()))
    assert twin.objects() == {}


async def test_a_corrupt_chunk_fails_the_restore_and_leaves_the_target_as_it_was(
        swift, store, tmp_path: Path) -> None:
    twin, _ = swift
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    manifest = await backup(store, source, str(uuid.uuid4()))
    name = manifest["chunks"][3]["object"]
    twin.objects()[name] = b"x" + twin.objects()[name][1:]
    target = tmp_path / "target"
    target.write_bytes(b"the volume before the restore")
    with pytest.raises(BackupError, match="checksum"):
        await restore(store, manifest, target)
    assert target.read_bytes() == b"the volume before the restore"
    assert sorted(os.listdir(tmp_path)) == ["target", "volume"]


async def test_a_missing_chunk_fails_the_restore(swift, store, tmp_path: Path) -> None:
    twin, _ = swift
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    manifest = await backup(store, source, str(uuid.uuid4()))
    del twin.objects()[manifest["chunks"][9]["object"]]
    with pytest.raises(BackupError, match="HTTP 404"):
        await restore(store, manifest, tmp_path / "target")
    assert sorted(os.listdir(tmp_path)) == ["volume"]


async def test_uploads_run_in_parallel_with_bounded_memory(swift, tmp_path: Path,
                                                           monkeypatch) -> None:
    twin, url = swift
    concurrency = 3
    twin.hold_until = concurrency  # no PUT answers before three are in flight at once
    held = 0
    most_held = 0
    read_chunk, put_object = backups._read_chunk, SwiftBackupStore._put_object

    def counting_read(*args):
        nonlocal held, most_held
        chunk = read_chunk(*args)
        if chunk.data is not None:
            held += 1
            most_held = max(most_held, held)
        return chunk

    async def counting_put(self, token, url, name, data, md5, **kwargs):
        nonlocal held
        await put_object(self, token, url, name, data, md5, **kwargs)
        if not name.endswith("manifest.json"):
            held -= 1

    monkeypatch.setattr(backups, "_read_chunk", counting_read)
    monkeypatch.setattr(SwiftBackupStore, "_put_object", counting_put)
    source = tmp_path / "volume"
    source.write_bytes(os.urandom(12 * CHUNK))
    store = SwiftBackupStore(url, chunk_size=CHUNK, concurrency=concurrency)
    try:
        manifest = await backup(store, source, str(uuid.uuid4()))
    finally:
        await store.close()
    assert manifest["object_count"] == 12
    assert twin.most_in_flight == concurrency
    assert most_held <= concurrency + 1


async def test_an_incremental_needs_a_parent_of_the_same_volume(store, tmp_path: Path) -> None:
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    full = await backup(store, source, str(uuid.uuid4()))
    with pytest.raises(BackupError, match="same volume"):
        await store.backup(token=TOKEN, project_id=PROJECT, backup_id=str(uuid.uuid4()),
                           volume_id=str(uuid.uuid4()), source=source,
                           container="volumebackups", parent=full)


async def test_an_incremental_in_another_container_reads_and_keeps_its_parents_objects(
        swift, store, tmp_path: Path) -> None:
    """As Cinder's: an incremental may live in another container than its parent; its
    unchanged chunks name the parent's container, a restore reads them there (also through
    a further incremental), and deleting it removes only its own objects."""
    twin, _ = swift
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    full = await backup(store, source, str(uuid.uuid4()))  # in volumebackups
    overwrite(source, {4 * MIB + 10: b"changed"})
    changed = sha256_of(source)
    incr_id = str(uuid.uuid4())
    incremental = await store.backup(token=TOKEN, project_id=PROJECT, backup_id=incr_id,
                                     volume_id=VOLUME, source=source, container="other",
                                     parent=full)
    kept = [c for c in incremental["chunks"] if c["object"] and "container" in c]
    assert kept and {c["container"] for c in kept} == {"volumebackups"}
    own = [c for c in incremental["chunks"] if c["object"] and "container" not in c]
    assert [c["object"] for c in own] == [f"volume_{VOLUME}/{incr_id}/chunk-00000004"]
    await restore(store, incremental, tmp_path / "restored")
    assert sha256_of(tmp_path / "restored") == changed
    third = await store.backup(token=TOKEN, project_id=PROJECT, backup_id=str(uuid.uuid4()),
                               volume_id=VOLUME, source=source, container="third",
                               parent=incremental)
    assert {c.get("container") for c in third["chunks"] if c["object"]} == {"volumebackups",
                                                                           "other"}
    await restore(store, third, tmp_path / "from-third")
    assert sha256_of(tmp_path / "from-third") == changed
    parents = {name for name in twin.objects() if name.startswith("volumebackups/")}
    await store.delete(token=TOKEN, project_id=PROJECT, manifest=incremental)
    assert {name for name in twin.objects() if name.startswith("volumebackups/")} == parents
    assert not [name for name in twin.objects() if name.startswith("other/")]


async def test_an_incremental_keeps_its_parents_chunk_size(swift, tmp_path: Path) -> None:
    _, url = swift
    source = sparse_volume(tmp_path / "volume", SIZE, WRITES)
    first = SwiftBackupStore(url, chunk_size=2 * MIB)
    second = SwiftBackupStore(url, chunk_size=MIB)
    try:
        full = await backup(first, source, str(uuid.uuid4()))
        incremental = await backup(second, source, str(uuid.uuid4()), parent=full)
    finally:
        await first.close()
        await second.close()
    assert incremental["chunk_size"] == 2 * MIB
    assert incremental["object_count"] == 0


@pytest.mark.parametrize("field,value", [("backup_id", "../other"), ("volume_id", "a/b"),
                                         ("container", "a/b"), ("container", ""),
                                         ("project_id", "../../x")])
async def test_names_that_would_change_the_path_are_refused(
        swift, store, tmp_path: Path, field: str, value: str) -> None:
    twin, _ = swift
    source = sparse_volume(tmp_path / "volume", MIB, {0: b"data"})
    arguments = {"token": TOKEN, "project_id": PROJECT, "backup_id": str(uuid.uuid4()),
                 "volume_id": VOLUME, "source": source, "container": "volumebackups",
                 field: value}
    with pytest.raises(BackupError, match="invalid"):
        await store.backup(**arguments)
    assert twin.requests == []


@pytest.mark.parametrize("change", [
    {"version": 2}, {"size_bytes": -1},
    {"chunks": [{"offset": 0, "length": MIB, "sha256": "0" * 64,
                 "object": "../../AUTH_other/c/o"}]},
    {"chunks": [{"offset": 9 * MIB, "length": 2 * MIB, "sha256": "0" * 64, "object": None}]},
    {"chunks": [{"offset": 0}]},
    {"chunks": [{"offset": 0, "length": MIB, "sha256": "0" * 64,
                 "object": f"volume_{VOLUME}/b/chunk-00000000", "container": "../AUTH_x"}]},
])
async def test_a_manifest_that_is_not_sound_is_refused(swift, store, tmp_path: Path,
                                                       change: dict) -> None:
    twin, _ = swift
    manifest = {"version": 1, "backup_id": str(uuid.uuid4()), "volume_id": VOLUME,
                "size_bytes": SIZE, "chunk_size": MIB, "container": "volumebackups",
                "chunks": [], "object_count": 0, "bytes_uploaded": 0, "parent_id": None,
                **change}
    with pytest.raises(BackupError, match="manifest"):
        await restore(store, manifest, tmp_path / "target")
    with pytest.raises(BackupError, match="manifest"):
        await store.delete(token=TOKEN, project_id=PROJECT, manifest=manifest)
    assert twin.requests == []
    assert os.listdir(tmp_path) == []


async def test_an_unreachable_object_store_is_a_backup_error(tmp_path: Path) -> None:
    import socket
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        store = SwiftBackupStore(f"http://127.0.0.1:{port}/v1/AUTH_%(project_id)s",
                                 timeout=5)
        try:
            with pytest.raises(BackupError, match="could not be reached"):
                await backup(store, sparse_volume(tmp_path / "v", MIB, {}), "b1")
        finally:
            await store.close()


async def test_a_missing_source_is_a_backup_error(store, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="cannot be read"):
        await backup(store, tmp_path / "absent", str(uuid.uuid4()))


async def test_the_default_chunks_keep_a_sparse_volume_small(swift, tmp_path: Path) -> None:
    """ext4 keeps a few KiB in every 128 MiB block group, and a chunk with any data is
    stored whole: with the default 4 MiB chunks, 8 KiB in each of 8 groups of a 1 GiB
    volume store 8 chunks (32 MiB), not 8 of 32 MiB."""
    store = SwiftBackupStore(swift[1])
    try:
        source = sparse_volume(tmp_path / "ext4-like", 1 << 30, {
            group * 128 * MIB: os.urandom(8192) for group in range(8)})
        manifest = await backup(store, source, str(uuid.uuid4()))
    finally:
        await store.close()
    stored = [chunk for chunk in manifest["chunks"] if chunk["object"]]
    assert len(stored) == 8
    assert sum(chunk["length"] for chunk in stored) <= 8 * 4 * MIB
