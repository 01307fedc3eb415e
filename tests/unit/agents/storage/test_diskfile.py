"""Object files on disk: writes, reads, cleanup, tombstone reclaim and quarantine."""
from __future__ import annotations

import os
import time

from agents.storage import hashes
from agents.storage.diskfile import DiskStore
from tests.unit.agents.storage.disk_helpers import HASH, put, ts


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
