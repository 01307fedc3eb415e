"""Flavor extra specs: Nova's key and value rules, and the ones this cloud reads itself."""
from __future__ import annotations

import re
from typing import Any

from overcast import errors
from overcast.errors import excerpt

DISK_STORAGE = "overcast:disk_storage"  # where the guest's disk lives: local or shared
DISK_STORAGE_KINDS = ("local", "shared")  # agents.compute.driver.STORAGE_KINDS
_KEY = re.compile(r"^[\w.:\- ]{1,255}$")


def checked(specs: Any) -> dict[str, str]:
    """``specs`` as Nova takes them (string keys of 1-255 word characters, ``.``, ``:``,
    ``-`` or space; string values up to 255), with ``overcast:disk_storage`` one of
    ``local``/``shared``; 400 otherwise."""
    if not isinstance(specs, dict):
        raise errors.BadRequest("Invalid input for field/attribute extra_specs. Value: "
                                f"{excerpt(specs)}. is not of type 'object'")
    result = {}
    for key, value in specs.items():
        if not _KEY.match(key):
            raise errors.BadRequest(f"Invalid input for field/attribute extra_specs. "
                                    f"Additional properties are not allowed ({excerpt(key)})")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or len(value) > 255:
            raise errors.BadRequest(f"Invalid input for field/attribute {excerpt(key)}. "
                                    f"Value: {excerpt(value)}. is not a string of at most "
                                    "255 characters")
        if key == DISK_STORAGE and value not in DISK_STORAGE_KINDS:
            raise errors.BadRequest(f"Validation failed; {DISK_STORAGE} must be one of "
                                    f"{', '.join(DISK_STORAGE_KINDS)}, not {excerpt(value)}")
        result[key] = value
    return result
