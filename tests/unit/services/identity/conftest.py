"""Fixtures for the identity tests: a bootstrapped manager on SQLite and the api app."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from overcast.db import Database, sqlite_url
from services.api.app import create_app
from services.identity.api import build_router
from services.identity.manager import IdentityManager
from services.identity.models import Base

ADMIN_PASSWORD = "admin-secret"
DEMO_PASSWORD = "demo-secret"
ENDPOINTS = {
    "identity": "http://cloud:80/identity",
    "compute": "http://cloud:80/compute/v2.1",
    "image": "http://cloud:80/image",
    "network": "http://cloud:80/network",
}


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_manager(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., IdentityManager]]:
    """Builds managers over one database and key directory (a restart is a second call)."""
    databases: list[Database] = []

    def make(*, key_dir: Path | None = None, **kwargs: Any) -> IdentityManager:
        db = Database(sqlite_url(tmp_path / "identity.db"), Base.metadata)
        databases.append(db)
        kwargs.setdefault("clock", clock)
        return IdentityManager(db, key_dir=key_dir or tmp_path / "keys", **kwargs)

    yield make
    for db in databases:
        db.close()


@pytest.fixture
def manager(make_manager: Callable[..., IdentityManager]) -> IdentityManager:
    m = make_manager()
    m.bootstrap(admin_password=ADMIN_PASSWORD, demo_password=DEMO_PASSWORD,
                endpoints=ENDPOINTS)
    return m


def make_client(manager: IdentityManager) -> TestClient:
    app = create_app(authenticator=manager, routers=[("/identity", build_router(manager))])
    return TestClient(app)


@pytest.fixture
def client(manager: IdentityManager) -> Iterator[TestClient]:
    with make_client(manager) as c:
        yield c


class Helpers:
    """Request helpers, handed to tests as the ``h`` fixture (so no test imports conftest)."""

    ADMIN_PASSWORD = ADMIN_PASSWORD
    DEMO_PASSWORD = DEMO_PASSWORD
    ENDPOINTS = ENDPOINTS

    def __init__(self, client: TestClient) -> None:
        self.client = client

    @staticmethod
    def password_body(user: str, password: str, *, project: str | None = None,
                      domain: str | None = None, system: bool = False) -> dict[str, Any]:
        """An auth request for ``user`` of the default domain, scoped as asked."""
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}}}
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
        elif domain is not None:
            auth["scope"] = {"domain": {"id": domain}}
        elif system:
            auth["scope"] = {"system": {"all": True}}
        return {"auth": auth}

    def token(self, user: str, password: str, **scope: Any) -> str:
        """A token for ``user`` (scoped as in ``password_body``), asserting it was issued."""
        resp = self.client.post("/identity/v3/auth/tokens",
                                json=self.password_body(user, password, **scope))
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"]

    @staticmethod
    def auth(token: str, subject: str | None = None) -> dict[str, str]:
        headers = {"X-Auth-Token": token}
        if subject is not None:
            headers["X-Subject-Token"] = subject
        return headers


@pytest.fixture
def h(client: TestClient) -> Helpers:
    return Helpers(client)


@pytest.fixture
def admin_token(h: Helpers) -> str:
    return h.token("admin", ADMIN_PASSWORD, project="admin")


@pytest.fixture
def demo_token(h: Helpers) -> str:
    return h.token("demo", DEMO_PASSWORD, project="demo")


@pytest.fixture
def client_for() -> Iterator[Callable[[IdentityManager], TestClient]]:
    """Builds an api client for another manager (say, one built after a restart)."""
    clients: list[TestClient] = []

    def make(m: IdentityManager) -> TestClient:
        clients.append(make_client(m))
        return clients[-1]

    yield make
    for c in clients:
        c.close()
