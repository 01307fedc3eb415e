"""Helpers for tests: wait for conditions, never for time."""
from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


async def eventually(predicate: Callable[[], Any], *, timeout: float = 10.0,
                     interval: float = 0.05, message: str = "") -> Any:
    """Await until ``predicate()`` (sync or async) returns something truthy, and return it."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met in {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)


def wait_until(predicate: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.1,
               message: str = "") -> Any:
    """The blocking twin of ``eventually`` for synchronous tests."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met in {timeout}s (last: {last!r})")
        time.sleep(interval)
