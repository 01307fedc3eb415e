"""The fuzz suite's cloud: one real process-mode cloud with object storage (three storage
nodes), shared by every property, with its tokens and the URL of each API root."""
from __future__ import annotations

import json

import pytest

from overcast.testing.cloud import running_cloud
from overcast.testing.fixtures import host_broker  # noqa: F401 - a pytest fixture
from tests.fuzz.target import Cloud, connect


@pytest.fixture(scope="session", autouse=True)
def _broker_for_the_session(host_broker):  # noqa: F811 - the imported fixture, by name
    """The fuzz cloud runs on a broker that the session stops if it started it (a broker
    left behind would listen for anyone on the host), as the integration tests' does."""
    return host_broker

# The broker link's own errors (a channel or connection the broker closed, which aio-pika
# reopens) say nothing about the input; a crash that input caused names another exception.
_TRANSPORT = ("aiormq.", "aio_pika.")
_TRANSPORT_ERRORS = ("ConnectionChannelError", "ChannelInvalidStateError", "ChannelClosed",
                     "AMQPConnectionError", "ConnectionClosed", "failed to acknowledge")


def crashes(log: str) -> list[str]:
    """The ERROR lines of a process's JSON log: a handler that crashed, even where the
    client was still answered with a 4xx."""
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("level") not in ("ERROR", "CRITICAL"):
            continue
        if str(entry.get("logger", "")).startswith(_TRANSPORT) or any(
                name in line for name in _TRANSPORT_ERRORS):
            continue
        found.append(line[:2000])
    return found


@pytest.fixture(scope="session")
def target() -> Cloud:
    with running_cloud(hosts=1, storage_nodes=3) as test_cloud:
        cloud = connect(test_cloud)
        try:
            yield cloud
        finally:
            cloud.close()
        logged = {name: crashes(test_cloud.log(name)) for name in test_cloud.cloud.processes()}
        logged = {name: lines for name, lines in logged.items() if lines}
        assert not logged, f"errors logged while fuzzing: {logged}"
