"""The failure detector: notices dead compute hosts and hands them to fencing and evacuation.

Two signals, both from the broker:
- the host agent's queue has no consumer: its connection is gone (a kill is seen in about a
  second);
- its heartbeats stopped for longer than ``service_down_time`` (a pause or a partition).

It holds back its judgment whenever it may simply not have read the heartbeats yet: right
after it (re)connects, while heartbeats wait unread in its queue, or when its own loop ran
late because the machine is busy. That is what keeps a busy machine free of false alarms.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from services.conductor.hosts import HostTracker
from services.conductor.models import utcnow

logger = logging.getLogger(__name__)

Probe = Callable[[str], Awaitable[int | None]]


class FailureDetector:
    def __init__(self, hosts: HostTracker, *, consumers: Probe,
                 backlog: Callable[[], Awaitable[int | None]],
                 on_down: Callable[[str], Awaitable[object]], interval: float,
                 report_interval: float, auto_evacuate: bool = True) -> None:
        self.hosts = hosts
        self.consumers = consumers
        self.backlog = backlog
        self.on_down = on_down
        self.interval = interval
        self.report_interval = report_interval
        self.auto_evacuate = auto_evacuate
        self.grace = hosts.service_down_time.total_seconds() + 2 * report_interval
        self._quiet_until = time.monotonic() + self.grace
        self._last_run: float | None = None

    def hold_off(self) -> None:
        """Judge nobody for a while (the conductor just (re)connected to the broker)."""
        self._quiet_until = time.monotonic() + self.grace

    async def run_once(self) -> list[str]:
        """One pass; returns the hosts found down (and fenced) in it."""
        started = time.monotonic()
        late = self._last_run is not None and \
            started - self._last_run > self.interval + max(1.0, self.report_interval)
        self._last_run = started
        hosts = self.hosts.compute_hosts()
        for item in hosts:
            count = await self.consumers(item["host"])
            if count is not None:
                self.hosts.set_connected(item["host"], count > 0)
        down = []
        hosts = self.hosts.compute_hosts()
        for item in hosts:
            if item["fenced_at"] is not None:
                self.hosts.unfence_if_reconciled(item["host"])
            elif not item["up"] and not item["forced_down"]:
                down.append(item["host"])
        if not down or late or time.monotonic() < self._quiet_until:
            return []
        backlog = await self.backlog()
        if backlog is None or backlog > 0:
            return []  # its heartbeats may be among the unread messages
        confirmed = [h for h in down if self._silent(h)]
        for host in confirmed:
            logger.warning("compute host %s is down", host)
            if self.auto_evacuate:
                await self.on_down(host)
        return confirmed

    def _silent(self, host: str) -> bool:
        """The host missed at least one heartbeat (a lone dropped consumer is not enough)."""
        seen = self.hosts.last_seen.get((host, "nova-compute"))
        return seen is None or (utcnow() - seen).total_seconds() > 1.5 * self.report_interval
