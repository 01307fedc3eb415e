"""The chaos suite runs against a compose stack of its own (project ``overcast-test``, its
own ports, state and volumes), so it never touches a stack started with ``make up``."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from overcast.cli import compose
from overcast.testing import wait_until
from overcast.testing.cloud import free_port
from overcast.testing.stack import ServiceWatch, Stack

# The stack's last log lines, kept for the terminal summary when a chaos test fails (the
# stack and its state directory are gone by then).
_STACK_LOGS: list[str] = []
_LOGGED_SERVICES = ("conductor", "scheduler", "hypervisor", "object-proxy", "storage-1",
                    "storage-2", "storage-3")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001, ARG001
    if not _STACK_LOGS or not terminalreporter.stats.get("failed"):
        return
    terminalreporter.section("compose stack logs (warnings and errors)")
    for line in _STACK_LOGS:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def stack():
    if shutil.which("docker") is None:
        pytest.fail("the chaos suite needs a Docker engine")
    state = Path(tempfile.mkdtemp(prefix="overcast-chaos-"))
    cloud = compose.ComposeCloud(state_dir=state, project="overcast-test",
                                 api_port=free_port(), amqp_port=free_port(),
                                 object_port=free_port())
    try:
        compose.up(cloud, clouds_file=state / "clouds.yaml", timeout=300)
        test_stack = Stack(clouds_file=state / "clouds.yaml", bus_url=cloud.transport_url,
                           project=cloud.project, ring_file=cloud.ring_file)
        admin = test_stack.connect()
        admin.compute.put(f"/os-quota-sets/{admin.current_project_id}", json={
            "quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
        yield test_stack
    finally:
        try:
            logs = cloud.compose("logs", "--no-color", "--timestamps", *_LOGGED_SERVICES,
                                 capture=True, check=False).stdout or ""
            if os.environ.get("OVERCAST_CHAOS_LOG"):  # keep every line, for a post-mortem
                Path(os.environ["OVERCAST_CHAOS_LOG"]).write_text(logs)
            _STACK_LOGS[:] = [line for line in logs.splitlines()
                              if ('"WARNING"' in line or '"ERROR"' in line)
                              and "aio_pika" not in line and "aiormq" not in line][-80:]
        finally:
            compose.down(cloud, volumes=True)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def conn(stack):
    connection = stack.connect()
    yield connection
    for server in connection.compute.servers():
        connection.compute.delete_server(server)
    wait_until(lambda: not list(connection.compute.servers()), timeout=60,
               message="servers left behind by the test were not deleted")
    connection.close()


@pytest.fixture
def watch(conn):
    return ServiceWatch(conn)
