"""Durability under chaos: storage nodes killed (SIGKILL) and restarted at random while
objects are written, and a fourth node added and the ring rebalanced under load.

Afterwards every acknowledged object reads back with its exact bytes and ETag, and each has
exactly three replicas, all on its primaries (asserted on every node's own state).
``OVERCAST_DURABILITY_OBJECTS`` sets the object count (default 2,000, the issue's figure).
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import random
import subprocess
import sys
import threading
import time

import pytest

from overcast.testing import wait_until
from tests.integration.objectstore.harness import ACCOUNT, ObjectCluster, object_cluster

FAST = {"OVERCAST_STORAGE_REPLICATOR_INTERVAL": "1", "OVERCAST_STORAGE_UPDATER_INTERVAL": "0.5"}
PROXY = {"OVERCAST_OBJECT_PROXY_ERROR_SUPPRESSION_INTERVAL": "2",
         "OVERCAST_OBJECT_PROXY_NODE_TIMEOUT": "5"}


def payload(name: str) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return seed * (1 + int.from_bytes(seed[:2], "big") % 64)


def write_all(cluster: ObjectCluster, container: str, names: list[str], *,
              workers: int = 10) -> dict[str, str]:
    """PUT every name; the ETags of the acknowledged ones."""
    acknowledged: dict[str, str] = {}
    local = threading.local()

    def put(name: str) -> None:
        if not hasattr(local, "swift"):
            local.swift = cluster.swift()
        data = payload(name)
        try:
            etag = local.swift.put_object(container, name, data)
        except Exception:  # noqa: BLE001 - not acknowledged: no promise was made
            return
        assert etag == hashlib.md5(data).hexdigest()
        acknowledged[name] = etag

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, names))
    return acknowledged


def verify(cluster: ObjectCluster, container: str, acknowledged: dict[str, str],
           attempted: list[str]) -> None:
    """Every acknowledged object reads back exactly; nothing unexpected is listed; each has
    exactly its three primaries as replicas, with the right ETag."""
    swift = cluster.swift()
    lost = []
    for name, etag in acknowledged.items():
        headers, body = swift.get_object(container, name)
        if body != payload(name) or headers["etag"] != etag:
            lost.append(name)
    assert lost == [], f"{len(lost)} acknowledged objects lost or wrong"
    listed = {o["name"] for o in swift.get_container(container, full_listing=True)[1]}
    assert listed <= set(attempted), f"unexpected objects: {sorted(listed - set(attempted))[:5]}"
    assert set(acknowledged) <= listed

    ring = cluster.ring()

    def healed() -> list[str]:
        replicas = cluster.replica_map(container, list(acknowledged))
        bad = []
        for name, where in replicas.items():
            primaries = {d.name for d in ring.get_nodes(ACCOUNT, container, name)[1]}
            if set(where) != primaries or set(where.values()) != {acknowledged[name]}:
                bad.append(name)
        return bad

    bad = healed()
    deadline = time.monotonic() + 120
    while bad and time.monotonic() < deadline:
        for node in cluster.names:
            cluster.once(node, "replicator")
        bad = healed()
    assert bad == [], f"{len(bad)} objects without exactly 3 replicas on their primaries"


@pytest.mark.integration
def test_durability_with_nodes_killed_at_random():
    count = int(os.environ.get("OVERCAST_DURABILITY_OBJECTS", "2000"))
    with object_cluster(nodes=3, node_env=FAST, proxy_env=PROXY) as cluster:
        cluster.swift().put_container("durable")
        names = [f"obj-{i:05d}" for i in range(count)]
        stop = threading.Event()
        rng = random.Random(4)
        kills = []

        def chaos() -> None:
            for _ in range(200):  # bounded: at most 200 kills
                if stop.wait(rng.uniform(1.0, 3.0)):
                    return
                victim = rng.choice(cluster.names)
                cluster.kill(victim)
                kills.append(victim)
                stop.wait(rng.uniform(0.5, 2.0))
                cluster.start(victim)

        killer = threading.Thread(target=chaos)
        killer.start()
        try:
            acknowledged = write_all(cluster, "durable", names)
        finally:
            stop.set()
            killer.join()
        for name in cluster.names:
            if not cluster.alive(name):
                cluster.start(name)
        assert kills, "the chaos thread never killed a node"
        assert len(acknowledged) >= 0.95 * count, f"only {len(acknowledged)} acknowledged"
        verify(cluster, "durable", acknowledged, names)


@pytest.mark.integration
def test_add_a_node_and_rebalance_under_load():
    count = int(os.environ.get("OVERCAST_REBALANCE_OBJECTS", "600"))
    with object_cluster(nodes=4, ring_nodes=3, node_env=FAST, proxy_env=PROXY) as cluster:
        cluster.swift().put_container("moving")
        names = [f"m-{i:05d}" for i in range(count)]
        first = write_all(cluster, "moving", names[: count // 2])
        ring_file = str(cluster.cloud.ring_path())
        cli = [sys.executable, "-m", "overcast.cli.main", "ring"]
        result = {}

        def rebalance() -> None:
            time.sleep(0.5)  # the load below is under way
            subprocess.run([*cli, "add", "storage-4", "--address",
                            cluster.cloud.storage_address(4), "--ring", ring_file],
                           check=True, capture_output=True)
            result["out"] = subprocess.run([*cli, "rebalance", "--ring", ring_file],
                                           check=True, capture_output=True, text=True).stdout

        mover = threading.Thread(target=rebalance)
        mover.start()
        second = write_all(cluster, "moving", names[count // 2:])
        mover.join()
        assert "rebalanced" in result["out"]
        assert cluster.ring().device_by_name("storage-4") is not None
        wait_until(lambda: cluster.replica_map("moving", names[:1]) is not None)
        verify(cluster, "moving", {**first, **second}, names)
        parts = cluster.ring().partitions_of(cluster.ring().device_by_name("storage-4").id)
        assert len(parts) == cluster.ring().partitions * 3 // 4
