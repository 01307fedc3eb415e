"""The fuzz suite's cloud: one real process-mode cloud with object storage (three storage
nodes), shared by every property, with its tokens and the URL of each API root."""
from __future__ import annotations

import json

import pytest

from overcast.testing.cloud import running_cloud
from tests.fuzz.target import Cloud, connect


def crashes(log: str) -> list[str]:
    """The ERROR lines of a process's JSON log: a handler that crashed, even where the
    client was still answered with a 4xx."""
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("ERROR", "CRITICAL"):
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
