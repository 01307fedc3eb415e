"""One account or container listing database: a SQLite file (WAL) per account or container.

A container database lists objects; an account database lists containers. Rows are never
updated in place: a newer row replaces the old one under a new, larger row id, so "rows
after row id N" is exactly what a replica synced up to N has not seen. Deleted objects and
containers stay as tombstone rows until they are reclaimed.
"""
from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from agents.storage.listing import list_entries
from overcast.swift import timestamps

OBJECT_COLUMNS = ("name", "timestamp", "size", "content_type", "etag", "deleted")
CONTAINER_COLUMNS = ("name", "put_timestamp", "delete_timestamp", "object_count",
                     "bytes_used", "stats_timestamp", "deleted")

SCHEMA = """
CREATE TABLE IF NOT EXISTS info (
    id INTEGER PRIMARY KEY CHECK (id = 0), account TEXT, container TEXT, db_id TEXT,
    created_at TEXT, put_timestamp TEXT, delete_timestamp TEXT, metadata TEXT,
    object_count INTEGER, bytes_used INTEGER, container_count INTEGER,
    stats_timestamp TEXT);
CREATE TABLE IF NOT EXISTS objects (
    row INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, timestamp TEXT,
    size INTEGER, content_type TEXT, etag TEXT, deleted INTEGER);
CREATE TABLE IF NOT EXISTS containers (
    row INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, put_timestamp TEXT,
    delete_timestamp TEXT, object_count INTEGER, bytes_used INTEGER,
    stats_timestamp TEXT, deleted INTEGER);
CREATE TABLE IF NOT EXISTS sync_points (remote_id TEXT PRIMARY KEY, sync_point INTEGER);
"""


class Row:
    """A listing row as a light object (``name`` plus the table's columns)."""

    __slots__ = ("name", "row", "values")

    def __init__(self, values: dict[str, Any], row: int = 0) -> None:
        self.values = values
        self.name = values["name"]
        self.row = row


def merge_metadata(old: dict[str, list], new: dict[str, list]) -> dict[str, list]:
    """Per key, the value with the newer timestamp wins."""
    merged = dict(old)
    for key, (value, stamp) in new.items():
        if key not in merged or merged[key][1] < stamp:
            merged[key] = [value, stamp]
    return merged


