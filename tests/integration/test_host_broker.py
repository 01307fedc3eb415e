"""A RabbitMQ the tests start on the host listens on loopback only, and is stopped after.

`make test` used to leave a broker behind listening on every interface (AMQP on *:5672, epmd
on 0.0.0.0:4369, the Erlang distribution port on 0.0.0.0:25672) with guest/guest. These tests
start a broker of their own (own node name, ports and data directory), never the shared one.
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from overcast.cli import local
from overcast.cli.broker import HostBroker
from overcast.testing import wait_until
from overcast.testing.cloud import free_port, session_broker

LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the host's TCP sockets listening on ``port`` (IPv4 and IPv6),
    read from /proc/net/tcp and /proc/net/tcp6."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6",
                                                                socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != LISTEN or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


@pytest.fixture
def own_broker():
    """A broker of this test's own: its node name, AMQP and distribution ports, data dir."""
    if not HostBroker().installed():
        pytest.skip("rabbitmq-server is not installed")
    # Not under pytest's tmp_path, whose parents (mode 0700) the rabbitmq user cannot enter.
    base = Path(tempfile.mkdtemp(prefix="overcast-test-broker-"))
    if os.geteuid() == 0:  # Debian's wrapper runs the server as the rabbitmq user
        account = pwd.getpwnam("rabbitmq")
        os.chown(base, account.pw_uid, account.pw_gid)
    amqp_port, dist_port = free_port(), free_port()
    broker = HostBroker(environ=(
        ("RABBITMQ_NODENAME", f"overcast-test-{secrets.token_hex(4)}@localhost"),
        ("RABBITMQ_NODE_PORT", str(amqp_port)), ("RABBITMQ_DIST_PORT", str(dist_port)),
        ("RABBITMQ_MNESIA_BASE", str(base / "mnesia")), ("RABBITMQ_LOG_BASE", str(base / "log"))))
    yield broker, amqp_port, dist_port
    broker.stop()  # if the test failed half way
    shutil.rmtree(base, ignore_errors=True)


def test_a_test_broker_listens_on_loopback_only_and_is_stopped_after(own_broker):
    broker, amqp_port, dist_port = own_broker
    url = f"amqp://guest:guest@127.0.0.1:{amqp_port}/"
    assert not local.broker_reachable(url, timeout=1)
    with session_broker(url, broker=broker):
        assert local.broker_reachable(url)
        assert listening_addresses(amqp_port) == {"127.0.0.1"}
        assert listening_addresses(dist_port) == {"127.0.0.1"}
        assert listening_addresses(4369) <= {"127.0.0.1", "::1"}  # epmd
    wait_until(lambda: not listening_addresses(amqp_port) and not listening_addresses(dist_port),
               timeout=60, message="the broker the session started is still listening")


def test_a_broker_that_was_already_running_is_left_alone(own_broker):
    broker, amqp_port, _ = own_broker
    url = f"amqp://guest:guest@127.0.0.1:{amqp_port}/"
    local.ensure_broker(url, broker=broker)
    with session_broker(url, broker=broker):
        pass
    assert local.broker_reachable(url)
