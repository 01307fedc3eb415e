"""The chaos suite runs on the public fixture, ``overcast.testing.fixtures.overcast_cloud``: a
compose stack of its own (project ``overcast-test``, its own ports, state and volumes) started
through testcontainers, so it never touches a stack started with ``make up``."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from overcast.testing import wait_until
from overcast.testing.fixtures import overcast_cloud  # noqa: F401 - the fixture, for pytest
from overcast.testing.stack import ServiceWatch

# The stack's last log lines, kept for the terminal summary when a chaos test fails (the
# stack is gone by then).
_STACK_LOGS: list[str] = []
_LOGGED_SERVICES = ("conductor", "scheduler", "hypervisor", "volume", "object-proxy",
                    "storage-1", "storage-2", "storage-3")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _STACK_LOGS or not terminalreporter.stats.get("failed"):
        return
    terminalreporter.section("compose stack logs (warnings and errors)")
    for line in _STACK_LOGS:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def cloud(overcast_cloud):  # noqa: F811 - the imported fixture, by name
    """The session's cloud with unlimited admin quota; its logs are kept at the end."""
    admin = overcast_cloud.connect()
    admin.compute.put(f"/os-quota-sets/{admin.current_project_id}", json={
        "quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
    try:
        yield overcast_cloud
    finally:
        logs = overcast_cloud.logs(*_LOGGED_SERVICES)
        if os.environ.get("OVERCAST_CHAOS_LOG"):  # keep every line, for a post-mortem
            Path(os.environ["OVERCAST_CHAOS_LOG"]).write_text(logs)
        _STACK_LOGS[:] = [line for line in logs.splitlines()
                          if ('"WARNING"' in line or '"ERROR"' in line)
                          and "aio_pika" not in line and "aiormq" not in line][-80:]


@pytest.fixture
def conn(cloud):
    connection = cloud.connect()
    yield connection
    for server in connection.compute.servers():
        connection.compute.delete_server(server)
    wait_until(lambda: not list(connection.compute.servers()), timeout=60,
               message="servers left behind by the test were not deleted")
    connection.close()


@pytest.fixture
def watch(conn):
    return ServiceWatch(conn)
