"""The compute routers in a REST app, with twins behind them (see ``compute_twins``)."""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from overcast.rest.app import rest_app
from services.compute.api import build_router
from tests.unit.services.compute.compute_twins import (
    ConductorTwin,
    ImagesTwin,
    NetworkTwin,
    TokensTwin,
)


@pytest.fixture
def conductor() -> ConductorTwin:
    return ConductorTwin()


@pytest.fixture
def network() -> NetworkTwin:
    return NetworkTwin()


@pytest.fixture
def images() -> ImagesTwin:
    return ImagesTwin()


@pytest.fixture
async def http(conductor: ConductorTwin, network: NetworkTwin, images: ImagesTwin
               ) -> AsyncIterator[httpx.AsyncClient]:
    app = rest_app(authenticator=TokensTwin())
    app.include_router(build_router(conductor=conductor, images=images,
                                    network=network), prefix="/compute")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport,
                                 base_url="http://testserver") as client:
        yield client

