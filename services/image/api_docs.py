"""Glance v2 documents that do not come from the image service: versions and JSON schemas."""
from __future__ import annotations

import copy
from typing import Any

from services.image import fields

CURRENT = (2, 16)
_UUID = ("^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
         "-([0-9a-fA-F]){12}$")


def versions(base_url: str) -> dict[str, Any]:
    """The version list, newest first, with absolute links to ``base_url`` + ``v2/``."""
    href = base_url.rstrip("/") + "/v2/"
    out = []
    for minor in range(CURRENT[1], -1, -1):
        out.append({"id": f"v2.{minor}",
                    "status": "CURRENT" if minor == CURRENT[1] else "SUPPORTED",
                    "links": [{"rel": "self", "href": href}]})
    return {"versions": out}


def _nullable(kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": ["null", kind], "description": description, **extra}


_IMAGE_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string", "description": "An identifier for the image", "pattern": _UUID},
    "name": _nullable("string", "Descriptive name for the image", maxLength=fields.MAX_NAME),
    "status": {"type": "string", "readOnly": True, "description": "Status of the image",
               "enum": list(fields.STATUSES)},
    "visibility": {"type": "string", "description": "Scope of image accessibility",
                   "enum": list(fields.VISIBILITIES)},
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean", "description": "If true, image will not appear in "
                  "default image list response."},
    "checksum": _nullable("string", "md5 hash of image contents.", readOnly=True,
                          maxLength=32),
    "os_hash_algo": _nullable("string", "Algorithm to calculate the os_hash_value",
                              readOnly=True, maxLength=64),
    "os_hash_value": _nullable("string", "Hexdigest of the image contents using the "
                               "algorithm specified by the os_hash_algo", readOnly=True,
                               maxLength=128),
    "owner": _nullable("string", "Owner of the image", maxLength=255),
    "size": _nullable("integer", "Size of image file in bytes", readOnly=True),
    "virtual_size": _nullable("integer", "Virtual size of image in bytes", readOnly=True),
    "container_format": _nullable("string", "Format of the container",
                                  enum=[None, *fields.CONTAINER_FORMATS]),
    "disk_format": _nullable("string", "Format of the disk", enum=[None, *fields.DISK_FORMATS]),
    "created_at": {"type": "string", "readOnly": True,
                   "description": "Date and time of image registration"},
    "updated_at": {"type": "string", "readOnly": True,
                   "description": "Date and time of the last image modification"},
    "tags": {"type": "array", "description": "List of strings related to the image",
             "items": {"type": "string", "maxLength": 255}},
    "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot "
                "image."},
    "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to "
                 "boot image."},
    "self": {"type": "string", "readOnly": True, "description": "An image self url"},
    "file": {"type": "string", "readOnly": True, "description": "An image file url"},
    "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
}

_MEMBER_PROPERTIES: dict[str, Any] = {
    "member_id": {"type": "string",
                  "description": "An identifier for the image member (tenantId)"},
    "image_id": {"type": "string", "description": "An identifier for the image",
                 "pattern": _UUID},
    "created_at": {"type": "string", "description": "Date and time of image member creation"},
    "updated_at": {"type": "string",
                   "description": "Date and time of last modification of image member"},
    "status": {"type": "string", "description": "The status of this image member",
               "enum": list(fields.MEMBER_STATUSES)},
    "schema": {"type": "string", "readOnly": True},
}


def image_schema() -> dict[str, Any]:
    return {
        "name": "image",
        "properties": copy.deepcopy(_IMAGE_PROPERTIES),
        "additionalProperties": {"type": "string"},
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


def images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


def member_schema() -> dict[str, Any]:
    return {"name": "member", "properties": copy.deepcopy(_MEMBER_PROPERTIES)}


def members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {"members": {"type": "array", "items": member_schema()},
                       "schema": {"type": "string"}},
        "links": [{"rel": "self", "href": "{self}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }
