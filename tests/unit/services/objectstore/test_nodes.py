"""The proxy's node orderings and its one retry loop for writes."""
from __future__ import annotations

from pathlib import Path

from agents.storage.client import NodeError, StorageClient
from overcast import errors
from overcast.ring import Device, RingBuilder, RingHolder
from services.objectstore.nodes import ErrorLimiter, Nodes


def five_nodes(tmp_path: Path) -> Nodes:
    path = tmp_path / "object.ring"
    RingBuilder.with_devices([(f"storage-{i}", f"127.0.0.1:{6200 + i}", None)
                              for i in range(1, 6)], part_power=4).save(path)
    return Nodes(RingHolder(path), StorageClient(), ErrorLimiter())


async def test_a_handoff_stands_in_for_each_node_that_fails(tmp_path):
    nodes = five_nodes(tmp_path)
    part = nodes.ring.get_part("AUTH_a", "c", "o")
    primaries = nodes.ring.get_part_nodes(part)
    handoffs = list(nodes.ring.get_more_nodes(part))
    down = {primaries[0].address, handoffs[0].address}
    asked = []

    async def write(index: int, dev: Device) -> str:
        asked.append((index, dev.address))
        if dev.address in down:
            raise NodeError("down")
        if dev.address == primaries[2].address:
            raise errors.NotFound("a real answer")
        return dev.address

    outcomes = await nodes.write_all(part, write, quorum=2)
    # Replica 0: its primary and the first handoff failed; the second handoff took it.
    assert outcomes[0] == handoffs[1].address
    assert outcomes[1] == primaries[1].address
    # A node's real answer is an outcome, not a failure to work around.
    assert isinstance(outcomes[2], errors.NotFound)
    assert sorted(a for i, a in asked if i == 2) == [primaries[2].address]


async def test_no_handoff_left_gives_the_last_node_error(tmp_path):
    nodes = five_nodes(tmp_path)
    part = nodes.ring.get_part("AUTH_a", "c", "o")

    async def write(index: int, dev: Device) -> str:
        raise NodeError(f"{dev.name} down")

    outcomes = await nodes.write_all(part, write, quorum=2)
    assert len(outcomes) == 3 and all(isinstance(o, NodeError) for o in outcomes)
