"""RPC endpoints (``@rpc``), the server that dispatches to them and the client base class."""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aio_pika.abc import AbstractIncomingMessage

from overcast import context, errors
from overcast.bus import envelope
from overcast.bus.bus import Bus
from overcast.bus.remote import UnsupportedVersion
from overcast.bus.signing import BadSignature
from overcast.context import RequestContext

logger = logging.getLogger(__name__)

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def rpc(version: str = "1.0") -> Callable[[Handler], Handler]:
    """Mark a service method as an RPC entry point available since ``version``."""

    def mark(func: Handler) -> Handler:
        func.__rpc_version__ = version
        return func

    return mark


def _version_ok(requested: str, offered: str) -> bool:
    req_major, req_minor = (int(p) for p in requested.split("."))
    off_major, off_minor = (int(p) for p in offered.split("."))
    return req_major == off_major and req_minor <= off_minor


class RpcServer:
    """Consumes ``topic`` (shared, per-server and fanout) and dispatches to ``@rpc`` methods.

    A message is acknowledged after its handler returns, so a crash mid-handling means the
    message is delivered again: handlers must be idempotent. A message whose signature does
    not verify is never dispatched: it is logged, rejected (so it is not delivered again) and,
    if it asked for an answer, answered with ``Forbidden``.
    """

    def __init__(self, bus: Bus, *, topic: str, server: str | None, endpoint: object) -> None:
        self.bus = bus
        self.topic = topic
        self.server = server
        self.methods = {
            name: member for name, member in inspect.getmembers(endpoint, inspect.ismethod)
            if hasattr(member, "__rpc_version__")
        }
        self._signatures = {name: inspect.signature(method)
                            for name, method in self.methods.items()}
        for name, signature in self._signatures.items():
            if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
                raise TypeError(f"@rpc handler {name} takes **kwargs: name its arguments, "
                                "so a request it cannot take is refused as a bad request")
        # The server speaks the newest version any of its entry points was added in.
        self.version = max((m.__rpc_version__ for m in self.methods.values()),
                           key=lambda v: tuple(int(p) for p in v.split(".")), default="1.0")
        self._inflight: set[asyncio.Task] = set()
        self._consumers: list = []

    async def start(self) -> None:
        self._consumers = await self.bus.consume_topic(self.topic, self.server, self._on_message)

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop taking messages and let those in flight finish (unfinished ones are requeued)."""
        for queue, tag in self._consumers:
            with contextlib.suppress(Exception):  # the connection may already be gone
                await queue.cancel(tag)
        self._consumers = []
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=grace)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(message))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            self.bus.verify(message)
        except BadSignature as exc:
            await self._refuse(message, exc)
            return
        try:
            request = envelope.Request.decode(message.body)
        except Exception:  # noqa: BLE001 - whatever a sender put there, it is not a request
            logger.warning("dropping a malformed message on %s", self.topic)
            await message.reject(requeue=False)
            return
        token = context.bind(request.context)
        try:
            reply = await self._dispatch(request)
            await self.bus.reply(message, reply)
            await message.ack()
        except asyncio.CancelledError:
            await message.nack(requeue=True)
            raise
        except Exception:
            logger.exception("failed to acknowledge %s", request.method)
        finally:
            context.reset(token)

    async def _refuse(self, message: AbstractIncomingMessage, problem: BadSignature) -> None:
        logger.warning("refused a message on %s (claimed sender %s, %s): %s", self.topic,
                       message.app_id or "unknown", envelope.claimed_sender(message.body),
                       problem)
        # No answer: the reply queue and correlation id are the unverified sender's own
        # claims, and a signed answer sent wherever they point would hand them a message of
        # the cloud's (a forged reply to somebody else's call). The caller times out.
        await message.reject(requeue=False)

    async def _dispatch(self, request: envelope.Request) -> bytes:
        method = self.methods.get(request.method)
        if method is None:
            return envelope.encode_reply(error=errors.BadRequest(
                f"{self.topic} has no method {request.method}"))
        if not _version_ok(request.version, self.version):
            return envelope.encode_reply(error=UnsupportedVersion(
                f"{self.topic} speaks {self.version}, not {request.version}"))
        try:
            self._signatures[request.method].bind(request.context, **request.args)
        except TypeError as exc:
            return envelope.encode_reply(error=errors.BadRequest(
                f"{self.topic}.{request.method}: {exc}"))
        try:
            result = await method(request.context, **request.args)
            return envelope.encode_reply(result)
        except errors.OvercastError as exc:
            return envelope.encode_reply(error=exc)
        except Exception as exc:
            logger.exception("%s.%s failed", self.topic, request.method)
            return envelope.encode_reply(error=exc)


class RpcClient:
    """Base of each service's ``rpcapi.py``: a typed client bound to one topic."""

    topic: str = ""

    def __init__(self, bus: Bus, *, timeout: float | None = None) -> None:
        self.bus = bus
        self.timeout = timeout

    async def call(self, ctx: RequestContext, method: str, /, *, server: str | None = None,
                   version: str = "1.0", timeout: float | None = None, **args: Any) -> Any:
        return await self.bus.call(ctx, self.topic, method, server=server, version=version,
                                   timeout=timeout or self.timeout, **args)

    async def cast(self, ctx: RequestContext, method: str, /, *, server: str | None = None,
                   version: str = "1.0", **args: Any) -> None:
        await self.bus.cast(ctx, self.topic, method, server=server, version=version, **args)

    async def fanout(self, ctx: RequestContext, method: str, /, *, version: str = "1.0",
                     **args: Any) -> None:
        await self.bus.fanout(ctx, self.topic, method, version=version, **args)
