"""The JSON envelope every bus message travels in (never pickle)."""
from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from overcast.bus import remote
from overcast.context import RequestContext

# How much of each claimed field of a refused message a log line quotes.
_CLAIM_LENGTH = 80


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    version: str
    args: dict[str, Any]
    context: RequestContext

    def encode(self) -> bytes:
        return orjson.dumps({"method": self.method, "version": self.version,
                             "args": self.args, "context": self.context.to_dict()})

    @classmethod
    def decode(cls, body: bytes) -> Request:
        data = orjson.loads(body)
        return cls(method=data["method"], version=data.get("version", "1.0"),
                   args=data.get("args") or {},
                   context=RequestContext.from_dict(data.get("context")))


def encode_reply(result: Any = None, *, error: BaseException | None = None) -> bytes:
    if error is not None:
        return orjson.dumps({"error": remote.to_wire(error)})
    return orjson.dumps({"result": result}, default=_default)


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot put {type(value).__name__} on the bus")


def encode_any(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def claimed_sender(body: bytes) -> str:
    """Who an unverified message says it comes from, for a log line: its method and the
    context's ids and roles, each cut short. Never raises, and trusts nothing it reads."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "an unreadable body"
    if not isinstance(data, dict):
        return "a body that is not an object"
    ctx = data.get("context") if isinstance(data.get("context"), dict) else {}
    claims = {"method": data.get("method", data.get("event_type")),
              "request_id": ctx.get("request_id"), "user_id": ctx.get("user_id"),
              "user_name": ctx.get("user_name"), "project_id": ctx.get("project_id"),
              "roles": ctx.get("roles")}
    return " ".join(f"{name}={str(value)[:_CLAIM_LENGTH]}" for name, value in claims.items())

