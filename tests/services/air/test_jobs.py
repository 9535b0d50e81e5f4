"""The air service's jobs: hourly catch-up, AirQualityObserved entities, calibration refits."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from citysmart.core.events import ReadingsStored
from citysmart.core.jobs import JobRunner
from citysmart.hub.runtime import HubRuntime
from citysmart.services.air import SERVICE, store
from citysmart.services.air.grid import Grid
from citysmart.services.air.jobs import (
    MAX_CATCH_UP_HOURS,
    floor_hour,
    hours_due,
    run_calibration,
    run_hourly,
)
from citysmart.services.air.models import AirCalibration, AirHourly, AirMapHour
from citysmart.services.air.opendata import HOURLY_DATASET
from tests.services.air.factories import Signal, add_sensor, steady, store_readings

NOW = dt.datetime(2026, 11, 25, 9, 10, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
REPLAY = "replayed from Beijing (UCI data set), not Sejong's readings"


def test_hours_due_catch_up_at_most_48_hours_and_wait_for_the_hour_to_end() -> None:
    end = dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC)
    assert hours_due(None, NOW) == (end - 48 * HOUR, end)
    assert hours_due(end - 3 * HOUR, NOW) == (end - 2 * HOUR, end)
    assert hours_due(end - 100 * HOUR, NOW) == (end - 48 * HOUR, end)
    # One minute after the hour (08:00-09:00) its readings may still be arriving: not yet due.
    assert hours_due(end - 2 * HOUR, end + dt.timedelta(minutes=1)) == (end - HOUR, end - HOUR)
    assert hours_due(end - 2 * HOUR, end + dt.timedelta(minutes=2)) == (end - HOUR, end)


def test_the_hourly_job_catches_up_then_computes_only_new_hours(
    air_runtime: HubRuntime, coarse_grid: Grid
) -> None:
    sensor = add_sensor(air_runtime, "a1", "2901053")
    store_readings(air_runtime, sensor, steady(40, 20), NOW - 60 * HOUR, NOW + 6 * HOUR)
    first = run_hourly(air_runtime, NOW, coarse_grid)
    assert len(first.hours) == MAX_CATCH_UP_HOURS
    assert first.hours[0] == floor_hour(NOW) - MAX_CATCH_UP_HOURS * HOUR
    assert first.hours[-1] == floor_hour(NOW) - HOUR
    assert run_hourly(air_runtime, NOW, coarse_grid).hours == []
    later = run_hourly(air_runtime, NOW + HOUR, coarse_grid)
    assert later.hours == [floor_hour(NOW)]
    # The worker was down for four hours: the hours missed are made up.
    after_gap = run_hourly(air_runtime, NOW + 5 * HOUR, coarse_grid)
    assert after_gap.hours == [floor_hour(NOW) + k * HOUR for k in range(1, 5)]
    with air_runtime.sessions() as session:
        hours = session.scalar(select(func.count(func.distinct(AirMapHour.hour))))
        pm25 = session.scalars(
            select(AirHourly).where(AirHourly.variable == "pm25", AirHourly.sufficient)
        ).all()
    assert hours == MAX_CATCH_UP_HOURS + 5
    assert len(pm25) == MAX_CATCH_UP_HOURS + 5
    assert all(r.value == pytest.approx(20.0, abs=0.5) for r in pm25)


def test_hours_without_readings_are_processed_once_and_drawn_nowhere(
    air_runtime: HubRuntime, coarse_grid: Grid
) -> None:
    sensor = add_sensor(air_runtime, "a1", "2901053")
    store_readings(air_runtime, sensor, steady(40, 20), NOW - 3 * HOUR, NOW)
    report = run_hourly(air_runtime, NOW, coarse_grid, max_hours=6)
    assert len(report.hours) == 6
    with air_runtime.sessions() as session:
        status = dict(
            session.execute(
                select(AirMapHour.hour, AirMapHour.status).where(AirMapHour.pollutant == "pm25")
            ).all()
        )
    end = floor_hour(NOW)
    assert [status[end - k * HOUR] for k in (6, 5, 4, 3, 2, 1)] == ["no_data"] * 3 + ["ok"] * 3


def _entity(client: TestClient, entity_id: str) -> dict[str, object]:
    response = client.get(f"/ngsi-ld/v1/entities/{entity_id}")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _instances(entity: dict[str, object], name: str) -> list[dict[str, object]]:
    value = entity[name]
    return value if isinstance(value, list) else [value]  # type: ignore[list-item]


def test_each_sensor_hour_is_published_on_its_air_quality_observed_entity(
    air_runtime: HubRuntime, client: TestClient, coarse_grid: Grid
) -> None:
    low = add_sensor(air_runtime, "low1", "2901053", source=REPLAY)
    ref = add_sensor(air_runtime, "ref1", "2901056", reference=True, interval_s=3600)
    store_readings(air_runtime, low, steady(60, 40, rh=55), NOW - 4 * HOUR, NOW)

    def hourly(t: float) -> dict[str, float]:
        return {"pm10": 50.0, "pm25": 20.0, "temperature": math.nan, "relativeHumidity": math.nan}

    store_readings(air_runtime, ref, hourly, NOW - 4 * HOUR, NOW, step_s=3600)
    heard: list[ReadingsStored] = []
    air_runtime.events.subscribe(heard.append)
    report = run_hourly(air_runtime, NOW, coarse_grid, max_hours=2)
    assert report.entities_written == 4  # two sensors, two hours
    hour = floor_hour(NOW) - HOUR
    entity = _entity(client, low[0])
    assert entity["type"] == "AirQualityObserved"
    hourly_pm25 = [i for i in _instances(entity, "pm25") if i.get("datasetId") == HOURLY_DATASET]
    assert len(hourly_pm25) == 1
    assert hourly_pm25[0]["observedAt"] == hour.isoformat().replace("+00:00", "Z")
    assert hourly_pm25[0]["value"] == pytest.approx(40.0, abs=0.5)
    assert hourly_pm25[0]["unitCode"] == "GQ"
    raw = [i for i in _instances(entity, "pm25") if "datasetId" not in i]
    assert len(raw) == 1, "the device's raw reading stays the default instance"
    rh = next(i for i in _instances(entity, "relativeHumidity") if "datasetId" in i)
    assert rh["value"] == pytest.approx(0.55, abs=0.01)  # a fraction, as the data model says
    assert entity["airQualityLevel"] == {  # PM2.5 40 is 나쁨: unhealthy
        "type": "Property",
        "value": "unhealthy",
        "observedAt": hour.isoformat().replace("+00:00", "Z"),
    }
    assert isinstance(entity["airQualityIndex"], dict)
    assert entity["airQualityIndex"]["value"] > 100
    assert entity["source"] == {"type": "Property", "value": REPLAY}
    assert entity["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:low1"}
    station = _entity(client, ref[0])
    assert station["source"] == {"type": "Property", "value": "measured"}
    # The history holds one hourly instance per hour.
    temporal = client.get(
        f"/ngsi-ld/v1/temporal/entities/{low[0]}",
        params={"attrs": "airQualityLevel", "timerel": "after", "timeAt": "2026-11-24T00:00:00Z"},
    )
    assert temporal.status_code == 200, temporal.text
    assert len(_instances(temporal.json(), "airQualityLevel")) == 2
    # Subscribers hear of the change, once per entity and hour.
    changed = [e for e in heard if e.entity_id == low[0] and "pm25" in e.attributes]
    assert len(changed) == 2
    # A listing by type finds one entity per sensor.
    listed = client.get("/ngsi-ld/v1/entities", params={"type": "AirQualityObserved"}).json()
    assert sorted(e["id"] for e in listed) == sorted([low[0], ref[0]])


def test_an_hour_under_75_percent_capture_is_not_published(
    air_runtime: HubRuntime, client: TestClient, coarse_grid: Grid
) -> None:
    sparse = add_sensor(air_runtime, "sparse", "2901053", interval_s=300)
    store_readings(air_runtime, sparse, steady(30, 10), NOW - 3 * HOUR, NOW, step_s=900)
    run_hourly(air_runtime, NOW, coarse_grid, max_hours=2)
    entity = _entity(client, sparse[0])
    assert all("datasetId" not in i for i in _instances(entity, "pm25"))
    assert "airQualityLevel" not in entity


def biased(truth: Signal, gain: float, humid: float) -> Signal:
    """A low-cost sensor: over-reads by a gain and more in humid air."""

    def signal(t: float) -> dict[str, float]:
        values = truth(t)
        rh = 45.0 + 30.0 * math.sin(t / 7200.0)  # humidity swings over the day
        return {
            "pm10": gain * values["pm10"] + humid * rh,
            "pm25": gain * values["pm25"] + humid * rh,
            "temperature": 4.0,
            "relativeHumidity": rh,
        }

    return signal


def varying(t: float) -> dict[str, float]:
    """A reference station's hourly values that rise and fall (never the same shape as RH)."""
    hour = math.floor(t / 3600)
    level = 25.0 + 15.0 * math.sin(hour / 5.0) + 5.0 * math.cos(hour / 2.3)
    return {"pm10": 2 * level, "pm25": level, "temperature": math.nan, "relativeHumidity": math.nan}


