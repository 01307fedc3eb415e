"""The listing replicator: makes every primary of an account or container database hold the
same rows, and hands databases held as a handoff back to their primaries.

Rows are pushed past each peer's sync point (what that peer has merged from this database
so far), so replicas in sync cost one small call per peer. Tombstone rows older than the
reclaim age are dropped.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from agents.storage.broker import Broker
from agents.storage.client import NodeError, StorageClient, db_path
from agents.storage.databases import DatabaseManager
from overcast.ring import RingHolder
from overcast.swift import timestamps
from protos.overcast.object.v1 import listing_pb2 as lpb

logger = logging.getLogger(__name__)

BATCH = 1000


class DatabaseReplicator:
    def __init__(self, *, name: str, databases: DatabaseManager, ring: RingHolder,
                 client: StorageClient, reclaim_age: float = 7 * 86400,
                 concurrency: int = 4) -> None:
        self.name = name
        self.databases = databases
        self.ring = ring
        self.client = client
        self.reclaim_age = reclaim_age
        self.concurrency = concurrency

    async def run_once(self) -> int:
        """One pass; the number of rows pushed."""
        ring = self.ring.ring
        me = ring.device_by_name(self.name)
        sem = asyncio.Semaphore(self.concurrency)
        pushed = 0

        async def one(kind: str, part: int, file: Path) -> None:
            nonlocal pushed
            broker = self.databases.open_file(kind, file)
            info = broker.info()
            primaries = ring.get_part_nodes(part)
            is_primary = me is not None and any(d.id == me.id for d in primaries)
            broker.reclaim(timestamps.normalize(time.time() - self.reclaim_age))
            path = db_path(info["account"], info["container"], part)
            ok = True
            for dev in primaries:
                if me is not None and dev.id == me.id:
                    continue
                try:
                    async with sem:
                        pushed += await self._sync(dev.address, path, broker, info)
                except NodeError as exc:
                    logger.debug("database sync to %s failed: %s", dev.address, exc)
                    ok = False
            if not is_primary and ok:
                logger.info("handoff database %s/%s handed back; removing it",
                            info["account"], info["container"])
                self.databases.forget(file)

        await asyncio.gather(*(one(kind, part, file)
                               for kind, part, file in self.databases.all_files()
                               if part < ring.partitions))
        return pushed

    async def _sync(self, address: str, path: lpb.DatabasePath, broker: Broker,
                    info: dict) -> int:
        point = await self.client.sync_db(address, path, info=info)
        pushed = 0
        while point < info["max_row"]:
            rows = broker.rows_since(point, BATCH)
            if not rows:
                break
            values = [r.values for r in rows]
            kwargs = {"objects": values} if broker.kind == "container" else \
                {"containers": values}
            point = await self.client.sync_db(address, path, info=info,
                                              max_row=rows[-1].row, **kwargs)
            pushed += len(rows)
        return pushed
