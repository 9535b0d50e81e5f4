"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import citysmart.hub.ngsi_ld.tables  # noqa: F401  (register the tables)
from citysmart.core.db import Base, make_engine, make_sessionmaker
from citysmart.core.events import EventBus
from citysmart.core.migrate import downgrade, upgrade
from citysmart.core.service import load_service_models
from citysmart.hub.ingest import Ingestor
from citysmart.hub.registry import register_device
from citysmart.hub.senml import Reading
from tests.conftest import POSTGRES_URL, unavailable


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert "citysmart.services.air.models" in load_service_models()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
            # Monthly partitions are made by ingest, not described by the models.
            diff = [
                d
                for d in diff
                if not (d[0] == "remove_table" and d[1].name.startswith("observation_y"))
            ]
            assert diff == []
            if engine.dialect.name == "postgresql":
                partitioned = conn.exec_driver_sql(
                    "SELECT partstrat FROM pg_partitioned_table p "
                    "JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = 'observation'"
                ).scalar()
                assert partitioned == "r"  # range partitioned
            tables = set(inspect(conn).get_table_names())
        assert {
            "entity",
            "device",
            "observation",
            "attribute",
            "entity_type",
            "subscription",
            "notification",
            "dead_letter",
        } <= tables
    finally:
        engine.dispose()


ENTITY = "urn:ngsi-ld:AirQualityObserved:1"


def _fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'roundtrip.db'}"
        return
    admin_url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"citysmart_roundtrip_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).strip())
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_down_to_the_first_revision_keeps_the_readings_and_comes_back_up(
    kind: str, tmp_path: Path
) -> None:
    for url in _fresh_database(kind, tmp_path):
        engine = make_engine(url)
        try:
            upgrade(engine)
            with make_sessionmaker(engine).begin() as session:
                register_device(
                    session, "aq-1", "urn:ngsi-ld:AirQualityObserved:1", "AirQualityObserved"
                )
            ingestor = Ingestor(engine, EventBus(), 300.0, 1_000_000)
            reading = Reading("pm10", int((time.time() - 60) * 1e6), 21.5, None, "n", "ug/m3")
            ingestor.store_readings(ENTITY, "aq-1", [reading])
            downgrade(engine, "0001")
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
                assert "latest_value" in tables
                assert not {"attribute", "entity_type", "subscription"} & tables
                rows = conn.exec_driver_sql("SELECT attribute, num_value FROM observation")
                assert [tuple(r) for r in rows] == [("pm10", 21.5)]
                latest = conn.exec_driver_sql("SELECT attribute, num_value FROM latest_value")
                assert [tuple(r) for r in latest] == [("pm10", 21.5)]
            upgrade(engine)
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = [
                    d
                    for d in compare_metadata(context, Base.metadata)
                    if not (d[0] == "remove_table" and d[1].name.startswith("observation_y"))
                ]
                assert diff == []
        finally:
            engine.dispose()
