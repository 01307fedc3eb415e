"""What replication sends a peer."""
from __future__ import annotations

from agents.storage.replication import files_to_send
from tests.unit.agents.storage.disk_helpers import ts


def test_files_to_send():
    data1, data2, ts2, meta3 = (f"{ts(1)}.data", f"{ts(2)}.data", f"{ts(2)}.ts",
                                f"{ts(3)}.meta")
    assert files_to_send([data2], []) == [data2]
    assert files_to_send([data2], [data2]) == []
    assert files_to_send([data1], [ts2]) == []  # the peer's tombstone is newer
    assert files_to_send([ts2], [data1]) == [ts2]  # a newer tombstone goes out
    assert files_to_send([meta3, data2], [data2]) == [meta3]
