"""Checks on request bodies, with Nova's wording for what is wrong.

Messages quote a caller's value only as ``errors.excerpt`` cuts it, so a huge input never
comes back whole. Invalid Unicode (a lone surrogate) never gets here: the edge's JSON decoding
(``overcast.rest.body``) refuses it for every API."""
from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any

from overcast import archives, errors
from overcast.errors import excerpt
from overcast.rest import paging

MAX_LIMIT = 1000  # Nova's default max_limit: the most items one list page holds


def body_of(payload: Any, key: str) -> dict:
    if not isinstance(payload, dict) or not isinstance(payload.get(key), dict):
        raise errors.BadRequest(f"Invalid input for field/attribute {key}. "
                                f"Value: {excerpt(payload)}. '{key}' is a required property")
    return payload[key]


MAX_REF_LENGTH = 1024  # an id or URL; longer is no reference this cloud made
MAX_COUNT = 2**31 - 1  # the largest count a database integer holds


def name(value: Any, *, field: str = "name", max_len: int = 255) -> str:
    if not isinstance(value, str) or not value.strip():
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. "
                                f"Value: {excerpt(value)}. must be a non-empty string")
    if len(value) > max_len:
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. Value: "
                                f"{excerpt(value)} is too long (maximum {max_len} characters)")
    if value != value.strip():
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. Value: "
                                f"{excerpt(value)}. leading or trailing whitespace is not "
                                "allowed")
    return value


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def ref_id(value: Any, *, field: str) -> str:
    """The id at the end of an id-or-URL reference (``imageRef``, ``flavorRef``)."""
    if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))) \
            or not 0 < len(str(value)) <= MAX_REF_LENGTH:
        raise errors.BadRequest(f"Invalid {field} provided.")
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.BadRequest("Invalid input for field/attribute metadata. "
                                "Value must be an object")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise errors.BadRequest("Invalid metadata key: keys must be 1-255 characters")
        if not isinstance(item, str) or len(item) > 255:
            raise errors.BadRequest(f"Invalid metadata value for {excerpt(key)}: "
                                    "values must be strings of at most 255 characters")
    return dict(value)


def networks(value: Any) -> str | list[dict]:
    """``auto``, ``none`` or a list of {uuid, port, fixed_ip}."""
    if value is None or value == "auto":
        return "auto"
    if value == "none":
        return "none"
    if not isinstance(value, list):
        raise errors.BadRequest("Invalid input for field/attribute networks. "
                                "Value must be 'auto', 'none' or a list")
    result = []
    for item in value:
        if not isinstance(item, dict) or not (item.get("uuid") or item.get("port")):
            raise errors.BadRequest("Bad networks format: network uuid is not in proper format")
        for key in ("uuid", "port"):
            if item.get(key) and not is_uuid(item[key]):
                raise errors.BadRequest(f"Bad networks format: network uuid is not in "
                                        f"proper format ({excerpt(item[key])})")
        result.append({k: item[k] for k in ("uuid", "port", "fixed_ip") if item.get(k)})
    return result


def user_data(value: Any) -> str | None:
    if value is None:
        return None
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise errors.BadRequest("User data needs to be valid base 64.") from None
    if len(value) > 65535:
        raise errors.BadRequest("User data too large. User data must be no larger than 65535 "
                                "bytes once base64 encoded.")
    return value


