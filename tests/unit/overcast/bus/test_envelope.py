"""The JSON envelope: requests and replies survive encoding; nothing but JSON goes on the bus."""
from __future__ import annotations

import dataclasses

import orjson
import pytest

from overcast.bus import envelope
from overcast.context import RequestContext


def test_a_request_survives_encoding_with_its_context():
    ctx = RequestContext(user_id="u-1", project_id="p-1", roles=("member",))
    request = envelope.Request("build", "1.2", {"instance_id": "i-1"}, ctx)
    decoded = envelope.Request.decode(request.encode())
    assert decoded.method == "build" and decoded.version == "1.2"
    assert decoded.args == {"instance_id": "i-1"}
    assert decoded.context.to_dict() == ctx.to_dict()


def test_a_request_without_version_or_args_gets_the_defaults():
    decoded = envelope.Request.decode(orjson.dumps({"method": "ping"}))
    assert decoded.version == "1.0" and decoded.args == {}


def test_a_reply_carries_dataclasses_and_tuples_as_json():
    @dataclasses.dataclass(frozen=True)
    class Host:
        name: str
        zones: tuple[str, ...]

    reply = orjson.loads(envelope.encode_reply([Host("h-1", ("az1",))]))
    assert reply == {"result": [{"name": "h-1", "zones": ["az1"]}]}


def test_anything_else_is_refused_rather_than_pickled():
    with pytest.raises(TypeError):
        envelope.encode_reply(object())
