"""Fixtures of the parking service's API tests (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.parking import SERVICE
from citysmart.services.parking.models import PARKING_TABLES
from tests.factories import create_user_with_token


@pytest.fixture
def parking_runtime(runtime: HubRuntime) -> HubRuntime:
    """The hub's runtime on an empty store, the parking tables emptied too."""
    with runtime.engine.begin() as conn:
        for table in PARKING_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    return runtime


@pytest.fixture
def parking_client(settings: Settings, parking_runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the parking service mounted."""
    app = create_app(
        settings, services=[SERVICE], runtime=parking_runtime, start_mqtt=False, migrate=False
    )
    with TestClient(app) as client:
        yield client


@pytest.fixture
def operator(parking_runtime: HubRuntime) -> dict[str, str]:
    """An operator's headers."""
    token = create_user_with_token(parking_runtime, "op", "operator")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def citizen(parking_runtime: HubRuntime) -> dict[str, str]:
    """A citizen's headers."""
    token = create_user_with_token(parking_runtime, "ana", "citizen")
    return {"Authorization": f"Bearer {token}"}