def _whole(value: Any, field: str) -> int:
    """A JSON integer or a string of digits, as an int (a float such as 1e308 is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. "
                                "Value must be an integer")
    try:
        if isinstance(value, str) and not (value.isascii() and value.isdigit()):
            raise ValueError(value)
        return int(value)
    except ValueError:  # not digits, or more digits than Python converts
        raise errors.BadRequest(f"Invalid input for field/attribute {field}.") from None


def page_limit(value: Any) -> int:
    """``?limit=``: 0 or more, clamped to ``MAX_LIMIT`` as Nova clamps it."""
    return paging.page_limit(value, maximum=MAX_LIMIT, invalid=lambda quoted: errors.BadRequest(
        f"Invalid input for query parameters limit. Value: {quoted}. "
        f"'{quoted}' does not match '^[0-9]*$'"))


def count(value: Any, field: str) -> int:
    """A whole number from 1 to ``MAX_COUNT``, given as a JSON integer or a digit string."""
    number = _whole(value, field)
    if number < 1:
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. "
                                "Value must be >= 1")
    if number > MAX_COUNT:
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. "
                                f"Value must be <= {MAX_COUNT}")
    return number


def bounded_int(value: Any, field: str, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    """A JSON integer from ``minimum`` to ``maximum`` (a bool, a float or a string is not)."""
    if (not isinstance(value, int) or isinstance(value, bool)
            or not minimum <= value <= maximum):
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. Value must be "
                                f"an integer from {minimum} to {maximum}")
    return value


def quota_limit(value: Any, field: str) -> int:
    """A quota: -1 (unlimited) up to ``MAX_COUNT``, as a JSON integer or a string of digits
    (Nova's schema takes both)."""
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        value = int(value) if len(value) < 20 else MAX_COUNT + 1
    return bounded_int(value, field, minimum=-1)


def group_rules(value: Any) -> dict[str, int]:
    """A server group's ``rules`` (2.64): only ``max_server_per_host``, a whole number from 1."""
    if not isinstance(value, dict) or set(value) - {"max_server_per_host"}:
        raise errors.BadRequest("Invalid input for field/attribute rules. Only "
                                "max_server_per_host is allowed")
    return {key: bounded_int(number, key, minimum=1) for key, number in value.items()}


MAX_RXTX_FACTOR = 3.40282e38  # Nova's: the largest 32-bit float


def rxtx_factor(value: Any) -> float:
    """A flavor's ``rxtx_factor``: a JSON number above 0, at most ``MAX_RXTX_FACTOR``."""
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not 0 < value <= MAX_RXTX_FACTOR):
        raise errors.BadRequest("Invalid input for field/attribute rxtx_factor. Value must be "
                                f"a number above 0 and at most {MAX_RXTX_FACTOR}")
    return float(value)


def optional_string(value: Any, *, field: str, max_len: int = 255) -> str | None:
    """``value`` if it is absent or a string of at most ``max_len`` characters."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. "
                                f"Value must be a string of at most {max_len} characters")
    return value


def tags(value: Any) -> tuple[str, ...]:
    """Nova's server tags: at most 50 strings of 1-60 characters without '/' or ','."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 50:
        raise errors.BadRequest("Invalid input for field/attribute tags. "
                                "Value must be a list of at most 50 tags")
    for tag in value:
        if not isinstance(tag, str) or not 1 <= len(tag) <= 60 or "/" in tag or "," in tag:
            raise errors.BadRequest(f"Invalid input for field/attribute tags. Value: "
                                    f"{excerpt(tag)}. "
                                    "Tags are 1-60 characters without '/' or ','")
    return tuple(value)


def security_groups(value: Any) -> tuple[str, ...]:
    """The names in ``[{"name": ...}]`` (a bare name is taken too)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise errors.BadRequest("Invalid input for field/attribute security_groups. "
                                "Value must be a list")
    names = []
    for group in value:
        group_name = group.get("name") if isinstance(group, dict) else group
        names.append(name(group_name, field="security_groups"))
    return tuple(names)


def scheduler_hints(payload: dict) -> dict:
    hints = payload.get("os:scheduler_hints") or payload.get("OS-SCH-HNT:scheduler_hints") or {}
    if not isinstance(hints, dict):
        raise errors.BadRequest("Invalid input for field/attribute os:scheduler_hints. "
                                "Value must be an object")
    return hints


def console_length(value: Any) -> int | None:
    """``os-getConsoleOutput``'s ``length``: an integer (or a string of one) of -1 or more;
    -1 and null mean the whole log."""
    if isinstance(value, bool) or not isinstance(value, (int, str, type(None))) \
            or (isinstance(value, str) and not re.fullmatch(r"-?[0-9]+", value)):
        raise errors.BadRequest(f"Invalid input for field/attribute length. Value: "
                                f"{excerpt(value)}. is not valid under any of the given "
                                "schemas")
    if value is None:
        return None
    length = int(value)
    if length < -1:
        raise errors.BadRequest(f"Invalid input for field/attribute length. Value: "
                                f"{excerpt(value)}. {length} is less than the minimum of -1")
    if length > MAX_COUNT:
        raise errors.BadRequest(f"Invalid input for field/attribute length. Value: "
                                f"{excerpt(value)}. is too large")
    return None if length == -1 else length


ROOTFS_FORMATS = archives.FORMATS  # what the image service's rootfs detection names


def bootable_image(image: dict) -> None:
    """400 unless ``image`` is active and a root filesystem archive (its ``overcast_rootfs``
    property, which the image service sets when an upload is one)."""
    if image.get("status") != "active":
        raise errors.BadRequest(f"Image {image['id']} is not active.")
    if not image.get("overcast_rootfs"):
        raise errors.BadRequest(f"Image {image['id']} is not a root filesystem archive; "
                                f"accepted: {', '.join(ROOTFS_FORMATS)}")
