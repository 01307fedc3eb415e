"""The object auditor: reads every object file back and quarantines the corrupt ones.

A file whose data no longer matches its stored MD5 or size, or whose metadata cannot be read,
is moved to ``quarantined/`` and its suffix hash invalidated, so the replicator sees the
difference and restores a good copy from a peer. Objects past their ``X-Delete-At`` get a
tombstone at that time, and their container listing is updated (the object expirer).
Reading is rate limited so auditing never starves requests.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from agents.storage.diskfile import DiskFileError, DiskStore, ObjectState, read_meta

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024

# expire(partition, state) deletes an object past its X-Delete-At.
Expirer = Callable[[int, ObjectState], object]


@dataclasses.dataclass
class AuditStats:
    files: int = 0
    bytes: int = 0
    quarantined: int = 0
    expired: int = 0


class ObjectAuditor:
    def __init__(self, store: DiskStore, *, bytes_per_second: float = 50e6,
                 files_per_second: float = 200, expire: Expirer | None = None) -> None:
        self.store = store
        self.bytes_per_second = bytes_per_second
        self.files_per_second = files_per_second
        self.expire = expire
        self.last = AuditStats()

    def _data_files(self) -> list[tuple[int, Path]]:
        found = []
        for part in self.store.partitions():
            base = self.store.partition_dir(part)
            for suffix in _listdir(base):
                if len(suffix) != 3:
                    continue
                for name_hash in _listdir(base / suffix):
                    for name in _listdir(base / suffix / name_hash):
                        if name.endswith(".data"):
                            found.append((part, base / suffix / name_hash / name))
        return found

    async def run_once(self) -> AuditStats:
        stats = AuditStats()
        started = time.monotonic()
        for part, path in self._data_files():
            result = await asyncio.to_thread(self._audit, path)
            stats.files += 1
            if result is None:
                continue
            if result == "corrupt":
                await asyncio.to_thread(self.store.quarantine_file, path)
                stats.quarantined += 1
            else:
                stats.bytes += result
                state = self.store.state(part, path.parent.name)
                if state.exists and state.expired and self.expire is not None:
                    outcome = self.expire(part, state)
                    if asyncio.iscoroutine(outcome):
                        await outcome
                    stats.expired += 1
            # Rate limit: never faster than the configured files and bytes per second.
            elapsed = time.monotonic() - started
            budget = max(stats.files / self.files_per_second,
                         stats.bytes / self.bytes_per_second)
            if budget > elapsed:
                await asyncio.sleep(budget - elapsed)
        self.last = stats
        if stats.quarantined:
            logger.warning("audit pass: %s files, %s quarantined", stats.files,
                           stats.quarantined)
        return stats

    def _audit(self, path: Path) -> str | int | None:
        """None if gone; "corrupt"; or the bytes read."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            size = os.fstat(fd).st_size
            try:
                meta, data_len = read_meta(fd, size)
            except DiskFileError as exc:
                logger.warning("bad metadata in %s: %s", path, exc)
                return "corrupt"
            md5 = hashlib.md5(usedforsecurity=False)
            position = 0
            while position < data_len:
                chunk = os.pread(fd, min(CHUNK, data_len - position), position)
                if not chunk:
                    break
                md5.update(chunk)
                position += len(chunk)
            if position != meta.get("size", data_len) or md5.hexdigest() != meta.get("etag"):
                logger.warning("checksum mismatch in %s", path)
                return "corrupt"
            return position
        finally:
            os.close(fd)


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
