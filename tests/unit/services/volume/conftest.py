"""Fixtures for the volume service: a manager over a real SQLite file and the real-file
twins of its backend, backup store and image service; contexts of two projects and an
admin."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from overcast.context import RequestContext
from overcast.db import Database, sqlite_url
from services.volume.manager import VolumeManager
from services.volume.models import Base
from services.volume.quotas import QuotaDefaults
from services.volume.shared import Settings
from tests.unit.services.volume.twins import TwinBackend, TwinBackupStore, TwinImages

DEMO = RequestContext(user_id="demo-user", project_id="demo", roles=("member",))
OTHER = RequestContext(user_id="other-user", project_id="other", roles=("member",))
ADMIN = RequestContext(user_id="admin-user", project_id="admin", roles=("admin", "member"))
TOKEN = "demo-token"


@pytest.fixture
def backend(tmp_path: Path) -> TwinBackend:
    (tmp_path / "volumes").mkdir()
    return TwinBackend(tmp_path / "volumes")


@pytest.fixture
def store() -> TwinBackupStore:
    return TwinBackupStore()


@pytest.fixture
def images() -> TwinImages:
    return TwinImages()


def make_manager(tmp_path: Path, backend: TwinBackend, store: TwinBackupStore | None,
                 images: TwinImages | None, *, quotas: QuotaDefaults | None = None
                 ) -> VolumeManager:
    db = Database(sqlite_url(tmp_path / "volume.db"), Base.metadata)
    manager = VolumeManager(db, backend=backend, images=images, backups=store,
                            quota_defaults=quotas,
                            settings=Settings(work_dir=tmp_path / "work",
                                              service_down_time=10.0))
    manager.bootstrap()
    return manager


@pytest.fixture
async def manager(tmp_path: Path, backend: TwinBackend, store: TwinBackupStore,
                  images: TwinImages) -> AsyncIterator[VolumeManager]:
    made = make_manager(tmp_path, backend, store, images)
    try:
        yield made
    finally:
        await made.close()
        made.db.close()


@pytest.fixture
async def client(manager: VolumeManager) -> AsyncIterator:
    """An httpx client of the volume app over ``manager`` (tokens: api_helpers.TOKENS)."""
    import httpx

    from services.volume.api import build_app
    from tests.unit.services.volume.api_helpers import FakeValidator

    app = build_app(manager, authenticator=FakeValidator())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
