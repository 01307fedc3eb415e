"""Reading a ring file and answering where things live.

The ring file is JSON: a version that grows with every change, the partition power, the
replica count, the devices (storage nodes with zone, weight and gRPC address) and, for each
replica, the device of every partition. It is written atomically (temp file, fsync, rename),
so a reader sees one whole version or the previous one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Device:
    """A storage node's device in the ring."""

    id: int
    name: str
    zone: int
    weight: float
    address: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def hash_path(account: str, container: str = "", obj: str = "", *, suffix: str = "") -> str:
    """The MD5 hex digest naming an account, container or object on disk and in the ring."""
    path = "/" + account
    if container:
        path += "/" + container
        if obj:
            path += "/" + obj
    return hashlib.md5((path + suffix).encode("utf-8"), usedforsecurity=False).hexdigest()


class Ring:
    """An immutable view of one version of the ring."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: int = int(data["version"])
        self.part_power: int = int(data["part_power"])
        self.replicas: int = int(data["replicas"])
        self.hash_path_suffix: str = data.get("hash_path_suffix", "")
        self.devices: dict[int, Device] = {
            d["id"]: Device(**{k: d[k] for k in ("id", "name", "zone", "weight", "address")})
            for d in data["devices"]}
        self.assignment: list[list[int]] = data["assignment"]
        self.partitions = 1 << self.part_power
        self._shift = 32 - self.part_power
        self._data = data

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Ring:
        return cls(orjson.loads(Path(path).read_bytes()))

    def to_dict(self) -> dict[str, Any]:
        return self._data

    # -- lookups ---------------------------------------------------------------------------

    def hash(self, account: str, container: str = "", obj: str = "") -> str:
        return hash_path(account, container, obj, suffix=self.hash_path_suffix)

    def partition_of_hash(self, name_hash: str) -> int:
        return struct.unpack_from(">I", bytes.fromhex(name_hash[:8]))[0] >> self._shift

    def get_part(self, account: str, container: str = "", obj: str = "") -> int:
        return self.partition_of_hash(self.hash(account, container, obj))

    def get_part_nodes(self, part: int) -> list[Device]:
        """The primary devices of ``part``, replica 0 first."""
        return [self.devices[row[part]] for row in self.assignment
                if row[part] is not None and row[part] in self.devices]

    def get_nodes(self, account: str, container: str = "",
                  obj: str = "") -> tuple[int, list[Device]]:
        """The partition of a name and its primary devices."""
        part = self.get_part(account, container, obj)
        return part, self.get_part_nodes(part)

    def get_more_nodes(self, part: int) -> Iterator[Device]:
        """Handoff devices for ``part``, in a fixed order per partition: devices in zones
        that hold no primary first, then the others."""
        primaries = self.get_part_nodes(part)
        used_ids = {d.id for d in primaries}
        used_zones = {d.zone for d in primaries}
        others = [d for d in self.devices.values() if d.id not in used_ids and d.weight > 0]

        def order(dev: Device) -> tuple[bool, str]:
            spread = hashlib.md5(f"{part}:{dev.id}".encode(), usedforsecurity=False)
            return (dev.zone in used_zones, spread.hexdigest())

        yield from sorted(others, key=order)

    def is_primary(self, part: int, device_id: int) -> bool:
        return any(row[part] == device_id for row in self.assignment)

    def device_by_name(self, name: str) -> Device | None:
        return next((d for d in self.devices.values() if d.name == name), None)

    def partitions_of(self, device_id: int) -> set[int]:
        """Partitions for which ``device_id`` is a primary."""
        return {part for row in self.assignment for part, dev in enumerate(row)
                if dev == device_id}


class RingHolder:
    """A process's current ring, reloaded when the file changes (``check`` is cheap)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stat: tuple[int, int] | None = None
        self.ring: Ring = self._load()

    def _load(self) -> Ring:
        stat = self.path.stat()
        ring = Ring.load(self.path)
        self._stat = (stat.st_mtime_ns, stat.st_size)
        return ring

    def check(self) -> bool:
        """Reload if the file changed; whether a new version was loaded."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        if (stat.st_mtime_ns, stat.st_size) == self._stat:
            return False
        try:
            ring = self._load()
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ring file %s unreadable, keeping version %s: %s", self.path,
                           self.ring.version, exc)
            return False
        if ring.version != self.ring.version:
            logger.info("ring reloaded: version %s -> %s", self.ring.version, ring.version)
        self.ring = ring
        return True

    async def run_once(self) -> None:
        self.check()
