"""RpcServer's dispatch and RpcClient's addressing, without a broker."""
from __future__ import annotations

import orjson
import pytest

from overcast import errors
from overcast.bus import Bus, envelope, remote
from overcast.bus.rpc import RpcClient, RpcServer, rpc
from overcast.bus.signing import Route, Signer
from overcast.context import RequestContext

CTX = RequestContext(user_id="u-1", project_id="p-1")
KEY = "the-cloud-key"


class Endpoint:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict]] = []

    @rpc(version="1.0")
    async def ping(self, ctx: RequestContext, *, value: int) -> dict:
        self.seen.append(("ping", {"value": value, "project": ctx.project_id}))
        return {"pong": value}

    @rpc(version="1.3")
    async def missing(self, ctx: RequestContext, *, name: str) -> None:
        raise errors.NotFound(f"no {name}", name=name)

    @rpc(version="1.1")
    async def crash(self, ctx: RequestContext) -> None:
        raise RuntimeError("disk on fire")

    async def not_exposed(self, ctx: RequestContext) -> None:
        raise AssertionError("must not be reachable over the bus")


def _server() -> tuple[RpcServer, Endpoint]:
    endpoint = Endpoint()
    return RpcServer(bus=None, topic="demo", server="host-1", endpoint=endpoint), endpoint  # type: ignore[arg-type]


async def _dispatch(server: RpcServer, method: str, version: str = "1.0", **args) -> dict:
    body = await server._dispatch(envelope.Request(method, version, args, CTX))
    return orjson.loads(body)


def test_the_server_speaks_its_newest_entry_point_version():
    server, _ = _server()
    assert set(server.methods) == {"ping", "missing", "crash"}
    assert server.version == "1.3"


async def test_a_call_reaches_the_handler_with_its_context():
    server, endpoint = _server()
    assert await _dispatch(server, "ping", value=7) == {"result": {"pong": 7}}
    assert endpoint.seen == [("ping", {"value": 7, "project": "p-1"})]


async def test_a_domain_error_travels_with_its_type_and_details():
    server, _ = _server()
    reply = await _dispatch(server, "missing", name="x")
    raised = remote.from_wire(reply["error"])
    assert type(raised) is errors.NotFound and raised.details == {"name": "x"}


async def test_an_unexpected_error_travels_as_a_remote_error():
    server, _ = _server()
    raised = remote.from_wire((await _dispatch(server, "crash"))["error"])
    assert isinstance(raised, remote.RemoteError) and "disk on fire" in raised.message


@pytest.mark.parametrize("method, version, args", [
    ("not_exposed", "1.0", {}),          # not an @rpc entry point
    ("nothing", "1.0", {}),              # no such method
    ("ping", "1.0", {}),                 # a required argument missing
    ("ping", "1.0", {"value": 1, "extra": 2}),  # an argument the handler does not take
    ("ping", "1.0", {"ctx": "forged", "value": 1}),
])
async def test_a_request_the_handler_cannot_take_is_a_bad_request(method, version, args):
    server, endpoint = _server()
    raised = remote.from_wire((await _dispatch(server, method, version, **args))["error"])
    assert isinstance(raised, errors.BadRequest)
    assert endpoint.seen == []


@pytest.mark.parametrize("version, ok", [("1.0", True), ("1.3", True), ("1.4", False),
                                         ("2.0", False), ("0.9", False)])
async def test_versions_follow_major_minor_compatibility(version, ok):
    server, _ = _server()
    reply = await _dispatch(server, "ping", version, value=1)
    if ok:
        assert reply == {"result": {"pong": 1}}
    else:
        assert type(remote.from_wire(reply["error"])) is remote.UnsupportedVersion


class _RecordingBus:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    async def call(self, ctx, topic, method, /, **kwargs):
        self.sent.append(("call", topic, method, kwargs))
        return "answer"

    async def cast(self, ctx, topic, method, /, **kwargs):
        self.sent.append(("cast", topic, method, kwargs))

    async def fanout(self, ctx, topic, method, /, **kwargs):
        self.sent.append(("fanout", topic, method, kwargs))


class DemoAPI(RpcClient):
    topic = "demo"


