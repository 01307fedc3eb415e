"""Errors that cross the bus: how a handler's exception travels and how the caller raises it.

A handler's exception travels as ``{type, ancestors, message, details}``, where ``ancestors``
names its classes from the most specific on. The caller raises the nearest of those classes it
knows (``errors.BY_NAME`` and ``UnsupportedVersion``), so a service may raise its own subclass of
``NotFound`` and every caller still catches ``NotFound``; the specific name stays in
``details["error_type"]``. An exception with no known ancestor comes back as ``RemoteError``.
"""
from __future__ import annotations

from typing import Any

from overcast import errors


class RemoteError(Exception):
    """An unexpected error raised by the remote side, carried back as ``{type, message}``."""

    def __init__(self, exc_type: str, message: str) -> None:
        super().__init__(f"{exc_type}: {message}")
        self.exc_type = exc_type
        self.message = message


class UnsupportedVersion(errors.BadRequest):
    """The server does not speak the requested RPC version."""


_KNOWN: dict[str, type[errors.OvercastError]] = {
    **errors.BY_NAME, UnsupportedVersion.__name__: UnsupportedVersion}


def to_wire(error: BaseException) -> dict[str, Any]:
    """``error`` as the JSON-ready dict a reply carries."""
    ancestors = [cls.__name__ for cls in type(error).__mro__
                 if issubclass(cls, Exception) and cls is not Exception]
    return {"type": type(error).__name__, "ancestors": ancestors, "message": str(error),
            "details": getattr(error, "details", None) or {}}


def from_wire(error: dict[str, Any]) -> Exception:
    """The exception to raise on the caller's side for a reply's ``error``."""
    name = error.get("type") or "Exception"
    message = error.get("message", "")
    for ancestor in error.get("ancestors") or [name]:
        cls = _KNOWN.get(ancestor)
        if cls is None:
            continue
        details = dict(error.get("details") or {})
        if ancestor != name:
            details.setdefault("error_type", name)
        return cls(message, **details)
    return RemoteError(name, message)
