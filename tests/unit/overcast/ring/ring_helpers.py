"""Small rings for the ring's tests."""
from __future__ import annotations

from overcast.ring import RingBuilder


def builder_with(zones: list[int], *, weights: list[float] | None = None,
                 part_power: int = 8) -> RingBuilder:
    builder = RingBuilder(part_power=part_power, replicas=3, hash_path_suffix="t")
    for index, zone in enumerate(zones):
        builder.add_device(name=f"storage-{index + 1}", address=f"127.0.0.1:{6200 + index}",
                           zone=zone, weight=(weights or [100.0] * len(zones))[index])
    builder.rebalance()
    return builder
