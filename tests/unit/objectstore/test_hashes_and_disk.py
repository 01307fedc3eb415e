"""Object files on disk, the suffix hash tree, and what replication sends."""
from __future__ import annotations

import os
import time

from agents.storage import hashes
from agents.storage.diskfile import DiskStore
from agents.storage.replication import files_to_send

HASH = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


def ts(value: float) -> str:
    return f"{value:016.5f}"


def put(store: DiskStore, name_hash: str, stamp: str, data: bytes = b"data",
        ext: str = ".data") -> None:
    import hashlib
    meta = {"name": "/a/c/o", "timestamp": stamp, "etag": hashlib.md5(data).hexdigest(),
            "size": len(data), "content_type": "text/plain", "headers": {}}
    if ext == ".ts":
        meta = {"name": "/a/c/o", "timestamp": stamp, "deleted": True}
        data = b""
    store.write_whole(7, name_hash, f"{stamp}{ext}", data, meta)


def test_write_then_read_state_and_data(tmp_path):
    store = DiskStore(tmp_path, fsync=False)
    now = time.time()
    put(store, HASH, ts(now), b"hello")
    state = store.state(7, HASH)
    assert state.exists and state.size == 5 and state.timestamp == ts(now)
    assert store.read(state) == b"hello"
    assert store.read(state, 1, 3) == b"ell"
    assert list(store.open_range(state, 0, -1, 2)) == [b"he", b"ll", b"o"]
    assert list(store.tmp.iterdir()) == []  # nothing left behind


def test_newest_wins_and_older_files_are_cleaned_up(tmp_path):
    store = DiskStore(tmp_path, fsync=False)
    now = time.time()
    put(store, HASH, ts(now))
    put(store, HASH, ts(now + 1), ext=".ts")
    state = store.state(7, HASH)
    assert not state.exists and state.deleted
    assert os.listdir(store.hash_dir(7, HASH)) == [f"{ts(now + 1)}.ts"]
    put(store, HASH, ts(now + 2), b"back")
    assert store.state(7, HASH).exists


def test_old_tombstones_are_reclaimed(tmp_path):
    store = DiskStore(tmp_path, fsync=False, reclaim_age=60)
    put(store, HASH, ts(time.time() - 120), ext=".ts")
    assert not store.hash_dir(7, HASH).exists()


def test_suffix_hashes_track_changes_across_invalidation(tmp_path):
    store = DiskStore(tmp_path, fsync=False)
    now = time.time()
    put(store, HASH, ts(now))
    part = store.partition_dir(7)
    first = hashes.get_hashes(part, store.cleanup)
    assert set(first) == {HASH[-3:]}
    assert hashes.get_hashes(part, store.cleanup) == first  # cached
    put(store, HASH, ts(now + 1), ext=".ts")  # invalidates the suffix
    second = hashes.get_hashes(part, store.cleanup)
    assert second[HASH[-3:]] != first[HASH[-3:]]
    put(store, OTHER, ts(now))
    assert set(hashes.get_hashes(part, store.cleanup)) == {HASH[-3:], OTHER[-3:]}
    assert hashes.get_hashes(part, store.cleanup, recalculate=True) == \
        hashes.get_hashes(part, store.cleanup)


def test_identical_replicas_have_identical_hashes(tmp_path):
    one, two = DiskStore(tmp_path / "one", fsync=False), DiskStore(tmp_path / "two",
                                                                     fsync=False)
    stamp = ts(time.time())
    for store in (one, two):
        put(store, HASH, stamp)
    assert hashes.get_hashes(one.partition_dir(7), one.cleanup) == \
        hashes.get_hashes(two.partition_dir(7), two.cleanup)


def test_quarantine_moves_the_file_and_invalidates(tmp_path):
    store = DiskStore(tmp_path, fsync=False)
    put(store, HASH, ts(time.time()))
    part = store.partition_dir(7)
    before = hashes.get_hashes(part, store.cleanup)
    [path] = store.hash_dir(7, HASH).iterdir()
    store.quarantine_file(path)
    assert not store.state(7, HASH).exists
    assert len(list(store.quarantine.iterdir())) == 1
    assert hashes.get_hashes(part, store.cleanup) != before


def test_files_to_send():
    data1, data2, ts2, meta3 = (f"{ts(1)}.data", f"{ts(2)}.data", f"{ts(2)}.ts",
                                f"{ts(3)}.meta")
    assert files_to_send([data2], []) == [data2]
    assert files_to_send([data2], [data2]) == []
    assert files_to_send([data1], [ts2]) == []  # the peer's tombstone is newer
    assert files_to_send([ts2], [data1]) == [ts2]  # a newer tombstone goes out
    assert files_to_send([meta3, data2], [data2]) == [meta3]
