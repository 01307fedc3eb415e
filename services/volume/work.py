"""The work a request leaves behind once it is answered: backend calls in background tasks,
one at a time for each file they touch.

Cinder answers a create, delete, extend, snapshot or backup at once (202) and does the work
in cinder-volume; here it is a task of the same process. ``drain()`` lets a test (or a
stopping service) wait until everything started has finished, instead of sleeping.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        # key -> [lock, holders and waiters]; an entry is dropped once nobody uses it.
        self._locks: dict[str, list[Any]] = {}

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def spawn(self, name: str, work: Coroutine[Any, Any, None]) -> asyncio.Task:
        """Run ``work`` in the background; its failure is logged, never lost silently."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(),
                         exc_info=task.exception())

    @contextlib.asynccontextmanager
    async def exclusive(self, *keys: str) -> AsyncIterator[None]:
        """Hold the locks of ``keys`` (files: ``volume:<id>``, ``snapshot:<id>``), taken in
        sorted order so that two tasks can never wait for each other."""
        async with contextlib.AsyncExitStack() as stack:
            for key in sorted(set(keys)):
                await stack.enter_async_context(self._lock(key))
            yield

    @contextlib.asynccontextmanager
    async def _lock(self, key: str) -> AsyncIterator[None]:
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(key, None)

    async def drain(self) -> None:
        """Return once no task runs (tasks that start others included)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """Cancel what runs (a restart resumes it from the database) and wait for it."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
