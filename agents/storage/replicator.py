"""The object replicator: makes every primary of a partition hold the newest files.

One pass (``run_once``):

- For each partition this node is a primary of, ask each other primary for its suffix hashes
  (many partitions per call), and for suffixes that differ, push the files the peer lacks:
  missing objects, newer data, newer tombstones, newer metadata.
- For each partition this node holds as a handoff, push everything to every primary; once
  all of them have it, delete the pushed files here.

Each node pushes only; the replicators of all nodes together make replicas converge. Old
tombstones are reclaimed as suffixes are hashed.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from agents.storage import hashes
from agents.storage.client import NodeError, StorageClient
from agents.storage.diskfile import DiskStore
from agents.storage.replication import ReplicationManager, files_to_send
from overcast.ring import RingHolder
from protos.overcast.object.v1 import object_pb2 as pb

logger = logging.getLogger(__name__)

BATCH = 256
PUSH_CHUNK = 1024 * 1024


@dataclasses.dataclass
class PassStats:
    partitions: int = 0
    pushed: int = 0
    reverted: int = 0
    failures: int = 0


class ObjectReplicator:
    def __init__(self, *, name: str, store: DiskStore, ring: RingHolder,
                 client: StorageClient, concurrency: int = 4) -> None:
        self.name = name
        self.store = store
        self.ring = ring
        self.client = client
        self.local = ReplicationManager(store)
        self.concurrency = concurrency
        self.last = PassStats()

    async def run_once(self) -> PassStats:
        ring = self.ring.ring
        me = ring.device_by_name(self.name)
        stats = PassStats()
        by_peer: dict[str, list[int]] = defaultdict(list)
        handoffs: list[int] = []
        for part in self.store.partitions():
            if part >= ring.partitions:
                continue
            stats.partitions += 1
            primaries = ring.get_part_nodes(part)
            if me is not None and any(d.id == me.id for d in primaries):
                for dev in primaries:
                    if dev.id != me.id:
                        by_peer[dev.address].append(part)
            else:
                handoffs.append(part)
        sem = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(*(self._sync_peer(address, parts, stats, sem)
                               for address, parts in by_peer.items()))
        await asyncio.gather(*(self._revert(part, stats, sem) for part in handoffs))
        self.last = stats
        if stats.pushed or stats.reverted:
            logger.info("replication pass: %s partitions, %s files pushed, %s handoff "
                        "partitions reverted, %s failures", stats.partitions, stats.pushed,
                        stats.reverted, stats.failures)
        return stats

    async def _sync_peer(self, address: str, parts: list[int], stats: PassStats,
                         sem: asyncio.Semaphore) -> None:
        for start in range(0, len(parts), BATCH):
            batch = parts[start:start + BATCH]
            try:
                async with sem:
                    remote = await self.client.partition_hashes(address, batch)
                local = await asyncio.to_thread(self.local.partition_hashes, batch)
            except NodeError as exc:
                logger.debug("replication to %s skipped: %s", address, exc)
                stats.failures += 1
                return
            for part in batch:
                mine = local.get(part, {})
                theirs = remote.get(part, {})
                differ = [s for s, h in mine.items() if theirs.get(s) != h]
                if not differ:
                    continue
                try:
                    async with sem:
                        stats.pushed += await self._sync_suffixes(address, part, differ)
                except NodeError as exc:
                    logger.debug("replication of %s to %s failed: %s", part, address, exc)
                    stats.failures += 1

    async def _sync_suffixes(self, address: str, part: int, suffixes: list[str]) -> int:
        """Push what the peer lacks under ``suffixes``; the number of files pushed."""
        remote = await self.client.list_suffixes(address, part, suffixes)
        local = await asyncio.to_thread(self.local.list_suffixes, part, suffixes)
        wanted = []
        for name_hash, files in local.items():
            for name in files_to_send(files, remote.get(name_hash, [])):
                wanted.append((name_hash, name))
        if wanted:
            await self.client.push_files(address, self._messages(part, wanted))
        return len(wanted)

    async def _messages(self, part: int, files: list[tuple[str, str]]
                        ) -> AsyncIterator[pb.PushFilesRequest]:
        for name_hash, name in files:
            path = self.store.hash_dir(part, name_hash) / name
            try:
                # SIM115: closed below. ASYNC230: opening a local file costs less than a thread
                # hop; the size lookup, which may touch the disk, runs in a thread.
                handle = open(path, "rb")  # noqa: SIM115, ASYNC230 - see above
            except FileNotFoundError:
                continue  # superseded meanwhile; the next pass sees the newer file
            with handle:
                size = await asyncio.to_thread(lambda h=handle: h.seek(0, 2))
                handle.seek(0)
                yield pb.PushFilesRequest(file=pb.FileHeader(
                    partition=part, hash=name_hash, name=name, size=size))
                while chunk := await asyncio.to_thread(handle.read, PUSH_CHUNK):
                    yield pb.PushFilesRequest(chunk=chunk)

    async def _revert(self, part: int, stats: PassStats, sem: asyncio.Semaphore) -> None:
        """Hand a partition held as a handoff back to its primaries, then delete it here."""
        ring = self.ring.ring
        primaries = ring.get_part_nodes(part)
        local = await asyncio.to_thread(
            lambda: self.local.list_suffixes(part, self._suffixes(part)))
        if not local:
            self.store.remove_partition_if_empty(part)
            return
        try:
            for dev in primaries:
                async with sem:
                    remote = await self.client.list_suffixes(
                        dev.address, part, sorted({h[-3:] for h in local}))
                    wanted = [(h, name) for h, files in local.items()
                              for name in files_to_send(files, remote.get(h, []))]
                    if wanted:
                        await self.client.push_files(dev.address, self._messages(part, wanted))
                        stats.pushed += len(wanted)
        except NodeError as exc:
            logger.debug("handoff partition %s not reverted yet: %s", part, exc)
            stats.failures += 1
            return
        # Every primary now has these files or newer ones: drop exactly what was listed.
        for name_hash, files in local.items():
            await asyncio.to_thread(self.store.delete_files, part, name_hash, files)
        await asyncio.to_thread(self._drop_partition, part)
        stats.reverted += 1

    def _suffixes(self, part: int) -> list[str]:
        try:
            return [s.name for s in self.store.partition_dir(part).iterdir()
                    if len(s.name) == 3 and s.is_dir()]
        except FileNotFoundError:
            return []

    def _drop_partition(self, part: int) -> None:
        directory = self.store.partition_dir(part)
        if directory.is_dir() and not any(len(e.name) == 3 for e in directory.iterdir()):
            for name in (hashes.HASHES, hashes.INVALID, hashes.LOCK):
                (directory / name).unlink(missing_ok=True)
            self.store.remove_partition_if_empty(part)
