"""What the API asks the conductor to boot (the boot request and its block devices), and the
console tokens it issues (the token, and the connection a token grants).

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
class BlockDeviceRequest(Wire):
    """One item of ``block_device_mapping_v2`` as the API parsed it (types checked, Nova's
    schema); the conductor checks what the items mean together (``block_devices.py``).

    ``source_type`` is volume (an existing volume, ``uuid``), image (a new volume made from
    the image ``uuid``), blank (a new empty volume) or snapshot; ``destination_type`` volume
    or local. ``boot_index`` 0 is the root; None (or -1) a device that is not booted from."""

    source_type: str
    destination_type: str = "volume"
    uuid: str | None = None
    boot_index: int | None = None
    volume_size: int | None = None  # GiB
    device_name: str | None = None
    delete_on_termination: bool = False
    tag: str | None = None
    guest_format: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class BootRequest(Wire):
    """``POST /servers`` as the API validated it; the conductor checks flavor, key pair,
    group, zone and quota before recording anything."""

    name: str
    flavor_id: str
    image_ref: str  # "" for a server booted from a volume
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
    # The volumes to boot from and attach (rpcapi 1.6; an older conductor ignores them).
    block_device_mapping: tuple[BlockDeviceRequest, ...] = ()


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
