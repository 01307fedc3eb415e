"""``block_device_mapping_v2`` (and the legacy ``block_device_mapping``) of ``POST /servers``,
checked as Nova's schema checks them, into the conductor's ``BlockDeviceRequest`` items.

Only the shape is checked here (types, enums, patterns, unknown keys); what the items mean
together (one root, boot order, sizes, device names) is the conductor's
(``services/conductor/block_devices.py``), as it is Nova's compute API's.
"""
from __future__ import annotations

import re
from typing import Any

from overcast import errors
from overcast.errors import excerpt
from services.compute import validation as check
from services.conductor.rpcapi import BlockDeviceRequest

Microversion = tuple[int, int]

_LEGACY_KEYS = {"virtual_name", "volume_id", "snapshot_id", "volume_size", "device_name",
                "delete_on_termination", "no_device", "connection_info"}
_V2_KEYS = _LEGACY_KEYS | {"source_type", "uuid", "image_id", "destination_type",
                           "guest_format", "device_type", "disk_bus", "boot_index"}
_UUID_TEXT = re.compile(r"^[a-zA-Z0-9._-]*$")
_DEVICE_TEXT = re.compile(r"^[a-zA-Z0-9._/-]*$")
_INTEGER_TEXT = re.compile(r"^-?[0-9]+$")
_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}
MAX_VOLUME_SIZE = 0x7FFFFFFF  # Nova's database integer


def _invalid(field: str, value: Any, why: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for field/attribute {field}. Value: "
                             f"{excerpt(value)}. {why}")


def _string(item: dict, key: str, *, pattern: re.Pattern | None = None,
            max_len: int = 255, min_len: int = 0) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise _invalid(key, value, f"must be a string of {min_len} to {max_len} characters")
    if pattern is not None and not pattern.match(value):
        raise _invalid(key, value, f"does not match '{pattern.pattern}'")
    return value


def boolean(value: Any, field: str) -> bool:
    """Nova's ``parameter_types.boolean``: a JSON boolean or one of its words for one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise _invalid(field, value, "is not a boolean")


def _volume_size(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 1 <= value <= MAX_VOLUME_SIZE:
        raise _invalid("volume_size", value, f"must be an integer from 1 to {MAX_VOLUME_SIZE}")
    return value


def _boot_index(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and _INTEGER_TEXT.match(value) and len(value) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) \
            or not -MAX_VOLUME_SIZE - 1 <= value <= MAX_VOLUME_SIZE:
        raise _invalid("boot_index", value, "must be an integer of a database's size")
    return value


def tag(value: Any, field: str = "tag") -> str | None:
    """Nova's ``parameter_types.tag``: 1-60 characters without ',' or '/'."""
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 60 or "," in value or "/" in value:
        raise _invalid(field, value, "Tags are 1-60 characters without '/' or ','")
    return value


