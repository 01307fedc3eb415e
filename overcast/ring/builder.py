"""Creating and changing a ring: devices with zones and weights, and a balanced assignment.

Assignment rules, in order of importance:

1. A partition never has two replicas on one device.
2. Its replicas are in distinct zones whenever there are at least as many zones as replicas.
3. Each device holds a share of the partition replicas proportional to its weight (a zone's
   share is capped at one replica of every partition, and the excess goes to the others).
4. A rebalance moves as few replicas as it can, and at most one replica of any partition
   unless a device was removed, so two copies of every object stay where they were while
   the replicators move the third.
"""
from __future__ import annotations

import copy
import hashlib
import secrets
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from overcast.fs import write_atomic
from overcast.ring.ring import Device, Ring


class RingError(Exception):
    """The ring cannot be built or changed as asked."""


class RingBuilder:
    """A mutable ring: change devices, then ``rebalance`` and ``save``."""

    def __init__(self, *, part_power: int = 10, replicas: int = 3,
                 hash_path_suffix: str | None = None) -> None:
        if not 1 <= part_power <= 24:
            raise RingError("part power must be between 1 and 24")
        if replicas < 1:
            raise RingError("replicas must be at least 1")
        self.part_power = part_power
        self.replicas = replicas
        self.hash_path_suffix = hash_path_suffix if hash_path_suffix is not None \
            else secrets.token_hex(8)
        self.version = 0
        self.devices: dict[int, dict[str, Any]] = {}
        self.assignment: list[list[int | None]] = [
            [None] * (1 << part_power) for _ in range(replicas)]

    @property
    def partitions(self) -> int:
        return 1 << self.part_power

    # -- persistence -----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RingBuilder:
        builder = cls(part_power=data["part_power"], replicas=data["replicas"],
                      hash_path_suffix=data.get("hash_path_suffix", ""))
        builder.version = data["version"]
        builder.devices = {d["id"]: dict(d) for d in data["devices"]}
        builder.assignment = [list(row) for row in data["assignment"]]
        return builder

    @classmethod
    def load(cls, path: str | Path) -> RingBuilder:
        try:
            return cls.from_dict(orjson.loads(Path(path).read_bytes()))
        except FileNotFoundError:
            raise RingError(f"no ring at {path}; create one first") from None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "part_power": self.part_power,
                "replicas": self.replicas, "hash_path_suffix": self.hash_path_suffix,
                "devices": [self.devices[i] for i in sorted(self.devices)],
                "assignment": self.assignment}

    @classmethod
    def with_devices(cls, devices: list[tuple[str, str, int | None]], *, part_power: int = 10,
                     replicas: int = 3) -> RingBuilder:
        """A ring of ``devices`` (name, address, zone or None for a zone of its own),
        balanced when there are enough devices for the replicas."""
        builder = cls(part_power=part_power, replicas=replicas)
        for name, address, zone in devices:
            builder.add_device(name=name, address=address, zone=zone)
        if len(builder.devices) >= replicas:
            builder.rebalance()
        return builder

    def save(self, path: str | Path) -> None:
        """Write the next version of the ring file atomically."""
        self.version += 1
        write_atomic(path, orjson.dumps(self.to_dict()))

    def ring(self) -> Ring:
        return Ring(copy.deepcopy(self.to_dict()))

    # -- devices ---------------------------------------------------------------------------

    def add_device(self, *, name: str, address: str, zone: int | None = None,
                   weight: float = 100.0) -> Device:
        """Add a device (zone defaults to a new zone of its own)."""
        if any(d["name"] == name for d in self.devices.values()):
            raise RingError(f"device {name} is already in the ring")
        if weight <= 0:
            raise RingError("weight must be positive")
        if zone is None:
            zone = max((d["zone"] for d in self.devices.values()), default=0) + 1
        dev_id = max(self.devices, default=-1) + 1
        self.devices[dev_id] = {"id": dev_id, "name": name, "zone": int(zone),
                                "weight": float(weight), "address": address}
        return Device(**self.devices[dev_id])

    def _find(self, name: str) -> dict[str, Any]:
        for dev in self.devices.values():
            if dev["name"] == name:
                return dev
        raise RingError(f"no device named {name}")

    def set_weight(self, name: str, weight: float) -> None:
        if weight < 0:
            raise RingError("weight must not be negative")
        self._find(name)["weight"] = float(weight)

    def set_address(self, name: str, address: str) -> None:
        self._find(name)["address"] = address

    def remove_device(self, name: str) -> None:
        """Take a device out: its weight drops to 0 now, and the next rebalance moves its
        partitions away and forgets it."""
        dev = self._find(name)
        dev["weight"] = 0.0
        dev["removed"] = True

    # -- balance ---------------------------------------------------------------------------

    def _active(self) -> list[dict[str, Any]]:
        return [d for d in self.devices.values() if d["weight"] > 0 and not d.get("removed")]

    def wanted(self) -> dict[int, float]:
        """Replicas each active device should hold, by weight, zone shares capped."""
        active = self._active()
        zones: dict[int, float] = defaultdict(float)
        for dev in active:
            zones[dev["zone"]] += dev["weight"]
        total = self.partitions * self.replicas
        zone_share: dict[int, float] = {}
        if len(zones) >= self.replicas:
            # Water-filling: no zone can hold more than one replica of each partition.
            remaining, open_zones = float(total), dict(zones)
            while open_zones:
                weight_sum = sum(open_zones.values())
                capped = {z for z, w in open_zones.items()
                          if remaining * w / weight_sum > self.partitions}
                if not capped:
                    for z, w in open_zones.items():
                        zone_share[z] = remaining * w / weight_sum
                    break
                for z in capped:
                    zone_share[z] = float(self.partitions)
                    remaining -= self.partitions
                    del open_zones[z]
        else:
            weight_sum = sum(zones.values())
            zone_share = {z: total * w / weight_sum for z, w in zones.items()}
        return {d["id"]: zone_share[d["zone"]] * d["weight"] / zones[d["zone"]]
                for d in active}

    def counts(self) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for row in self.assignment:
            for dev in row:
                if dev is not None:
                    counts[dev] += 1
        return counts

    def balance(self) -> float:
        """The worst device's distance from its wanted share, in percent (0 is perfect)."""
        wanted, counts = self.wanted(), self.counts()
        if not wanted:
            return 0.0
        return max(abs(counts.get(d, 0) - w) * 100.0 / w for d, w in wanted.items() if w)

    def rebalance(self) -> int:
        """Reassign partitions to fit the devices and weights; the number of replica
        assignments that changed. Raises RingError with fewer devices than replicas."""
        active = {d["id"]: d for d in self._active()}
        if len(active) < self.replicas:
            raise RingError(f"{self.replicas} replicas need at least {self.replicas} "
                            f"devices with weight; the ring has {len(active)}")
        wanted = self.wanted()
        counts = self.counts()
        zone_of = {d["id"]: d["zone"] for d in self.devices.values()}
        distinct_zones = len({d["zone"] for d in active.values()}) >= self.replicas
        touched: set[int] = set()
        orphans: list[tuple[int, int]] = []

        def unassign(part: int, rep: int) -> None:
            dev = self.assignment[rep][part]
            if dev is not None:
                counts[dev] -= 1
            self.assignment[rep][part] = None
            orphans.append((part, rep))
            touched.add(part)

        # 1. Replicas on devices that left (or never were assigned) must move.
        for rep, row in enumerate(self.assignment):
            for part, dev in enumerate(row):
                if dev is None or dev not in active:
                    unassign(part, rep)
        # 2. Replicas that share a device, or a zone when zones could be distinct.
        for part in range(self.partitions):
            seen_devs: set[int] = set()
            seen_zones: set[int] = set()
            for rep in range(self.replicas):
                dev = self.assignment[rep][part]
                if dev is None:
                    continue
                if dev in seen_devs or (distinct_zones and zone_of[dev] in seen_zones):
                    unassign(part, rep)
                    continue
                seen_devs.add(dev)
                seen_zones.add(zone_of[dev])
        # 3. Devices over their share give up replicas of partitions not moved yet.
        for dev_id, want in sorted(wanted.items()):
            target = int(want + 0.9999)
            if counts.get(dev_id, 0) <= target:
                continue
            for part in self._spread_order(dev_id):
                if counts[dev_id] <= target:
                    break
                if part in touched:
                    continue
                for rep in range(self.replicas):
                    if self.assignment[rep][part] == dev_id:
                        unassign(part, rep)
                        break
        # 4. Place every orphan on the neediest allowed device.
        moved = 0
        for part, rep in sorted(orphans):
            holders = [self.assignment[r][part] for r in range(self.replicas)
                       if r != rep and self.assignment[r][part] is not None]
            used_zones = {zone_of[d] for d in holders}
            candidates = [d for d in active if d not in holders]
            preferred = [d for d in candidates if zone_of[d] not in used_zones]
            pool = preferred or candidates
            best = max(pool, key=lambda d: (wanted[d] - counts.get(d, 0),
                                            -_spread(part, d)))
            self.assignment[rep][part] = best
            counts[best] = counts.get(best, 0) + 1
            moved += 1
        # Removed devices hold nothing now; forget them.
        for dev_id in [d for d, dev in self.devices.items() if dev.get("removed")]:
            del self.devices[dev_id]
        return moved

    def _spread_order(self, dev_id: int) -> list[int]:
        """The partitions, in a fixed pseudo-random order per device."""
        return sorted(range(self.partitions), key=lambda p: _spread(p, dev_id))


def _spread(part: int, dev_id: int) -> int:
    digest = hashlib.md5(f"{dev_id}/{part}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big")
