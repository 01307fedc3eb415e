"""Glance v2 image fields: the allowed values and the checks every write goes through.

Pure functions on plain values, shared by the manager (which enforces them) and the client
(which must turn a REST body into typed protobuf fields without guessing).
"""
from __future__ import annotations

import uuid
from typing import Any

from overcast import errors
from overcast.errors import excerpt

MAX_LIMIT = 1000  # Glance's default api_limit_max: the most images one list page holds

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
STATUSES = ("queued", "saving", "active", "killed", "deleted", "pending_delete", "deactivated",
            "uploading", "importing")
VISIBILITIES = ("public", "private", "shared", "community")
MEMBER_STATUSES = ("pending", "accepted", "rejected")
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at")

# Fields a caller may set (on create, or with add/replace).
WRITABLE = ("name", "visibility", "owner", "protected", "os_hidden", "disk_format",
            "container_format", "min_disk", "min_ram", "tags")
# Fields only the service sets; writing them is 403 in Glance.
READ_ONLY = ("created_at", "updated_at", "status", "checksum", "size", "virtual_size",
             "direct_url", "self", "file", "schema", "id", "os_hash_algo", "os_hash_value",
             "stores")
RESERVED = ("location", "deleted", "deleted_at", "locations")
RESERVED_PREFIX = "os_glance"
CORE = frozenset(WRITABLE) | frozenset(READ_ONLY)

MAX_NAME = 255
MAX_PROPERTY_VALUE = 65535
MAX_PROPERTIES = 128
MAX_TAGS = 128
HASH_ALGO = "sha512"


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def check_attribute_name(name: str, *, creating: bool = False) -> None:
    """Forbidden for names the caller may never write; BadRequest for malformed ones."""
    if not name:
        raise errors.BadRequest("Attribute name must not be empty.")
    if name in READ_ONLY and not (creating and name == "id"):
        raise errors.Forbidden(f"Attribute '{name}' is read-only.")
    if name in RESERVED or name.startswith(RESERVED_PREFIX):
        raise errors.Forbidden(f"Attribute '{name}' is reserved.")
    if len(name) > 255:
        raise errors.BadRequest("Custom property should not be greater than 255 characters.")


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.BadRequest(f"Invalid value for '{name}': {excerpt(value)} is not an integer.")
    if value < 0:
        raise errors.BadRequest(f"Invalid value for '{name}': must be 0 or more.")
    if value > 2**31 - 1:
        raise errors.BadRequest(f"Invalid value for '{name}': too large.")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise errors.BadRequest(f"Invalid value for '{name}': {excerpt(value)} is not a boolean.")
    return value


def _choice(name: str, value: Any, allowed: tuple[str, ...], *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if value not in allowed:
        raise errors.BadRequest(
            f"Invalid value {excerpt(value)} for '{name}'; must be one of: {', '.join(allowed)}.")
    return value


def _text(name: str, value: Any, *, nullable: bool, limit: int) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise errors.BadRequest(f"Invalid value for '{name}': {excerpt(value)} is not a string.")
    if len(value) > limit:
        raise errors.BadRequest(f"Invalid value for '{name}': longer than {limit} characters.")
    return value


def check_tags(value: Any) -> list[str]:
    """The tags, deduplicated in order; BadRequest unless a list of short strings."""
    if not isinstance(value, list):
        raise errors.BadRequest("Invalid value for 'tags': must be a list of strings.")
    out: list[str] = []
    for tag in value:
        tag = _text("tags", tag, nullable=False, limit=255)
        if tag and tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise errors.PayloadTooLarge(f"Maximum number of tags ({MAX_TAGS}) exceeded.")
    return out


def check_value(name: str, value: Any) -> Any:
    """``value`` checked for attribute ``name`` (a writable core field or a user property)."""
    if name == "name":
        return _text(name, value, nullable=True, limit=MAX_NAME)
    if name == "owner":
        return _text(name, value, nullable=True, limit=255)
    if name == "visibility":
        return _choice(name, value, VISIBILITIES, nullable=False)
    if name == "disk_format":
        return _choice(name, value, DISK_FORMATS, nullable=True)
    if name == "container_format":
        return _choice(name, value, CONTAINER_FORMATS, nullable=True)
    if name in ("protected", "os_hidden"):
        return _bool(name, value)
    if name in ("min_disk", "min_ram"):
        return _int(name, value)
    if name == "tags":
        return check_tags(value)
    return _text(name, value, nullable=False, limit=MAX_PROPERTY_VALUE)


def split_body(body: Any) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """A create body (Glance's shape) checked and split into core fields, properties, tags."""
    if not isinstance(body, dict):
        raise errors.BadRequest("Request body must be a JSON object.")
    core: dict[str, Any] = {}
    properties: dict[str, str] = {}
    tags: list[str] = []
    for name, value in body.items():
        check_attribute_name(name, creating=True)
        if name == "id":
            if not is_uuid(value):
                raise errors.BadRequest(f"Invalid value for 'id': {excerpt(value)} is not a UUID.")
            core["id"] = value.lower()
        elif name == "tags":
            tags = check_tags(value)
        elif name in WRITABLE:
            core[name] = check_value(name, value)
        else:
            properties[name] = check_value(name, value)
    if len(properties) > MAX_PROPERTIES:
        raise errors.PayloadTooLarge(f"Maximum number of properties ({MAX_PROPERTIES}) exceeded.")
    return core, properties, tags
