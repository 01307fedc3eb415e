"""Helpers for tests: wait for conditions, never for time; and ``OvercastCloud``, a whole
cloud in containers for a suite of your own (``overcast.testing.stack``; its pytest fixture is
``overcast.testing.fixtures.overcast_cloud``)."""
from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


def _explain(message: str | Callable[[], str], timeout: float, last: Any) -> str:
    """The failure text: ``message`` (called if callable, to describe the state now)."""
    text = message() if callable(message) else message
    return text or f"condition not met in {timeout}s (last: {last!r})"


async def eventually(predicate: Callable[[], Any], *, timeout: float = 10.0,
                     interval: float = 0.05, message: str | Callable[[], str] = "") -> Any:
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
            raise AssertionError(_explain(message, timeout, last))
        await asyncio.sleep(interval)


def wait_until(predicate: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.1,
               message: str | Callable[[], str] = "") -> Any:
    """The blocking twin of ``eventually`` for synchronous tests."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(_explain(message, timeout, last))
        time.sleep(interval)


def __getattr__(name: str) -> Any:
    # OvercastCloud needs testcontainers and docker: imported only when it is asked for.
    if name == "OvercastCloud":
        from overcast.testing.stack import OvercastCloud
        return OvercastCloud
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