def test_the_calibration_job_fits_against_the_nearest_station_and_hours_use_it(
    air_runtime: HubRuntime, coarse_grid: Grid
) -> None:
    near = add_sensor(air_runtime, "ref-near", "2901053", reference=True, interval_s=3600)
    far = add_sensor(air_runtime, "ref-far", "2901011", reference=True, interval_s=3600)
    cheap = add_sensor(air_runtime, "cheap", "2901053", shift=0.002)
    silent = add_sensor(air_runtime, "silent", "2901011", shift=0.002)
    start = NOW - 30 * HOUR
    for reference in (near, far):
        store_readings(air_runtime, reference, varying, start, NOW + 2 * HOUR, step_s=3600)
    store_readings(air_runtime, cheap, biased(varying, 1.5, 0.2), start, NOW + 2 * HOUR)
    run_hourly(air_runtime, NOW, coarse_grid, max_hours=30)
    report = run_calibration(air_runtime, NOW, min_points=24)
    assert sorted(report.fitted) == [(cheap[0], "pm10"), (cheap[0], "pm25")]
    assert {(sensor, pollutant) for sensor, pollutant, _ in report.refused} == {
        (silent[0], "pm10"),
        (silent[0], "pm25"),
    }
    assert all("co-located hours" in reason for _, _, reason in report.refused)
    with air_runtime.sessions() as session:
        fits = store.current_fits(session)
    fit = fits[(cheap[0], "pm25")]
    assert fit.station_id == near[0]
    # ref = a + b·raw + c·RH recovers raw = 1.5·ref + 0.2·RH: b = 1/1.5, c = -0.2/1.5.
    assert fit.coefficients["raw"] == pytest.approx(1 / 1.5, rel=0.02)
    assert fit.coefficients["rh"] == pytest.approx(-0.2 / 1.5, rel=0.05)
    assert fit.rmse < 0.5 < fit.raw_rmse
    # Not due again within the week; refusals wait a day.
    assert run_calibration(air_runtime, NOW + HOUR, min_points=24).fitted == []
    assert run_calibration(air_runtime, NOW + HOUR, min_points=24).refused == []
    retried = run_calibration(air_runtime, NOW + dt.timedelta(days=1, hours=1), min_points=24)
    assert len(retried.refused) == 2
    # The next hour is computed with the fit: close to the reference, not to the raw value.
    run_hourly(air_runtime, NOW + HOUR, coarse_grid)
    with air_runtime.sessions() as session:
        row = session.get(AirHourly, (cheap[0], "pm25", floor_hour(NOW)))
        station = session.get(AirHourly, (near[0], "pm25", floor_hour(NOW)))
        attempts = session.scalar(select(func.count()).select_from(AirCalibration))
    assert row is not None
    assert station is not None
    assert row.corrected is not None
    assert row.value == row.corrected
    assert row.raw is not None
    assert station.value is not None
    assert abs(row.value - station.value) < 1.0 < abs(row.raw - station.value)
    assert attempts == 6


def test_the_manifest_jobs_run_through_the_job_runner(air_runtime: HubRuntime) -> None:
    sensor = add_sensor(air_runtime, "a1", "2901053")
    now = dt.datetime.now(dt.UTC)
    store_readings(air_runtime, sensor, steady(40, 20), now - 3 * HOUR, now, step_s=600)
    runner = JobRunner(air_runtime.engine, SERVICE.jobs, air_runtime)
    ran = runner.run_now()
    assert ran["air.hourly"] is True
    assert ran["air.calibration"] is True
    with air_runtime.sessions() as session:
        latest = store.last_processed_hour(session)
    assert latest == floor_hour(now - dt.timedelta(minutes=2)) - HOUR
