"""Fixtures of the air service's store, job and API tests (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from citysmart.hub.runtime import HubRuntime
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
