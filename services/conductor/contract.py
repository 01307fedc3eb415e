"""What the API asks the conductor to boot (the boot request) and the console tokens it
issues (the token, and the connection a token grants).

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


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsoleToken(Wire):
    """A console token the conductor issued: the secret itself (shown to its user once, in
    the console's URL; the conductor keeps only its hash) and when it expires (ISO 8601)."""

    token: str
    instance_id: str
    console_type: str
    expires_at: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsoleConnection(Wire):
    """What a valid console token grants: a console of ``console_type`` to ``instance_id``
    on compute ``host``, whose console port is at ``address`` ("host:port"), on behalf of
    the user who asked for it."""

    instance_id: str
    console_type: str
    host: str
    address: str
    project_id: str
    user_id: str | None = None
