"""Integration tests: real processes, a real RabbitMQ, and the stock OpenStack clients."""
from __future__ import annotations

import pytest

from overcast.testing.cloud import running_cloud
from overcast.testing.fixtures import host_broker  # noqa: F401 - a pytest fixture

CONSOLE_TOKEN_TTL = 10.0


@pytest.fixture(scope="session", autouse=True)
def _broker_for_the_session(host_broker):  # noqa: F811 - the imported fixture, by name
    """Every integration test runs against a broker that the session stops if it started it
    (a broker left behind by tests would listen for anyone on the host)."""
    return host_broker


@pytest.fixture(scope="session")
def cloud():
    """One shared cloud with four fake hypervisors, for tests that do not break things.
    Console tokens live 10 s (not 600) so that test_consoles sees one expire."""
    with running_cloud(hosts=4, env={"conductor": {
            "OVERCAST_CONDUCTOR_CONSOLE_TOKEN_TTL": str(CONSOLE_TOKEN_TTL)}}) as test_cloud:
        yield test_cloud


@pytest.fixture(scope="session")
def admin(cloud):
    conn = cloud.connect("overcast-admin")
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def demo(cloud):
    conn = cloud.connect("overcast-demo")
    yield conn
    conn.close()


def pytest_collection_modifyitems(items):
    """Tests that restart the shared broker run last, so they cannot disturb the others."""
    items.sort(key=lambda item: item.get_closest_marker("broker_restart") is not None)
