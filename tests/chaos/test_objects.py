"""Chaos on the compose stack's object storage: a storage node killed, then started again.

Asserted on each storage node's own directory (its volume, ``<project>_storage-N``), not only
through the proxy: while a node is dead every write lands on the two live primaries, and after
it returns its replicator peers restore every object to it.
"""
from __future__ import annotations

import hashlib
import os

from swiftclient.exceptions import ClientException

from overcast.testing import wait_until

NODES = ("storage-1", "storage-2", "storage-3")


def test_killed_storage_node_reads_and_writes_go_on_then_it_heals(cloud):
    swift = cloud.swift()
    account = swift.url.rstrip("/").rsplit("/", 1)[-1]
    swift.put_container("chaos")
    victim = NODES[1]
    cloud.kill(victim)
    try:
        written = {}
        for index in range(30):
            data = os.urandom(1000 + index)
            etag = swift.put_object("chaos", f"obj-{index}", data)
            assert etag == hashlib.md5(data).hexdigest()
            written[f"obj-{index}"] = data
        for name, data in written.items():
            assert swift.get_object("chaos", name)[1] == data
        # Each object node updates one container replica (as in Swift), so a replica whose
        # object-node partner was the dead node lacks those rows until the live container
        # replicas replicate (every few seconds): the listing is complete once they have.
        wait_until(lambda: sorted(o["name"] for o in swift.get_container("chaos")[1])
                   == sorted(written), timeout=30, interval=1,
                   message="the listing never showed every object written")
        for name in written:  # three nodes, three replicas: the two live ones hold each
            assert not cloud.object_files(victim, account, "chaos", name), name
            for node in NODES:
                if node != victim:
                    assert cloud.object_files(node, account, "chaos", name), (node, name)
    finally:
        cloud.start(victim)

    def healed():
        return all(cloud.object_files(victim, account, "chaos", name) for name in written)
    wait_until(healed, timeout=90, interval=1,
               message=f"{victim} did not get its replicas back in 90 s")
    for name, data in written.items():
        assert swift.get_object("chaos", name)[1] == data
    for name in written:
        swift.delete_object("chaos", name)

    def container_deleted():
        # 409 while a replica still lists objects; 404 once an earlier attempt's delete,
        # taken by some replicas, has replicated to the rest.
        try:
            swift.delete_container("chaos")
        except ClientException as exc:
            if exc.http_status == 404:
                return True
            if exc.http_status != 409:
                raise
            return False
        return True
    wait_until(container_deleted, timeout=30, interval=1)
