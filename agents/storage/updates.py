"""Asynchronous container listing updates, and the updater that retries them.

An object write queues one listing row for a container node and answers at once. The row is
appended to a journal file first (a crash of the process loses nothing: the journal is
replayed at start), then sent in batches. A batch its node does not take (down, or no such
database yet) is saved under ``async_pending/`` and the updater retries it, against the
container's current primaries, until they all have it.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

logger = logging.getLogger(__name__)

# send(address, account, container, partition, rows) raises when the node did not take them.
Sender = Callable[[str, str, str, int, list[dict[str, Any]]], Awaitable[None]]
# primaries(account, container) -> [(address, partition)]
Resolver = Callable[[str, str], list[tuple[str, int]]]


class UpdateQueue:
    def __init__(self, directory: str | Path, *, send: Sender, resolve: Resolver,
                 max_age: float = 7 * 86400, concurrency: int = 8) -> None:
        self.dir = Path(directory)
        self.pending_dir = self.dir / "async_pending"
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self.send = send
        self.resolve = resolve
        self.max_age = max_age
        self._sem = asyncio.Semaphore(concurrency)
        self._queue: list[tuple[str, str, str, int, dict[str, Any]]] = []
        self._waiters: list[asyncio.Future] = []
        self._journal_fd: int | None = None
        self._journal_path: Path | None = None
        self._wakeup: asyncio.Event | None = None
        self._flushing = asyncio.Lock()

    # -- queueing ----------------------------------------------------------------------------

    def _open_journal(self) -> None:
        self._journal_path = self.dir / f"journal-{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        self._journal_fd = os.open(self._journal_path,
                                   os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def add(self, address: str, account: str, container: str, partition: int,
            row: dict[str, Any]) -> asyncio.Future:
        """Queue one row for ``address``; durable against a crash of this process. The
        future is done once the row was delivered or saved for the updater."""
        if self._journal_fd is None:
            self._open_journal()
        entry = (address, account, container, partition, row)
        os.write(self._journal_fd, orjson.dumps(entry) + b"\n")  # type: ignore[arg-type]
        self._queue.append(entry)
        done = asyncio.get_running_loop().create_future()
        self._waiters.append(done)
        if self._wakeup is not None:
            self._wakeup.set()
        return done

    def recover(self) -> int:
        """Queue again what journals of a previous run hold; the number of rows."""
        count = 0
        for journal in sorted(self.dir.glob("journal-*")):
            for line in journal.read_bytes().splitlines():
                try:
                    address, account, container, partition, row = orjson.loads(line)
                except (orjson.JSONDecodeError, ValueError):
                    continue  # a line cut short by the crash
                self._save_pending(address, account, container, partition, [row])
                count += 1
            journal.unlink()
        if count:
            logger.info("recovered %s listing updates from journals", count)
        return count

    # -- sending -----------------------------------------------------------------------------

    async def flush(self) -> None:
        """Send what is queued, in one batch per node and container; save what fails."""
        async with self._flushing:
            if not self._queue:
                return
            entries, self._queue = self._queue, []
            waiters, self._waiters = self._waiters, []
            journal_fd, journal_path = self._journal_fd, self._journal_path
            self._journal_fd = self._journal_path = None
            batches: dict[tuple[str, str, str, int], list[dict]] = defaultdict(list)
            for address, account, container, partition, row in entries:
                batches[(address, account, container, partition)].append(row)
            await asyncio.gather(*(self._send_or_save(key, rows)
                                   for key, rows in batches.items()))
            if journal_fd is not None:
                os.close(journal_fd)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(journal_path)  # type: ignore[arg-type]
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _send_or_save(self, key: tuple[str, str, str, int], rows: list[dict]) -> None:
        address, account, container, partition = key
        try:
            async with self._sem:
                await self.send(address, account, container, partition, rows)
        except Exception as exc:  # noqa: BLE001 - any failure is retried later
            logger.debug("listing update to %s failed: %s", address, exc)
            self._save_pending(address, account, container, partition, rows)

    def _save_pending(self, address: str, account: str, container: str, partition: int,
                      rows: list[dict]) -> None:
        record = {"account": account, "container": container, "rows": rows,
                  "created": time.time(), "done": []}
        path = self.pending_dir / f"{uuid.uuid4().hex}.json"
        path.write_bytes(orjson.dumps(record))

    def pending_count(self) -> int:
        return sum(1 for _ in self.pending_dir.iterdir())

    async def retry_pending(self) -> int:
        """One updater pass: send every saved batch to each current primary of its
        container that has not taken it yet; the number of batches completed."""
        completed = 0
        for path in sorted(self.pending_dir.glob("*.json")):
            try:
                record = orjson.loads(path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                continue
            account, container = record["account"], record["container"]
            done = set(record.get("done", []))
            targets = [t for t in self.resolve(account, container) if t[0] not in done]
            results = await asyncio.gather(*(
                self._attempt(t, account, container, record["rows"]) for t in targets))
            done.update(r for r in results if r)
            if all(results):
                path.unlink(missing_ok=True)
                completed += 1
            elif time.time() - record["created"] > self.max_age:
                logger.warning("dropping listing update for /%s/%s older than %ss",
                               account, container, self.max_age)
                path.unlink(missing_ok=True)
            else:
                record["done"] = sorted(done)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(orjson.dumps(record))
                os.replace(tmp, path)
        return completed

    async def _attempt(self, target: tuple[str, int], account: str, container: str,
                       rows: list[dict]) -> str | None:
        """Send a saved batch to one primary; its address if it took the batch, else None."""
        address, partition = target
        try:
            async with self._sem:
                await self.send(address, account, container, partition, rows)
            return address
        except Exception:  # noqa: BLE001 - any failure leaves the batch saved for the next pass
            return None

    async def run_once(self) -> None:
        await self.flush()
        await self.retry_pending()

    async def run_flusher(self, interval: float) -> None:
        """Flush as rows arrive: rows queued while a flush is in flight (or within
        ``interval``) go out together in the next one."""
        self._wakeup = asyncio.Event()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if interval:
                await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception:
                logger.exception("flushing listing updates failed")

    def close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
