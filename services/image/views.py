"""Images and members as Glance v2 shows them: plain dicts, properties at the top level."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the client imports this module and needs no database models
    from services.image import models


def isotime(value: dt.datetime | None) -> str | None:
    """Glance's timestamp format: seconds, UTC, trailing Z."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def links(image_id: str) -> dict[str, str]:
    """The relative links Glance puts in every image document."""
    return {"self": f"/v2/images/{image_id}", "file": f"/v2/images/{image_id}/file",
            "schema": "/v2/schemas/image"}


def image_view(image: models.Image) -> dict[str, Any]:
    view: dict[str, Any] = dict(image.properties or {})
    view.update({
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "protected": bool(image.protected),
        "os_hidden": bool(image.os_hidden),
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "min_disk": image.min_disk or 0,
        "min_ram": image.min_ram or 0,
        "created_at": isotime(image.created_at),
        "updated_at": isotime(image.updated_at),
        "tags": image.tag_values,
    })
    view.update(links(image.id))
    return view


def member_view(member: models.ImageMember) -> dict[str, Any]:
    return {
        "image_id": member.image_id,
        "member_id": member.member_id,
        "status": member.status,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "schema": "/v2/schemas/member",
    }
