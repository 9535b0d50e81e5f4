"""Fixtures of the air service's store, job and API tests (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.air import SERVICE
from citysmart.services.air.areas import city_grid
from citysmart.services.air.grid import Grid
from tests.services.air.factories import clear_air_tables


@pytest.fixture
def air_runtime(runtime: HubRuntime) -> HubRuntime:
    """The hub's runtime on an empty store, the air service's tables emptied too."""
    clear_air_tables(runtime)
    return runtime


@pytest.fixture(scope="session")
def coarse_grid() -> Grid:
    """Sejong's map grid at 800 m: the tests check figures, not resolution."""
    return city_grid(800.0)


@pytest.fixture
def air_client(settings: Settings, air_runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the air service mounted (its jobs not started)."""
    app = create_app(
        settings, services=[SERVICE], runtime=air_runtime, start_mqtt=False, migrate=False
    )
    with TestClient(app) as test_client:
        yield test_client
