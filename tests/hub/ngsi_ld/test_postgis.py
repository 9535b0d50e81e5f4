"""Geo-queries through PostGIS give what the hub's own spherical computation gives.

A database of its own on the test server, with ``CREATE EXTENSION postgis`` (``make test``
installs the package, scripts/install_postgis.sh); the same city is loaded there and in a
SQLite file, and every geo-query must select the same entities on both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.hub.ngsi_ld.query import has_postgis
from citysmart.hub.registry import upsert_entity
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from tests.conftest import POSTGRES_URL, unavailable

pytestmark = pytest.mark.postgres

BASE = "/ngsi-ld/v1"
# Sejong City Hall and points around it, as (name, lon, lat).
PLACES = [
    ("city-hall", 127.2890, 36.4800),
    ("near-200m", 127.2912, 36.4801),
    ("near-900m", 127.2990, 36.4802),
    ("away-1500m", 127.3057, 36.4805),
    ("jochiwon", 127.2990, 36.6010),
    ("hansol", 127.2583, 36.4805),
]
SQUARE = "[[[127.28,36.47],[127.30,36.47],[127.30,36.49],[127.28,36.49],[127.28,36.47]]]"
LINE = "[[127.295,36.47],[127.295,36.49]]"
QUERIES = [
    {"georel": "near;maxDistance==1000", "geometry": "Point", "coordinates": "[127.289,36.48]"},
    {"georel": "near;minDistance==1000", "geometry": "Point", "coordinates": "[127.289,36.48]"},
    {"georel": "within", "geometry": "Polygon", "coordinates": SQUARE},
    {"georel": "disjoint", "geometry": "Polygon", "coordinates": SQUARE},
    {"georel": "intersects", "geometry": "Polygon", "coordinates": SQUARE},
    {"georel": "equals", "geometry": "Point", "coordinates": "[127.2583,36.4805]"},
    {"georel": "intersects", "geometry": "LineString", "coordinates": LINE},
]


def _admin() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="module")
def postgis_url() -> Iterator[str]:
    """A throwaway database with the PostGIS extension."""
    name = f"citysmart_postgis_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_admin(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).strip())
    with admin:
        available = admin.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
        if available is None:
            unavailable("PostGIS", "run scripts/install_postgis.sh (make test does)")
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _admin().rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    yield url
    with psycopg.connect(_admin(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _city(url: str, folder: Path) -> Iterator[tuple[TestClient, HubRuntime]]:
    settings = Settings(database_url=url, data_dir=folder, mqtt_ingest=False, secret_key="k" * 48)
    runtime = HubRuntime.create(settings)
    runtime.migrate()
    with runtime.sessions.begin() as session:
        for name, lon, lat in PLACES:
            location = {"type": "Point", "coordinates": [lon, lat]}
            upsert_entity(session, f"urn:ngsi-ld:PointOfInterest:{name}", "PointOfInterest",
                          name=name, location=location)  # fmt: skip
    app = create_app(settings, services=[], runtime=runtime, start_mqtt=False, migrate=False)
    with TestClient(app) as client:
        yield client, runtime
    runtime.stop()


@pytest.fixture(scope="module")
def with_postgis(
    postgis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, HubRuntime]]:
    yield from _city(postgis_url, tmp_path_factory.mktemp("postgis"))


@pytest.fixture(scope="module")
def without_postgis(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, HubRuntime]]:
    folder = tmp_path_factory.mktemp("spherical")
    yield from _city(f"sqlite:///{folder / 'city.db'}", folder)


def _ids(client: TestClient, params: dict[str, Any]) -> list[str]:
    response = client.get(f"{BASE}/entities", params={"type": "PointOfInterest", **params})
    assert response.status_code == 200, response.text
    return sorted(e["id"].rsplit(":", 1)[1] for e in response.json())


def test_the_hub_uses_postgis_where_it_is_installed(
    with_postgis: tuple[TestClient, HubRuntime],
) -> None:
    _, runtime = with_postgis
    with runtime.sessions() as session:
        assert has_postgis(session)


@pytest.mark.parametrize("query", QUERIES, ids=[q["georel"] + "-" + q["geometry"] for q in QUERIES])
def test_postgis_and_the_spherical_path_select_the_same_entities(
    with_postgis: tuple[TestClient, HubRuntime],
    without_postgis: tuple[TestClient, HubRuntime],
    query: dict[str, str],
) -> None:
    assert _ids(with_postgis[0], query) == _ids(without_postgis[0], query)


def test_near_through_postgis_is_right_in_metres(
    with_postgis: tuple[TestClient, HubRuntime],
) -> None:
    near = _ids(with_postgis[0], QUERIES[0])
    assert near == ["city-hall", "near-200m", "near-900m"]
