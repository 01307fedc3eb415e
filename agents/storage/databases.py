"""The account and container server's logic: listing databases on this node.

Databases live at ``containers/<partition>/<hash>.db`` and ``accounts/<partition>/<hash>.db``.
Accounts are created on first use (Swift's ``account_autocreate``); containers by PUT.
Containers whose usage changed are reported to their account by ``report_usage``.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agents.storage.broker import Broker
from overcast import errors
from overcast.ring import RingHolder
from overcast.swift import timestamps

logger = logging.getLogger(__name__)

MAX_OPEN = 128


@dataclasses.dataclass(frozen=True)
class DbPath:
    account: str
    container: str
    partition: int

    @property
    def kind(self) -> str:
        return "container" if self.container else "account"


# send(address, account, partition, container_rows) raises when the node did not take them.
UsageSender = Callable[[str, str, int, list[dict[str, Any]]], Awaitable[None]]


class DatabaseManager:
    def __init__(self, root: str | Path, ring: RingHolder) -> None:
        self.root = Path(root)
        self.ring = ring
        self._open: collections.OrderedDict[Path, Broker] = collections.OrderedDict()
        self._dirty: dict[Path, int] = {}
        self._generation = 0

    # -- files -------------------------------------------------------------------------------

    def file_for(self, path: DbPath) -> Path:
        name_hash = self.ring.ring.hash(path.account, path.container)
        top = "containers" if path.container else "accounts"
        return self.root / top / str(path.partition) / f"{name_hash}.db"

    def broker(self, path: DbPath, *, create_with: str | None = None) -> Broker | None:
        """The open broker of ``path``; created (put at ``create_with``) when missing."""
        file = self.file_for(path)
        broker = self._open.get(file)
        if broker is not None:
            self._open.move_to_end(file)
            return broker
        if not file.exists():
            if create_with is None:
                return None
            broker = Broker.create(file, path.kind, account=path.account,
                                   container=path.container, put_timestamp=create_with)
        else:
            broker = Broker(file, path.kind)
        self._open[file] = broker
        while len(self._open) > MAX_OPEN:
            _, old = self._open.popitem(last=False)
            old.close()
        return broker

    def forget(self, file: Path) -> None:
        broker = self._open.pop(file, None)
        if broker is not None:
            broker.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(file) + suffix).unlink(missing_ok=True)

    def all_files(self) -> list[tuple[str, int, Path]]:
        """(kind, partition, file) of every database on this node."""
        found = []
        for top, kind in (("containers", "container"), ("accounts", "account")):
            base = self.root / top
            if not base.is_dir():
                continue
            for part in os.listdir(base):
                if not part.isdigit():
                    continue
                for name in os.listdir(base / part):
                    if name.endswith(".db"):
                        found.append((kind, int(part), base / part / name))
        return found

    def open_file(self, kind: str, file: Path) -> Broker:
        broker = self._open.get(file)
        if broker is None:
            broker = Broker(file, kind)
            self._open[file] = broker
        return broker

    def _mark_dirty(self, path: DbPath) -> None:
        if path.container:
            self._generation += 1
            self._dirty[self.file_for(path)] = self._generation

    def mark_all_dirty(self) -> None:
        for kind, _, file in self.all_files():
            if kind == "container":
                self._generation += 1
                self._dirty[file] = self._generation

    # -- requests ----------------------------------------------------------------------------

    def put(self, path: DbPath, *, timestamp: str,
            metadata: dict[str, list] | None = None) -> bool:
        """Create or re-create; whether it was missing or deleted before."""
        existing = self.broker(path)
        if existing is None:
            broker = self.broker(path, create_with=timestamp)
            assert broker is not None
            broker.merge_info(metadata=metadata or {})
            self._mark_dirty(path)
            return True
        was_deleted = existing.is_deleted()
        existing.merge_info(put_timestamp=timestamp, metadata=metadata or {})
        self._mark_dirty(path)
        return was_deleted and not existing.is_deleted()

    def info(self, path: DbPath) -> dict[str, Any]:
        """The database's info; NotFound when missing (accounts: an empty, live one)."""
        broker = self.broker(path)
        if broker is None:
            if not path.container:
                return {"exists": False, "deleted": False, "put_timestamp": "",
                        "delete_timestamp": "", "created_at": "", "object_count": 0,
                        "bytes_used": 0, "container_count": 0, "metadata": {},
                        "max_row": 0, "db_id": ""}
            raise errors.NotFound("No such container.")
        return {**broker.info(), "exists": True}

    def post(self, path: DbPath, *, metadata: dict[str, list]) -> None:
        broker = self.broker(path, create_with=None if path.container else timestamps.now())
        if broker is None or broker.is_deleted():
            raise errors.NotFound("No such container.")
        broker.merge_info(metadata=metadata)

    def delete(self, path: DbPath, *, timestamp: str) -> None:
        broker = self.broker(path)
        if broker is None or broker.is_deleted():
            raise errors.NotFound("Not found.")
        info = broker.info()
        if info["object_count"] > 0 or info["container_count"] > 0:
            raise errors.Conflict("There was a conflict when trying to complete your "
                                  "request.")
        broker.merge_info(delete_timestamp=timestamp)
        self._mark_dirty(path)

    def list(self, path: DbPath, **params: Any) -> tuple[dict[str, Any], list[Any]]:
        broker = self.broker(path)
        if broker is None or broker.is_deleted():
            if not path.container:
                return self.info(path), []
            raise errors.NotFound("No such container.")
        return broker.info(), broker.list(**params)

    def merge_rows(self, path: DbPath, rows: list[dict[str, Any]]) -> None:
        broker = self.broker(path, create_with=None if path.container else timestamps.now())
        if broker is None:
            raise errors.NotFound("No such container.")
        if broker.merge_rows(rows):
            self._mark_dirty(path)

    def sync(self, path: DbPath, *, sender: dict[str, Any], rows: list[dict[str, Any]],
             max_row: int) -> int:
        """Merge a replica's info and rows; the sender's sync point after the merge."""
        broker = self.broker(path, create_with=sender["put_timestamp"] or timestamps.now())
        assert broker is not None
        broker.merge_info(put_timestamp=sender["put_timestamp"],
                          delete_timestamp=sender["delete_timestamp"],
                          metadata=sender["metadata"])
        point = broker.sync_point(sender["db_id"])
        if rows and broker.merge_rows(rows):
            self._mark_dirty(path)
        if max_row > point:
            broker.set_sync_point(sender["db_id"], max_row)
            point = max_row
        return point

    # -- usage reports -----------------------------------------------------------------------

    async def report_usage(self, send: UsageSender) -> int:
        """Send the usage of changed containers to their account's primaries; the number of
        containers reported to all of them. Unreported ones stay dirty for the next pass."""
        if not self._dirty:
            return 0
        snapshot = dict(self._dirty)
        by_target: dict[tuple[str, str, int], list[tuple[Path, dict]]] = \
            collections.defaultdict(list)
        for file, _ in snapshot.items():
            if not file.exists():
                self._dirty.pop(file, None)
                continue
            info = self.open_file("container", file).info()
            row = {"name": info["container"], "put_timestamp": info["put_timestamp"],
                   "delete_timestamp": info["delete_timestamp"],
                   "object_count": info["object_count"], "bytes_used": info["bytes_used"],
                   "stats_timestamp": info["stats_timestamp"] or info["put_timestamp"],
                   "deleted": info["deleted"]}
            part, nodes = self.ring.ring.get_nodes(info["account"])
            for node in nodes:
                by_target[(node.address, info["account"], part)].append((file, row))
        failed: set[Path] = set()

        async def deliver(target: tuple[str, str, int], items: list[tuple[Path, dict]]) -> None:
            try:
                await send(target[0], target[1], target[2], [row for _, row in items])
            except Exception as exc:  # noqa: BLE001 - retried next pass
                logger.debug("usage report to %s failed: %s", target[0], exc)
                failed.update(file for file, _ in items)

        await asyncio.gather(*(deliver(t, items) for t, items in by_target.items()))
        reported = 0
        for file, generation in snapshot.items():
            if file not in failed and self._dirty.get(file) == generation:
                del self._dirty[file]
                reported += 1
        return reported

    def close(self) -> None:
        for broker in self._open.values():
            broker.close()
        self._open.clear()
