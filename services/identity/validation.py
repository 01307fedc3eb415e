"""Checks on request bodies, with Keystone's limits; every failure is a ``BadRequest``."""
from __future__ import annotations

from typing import Any

from overcast.errors import BadRequest, excerpt

# Keystone's limits: project and domain names 64 characters, role and user names 255
# (the SQL column), ids 64.
PROJECT_NAME_MAX = 64
DOMAIN_NAME_MAX = 64
USER_NAME_MAX = 255
ROLE_NAME_MAX = 255
ID_MAX = 64
URL_MAX = 225
INTERFACES = ("public", "internal", "admin")


def _invalid(field: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid input for field '{field}': {why}")


def member(body: Any, key: str) -> dict[str, Any]:
    """``body[key]``, which must be a JSON object, from a body that must be one too."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    value = body.get(key)
    if not isinstance(value, dict):
        raise BadRequest(f"Expecting to find {key} in request body.")
    return value


def name(data: dict[str, Any], *, max_length: int, field: str = "name",
         required: bool = True) -> str | None:
    """A non-blank name of at most ``max_length`` characters (None if absent and optional)."""
    value = data.get(field)
    if value is None:
        if required:
            raise _invalid(field, "a value is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "must be a non-empty string")
    if len(value) > max_length:
        raise _invalid(field, f"longer than {max_length} characters")
    return value


def text(data: dict[str, Any], field: str, *, max_length: int | None = None,
         nullable: bool = True) -> str | None:
    """An optional string field."""
    value = data.get(field)
    if value is None:
        if field in data and not nullable:
            raise _invalid(field, "must not be null")
        return None
    if not isinstance(value, str):
        raise _invalid(field, "must be a string")
    if max_length is not None and len(value) > max_length:
        raise _invalid(field, f"longer than {max_length} characters")
    return value


def boolean(data: dict[str, Any], field: str) -> bool | None:
    """An optional boolean field (JSON true or false only, as Keystone's schemas say)."""
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _invalid(field, "must be a boolean")
    return value


def tags(data: dict[str, Any]) -> list[str] | None:
    """An optional list of tags: unique strings of at most 255 characters, no '/' or ','."""
    value = data.get("tags")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 80 or len(set(map(str, value))) != len(value):
        raise _invalid("tags", "must be a list of at most 80 unique strings")
    for tag in value:
        if not isinstance(tag, str) or not 0 < len(tag) <= 255 or "/" in tag or "," in tag:
            raise _invalid("tags", f"bad tag {excerpt(tag)}")
    return value


def interface(data: dict[str, Any]) -> str:
    value = data.get("interface")
    if value not in INTERFACES:
        raise _invalid("interface", f"must be one of {', '.join(INTERFACES)}")
    return value


def url(data: dict[str, Any]) -> str:
    value = data.get("url")
    if not isinstance(value, str) or "://" not in value or len(value) > URL_MAX:
        raise _invalid("url", "must be an absolute URL")
    return value


def query_flag(value: str | None) -> bool:
    """A query flag as Keystone reads it: present and not "0"/"false" means true."""
    return value is not None and value.lower() not in ("0", "false", "no")
