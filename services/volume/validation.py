"""Checks of what callers send (the REST bodies and the RPC requests alike), with Cinder's
wording. Every check returns the clean value or raises a 400; none echoes more than an
excerpt of the input."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from overcast import errors
from overcast.errors import excerpt
from services.volume import faults

MAX_SIZE_GB = 2**31 - 1
# The items a volume's, snapshot's or backup's metadata may hold (Nova's metadata_items
# default): one request is bounded by the body limit, but merges add up without end.
MAX_METADATA_ITEMS = 128
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


def invalid_field(field: str, value: object, problem: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for field/attribute {field}. Value: "
                             f"{excerpt(value)}. {problem}")


def body_of(payload: object, key: str) -> dict[str, Any]:
    """``payload[key]`` as a dict (Cinder: "Missing required element 'key' in request
    body.")."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get(key), Mapping):
        raise errors.BadRequest(f"Missing required element '{key}' in request body.")
    return dict(payload[key])


def action_args(args: object, action: str) -> dict[str, Any]:
    """An action's arguments (``{"os-extend": {...}}``): an object, null meaning {}."""
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        raise invalid_field(action, args, f"{excerpt(args)} is not of type 'object'")
    return dict(args)


def size(value: object, *, field: str = "size") -> int:
    """A size in GiB: a whole number from 1 (an integer or a string of digits)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        number = int(value.strip())
    if number is None or number <= 0 or number > MAX_SIZE_GB:
        if field == "size":
            raise faults.InvalidInput(f"Volume size '{excerpt(value)}' must be an integer "
                                      "and greater than 0")
        raise invalid_field(field, value, "It must be a whole number from 1.")
    return number


def name(value: object, *, field: str = "name") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field(field, value, f"{excerpt(value)} is not of type 'string'")
    if len(value) > 255:
        raise invalid_field(field, value, "It is too long (at most 255 characters).")
    return value.strip()


def description(value: object, *, field: str = "description") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field(field, value, f"{excerpt(value)} is not of type 'string'")
    if len(value) > 255:
        raise invalid_field(field, value, "It is too long (at most 255 characters).")
    return value.strip()


def metadata(value: object, *, field: str = "metadata") -> dict[str, str]:
    """Metadata: an object of string keys (1 to 255 characters) and string values (at most
    255), as Cinder's ``metadata_allows_null`` schema (null is {})."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid_field(field, value, f"{excerpt(value)} is not of type 'object'")
    metadata_count(value, field=field)
    clean: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise invalid_field(field, key, "Metadata keys must be strings of 1 to 255 "
                                            "characters.")
        if not isinstance(item, str) or len(item) > 255:
            raise invalid_field(field, item, "Metadata values must be strings of at most "
                                             "255 characters.")
        clean[key] = item
    return clean


def metadata_count(items: Mapping[str, Any], *, field: str = "metadata") -> dict[str, Any]:
    """``items`` (metadata as it would be stored, after a merge too) if it holds at most
    ``MAX_METADATA_ITEMS`` items; a 400 otherwise."""
    if len(items) > MAX_METADATA_ITEMS:
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. Maximum number "
                                f"of metadata items exceeds {MAX_METADATA_ITEMS}.")
    return dict(items)


def boolean(value: object, *, field: str) -> bool:
    """A boolean as Cinder's ``strutils.bool_from_string(strict=True)`` reads it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise faults.InvalidInput(f"Invalid value '{excerpt(value)}' for {field}, accepted "
                              f"values are: {', '.join(_TRUE + _FALSE)}")


def optional_id(value: object, *, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise invalid_field(field, value, f"{excerpt(value)} is not a valid id.")
    return value


def is_uuid(value: object) -> bool:
    """A UUID as Cinder's ``uuid`` format takes it (oslo's is_uuid_like: 32 hex digits,
    dashes optional)."""
    if not isinstance(value, str) or len(value) not in (32, 36):
        return False
    try:
        return uuid.UUID(value).hex == value.replace("-", "").lower()
    except ValueError:
        return False