def _items(value: Any, field: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _invalid(field, value, "must be a list of objects")
    return value


def _common(item: dict, allowed: set[str], field: str) -> None:
    unknown = set(item) - allowed
    if unknown:
        raise errors.BadRequest(f"Invalid input for field/attribute {field}. Additional "
                                f"properties are not allowed ({excerpt(sorted(unknown))})")
    _string(item, "device_name", pattern=_DEVICE_TEXT, min_len=1)
    for key in ("virtual_name", "guest_format", "device_type", "disk_bus"):
        _string(item, key)
    _string(item, "connection_info", max_len=16777215)


def _v2_allowed(mv: Microversion) -> set[str]:
    allowed = set(_V2_KEYS)
    if mv == (2, 32) or mv >= (2, 42):  # Nova took tags at 2.32 only, then from 2.42
        allowed.add("tag")
    if mv >= (2, 67):
        allowed.add("volume_type")
    return allowed


def parse_v2(value: Any, mv: Microversion) -> tuple[BlockDeviceRequest, ...]:
    """``block_device_mapping_v2``; a ``no_device`` item asks for nothing and is left out."""
    result = []
    for item in _items(value, "block_device_mapping_v2"):
        _common(item, _v2_allowed(mv), "block_device_mapping_v2")
        if item.get("no_device"):
            continue
        source = item.get("source_type")
        if source is None:
            raise errors.BadRequest("Block Device Mapping is Invalid: Some required fields "
                                    "are missing")
        if source not in ("volume", "image", "snapshot", "blank"):
            raise _invalid("source_type", source, "is not one of ['volume', 'image', "
                           "'snapshot', 'blank']")
        destination = item.get("destination_type")
        if destination is not None and destination not in ("local", "volume"):
            raise _invalid("destination_type", destination, "is not one of ['local', "
                           "'volume']")
        if item.get("image_id") is not None and not check.is_uuid(item["image_id"]):
            raise _invalid("image_id", item["image_id"], "is not a 'uuid'")
        if item.get("volume_type") is not None:
            raise errors.BadRequest("Block Device Mapping is Invalid: volume_type is not "
                                    "supported by this cloud.")
        result.append(BlockDeviceRequest(
            source_type=source,
            destination_type=destination or ("volume" if source in ("volume", "snapshot")
                                             else "local"),
            uuid=_string(item, "uuid", pattern=_UUID_TEXT, min_len=1),
            boot_index=_boot_index(item.get("boot_index")),
            volume_size=_volume_size(item.get("volume_size")),
            device_name=item.get("device_name"),
            delete_on_termination=boolean(item.get("delete_on_termination", False),
                                          "delete_on_termination"),
            tag=tag(item.get("tag")), guest_format=item.get("guest_format")))
    return tuple(result)


def parse_legacy(value: Any, *, image_ref: str) -> tuple[BlockDeviceRequest, ...]:
    """The legacy ``block_device_mapping`` as Nova converts it (``from_legacy_mapping``):
    a volume mapped at the root device (vda) of a server with no image is its root."""
    result = []
    for item in _items(value, "block_device_mapping"):
        _common(item, _LEGACY_KEYS, "block_device_mapping")
        if item.get("no_device"):
            continue
        device = item.get("device_name") or ""
        at_root = device.removeprefix("/dev/") == "vda"
        size = _volume_size(item.get("volume_size"))
        delete = boolean(item.get("delete_on_termination", False), "delete_on_termination")
        if item.get("volume_id") is not None:
            if not check.is_uuid(item["volume_id"]):
                raise _invalid("volume_id", item["volume_id"], "is not a 'uuid'")
            source, uuid = "volume", item["volume_id"]
        elif item.get("snapshot_id") is not None:
            source, uuid = "snapshot", str(item["snapshot_id"])
        else:  # swap or an ephemeral disk
            source, uuid = "blank", None
        result.append(BlockDeviceRequest(
            source_type=source, destination_type="local" if source == "blank" else "volume",
            uuid=uuid, boot_index=0 if at_root and not image_ref else None,
            volume_size=size, device_name=device or None, delete_on_termination=delete))
    return tuple(result)


def parse(body: dict, mv: Microversion) -> tuple[BlockDeviceRequest, ...]:
    """The server's block device mappings, in whichever syntax it used (not both)."""
    legacy, v2 = body.get("block_device_mapping"), body.get("block_device_mapping_v2")
    if legacy and v2:
        raise errors.BadRequest("Using different block_device_mapping syntaxes is not allowed "
                                "in the same request.")
    if v2:
        return parse_v2(v2, mv)
    if legacy:
        image_ref = body.get("imageRef")
        return parse_legacy(legacy, image_ref=image_ref if isinstance(image_ref, str) else "")
    for key, given in (("block_device_mapping", legacy), ("block_device_mapping_v2", v2)):
        if given is not None and given != []:
            raise _invalid(key, given, "must be a list of objects")
    return ()
