"""Reading a ring: lookups of primaries and handoffs, the ring file and its reloading."""
from __future__ import annotations

import os

from overcast.ring import Ring, RingBuilder, RingHolder
from tests.unit.overcast.ring.ring_helpers import builder_with


def test_lookups_primaries_and_handoffs():
    builder = builder_with([1, 2, 3, 4, 5])
    ring = builder.ring()
    part, nodes = ring.get_nodes("AUTH_a", "c", "o")
    assert 0 <= part < ring.partitions
    assert len(nodes) == 3
    assert part == ring.get_part("AUTH_a", "c", "o")
    handoffs = list(ring.get_more_nodes(part))
    assert {d.id for d in handoffs}.isdisjoint({d.id for d in nodes})
    assert len(handoffs) == 2
    # The same name always maps to the same place; another name usually elsewhere.
    assert ring.get_nodes("AUTH_a", "c", "o") == (part, nodes)
    parts = {ring.get_part("AUTH_a", "c", f"o{i}") for i in range(200)}
    assert len(parts) > 100


def test_ring_file_round_trip_and_reload(tmp_path):
    path = tmp_path / "object.ring"
    builder = builder_with([1, 2, 3])
    builder.save(path)
    holder = RingHolder(path)
    assert holder.ring.version == 1
    assert not holder.check()
    builder = RingBuilder.load(path)
    builder.add_device(name="storage-4", address="127.0.0.1:6204")
    builder.rebalance()
    builder.save(path)
    os.utime(path, ns=(1, 1))  # a new mtime even on coarse clocks
    assert holder.check()
    assert holder.ring.version == 2
    assert len(holder.ring.devices) == 4
    assert Ring.load(path).to_dict() == holder.ring.to_dict()
