"""The suffix hash tree replicators compare: cached, invalidated by writes, equal on equal
replicas."""
from __future__ import annotations

import time

from agents.storage import hashes
from agents.storage.diskfile import DiskStore
from tests.unit.agents.storage.disk_helpers import HASH, OTHER, put, ts


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
