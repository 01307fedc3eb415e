"""Fixtures for the image service: a manager on a temp dir, and a real in-process gRPC server."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from overcast.bus.signing import Signer
from overcast.db import Database, sqlite_url
from services.image.client import ImageClient
from services.image.manager import ImageManager
from services.image.models import Base
from services.image.service import ImageConfig, ImageService
from services.image.store import FileStore

# The image service believes only contexts signed by the cloud's key; tests use this one.
SIGNING_KEY = "image-tests-signing-key"


@pytest.fixture
def signer() -> Signer:
    return Signer(SIGNING_KEY)


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path / "store")


@pytest.fixture
def manager(tmp_path, store) -> ImageManager:
    db = Database(sqlite_url(tmp_path / "image.db"), Base.metadata)
    yield ImageManager(db, store)
    db.close()


@pytest.fixture
async def image_service(tmp_path) -> AsyncIterator[ImageService]:
    cfg = ImageConfig(listen="127.0.0.1:0", state_dir=str(tmp_path / "state"),
                      default_image=False, bus_signing_key=SIGNING_KEY)
    service = ImageService(cfg)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def client(image_service, signer) -> AsyncIterator[ImageClient]:
    client = ImageClient(f"127.0.0.1:{image_service.port}", signer=signer, timeout=10.0)
    try:
        yield client
    finally:
        await client.close()
