"""Fixtures of the bikes service's store, import and feed tests (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.bikes import SERVICE
from citysmart.services.bikes.models import BIKE_TABLES


@pytest.fixture
def bikes_runtime(runtime: HubRuntime) -> HubRuntime:
    """The hub's runtime on an empty store, the bikes tables emptied too."""
    with runtime.engine.begin() as conn:
        for table in BIKE_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    return runtime


@pytest.fixture
def bikes_client(settings: Settings, bikes_runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the bikes service mounted."""
    app = create_app(
        settings, services=[SERVICE], runtime=bikes_runtime, start_mqtt=False, migrate=False
    )
    with TestClient(app) as client:
        yield client
