"""JSON request bodies, decoded once for every API at the edge.

orjson refuses what ``json.loads`` lets through: a lone surrogate such as ``"\\ud800"`` (text
that cannot be encoded, which would otherwise fail deep in a service or a database driver) and
bytes that are not UTF-8. So every API answers invalid Unicode with a 400 in its own error
format, before any service sees the value.
"""
from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from overcast import errors


class MalformedJSON(errors.BadRequest):
    """The request body is not a valid JSON document."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _is_unicode_problem(reason: str) -> bool:
    return "surrogate" in reason or "UTF-8" in reason


def decode_json(raw: bytes) -> Any:
    """The JSON document in ``raw``; ``MalformedJSON`` when it is not JSON or not valid
    Unicode. The message names the problem and its position, never the input itself."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        reason = str(error)
        if _is_unicode_problem(reason):
            reason = f"not valid Unicode ({reason})"
            raise MalformedJSON(f"The request body is {reason}.", reason=reason) from None
        raise MalformedJSON(f"Malformed JSON in request body: {reason}.",
                            reason=reason) from None


async def optional_json(request: Request) -> Any:
    """The request's JSON document, or None when the body is empty."""
    raw = await request.body()
    return decode_json(raw) if raw.strip() else None


JsonPayload = Annotated[Any, Depends(optional_json)]
