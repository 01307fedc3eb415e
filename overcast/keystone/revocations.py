"""A process's subscription to identity's revocation events, which keeps its token cache
honest.

Each event drops the cached validations it matches the moment it arrives. While the bus is
down events can be missed, so the cache is emptied and stays off (every request is checked
with Keystone) from the moment the connection drops until the subscription is back; it is
emptied once more then, for whatever was cached in the meantime cannot exist, and so
nothing revoked survives a broker outage.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from overcast import errors
from overcast.bus import Bus
from overcast.keystone.events import REVOCATION_EVENT_TYPE, RevocationEvent
from overcast.keystone.tokens import TokenCache

logger = logging.getLogger(__name__)


class RevocationSubscriber:
    """Keeps ``cache`` live exactly while identity's revocation events reach this process.

    It owns ``bus``: it connects it in the background and closes it on ``stop``, so give it a
    ``Bus`` of its own (not the one the process serves its RPC on).
    """

    def __init__(self, bus: Bus, cache: TokenCache) -> None:
        self.bus = bus
        self.cache = cache
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Connect and subscribe in the background; the cache stays off until subscribed."""
        self.cache.suspend()
        self._task = asyncio.get_running_loop().create_task(self._subscribe())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.bus.close()

    async def _subscribe(self) -> None:
        while True:
            try:
                await self.bus.connect()
                break
            except Exception as exc:  # noqa: BLE001 - broker not up yet: keep trying
                logger.warning("message bus unreachable, tokens are not cached: %s", exc)
        self.bus.on_disconnect.append(self._on_disconnect)
        self.bus.on_reconnect.append(self._on_reconnect)
        await self.bus.subscribe_notifications(REVOCATION_EVENT_TYPE, self.on_event)
        self.cache.resume()
        logger.info("subscribed to token revocations; caching validations")

    def _on_disconnect(self) -> None:
        self.cache.suspend()
        logger.warning("message bus lost: token cache emptied and off until it is back")

    async def _on_reconnect(self) -> None:
        self.cache.resume()
        logger.info("message bus back: token cache emptied and on again")

    async def on_event(self, notification: Any) -> None:
        payload = notification.get("payload") if isinstance(notification, dict) else None
        try:
            event = RevocationEvent.from_wire(payload)
        except errors.BadRequest as exc:
            logger.warning("ignoring a malformed revocation event: %s", exc)
            return
        dropped = self.cache.revoke(event)
        if dropped:
            logger.info("dropped %d cached token(s) revoked by identity", dropped)
