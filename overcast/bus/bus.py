"""The connection to RabbitMQ and the four ways to send: call, cast, fanout and notify.

Addressing follows oslo.messaging: topic ``compute`` and server ``hypervisor-2`` name the queue
``compute.hypervisor-2``; topic ``compute`` alone names the queue shared by every server of the
topic. Call and cast messages go through the default exchange straight to those queues.

Every message sent is signed with the cloud's key and every message received is verified
before anything reads it (``overcast.bus.signing``); one that does not verify is refused.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import aiormq
import orjson
from aio_pika.abc import AbstractIncomingMessage

from overcast.bus import envelope, remote
from overcast.bus.signing import BadSignature, Route, Signer
from overcast.context import RequestContext

logger = logging.getLogger(__name__)

NOTIFICATIONS_EXCHANGE = "overcast.notifications"


class ConnectionLost(Exception):
    """The broker connection dropped while a call was waiting, or is down now."""


class CallTimeout(TimeoutError):
    """Nobody answered a call within its timeout."""


def queue_name(topic: str, server: str | None = None) -> str:
    return f"{topic}.{server}" if server else topic


def fanout_exchange(topic: str) -> str:
    return f"{topic}_fanout"


Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


class Bus:
    """One robust AMQP connection per process.

    Calls that are pending when the connection drops fail at once with ``ConnectionLost``;
    casts wait (up to their timeout) for the connection to come back, so nothing is dropped.
    """

    def __init__(self, url: str, *, signing_key: str | bytes, name: str = "overcast",
                 default_timeout: float = 30.0, prefetch: int = 64) -> None:
        self.url = url
        self.signer = Signer(signing_key)
        self.name = name
        self.default_timeout = default_timeout
        self.prefetch = prefetch
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._publish_channel: aio_pika.abc.AbstractRobustChannel | None = None
        self._consume_channel: aio_pika.abc.AbstractRobustChannel | None = None
        self._probe_channel: aio_pika.abc.AbstractChannel | None = None
        self._reply_queue_name = f"reply.{name}.{uuid.uuid4().hex[:12]}"
        self._pending: dict[str, asyncio.Future] = {}
        self._declared: set[str] = set()
        self._connected = asyncio.Event()
        self.on_reconnect: list[Callable[[], Awaitable[None]]] = []
        self.on_disconnect: list[Callable[[], Awaitable[None] | None]] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self, *, timeout: float = 60.0) -> None:
        """Connect, retrying until ``timeout`` while the broker is not up yet."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                self._connection = await aio_pika.connect_robust(
                    self.url, client_properties={"connection_name": self.name},
                    reconnect_interval=0.5, fail_fast=True, timeout=5)
                break
            except (TimeoutError, OSError, aiormq.exceptions.AMQPError):
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.5)
        self._connection.close_callbacks.add(self._on_close)
        self._connection.reconnect_callbacks.add(self._on_reconnect)
        self._publish_channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True)
        self._consume_channel = await self._connection.channel()
        await self._consume_channel.set_qos(prefetch_count=self.prefetch)
        reply_queue = await self._consume_channel.declare_queue(
            self._reply_queue_name, exclusive=True, auto_delete=True)
        await reply_queue.consume(self._on_reply, no_ack=True)
        await self._publish_channel.declare_exchange(
            NOTIFICATIONS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        self._connected.set()
        logger.info("connected to the message bus as %s", self.name)

    async def close(self) -> None:
        self._fail_pending(ConnectionLost("bus closed"))
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        self._connected.clear()

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    def _on_close(self, _conn: Any, exc: BaseException | None = None) -> None:
        self._connected.clear()
        self._probe_channel = None
        self._declared.clear()
        self._fail_pending(ConnectionLost(f"broker connection lost: {exc}"))
        for callback in self.on_disconnect:
            result = callback()
            if asyncio.iscoroutine(result):
                asyncio.get_running_loop().create_task(result)

    async def _on_reconnect(self, _conn: Any) -> None:
        self._connected.set()
        logger.info("reconnected to the message bus")
        for callback in self.on_reconnect:
            await callback()

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise ConnectionLost("the message bus is not reachable") from None

    # -- sending ---------------------------------------------------------------------------

    async def call(self, ctx: RequestContext, topic: str, method: str, /, *,
                   server: str | None = None, version: str = "1.0",
                   timeout: float | None = None, **args: Any) -> Any:
        """Send a request and wait for its answer; raise ``CallTimeout`` if none comes."""
        if not self.is_connected:
            raise ConnectionLost("the message bus is not connected")
        timeout = timeout or self.default_timeout
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        body = envelope.Request(method, version, args, ctx).encode()
        route = Route(routing_key=queue_name(topic, server), reply_to=self._reply_queue_name,
                      correlation_id=correlation_id)
        try:
            await self._publish_channel.default_exchange.publish(
                self._message(body, route, expires=time.time() + timeout, expiration=timeout),
                routing_key=route.routing_key, mandatory=True, timeout=timeout)
            reply = await asyncio.wait_for(future, timeout)
        except aio_pika.exceptions.DeliveryError:
            raise CallTimeout(f"no queue for {queue_name(topic, server)}") from None
        except TimeoutError:
            raise CallTimeout(
                f"{queue_name(topic, server)}.{method} did not answer in {timeout}s") from None
        finally:
            self._pending.pop(correlation_id, None)
        if "error" in reply:
            raise remote.from_wire(reply["error"])
        return reply.get("result")

    async def cast(self, ctx: RequestContext, topic: str, method: str, /, *,
                   server: str | None = None, version: str = "1.0", durable: bool = True,
                   ttl: float | None = None, timeout: float | None = None, **args: Any) -> None:
        """Send without waiting for an answer. Durable casts are persisted and confirmed."""
        timeout = timeout or self.default_timeout
        name = queue_name(topic, server)
        body = envelope.Request(method, version, args, ctx).encode()
        message = self._message(
            body, Route(routing_key=name), expires=None if ttl is None else time.time() + ttl,
            expiration=ttl, delivery_mode=(aio_pika.DeliveryMode.PERSISTENT if durable
                                           else aio_pika.DeliveryMode.NOT_PERSISTENT))
        await self.wait_connected(timeout)
        if name not in self._declared:
            # Declaring from the sender too means a cast to a server that has not started
            # yet waits in its queue instead of being dropped.
            await self._publish_channel.declare_queue(name, durable=True)
            self._declared.add(name)
        await self._publish_channel.default_exchange.publish(
            message, routing_key=name, timeout=timeout)

    async def fanout(self, ctx: RequestContext, topic: str, method: str, /, *,
                     version: str = "1.0", **args: Any) -> None:
        """Send to every server of ``topic`` that is listening now."""
        await self.wait_connected(self.default_timeout)
        exchange = await self._publish_channel.declare_exchange(
            fanout_exchange(topic), aio_pika.ExchangeType.FANOUT, durable=True)
        body = envelope.Request(method, version, args, ctx).encode()
        await exchange.publish(self._message(body, Route(exchange=exchange.name)),
                               routing_key="", mandatory=False)

    async def notify(self, ctx: RequestContext, event_type: str, payload: dict[str, Any], *,
                     publisher_id: str, priority: str = "INFO") -> None:
        """Publish a notification on the topic exchange, keyed by its event type."""
        await self.wait_connected(self.default_timeout)
        exchange = await self._publish_channel.get_exchange(NOTIFICATIONS_EXCHANGE)
        body = orjson.dumps({"event_type": event_type, "payload": payload,
                             "publisher_id": publisher_id, "priority": priority,
                             "message_id": str(uuid.uuid4()), "context": ctx.to_dict()},
                            default=envelope._default)
        await exchange.publish(self._message(
            body, Route(exchange=NOTIFICATIONS_EXCHANGE, routing_key=event_type),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=event_type,
            mandatory=False)

    async def reply(self, message: AbstractIncomingMessage, body: bytes, *,
                    attempts: int = 3) -> None:
        """Answer a call. Right after a broker restart the request can arrive before this
        side's publishing channel is back, so a failed reply is retried once reconnected."""
        if not message.reply_to:
            return
        route = Route(routing_key=message.reply_to, correlation_id=message.correlation_id)
        for attempt in range(1, attempts + 1):
            try:
                await self._publish_channel.default_exchange.publish(
                    self._message(body, route),
                    routing_key=message.reply_to, timeout=5)
                return
            except Exception:  # noqa: BLE001 - channel closed or reconnecting
                if attempt == attempts:
                    break
                try:
                    await self.wait_connected(2.0)
                except ConnectionLost:
                    break
                await asyncio.sleep(0.1 * attempt)
        # The caller went away, or its own call has already failed.
        logger.warning("could not deliver a reply to %s", message.reply_to)

    def _message(self, body: bytes, route: Route, *, expires: float | None = None,
                 **properties: Any) -> aio_pika.Message:
        """A message carrying ``body``, addressed (reply queue, correlation id) and signed
        for ``route``."""
        return aio_pika.Message(body, content_type="application/json", app_id=self.name,
                                reply_to=route.reply_to, correlation_id=route.correlation_id,
                                headers=self.signer.headers(body, route, expires=expires),
                                **properties)

    def verify(self, message: AbstractIncomingMessage) -> None:
        """Return if ``message`` is signed with this cloud's key for the route it came by and
        has not expired; raise ``BadSignature`` otherwise."""
        self.signer.verify(message.body, Route(
            exchange=message.exchange or "", routing_key=message.routing_key or "",
            reply_to=message.reply_to, correlation_id=message.correlation_id),
            message.headers)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        try:
            self.verify(message)
        except BadSignature as exc:
            logger.warning("dropped a reply on %s (correlation id %s, claimed sender %s): %s",
                           self._reply_queue_name, message.correlation_id,
                           message.app_id or "unknown", exc)
            return
        future = self._pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(orjson.loads(message.body))

    async def message_count(self, topic: str, server: str | None = None) -> int | None:
        """How many messages wait unread in the queue of ``topic``/``server``; None if unknown."""
        result = await self._declaration(topic, server)
        return None if result is None else result.message_count

    async def consumer_count(self, topic: str, server: str | None = None) -> int | None:
        """How many consumers the queue of ``topic``/``server`` has now; None if unknown.

        A server that dies loses its connection, and the broker drops its consumers at once,
        so this notices a killed process long before a missed heartbeat would.
        """
        result = await self._declaration(topic, server)
        return None if result is None else result.consumer_count

    async def _declaration(self, topic: str, server: str | None) -> Any:
        if not self.is_connected:
            return None
        try:
            if self._probe_channel is None or self._probe_channel.is_closed:
                self._probe_channel = await self._connection.channel()
            # robust=False: a robust channel answers a passive declare of a name it has seen
            # from its cache, with the first answer's counts, forever.
            queue = await self._probe_channel.declare_queue(queue_name(topic, server),
                                                            passive=True, timeout=2,
                                                            robust=False)
        except Exception:  # noqa: BLE001 - a missing queue closes the channel; reopen next time
            self._probe_channel = None
            return None
        return queue.declaration_result

    # -- receiving -------------------------------------------------------------------------

    async def consume_topic(self, topic: str, server: str | None, handler: Handler) -> list:
        """Consume the shared and the per-server queue of ``topic`` and its fanout."""
        channel = self._consume_channel
        consumers = []
        names = [queue_name(topic)] + ([queue_name(topic, server)] if server else [])
        for name in names:
            queue = await channel.declare_queue(name, durable=True)
            consumers.append((queue, await queue.consume(handler)))
        exchange = await channel.declare_exchange(
            fanout_exchange(topic), aio_pika.ExchangeType.FANOUT, durable=True)
        fanout_queue = await channel.declare_queue(
            f"{fanout_exchange(topic)}.{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True)
        await fanout_queue.bind(exchange)
        consumers.append((fanout_queue, await fanout_queue.consume(handler)))
        return consumers

    async def subscribe_notifications(self, binding_key: str,
                                      handler: Callable[[dict], Awaitable[None]]) -> None:
        """Receive notifications whose event type matches ``binding_key`` (e.g. ``compute.#``)."""
        channel = self._consume_channel
        exchange = await channel.declare_exchange(
            NOTIFICATIONS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=binding_key)

        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                self.verify(message)
            except BadSignature as exc:
                logger.warning("refused a notification %s (claimed sender %s, %s): %s",
                               message.routing_key, message.app_id or "unknown",
                               envelope.claimed_sender(message.body), exc)
                await message.reject(requeue=False)
                return
            async with message.process():
                await handler(orjson.loads(message.body))

        await queue.consume(on_message)
