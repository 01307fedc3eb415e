"""Building a ring: zone spread, balance by weight and minimal movement."""
from __future__ import annotations

import pytest

from overcast.ring import RingBuilder, RingError
from tests.unit.overcast.ring.ring_helpers import builder_with


def zones_of_partition(builder: RingBuilder, part: int) -> list[int]:
    return [builder.devices[row[part]]["zone"] for row in builder.assignment]


def test_every_partition_has_replicas_in_distinct_zones():
    builder = builder_with([1, 2, 3, 3])
    for part in range(builder.partitions):
        devs = [row[part] for row in builder.assignment]
        assert len(set(devs)) == 3
        assert len(set(zones_of_partition(builder, part))) == 3


def test_equal_weights_are_balanced():
    builder = builder_with([1, 2, 3, 4])
    assert builder.balance() < 1.0
    assert set(builder.counts().values()) == {builder.partitions * 3 // 4}


def test_weights_set_the_shares():
    builder = builder_with([1, 2, 3, 4, 5], weights=[100, 100, 100, 100, 200])
    counts = builder.counts()
    assert counts[4] == pytest.approx(2 * counts[0], rel=0.05)
    assert builder.balance() < 2.0


def test_zone_share_is_capped_at_one_replica_per_partition():
    # Zone 1 has most of the weight but can hold only one replica of each partition.
    builder = builder_with([1, 1, 2, 3], weights=[300, 300, 100, 100])
    counts = builder.counts()
    assert counts[0] + counts[1] == builder.partitions
    for part in range(builder.partitions):
        assert len(set(zones_of_partition(builder, part))) == 3


def test_adding_a_device_moves_only_its_share_and_one_replica_per_partition():
    builder = builder_with([1, 2, 3])
    before = [list(row) for row in builder.assignment]
    builder.add_device(name="storage-4", address="127.0.0.1:6204")
    moved = builder.rebalance()
    assert moved == builder.partitions * 3 // 4
    for part in range(builder.partitions):
        changed = sum(before[r][part] != builder.assignment[r][part] for r in range(3))
        assert changed <= 1
    assert builder.balance() < 1.0


def test_rebalance_without_changes_moves_nothing():
    builder = builder_with([1, 2, 3, 4])
    assert builder.rebalance() == 0


def test_removing_a_device_moves_its_partitions_and_forgets_it():
    builder = builder_with([1, 2, 3, 4])
    builder.remove_device("storage-2")
    moved = builder.rebalance()
    assert moved == builder.partitions * 3 // 4
    assert all(dev != 1 for row in builder.assignment for dev in row)
    assert "storage-2" not in {d["name"] for d in builder.devices.values()}


def test_too_few_devices_is_an_error():
    builder = RingBuilder(part_power=4)
    builder.add_device(name="a", address="x:1")
    builder.add_device(name="b", address="x:2")
    with pytest.raises(RingError):
        builder.rebalance()