class Broker:
    """Access to one database file. ``kind`` is "container" or "account"."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind
        self.table = "objects" if kind == "container" else "containers"
        self.columns = OBJECT_COLUMNS if kind == "container" else CONTAINER_COLUMNS
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                    timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")

    @classmethod
    def create(cls, path: Path, kind: str, *, account: str, container: str,
               put_timestamp: str, db_id: str | None = None) -> Broker:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        conn = sqlite3.connect(tmp, isolation_level=None)
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO info VALUES (0, ?, ?, ?, ?, ?, '', '{}', 0, 0, 0, '')",
                     (account, container, db_id or uuid.uuid4().hex, timestamps.now(),
                      put_timestamp))
        conn.close()
        try:  # another request may have created it meanwhile: keep theirs
            tmp.rename(path) if not path.exists() else tmp.unlink()
        except OSError:
            tmp.unlink(missing_ok=True)
        return cls(path, kind)

    def close(self) -> None:
        self.conn.close()

    # -- info ------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        cur = self.conn.execute(
            "SELECT account, container, db_id, created_at, put_timestamp, delete_timestamp, "
            "metadata, object_count, bytes_used, container_count, stats_timestamp "
            "FROM info")
        (account, container, db_id, created_at, put_ts, delete_ts, metadata, objects,
         used, containers, stats_ts) = cur.fetchone()
        max_row = self.conn.execute(f"SELECT MAX(row) FROM {self.table}").fetchone()[0] or 0
        return {"account": account, "container": container, "db_id": db_id,
                "created_at": created_at, "put_timestamp": put_ts,
                "delete_timestamp": delete_ts, "metadata": orjson.loads(metadata),
                "object_count": objects, "bytes_used": used, "container_count": containers,
                "stats_timestamp": stats_ts, "max_row": max_row,
                "deleted": bool(delete_ts) and delete_ts >= put_ts}

    def is_deleted(self) -> bool:
        return self.info()["deleted"]

    def merge_info(self, *, put_timestamp: str = "", delete_timestamp: str = "",
                   metadata: dict[str, list] | None = None) -> None:
        """Keep the newest put and delete timestamps; merge metadata per key."""
        with self._transaction():
            put_ts, delete_ts, meta = self.conn.execute(
                "SELECT put_timestamp, delete_timestamp, metadata FROM info").fetchone()
            merged = merge_metadata(orjson.loads(meta), metadata or {})
            self.conn.execute(
                "UPDATE info SET put_timestamp = ?, delete_timestamp = ?, metadata = ?",
                (max(put_ts, put_timestamp), max(delete_ts, delete_timestamp),
                 orjson.dumps(merged).decode()))

    # -- rows ------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    def merge_rows(self, rows: Sequence[dict[str, Any]]) -> bool:
        """Merge rows, newest wins; whether the usage changed."""
        changed = False
        with self._transaction():
            for row in rows:
                changed |= (self._merge_object(row) if self.kind == "container"
                            else self._merge_container(row))
            if changed:
                self.conn.execute("UPDATE info SET stats_timestamp = ?", (timestamps.now(),))
        return changed

    def _merge_object(self, row: dict[str, Any]) -> bool:
        old = self.conn.execute("SELECT timestamp, size, deleted FROM objects WHERE name = ?",
                                (row["name"],)).fetchone()
        if old is not None and old[0] >= row["timestamp"]:
            return False
        delta_count = delta_bytes = 0
        if old is not None and not old[2]:
            delta_count, delta_bytes = -1, -old[1]
        if not row["deleted"]:
            delta_count += 1
            delta_bytes += row["size"]
        self.conn.execute(
            "INSERT OR REPLACE INTO objects (name, timestamp, size, content_type, etag, "
            "deleted) VALUES (?, ?, ?, ?, ?, ?)",
            (row["name"], row["timestamp"], row["size"], row["content_type"], row["etag"],
             int(row["deleted"])))
        if delta_count or delta_bytes:
            self.conn.execute("UPDATE info SET object_count = object_count + ?, "
                              "bytes_used = bytes_used + ?", (delta_count, delta_bytes))
            return True
        return False

    def _merge_container(self, row: dict[str, Any]) -> bool:
        old = self.conn.execute(
            "SELECT put_timestamp, delete_timestamp, object_count, bytes_used, "
            "stats_timestamp, deleted FROM containers WHERE name = ?",
            (row["name"],)).fetchone()
        new = dict(row)
        if old is not None:
            new["put_timestamp"] = max(old[0], row["put_timestamp"])
            new["delete_timestamp"] = max(old[1], row["delete_timestamp"])
            if old[4] > row["stats_timestamp"]:
                new["object_count"], new["bytes_used"], new["stats_timestamp"] = old[2:5]
        new["deleted"] = bool(new["delete_timestamp"]) and \
            new["delete_timestamp"] >= new["put_timestamp"]
        if old is not None and (new["put_timestamp"], new["delete_timestamp"],
                                new["object_count"], new["bytes_used"],
                                new["stats_timestamp"]) == tuple(old[:5]):
            return False
        self.conn.execute(
            "INSERT OR REPLACE INTO containers (name, put_timestamp, delete_timestamp, "
            "object_count, bytes_used, stats_timestamp, deleted) VALUES (?, ?, ?, ?, ?, ?, ?)",
            tuple(new[c] if c != "deleted" else int(new[c]) for c in CONTAINER_COLUMNS))
        old_live = old is not None and not old[5]
        old_objects, old_bytes = (old[2], old[3]) if old_live else (0, 0)
        live = not new["deleted"]
        self.conn.execute(
            "UPDATE info SET container_count = container_count + ?, "
            "object_count = object_count + ?, bytes_used = bytes_used + ?",
            (int(live) - int(old_live),
             (new["object_count"] if live else 0) - old_objects,
             (new["bytes_used"] if live else 0) - old_bytes))
        return True

    def rows_since(self, point: int, limit: int) -> list[Row]:
        cols = ", ".join(self.columns)
        cur = self.conn.execute(f"SELECT row, {cols} FROM {self.table} WHERE row > ? "
                                f"ORDER BY row LIMIT ?", (point, limit))
        return [Row(dict(zip(self.columns, r[1:], strict=True)), r[0]) for r in cur]

    def list(self, *, prefix: str = "", delimiter: str = "", marker: str = "",
             end_marker: str = "", limit: int = 10000, reverse: bool = False) -> list[Any]:
        cols = ", ".join(self.columns)

        def fetch(low: str | None, low_inclusive: bool, high: str | None, desc: bool,
                  count: int) -> list[Row]:
            sql = f"SELECT {cols} FROM {self.table} WHERE deleted = 0"
            args: list[Any] = []
            if low is not None:
                sql += " AND name >= ?" if low_inclusive else " AND name > ?"
                args.append(low)
            if high is not None:
                sql += " AND name < ?"
                args.append(high)
            sql += " ORDER BY name DESC LIMIT ?" if desc else " ORDER BY name LIMIT ?"
            args.append(count)
            return [Row(dict(zip(self.columns, r, strict=True)))
                    for r in self.conn.execute(sql, args)]

        return list_entries(fetch, prefix=prefix, delimiter=delimiter, marker=marker,
                            end_marker=end_marker, limit=limit, reverse=reverse)

    def reclaim(self, older_than: str) -> int:
        """Forget tombstone rows older than ``older_than``."""
        with self._transaction():
            ts_col = "timestamp" if self.kind == "container" else "delete_timestamp"
            return self.conn.execute(f"DELETE FROM {self.table} WHERE deleted = 1 AND "
                                     f"{ts_col} < ?", (older_than,)).rowcount

    # -- replication -------------------------------------------------------------------------

    def sync_point(self, remote_id: str) -> int:
        row = self.conn.execute("SELECT sync_point FROM sync_points WHERE remote_id = ?",
                                (remote_id,)).fetchone()
        return row[0] if row else -1

    def set_sync_point(self, remote_id: str, point: int) -> None:
        self.conn.execute("INSERT OR REPLACE INTO sync_points VALUES (?, ?)",
                          (remote_id, point))


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
