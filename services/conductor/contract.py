"""What the API asks the conductor to boot: the boot request.

``rpcapi.py`` re-exports it; this module imports no transport, so the conductor's admission
and the tests use this one definition.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from overcast.wire import Wire


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageRequirements(Wire):
    """What the image asks of a flavor (Glance's ``min_ram`` MiB and ``min_disk`` GiB)."""

    min_ram: int = 0
    min_disk: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class BootRequest(Wire):
    """``POST /servers`` as the API validated it; the conductor checks flavor, key pair,
    group, zone and quota before recording anything."""

    name: str
    flavor_id: str
    image_ref: str
    image: ImageRequirements = ImageRequirements()
    key_name: str | None = None
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    user_data: str | None = None
    availability_zone: str | None = None
    # "auto", "none", or the requested {uuid, port, fixed_ip} items.
    networks: str | tuple[Mapping[str, str], ...] = "auto"
    security_groups: tuple[str, ...] = ()
    min_count: int = 1
    max_count: int = 1
    group_id: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
