"""The JSON envelope every bus message travels in (never pickle)."""
from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from overcast.bus import remote
from overcast.context import RequestContext


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
