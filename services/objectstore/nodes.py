"""Which storage nodes the proxy asks, in which order, and which ones it leaves alone.

A node that fails ``error_limit`` times in a row is error-limited: skipped (or asked last)
for ``error_suppression_interval`` seconds, so a dead node costs nothing per request.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from agents.storage.client import NodeError, StorageClient
from overcast.ring import Device, Ring, RingHolder

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ErrorLimiter:
    def __init__(self, *, limit: int = 3, interval: float = 10.0) -> None:
        self.limit = limit
        self.interval = interval
        self._errors: dict[str, int] = {}
        self._until: dict[str, float] = {}

    def limited(self, address: str) -> bool:
        until = self._until.get(address)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._until[address]
        self._errors.pop(address, None)
        return False

    def error(self, address: str) -> None:
        count = self._errors.get(address, 0) + 1
        self._errors[address] = count
        if count >= self.limit and address not in self._until:
            self._until[address] = time.monotonic() + self.interval
            logger.warning("node %s error-limited for %ss after %s errors", address,
                           self.interval, count)

    def success(self, address: str) -> None:
        if self._errors:
            self._errors.pop(address, None)


class Nodes:
    """The ring, the client and the error limiter, with the proxy's node orderings."""

    def __init__(self, ring: RingHolder, client: StorageClient, limiter: ErrorLimiter, *,
                 request_node_count: int = 2) -> None:
        self.holder = ring
        self.client = client
        self.limiter = limiter
        self.request_node_count = request_node_count  # times the replica count

    @property
    def ring(self) -> Ring:
        return self.holder.ring

    def read_order(self, part: int) -> list[Device]:
        """Primaries (healthy first), then handoffs, up to the request node count."""
        ring = self.ring
        primaries = ring.get_part_nodes(part)
        healthy = [d for d in primaries if not self.limiter.limited(d.address)]
        limited = [d for d in primaries if d not in healthy]
        budget = self.request_node_count * ring.replicas
        handoffs = []
        for dev in ring.get_more_nodes(part):
            if len(primaries) + len(handoffs) >= budget:
                break
            if not self.limiter.limited(dev.address):
                handoffs.append(dev)
        return healthy + handoffs + limited

    def write_slots(self, part: int) -> tuple[list[Device | None], Iterator[Device]]:
        """A node per replica (None where the primary is error-limited) and the handoffs
        that stand in for nodes that fail."""
        ring = self.ring
        primaries = ring.get_part_nodes(part)
        slots: list[Device | None] = [None if self.limiter.limited(d.address) else d
                                      for d in primaries]
        handoffs = (d for d in ring.get_more_nodes(part)
                    if not self.limiter.limited(d.address))
        return slots, handoffs

    async def call(self, dev: Device, func: Callable[[str], Awaitable[T]]) -> T:
        """``func(address)``, recording success or failure for error limiting."""
        try:
            result = await func(dev.address)
        except NodeError:
            self.limiter.error(dev.address)
            raise
        self.limiter.success(dev.address)
        return result

    async def first(self, part: int, func: Callable[[str], Awaitable[T]], *,
                    accept: Callable[[T], bool] = lambda _: True,
                    not_found: type[Exception] | tuple = ()) -> tuple[T | None, list[Any]]:
        """Ask nodes in read order until one gives an accepted answer: (answer or None,
        the other outcomes: rejected answers and errors)."""
        outcomes: list[Any] = []
        for dev in self.read_order(part):
            try:
                result = await self.call(dev, func)
            except NodeError as exc:
                outcomes.append(exc)
                continue
            except not_found as exc:  # type: ignore[misc]
                outcomes.append(exc)
                continue
            if accept(result):
                return result, outcomes
            outcomes.append(result)
        return None, outcomes

    async def write_replica(self, index: int, dev: Device | None, handoffs: Iterator[Device],
                            func: Callable[[int, Device], Awaitable[T]]) -> T | Exception:
        """``func(replica index, node)`` on ``dev`` (None: its primary is error-limited), a
        handoff standing in each time a node fails. The result; a node's real answer (404,
        409...) as the exception; or the last NodeError when no handoff is left."""
        last: Exception = NodeError("no node left")
        while True:
            if dev is None:
                dev = next(handoffs, None)
                if dev is None:
                    return last
            try:
                return await self.call(dev, lambda _a, d=dev: func(index, d))
            except NodeError as exc:
                last, dev = exc, None
            except Exception as exc:  # noqa: BLE001 - a real answer (404, 409...)
                return exc

    async def write_all(self, part: int, func: Callable[[int, Device], Awaitable[T]], *,
                        quorum: int, post_quorum_timeout: float = 0.5) -> list[Any]:
        """``func(replica index, node)`` on a node per replica (``write_replica``);
        returns once every replica answered, or ``post_quorum_timeout`` after ``quorum``
        successes. Outcomes are results or exceptions (NodeError when none was left)."""
        slots, handoffs = self.write_slots(part)
        tasks = [asyncio.ensure_future(self.write_replica(i, dev, handoffs, func))
                 for i, dev in enumerate(slots)]
        successes = 0
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            successes += sum(1 for t in done if not isinstance(t.result(), Exception))
            if successes >= quorum and pending:
                done, pending = await asyncio.wait(pending, timeout=post_quorum_timeout)
                for task in pending:
                    task.cancel()
                break
        return [t.result() if t.done() and not t.cancelled() else NodeError("too slow")
                for t in tasks]