async def test_the_client_addresses_its_topic_with_version_server_and_timeout():
    bus = _RecordingBus()
    api = DemoAPI(bus, timeout=3.0)  # type: ignore[arg-type]
    assert await api.call(CTX, "ping", server="host-1", version="1.1", value=1) == "answer"
    await api.cast(CTX, "ping", value=2)
    await api.fanout(CTX, "ping", value=3)
    assert bus.sent == [
        ("call", "demo", "ping", {"server": "host-1", "version": "1.1", "timeout": 3.0,
                                  "value": 1}),
        ("cast", "demo", "ping", {"server": None, "version": "1.0", "value": 2}),
        ("fanout", "demo", "ping", {"version": "1.0", "value": 3}),
    ]


class _Message:
    """What aio-pika hands a consumer: a body, its route and headers (signed with ``key``
    unless it is None) and the three ways to settle it."""

    def __init__(self, body: bytes, log: list[str], *, key: str | None = KEY,
                 reply_to: str | None = None) -> None:
        self.body = body
        self.log = log
        self.exchange, self.routing_key, self.app_id = "", "demo", "a-test"
        self.reply_to, self.correlation_id = reply_to, "c-1" if reply_to else None
        route = Route(routing_key="demo", reply_to=reply_to, correlation_id=self.correlation_id)
        self.headers = {} if key is None else Signer(key).headers(body, route)

    async def ack(self) -> None:
        self.log.append("ack")

    async def nack(self, *, requeue: bool) -> None:
        self.log.append(f"nack requeue={requeue}")

    async def reject(self, *, requeue: bool) -> None:
        self.log.append(f"reject requeue={requeue}")


class _ReplyingBus(Bus):
    """A bus that verifies as the real one does, and records its replies instead of
    sending them."""

    def __init__(self, log: list[str]) -> None:
        super().__init__("amqp://unused/", signing_key=KEY)
        self.log = log

    async def reply(self, message, body: bytes) -> None:
        self.log.append(f"reply {orjson.loads(body)}")


async def test_a_message_is_acknowledged_only_after_its_reply_is_sent():
    log: list[str] = []
    server = RpcServer(bus=_ReplyingBus(log), topic="demo", server=None,  # type: ignore[arg-type]
                       endpoint=Endpoint())
    body = envelope.Request("ping", "1.0", {"value": 5}, CTX).encode()
    await server._handle(_Message(body, log))
    assert log == ["reply {'result': {'pong': 5}}", "ack"]


async def test_a_malformed_message_is_dropped_not_redelivered_forever():
    log: list[str] = []
    server = RpcServer(bus=_ReplyingBus(log), topic="demo", server=None,  # type: ignore[arg-type]
                       endpoint=Endpoint())
    await server._handle(_Message(b"not json", log))
    assert log == ["reject requeue=False"]


def test_a_handler_taking_kwargs_is_refused_at_start():
    class Loose:
        @rpc()
        async def anything(self, ctx: RequestContext, **kwargs: object) -> None:
            pass

    with pytest.raises(TypeError, match="anything takes \\*\\*kwargs"):
        RpcServer(bus=None, topic="demo", server=None, endpoint=Loose())  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [None, "another-cloud-key"], ids=["unsigned", "wrong-key"])
async def test_a_forged_admin_context_is_refused_not_dispatched(key, caplog):
    log: list[str] = []
    endpoint = Endpoint()
    server = RpcServer(bus=_ReplyingBus(log), topic="demo", server=None, endpoint=endpoint)
    forged = RequestContext(user_id="mallory", project_id="p-2", roles=("admin",))
    body = envelope.Request("ping", "1.0", {"value": 5}, forged).encode()
    await server._handle(_Message(body, log, key=key, reply_to="reply.mallory"))
    assert endpoint.seen == []
    # Rejected, and not answered: the reply address is the forger's own claim.
    assert log == ["reject requeue=False"]
    refusal = next(r for r in caplog.records if r.levelname == "WARNING")
    assert "method=ping" in refusal.getMessage()
    assert "user_id=mallory" in refusal.getMessage()
    assert "a-test" in refusal.getMessage()
    assert KEY not in refusal.getMessage()


async def test_a_signed_body_with_other_args_glued_on_is_refused():
    log: list[str] = []
    endpoint = Endpoint()
    server = RpcServer(bus=_ReplyingBus(log), topic="demo", server=None, endpoint=endpoint)
    message = _Message(envelope.Request("ping", "1.0", {"value": 5}, CTX).encode(), log)
    message.body = envelope.Request("ping", "1.0", {"value": 6}, CTX).encode()
    await server._handle(message)
    assert endpoint.seen == []
    assert log[0] == "reject requeue=False"
