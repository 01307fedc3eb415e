"""Probe tests in Swift's style: kill storage nodes (SIGKILL), then assert on each node's own
state (its gRPC API and its directory), not only on what the proxy says.

The cluster has four nodes in four zones, so every partition has a handoff. Daemons run
only when a test runs them (``once``), so every step is deterministic.
"""
from __future__ import annotations

import os

import pytest
from swiftclient.exceptions import ClientException

from overcast.testing import wait_until
from tests.integration.objectstore.harness import object_cluster

QUIET = {"OVERCAST_STORAGE_REPLICATOR_INTERVAL": "3600",
         "OVERCAST_STORAGE_AUDITOR_INTERVAL": "3600"}


@pytest.fixture(scope="module")
def probe():
    with object_cluster(nodes=4, node_env=QUIET,
                        proxy_env={"OVERCAST_OBJECT_PROXY_ERROR_SUPPRESSION_INTERVAL": "1"}
                        ) as cluster:
        cluster.swift().put_container("probe")
        yield cluster


def restart(cluster, *names: str) -> None:
    for name in names:
        cluster.start(name)


def test_handoff_takes_a_write_and_hands_it_back(probe):
    swift = probe.swift()
    primaries = probe.primaries("probe", "obj1")
    handoff = probe.handoffs("probe", "obj1")[0]
    data = os.urandom(3000)

    probe.kill(primaries[0])
    etag = swift.put_object("probe", "obj1", data)
    # The PUT answers at quorum; the third write may land a moment later.
    writers = [primaries[1], primaries[2], handoff]
    wait_until(lambda: all(s.exists for s in probe.states(writers, "probe", "obj1").values()),
               timeout=10, message="the third write of obj1 did not land")
    states = probe.states(writers, "probe", "obj1")
    assert all(s.exists and s.etag == etag for s in states.values())

    probe.kill(primaries[1])
    probe.kill(primaries[2])
    assert swift.get_object("probe", "obj1")[1] == data  # served by the handoff alone

    restart(probe, *primaries)
    assert not probe.states([primaries[0]], "probe", "obj1")[primaries[0]].exists
    probe.once(handoff, "replicator")
    states = probe.states(primaries, "probe", "obj1")
    assert all(s.exists and s.etag == etag for s in states.values())
    assert probe.data_files(handoff, "probe", "obj1") == []  # the handoff copy is gone


def test_tombstone_wins_everywhere(probe):
    swift = probe.swift()
    primaries = probe.primaries("probe", "obj2")
    swift.put_object("probe", "obj2", b"to be deleted")
    probe.settle("probe", "obj2")  # the node killed next has its copy
    probe.kill(primaries[0])
    swift.delete_object("probe", "obj2")
    restart(probe, primaries[0])
    # The node that was down still has the old data ...
    assert probe.states([primaries[0]], "probe", "obj2")[primaries[0]].exists
    for name in primaries:
        probe.once(name, "replicator")
    states = probe.states(primaries, "probe", "obj2")
    assert all(not s.exists and s.deleted for s in states.values())
    for name in primaries:
        assert [p.suffix for p in probe.data_files(name, "probe", "obj2")] == [".ts"]
    with pytest.raises(ClientException) as info:
        swift.get_object("probe", "obj2")
    assert info.value.http_status == 404


def test_auditor_quarantines_and_replicator_restores(probe):
    swift = probe.swift()
    primaries = probe.primaries("probe", "obj3")
    data = b"precious bytes " * 100
    etag = swift.put_object("probe", "obj3", data)
    # The PUT answers once two replicas have it; the third write may still be in flight
    # (or, had a node just been error-limited, have gone to a handoff). The victim is a
    # primary whose write is done, so no late write repairs its copy behind the auditor's
    # back, and every other primary gets a sound copy before the damage.
    holders = wait_until(lambda: [n for n in primaries if probe.data_files(n, "probe", "obj3")],
                         timeout=5)
    victim = holders[0]
    probe.settle("probe", "obj3")
    [data_file] = probe.data_files(victim, "probe", "obj3")
    with open(data_file, "r+b") as fh:  # bit rot in the data, metadata untouched
        fh.seek(10)
        fh.write(b"XXXX")

    probe.once(victim, "auditor")
    assert probe.data_files(victim, "probe", "obj3") == []
    quarantined = probe.cloud.state_dir / "storage" / victim / "quarantined" / "objects"
    assert any(quarantined.iterdir())

    for name in primaries:
        if name != victim:
            probe.once(name, "replicator")
    states = probe.states(primaries, "probe", "obj3")
    assert all(s.exists and s.etag == etag for s in states.values())
    probe.once(victim, "auditor")  # the restored copy is sound
    assert len(probe.data_files(victim, "probe", "obj3")) == 1
    assert swift.get_object("probe", "obj3")[1] == data


def test_listing_updates_reach_a_container_node_that_was_down(probe):
    swift = probe.swift()
    part_nodes = probe.ring().get_nodes("AUTH_test", "probe")[1]
    down = part_nodes[0].name
    probe.kill(down)
    swift.put_object("probe", "listed-late", b"x")
    restart(probe, down)
    for name in probe.names:
        probe.once(name, "updater", "replicator")
    import asyncio

    from agents.storage.client import StorageClient, db_path

    async def listing() -> list[str]:
        client = StorageClient(timeout=5)
        try:
            part = probe.ring().get_part("AUTH_test", "probe")
            _, rows = await client.list_db(None, probe.address(down),
                                           db_path("AUTH_test", "probe", part))
            return [r["name"] for r in rows]
        finally:
            await client.close()

    assert "listed-late" in asyncio.run(listing())
