"""Service lifecycle: start, run until SIGTERM or SIGINT, then stop gracefully."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from overcast import log
from overcast.config import CommonConfig, ConfigError

logger = logging.getLogger(__name__)


class Service:
    """A process's top object: wiring only. Subclasses override ``start`` and ``stop``."""

    name = "service"

    def __init__(self, cfg: CommonConfig) -> None:
        self.cfg = cfg

    async def start(self) -> None:
        """Connect, start servers and periodic tasks; return once the service is serving."""

    async def stop(self) -> None:
        """Stop taking work, finish what is in flight, and release resources."""

    def ready_file(self) -> Path:
        return self.cfg.state_path("run", f"{self.name}.{self.cfg.host}.ready")


async def _serve(service: Service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    ready = service.ready_file()
    ready.write_text(str(os.getpid()))
    logger.info("%s started on %s", service.name, service.cfg.host)
    try:
        await stop.wait()
    finally:
        ready.unlink(missing_ok=True)
        logger.info("%s stopping", service.name)
        await service.stop()
        logger.info("%s stopped", service.name)


def run(service: Service) -> None:
    """Run ``service`` in this process until it is told to stop."""
    log.setup(service=service.name, host=service.cfg.host, level=service.cfg.log_level)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(_serve(service))
    except ConfigError as exc:
        logger.critical("%s refuses to start: %s", service.name, exc)
        raise SystemExit(f"{service.name} refuses to start: {exc}") from None
