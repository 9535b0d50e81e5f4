"""Shared fixtures: the same tests run on SQLite and on a real PostgreSQL and Mosquitto.

Servers come from CITYSMART_TEST_POSTGRES_URL and CITYSMART_TEST_MQTT_URL. When one cannot
be reached its tests are skipped locally, but fail under CI (CITYSMART_REQUIRE_SERVICES=1),
so a missing server never passes for a green run.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from citysmart.core.config import Settings
from citysmart.core.db import make_engine
from citysmart.core.migrate import upgrade
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from tests.factories import TABLES

POSTGRES_URL = os.environ.get(
    "CITYSMART_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MQTT_URL = os.environ.get("CITYSMART_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
REQUIRE_SERVICES = os.environ.get("CITYSMART_REQUIRE_SERVICES") == "1"


def unavailable(what: str, why: str) -> None:
    """Skip locally, fail in CI: a suite that cannot reach its server is not green."""
    message = f"{what} unreachable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (CITYSMART_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def _admin_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def postgresql_url(migrated: dict[str, Engine]) -> Iterator[str]:
    """Create a throwaway database on the PostgreSQL server for this test run."""
    name = f"citysmart_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_admin_dsn(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).strip())
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlparse(_admin_dsn())
    url = parts._replace(path=f"/{name}").geturl()
    yield url
    engine = migrated.pop(url, None)
    if engine is not None:
        engine.dispose()
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file for this test run."""
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'citysmart.db'}"


@pytest.fixture(scope="session")
def migrated() -> Iterator[dict[str, Engine]]:
    """Engines whose schema was built once per run, by the migrations."""
    engines: dict[str, Engine] = {}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, migrated: dict[str, Engine]) -> str:
    """Each test that uses the store runs on SQLite and on PostgreSQL, on an empty schema."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    engine = migrated.get(url)
    if engine is None:
        engine = make_engine(url)
        upgrade(engine)
        migrated[url] = engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its database, no MQTT unless a test starts it."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        mqtt_ingest=False,
        secret_key="test-secret-key-of-sufficient-length-0123456789",
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[HubRuntime]:
    """The hub's runtime on the test database (not started)."""
    rt = HubRuntime.create(settings)
    yield rt
    rt.stop()


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app, without MQTT."""
    app = create_app(settings, services=[], runtime=runtime, start_mqtt=False, migrate=False)
    with TestClient(app) as test_client:
        yield test_client


def _reachable(url: str) -> str | None:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883), 3):
            return None
    except OSError as exc:
        return str(exc)


@pytest.fixture(scope="session")
def mosquitto_url() -> str:
    """The Mosquitto broker's URL (fails in CI when it is not up)."""
    problem = _reachable(MQTT_URL)
    if problem:
        unavailable("Mosquitto", f"{MQTT_URL}: {problem}")
    return MQTT_URL


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
