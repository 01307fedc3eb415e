"""pytest fixtures for a suite of your own that runs against an Overcast cloud.

Import the fixture into a test module or a ``conftest.py`` (or list this module in
``pytest_plugins``)::

    from overcast.testing.fixtures import overcast_cloud  # noqa: F401 - a pytest fixture

    def test_boot(overcast_cloud):
        conn = overcast_cloud.connect()
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.testing.cloud import session_broker
from overcast.testing.stack import OvercastCloud


@pytest.fixture(scope="session")
def host_broker() -> Iterator[str]:
    """The host's RabbitMQ (guest on 127.0.0.1:5672) for the session: started on loopback
    only when none answers, and then stopped at the end; one already running is left alone.
    Its URL."""
    with session_broker() as url:
        yield url


@pytest.fixture(scope="session")
def overcast_cloud() -> Iterator[OvercastCloud]:
    """One Overcast cloud for the session (compose project ``overcast-test``, free ports, 3
    hypervisors, 3 storage nodes), removed with its volumes at the end. A test that kills or
    pauses a host starts it again, so the next test finds every host up."""
    with OvercastCloud() as cloud:
        yield cloud
