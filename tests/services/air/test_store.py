"""The air service's tables: migration round trip, readings from the hub, sensors, results."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, inspect, select, text

import citysmart.hub.ngsi_ld.tables  # noqa: F401  (register the hub's tables)
from citysmart.core.db import Base, make_engine
from citysmart.core.migrate import downgrade, upgrade
from citysmart.hub.models import Entity
from citysmart.hub.registry import upsert_entity
from citysmart.hub.runtime import HubRuntime
from citysmart.services.air import store
from citysmart.services.air.grid import Grid
from citysmart.services.air.jobs import floor_hour, run_hourly
from citysmart.services.air.models import AIR_TABLES, AirHourly, AirMapHour, AirSensor
from citysmart.services.air.pipeline import VARIABLES, compute_hours
from tests.services.air.factories import add_sensor, point_in, steady, store_readings

NOW = dt.datetime(2026, 11, 25, 9, 10, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return [
                d
                for d in compare_metadata(context, Base.metadata)
                if not (d[0] == "remove_table" and d[1].name.startswith("observation_y"))
            ]
    finally:
        engine.dispose()


def test_migration_0005_builds_the_models_and_goes_back(database_url: str) -> None:
    # On the run's migrated database (at head): down to 0004 and up again, in place.
    engine = make_engine(database_url)
    try:
        assert _schema_diff(database_url) == []
        with engine.begin() as conn:
            conn.execute(
                insert(Entity),
                [
                    {
                        "id": "urn:ngsi-ld:AirQualityObserved:1",
                        "type": "AirQualityObserved",
                        "properties": {},
                        "created_at": NOW,
                        "modified_at": NOW,
                    }
                ],
            )
            conn.execute(
                insert(AirSensor),
                [{"id": "urn:ngsi-ld:AirQualityObserved:1", "name": "one", "kind": "lowcost",
                  "rated_rh_max": 90.0, "interval_s": 60.0, "lon": 127.2, "lat": 36.5,
                  "source": "measured", "updated_at": NOW}],
            )  # fmt: skip
        downgrade(engine, "0004")
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert not set(AIR_TABLES) & tables
            # The hub's data stays: only what the air service derived is dropped.
            assert conn.execute(text("SELECT count(*) FROM entity")).scalar() == 1
    finally:
        upgrade(engine)  # leave the shared database at head whatever happened
        engine.dispose()
    assert _schema_diff(database_url) == []


def test_readings_come_from_the_hub_within_the_window_and_default_instances_only(
    air_runtime: HubRuntime, coarse_grid: Grid
) -> None:
    sensor = add_sensor(air_runtime, "s1", "2901053")
    other = add_sensor(air_runtime, "s2", "2901056")
    # Readings at :05, :15, ... so none shares its time with an hourly instance (at :00).
    begin = NOW - 3 * HOUR - dt.timedelta(minutes=5)
    store_readings(air_runtime, sensor, steady(40, 20), begin, NOW)
    store_readings(air_runtime, other, steady(50, 30), begin, NOW)
    # The job publishes hourly instances on the same entities (another datasetId).
    run_hourly(air_runtime, NOW, coarse_grid, max_hours=2)
    start, end = floor_hour(NOW) - 2 * HOUR, floor_hour(NOW) - HOUR
    with air_runtime.sessions.begin() as session:
        metas = store.sync_sensors(session, NOW)
        readings = store.read_readings(session, metas, start, end)
    assert readings.sensor_ids == (sensor[0], other[0])
    assert set(readings.values) == set(VARIABLES)
    for row, level in ((0, 20.0), (1, 30.0)):
        pm25 = readings.values["pm25"][row]
        present = ~np.isnan(pm25)
        # Readings every 10 minutes; the hourly instance at :00 (another dataset) is not one.
        assert present.sum() == 6
        assert readings.times[row][present].min() == start.timestamp() + 300
        assert readings.times[row][present].max() < end.timestamp()
        assert pm25[present] == pytest.approx(level, abs=0.5)


def test_sensors_are_derived_from_the_hub_entities(air_runtime: HubRuntime) -> None:
    add_sensor(air_runtime, "plain", "2901053")
    add_sensor(air_runtime, "station", "2901056", reference=True, interval_s=3600)
    add_sensor(air_runtime, "replay", "2901058", source="replayed from Beijing")
    lon, lat = point_in("2901011")
    with air_runtime.sessions.begin() as session:
        # Registered without the air service's properties: its area comes from its point.
        upsert_entity(
            session,
            "urn:ngsi-ld:AirQualityObserved:bare",
            "AirQualityObserved",
            "bare",
            {"simulated": True, "sensorModel": "PMS7003", "ratedHumidityMax": 85},
            {"type": "Point", "coordinates": [lon, lat]},
        )
        upsert_entity(session, "urn:ngsi-ld:AirQualityObserved:nowhere", "AirQualityObserved")
        upsert_entity(
            session,
            "urn:ngsi-ld:OffStreetParking:p1",
            "OffStreetParking",
            location={"type": "Point", "coordinates": [lon, lat]},
        )
        metas = {m.id.rsplit(":", 1)[1]: m for m in store.sync_sensors(session, NOW)}
    assert set(metas) == {"plain", "station", "replay", "bare"}
    assert metas["plain"].kind == "lowcost"
    assert metas["plain"].device_id == "plain"
    assert metas["plain"].source == "measured"
    assert metas["station"].kind == "reference"
    assert metas["station"].interval_s == 3600.0
    assert metas["replay"].source == "replayed from Beijing"
    bare = metas["bare"]
    assert bare.area_code == "2901011"
    assert bare.source == "simulated"
    assert (bare.model, bare.rated_rh_max, bare.interval_s) == ("PMS7003", 85.0, 60.0)
    assert bare.device_id is None
    # A moved sensor is updated, not duplicated.
    with air_runtime.sessions.begin() as session:
        upsert_entity(
            session,
            "urn:ngsi-ld:AirQualityObserved:bare",
            "AirQualityObserved",
            location={"type": "Point", "coordinates": list(point_in("2901033"))},
        )
        store.sync_sensors(session, NOW + HOUR)
        rows = session.scalars(select(AirSensor).order_by(AirSensor.id)).all()
    assert len(rows) == 4
    moved = next(r for r in rows if r.id.endswith(":bare"))
    assert moved.area_code == "2901033"
    assert moved.updated_at == NOW + HOUR


def test_an_hour_computed_again_replaces_its_rows(
    air_runtime: HubRuntime, coarse_grid: Grid
) -> None:
    sensor = add_sensor(air_runtime, "s1", "2901053")
    store_readings(air_runtime, sensor, steady(40, 20), NOW - 4 * HOUR, NOW)
    with air_runtime.sessions.begin() as session:
        metas = store.sync_sensors(session, NOW)
        readings = store.read_readings(session, metas, NOW - 4 * HOUR, NOW)
    end = floor_hour(NOW)
    results = compute_hours(readings, metas, end - 2 * HOUR, end, coarse_grid)
    for _ in range(2):
        with air_runtime.sessions.begin() as session:
            store.save_results(session, results, NOW)
    with air_runtime.sessions() as session:
        hourly = session.scalar(select(func.count()).select_from(AirHourly))
        maps = session.scalar(select(func.count()).select_from(AirMapHour))
        assert store.last_processed_hour(session) == end - HOUR
        row = store.read_map(session, end - HOUR, "pm25")
    assert hourly == 2 * len(VARIABLES)
    assert maps == 2 * 2
    assert row is not None
    assert [i.sensor_id for i in store.map_inputs(row)] == [sensor[0]]
    assert store.map_inputs(row)[0].value == pytest.approx(20.0, abs=0.5)


def test_before_any_hour_is_computed_the_api_says_so(air_client: TestClient) -> None:
    assert air_client.get("/api/v1/air/hours").json() == {
        "hours": [],
        "latest": None,
        "updated_at": None,
    }
    response = air_client.get("/api/v1/air/map")
    assert response.status_code == 404
    assert "no hour has been computed yet" in response.json()["detail"]
