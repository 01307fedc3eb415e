"""Frozen dataclasses as JSON on the bus: the ``to_wire``/``from_wire`` every contract type shares.

A contract type is a frozen, keyword-only dataclass whose fields are JSON values, tuples,
mappings or other contract types. On the wire it is a JSON object keyed by field name; tuples
travel as arrays and come back as tuples. ``from_wire`` ignores keys it does not know, so a
newer sender may add a field (a minor RPC version) without breaking an older receiver. A null
where the field does not allow None means its default; a required field missing, or a value
that cannot be one, is a ``BadRequest`` (the sender's fault), never a crash of the handler.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Self

from overcast import errors


class Wire:
    """Mixin for a frozen dataclass that crosses a process boundary as JSON."""

    def to_wire(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples stay tuples: every JSON encoder writes them as arrays)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_wire()`` output, also after a JSON round trip (lists -> tuples)."""
        if not isinstance(data, Mapping):
            raise errors.BadRequest(f"{cls.__name__} must be an object, not {data!r:.40}")
        hints = _field_types(cls)
        given = {}
        for name, kind in hints.items():
            value = data.get(name)
            if value is None and not _allows_none(kind):
                if name in _defaulted(cls):
                    continue  # a null where None is not allowed: the default
                raise errors.BadRequest(f"{cls.__name__}: {name} is required")
            if name in data:
                given[name] = value
        try:
            return cls(**{name: _decode(hints[name], value) for name, value in given.items()})
        except (TypeError, ValueError, AttributeError) as exc:
            raise errors.BadRequest(f"{cls.__name__}: {exc}") from None


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


@functools.cache
def _defaulted(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                     if f.default is not dataclasses.MISSING
                     or f.default_factory is not dataclasses.MISSING)


def _allows_none(kind: Any) -> bool:
    return kind is Any or (typing.get_origin(kind) in (typing.Union, types.UnionType)
                           and type(None) in typing.get_args(kind))


def _decode(kind: Any, value: Any) -> Any:
    """``value`` as read from JSON, turned into the field type ``kind`` where they differ."""
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        # ``str | tuple[...]`` and ``X | None``: the member that matches the JSON value.
        for member in typing.get_args(kind):
            if _matches(member, value):
                return _decode(member, value)
        return value
    if origin is tuple and isinstance(value, (list, tuple)):
        item = typing.get_args(kind)[0] if typing.get_args(kind) else Any
        return tuple(_decode(item, v) for v in value)
    if isinstance(kind, type) and issubclass(kind, Wire):
        return kind.from_wire(value)
    if origin in (dict, Mapping) or kind in (dict, Mapping):
        return dict(value)
    return value


def _matches(kind: Any, value: Any) -> bool:
    origin = typing.get_origin(kind) or kind
    if origin is tuple:
        return isinstance(value, (list, tuple))
    if origin in (dict, Mapping) or (isinstance(origin, type) and issubclass(origin, Wire)):
        return isinstance(value, Mapping)
    return isinstance(origin, type) and isinstance(value, origin)
