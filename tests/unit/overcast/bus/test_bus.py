"""What the Bus signs into the messages it sends, and the replies it drops, without a broker."""
from __future__ import annotations

import asyncio
import dataclasses

import orjson

from overcast.bus import Bus
from overcast.bus.signing import Route

KEY = "the-cloud-key"


@dataclasses.dataclass
class _Incoming:
    """The parts of a received message that verification reads."""

    body: bytes
    headers: dict
    exchange: str = ""
    routing_key: str = ""
    reply_to: str | None = None
    correlation_id: str | None = None
    app_id: str | None = None


def _as_received(message, route: Route) -> _Incoming:
    return _Incoming(body=message.body, headers=message.headers, exchange=route.exchange,
                     routing_key=route.routing_key, reply_to=message.reply_to,
                     correlation_id=message.correlation_id, app_id=message.app_id)


def test_a_sent_call_carries_its_reply_address_and_verifies_on_arrival():
    bus = Bus("amqp://unused/", signing_key=KEY, name="api.test")
    route = Route(routing_key="conductor", reply_to="reply.api.test", correlation_id="c-1")
    message = bus._message(b'{"method": "ping"}', route, expires=4_000_000_000.0)
    assert (message.reply_to, message.correlation_id, message.app_id) == (
        "reply.api.test", "c-1", "api.test")
    bus.verify(_as_received(message, route))


async def test_a_forged_reply_is_dropped_and_a_signed_one_is_taken(caplog):
    bus = Bus("amqp://unused/", signing_key=KEY)
    future = asyncio.get_running_loop().create_future()
    bus._pending["c-1"] = future
    body = orjson.dumps({"result": ["everything"]})
    route = Route(routing_key=bus._reply_queue_name, correlation_id="c-1")
    forged = _Incoming(body=body, headers={}, routing_key=bus._reply_queue_name,
                       correlation_id="c-1", app_id="mallory")
    await bus._on_reply(forged)
    assert not future.done()
    assert "dropped a reply" in caplog.text
    assert "mallory" in caplog.text
    other = Bus("amqp://unused/", signing_key=KEY)
    await bus._on_reply(_as_received(other._message(body, route), route))
    assert future.result() == {"result": ["everything"]}
