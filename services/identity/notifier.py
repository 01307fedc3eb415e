"""Publishes identity's revocation events on the bus for the processes that cache tokens."""
from __future__ import annotations

import asyncio
import contextlib
import logging

from overcast.bus import Bus
from overcast.context import RequestContext
from services.identity.contract import REVOCATION_EVENT_TYPE, RevocationEvent

logger = logging.getLogger(__name__)

RETRY_INTERVAL = 0.5


class RevocationNotifier:
    """Sends each revocation event as an ``identity.revocation.create`` notification, in
    order, as soon as the bus takes it.

    Revocations are recorded in the REST worker threads, so ``submit`` may be called from any
    thread. An event the bus cannot take now (it is down) is retried until it can: a receiver
    that stayed connected still hears it, and one that lost its connection meanwhile has
    emptied its cache anyway.
    """

    def __init__(self, bus: Bus, *, publisher_id: str) -> None:
        self.bus = bus
        self.publisher_id = publisher_id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[RevocationEvent] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def submit(self, event: RevocationEvent) -> None:
        """Queue ``event`` for publishing (thread-safe, never blocks)."""
        if self._loop is None:
            logger.warning("revocation notifier not started; event not published")
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            await self._publish(event)

    async def _publish(self, event: RevocationEvent) -> None:
        ctx = RequestContext(user_name=self.publisher_id)
        while True:
            try:
                await self.bus.notify(ctx, REVOCATION_EVENT_TYPE, event.to_wire(),
                                      publisher_id=self.publisher_id)
                return
            except Exception as exc:  # noqa: BLE001 - bus down or reconnecting: try again
                logger.warning("could not publish a revocation event yet: %s", exc)
                await asyncio.sleep(RETRY_INTERVAL)
