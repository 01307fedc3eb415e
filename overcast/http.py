"""Serving an ASGI app inside a service's own event loop."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

import uvicorn

logger = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the owning service."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(self, app: Callable[..., Awaitable[None]], *, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_config=None,
                                access_log=False, lifespan="off", timeout_keep_alive=30,
                                backlog=2048)
        self.server = _EmbeddedServer(config)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("HTTP server exited during start-up")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish, then return."""
        self.server.should_exit = True
        if self._task is not None:
            await self._task
