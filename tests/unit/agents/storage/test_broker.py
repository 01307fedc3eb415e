"""Listing databases: last write wins, and usage."""
from __future__ import annotations

from agents.storage.broker import Broker


def row(name: str, stamp: str, size: int = 1, deleted: bool = False) -> dict:
    return {"name": name, "timestamp": stamp, "size": size, "content_type": "t",
            "etag": "e", "deleted": deleted}


def test_container_rows_last_write_wins_and_usage(tmp_path):
    broker = Broker.create(tmp_path / "c.db", "container", account="a", container="c",
                           put_timestamp="0000000001.00000")
    broker.merge_rows([row("o", "0000000002.00000", 10), row("p", "0000000002.00000", 5)])
    broker.merge_rows([row("o", "0000000001.50000", 99)])  # older: ignored
    info = broker.info()
    assert (info["object_count"], info["bytes_used"]) == (2, 15)
    broker.merge_rows([row("o", "0000000003.00000", 0, deleted=True)])
    info = broker.info()
    assert (info["object_count"], info["bytes_used"]) == (1, 5)
    assert [r.name for r in broker.list()] == ["p"]
    # Replacing rows gives them new row ids: replication sends what changed.
    assert [r.name for r in broker.rows_since(2, 10)] == ["o"]


def test_account_rows_merge_newest_usage(tmp_path):
    broker = Broker.create(tmp_path / "a.db", "account", account="a", container="",
                           put_timestamp="0000000001.00000")
    base = {"name": "c", "put_timestamp": "0000000001.00000", "delete_timestamp": "",
            "deleted": False}
    broker.merge_rows([{**base, "object_count": 3, "bytes_used": 30,
                        "stats_timestamp": "0000000005.00000"}])
    broker.merge_rows([{**base, "object_count": 1, "bytes_used": 10,
                        "stats_timestamp": "0000000004.00000"}])  # older usage
    info = broker.info()
    assert (info["container_count"], info["object_count"], info["bytes_used"]) == (1, 3, 30)
    broker.merge_rows([{**base, "delete_timestamp": "0000000006.00000", "object_count": 0,
                        "bytes_used": 0, "stats_timestamp": "0000000006.00000"}])
    assert broker.info()["container_count"] == 0
