"""Periodic tasks that a test can step with ``run_once()`` instead of sleeping."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class PeriodicTask:
    """Calls ``func`` every ``interval`` seconds until stopped; errors are logged, not fatal."""

    def __init__(self, name: str, func: Callable[[], Awaitable[None]], *, interval: float,
                 initial_delay: float = 0.0) -> None:
        self.name = name
        self.func = func
        self.interval = interval
        self.initial_delay = initial_delay
        self._task: asyncio.Task | None = None

    async def run_once(self) -> None:
        await self.func()

    async def _loop(self) -> None:
        if self.initial_delay:
            await asyncio.sleep(self.initial_delay)
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("periodic task %s failed", self.name)
            # Keep the cadence steady: a slow run shortens the next wait.
            await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
