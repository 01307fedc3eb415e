"""Fixtures for the network service: a manager over SQLite in tmp_path, and a REST client."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from overcast.db import Database, sqlite_url
from services.api.app import create_app
from services.network.api import build_router
from services.network.manager import NetworkManager
from services.network.models import Base
from tests.unit.services.network.network_helpers import (
    ADMIN_PROJECT,
    DEMO_PROJECT,
    FakeAuthenticator,
)


@pytest.fixture
def db(tmp_path):
    database = Database(sqlite_url(tmp_path / "network.db"), Base.metadata)
    yield database
    database.close()


@pytest.fixture
def manager(db) -> NetworkManager:
    return NetworkManager(db)


@pytest.fixture
def booted(manager) -> NetworkManager:
    """A manager after bootstrap: "public" (admin, external) and "private" (demo, shared)."""
    manager.bootstrap(admin_project_id=ADMIN_PROJECT, demo_project_id=DEMO_PROJECT)
    return manager


@pytest.fixture
def client(booted):
    app = create_app(authenticator=FakeAuthenticator(),
                     routers=[("/network", build_router(booted))])
    with TestClient(app) as test_client:
        yield test_client
