"""The live map serves tuned kriging once a day's plan exists, and redraws it exactly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from citysmart.core.time import isoformat
from citysmart.hub.runtime import HubRuntime
from citysmart.services.air import plan_store
from citysmart.services.air.areas import load_areas
from citysmart.services.air.grid import Grid, area_stats
from citysmart.services.air.jobs import floor_hour, run_hourly
from citysmart.services.air.models import AirAreaHour, AirHourly, AirMapHour
from citysmart.services.air.pipeline import fit_inputs
from citysmart.services.air.plan_job import run_kriging_plan
from citysmart.services.air.store import map_inputs
from tests.services.air.factories import add_sensor, steady, store_readings

NOW = dt.datetime(2026, 11, 25, 9, 10, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
PLAN_TABLES = ("air_map_plan", "air_kriging_plan")


@pytest.fixture
def plan_runtime(air_runtime: HubRuntime) -> Iterator[HubRuntime]:
    """The air runtime with the plan tables emptied before and after."""

    def clear() -> None:
        with air_runtime.engine.begin() as conn:
            for table in PLAN_TABLES:
                conn.execute(text(f"DELETE FROM {table}"))

    clear()
    yield air_runtime
    clear()


def _seed(runtime: HubRuntime, coarse_grid: Grid, history_hours: int) -> list[str]:
    """Six sensors with distinct levels, their last 3 hours mapped, and past hourly means.

    The past means follow a smooth east-west gradient plus noise (seeded), one row per
    sensor, pollutant and hour in the ``history_hours`` before today (UTC).
    """
    codes = [a.code for a in load_areas()][:6]
    sensors = []
    for k, code in enumerate(codes):
        sensor = add_sensor(runtime, f"p{k}", code)
        store_readings(runtime, sensor, steady(30 + 7 * k, 12 + 4 * k), NOW - 4 * HOUR, NOW + HOUR)
        sensors.append(sensor[0])
    run_hourly(runtime, NOW, coarse_grid, max_hours=3)
    rng = np.random.default_rng(7)
    day = plan_store.day_start(NOW)
    rows = []
    for h in range(history_hours):
        hour = day - (h + 1) * HOUR
        level = 20 + 10 * rng.random()
        for k, sensor_id in enumerate(sensors):
            for variable in ("pm10", "pm25"):
                value = level + 3.0 * k + rng.normal(0, 1.5)
                rows.append(
                    {"sensor_id": sensor_id, "variable": variable, "hour": hour, "raw": value,
                     "corrected": None, "value": value, "count": 6, "readings": 6,
                     "expected": 6, "capture": 1.0, "sufficient": True, "last_at": None}
                )  # fmt: skip
    with runtime.sessions.begin() as session:
        session.execute(insert(AirHourly), rows)
    return sensors


def test_with_enough_history_the_hourly_job_serves_tuned_kriging_and_it_redraws_exactly(
    plan_runtime: HubRuntime, coarse_grid: Grid
) -> None:
    _seed(plan_runtime, coarse_grid, history_hours=96)
    with plan_runtime.sessions() as session:
        before = session.scalars(select(AirMapHour.method_served)).all()
    assert before
    assert "tuned" not in before
    report = run_kriging_plan(plan_runtime, NOW, coarse_grid)
    assert {p: hours for p, (_, hours) in report.plans.items()} == {"pm10": 96, "pm25": 96}
    assert all(plan is not None for plan, _ in report.plans.values())
    # Chosen once a day: a second run leaves the day's plans alone.
    assert run_kriging_plan(plan_runtime, NOW + HOUR, coarse_grid).plans == {}
    run_hourly(plan_runtime, NOW + HOUR, coarse_grid)
    hour = floor_hour(NOW)
    for pollutant in ("pm10", "pm25"):
        with plan_runtime.sessions() as session:
            row = session.get(AirMapHour, (hour, pollutant))
            assert row is not None
            assert row.method_served == "tuned"
            plan = plan_store.map_plan(session, hour, pollutant)
            assert plan == report.plans[pollutant][0]
            stored = {
                a.area_code: a.mean
                for a in session.scalars(
                    select(AirAreaHour).where(
                        AirAreaHour.hour == hour, AirAreaHour.pollutant == pollutant
                    )
                )
            }
            inputs = map_inputs(row)
        fitted = fit_inputs(coarse_grid, inputs, plan)
        assert fitted.served == "tuned"
        surface = np.maximum(fitted.predict(coarse_grid.points), 0.0)
        redrawn = {s.name: s.mean for s in area_stats(coarse_grid, surface, fitted.model())}
        assert stored.keys() == redrawn.keys()
        for code, mean in stored.items():
            assert mean == pytest.approx(max(redrawn[code], 0.0), rel=1e-9, abs=1e-9)


def test_without_enough_history_the_day_has_no_plan_and_the_old_rule_serves(
    plan_runtime: HubRuntime, coarse_grid: Grid
) -> None:
    _seed(plan_runtime, coarse_grid, history_hours=48)
    report = run_kriging_plan(plan_runtime, NOW, coarse_grid)
    assert report.plans == {"pm10": (None, 48), "pm25": (None, 48)}
    run_hourly(plan_runtime, NOW + HOUR, coarse_grid)
    with plan_runtime.sessions() as session:
        served = session.scalars(
            select(AirMapHour.method_served).where(AirMapHour.hour == floor_hour(NOW))
        ).all()
        assert plan_store.map_plan(session, floor_hour(NOW), "pm25") is None
    assert len(served) == 2
    assert set(served) <= {"idw", "kriging"}


def test_the_api_draws_the_tuned_surface_of_an_hour_served_with_a_plan(
    plan_runtime: HubRuntime, coarse_grid: Grid, air_client: TestClient
) -> None:
    _seed(plan_runtime, coarse_grid, history_hours=96)
    earlier = floor_hour(NOW) - HOUR  # mapped before the plan existed
    run_kriging_plan(plan_runtime, NOW, coarse_grid)
    run_hourly(plan_runtime, NOW + HOUR, coarse_grid)
    hour = isoformat(floor_hour(NOW))
    answer = air_client.get("/api/v1/air/map", params={"hour": hour, "pollutant": "pm25"})
    assert answer.status_code == 200
    assert answer.json()["method_served"] == "tuned"
    url = "/api/v1/air/surface.png"
    tuned = air_client.get(url, params={"hour": hour, "pollutant": "pm25", "method": "tuned"})
    served = air_client.get(url, params={"hour": hour, "pollutant": "pm25"})
    kriging = air_client.get(url, params={"hour": hour, "pollutant": "pm25", "method": "kriging"})
    assert tuned.status_code == served.status_code == kriging.status_code == 200
    assert tuned.headers["x-method"] == served.headers["x-method"] == "tuned"
    assert tuned.content == served.content
    assert tuned.content != kriging.content
    none = air_client.get(
        url, params={"hour": isoformat(earlier), "pollutant": "pm25", "method": "tuned"}
    )
    assert none.status_code == 404
    wrong = air_client.get(url, params={"hour": hour, "pollutant": "pm25", "method": "magic"})
    assert wrong.status_code == 400
    assert "tuned" in wrong.json()["detail"]
