"""Object storage integration tests: storage nodes and the proxy as real processes."""
from __future__ import annotations

import pytest

from tests.integration.objectstore.harness import object_cluster


@pytest.fixture(scope="module")
def cluster():
    """Three storage nodes (a zone each) and the proxy; daemons run on their own."""
    with object_cluster(nodes=3, node_env={"OVERCAST_STORAGE_REPLICATOR_INTERVAL": "2"}) as c:
        yield c


@pytest.fixture(scope="module")
def swift(cluster):
    return cluster.swift()
