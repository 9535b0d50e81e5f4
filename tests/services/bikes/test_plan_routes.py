"""The active plan as drivers and operators read it, and jobs reported done."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes import plan_store
from citysmart.services.bikes.demand.stations import StationForecast
from citysmart.services.bikes.forecast_job import store_forecasts
from citysmart.services.bikes.models_plan import PLAN_TABLES
from citysmart.services.bikes.rebalancing.inventory import InventoryTarget
from citysmart.services.bikes.rebalancing.planning import (
    PlannedJob,
    PlannedRoute,
    RebalancingPlan,
)
from citysmart.services.bikes.stations import write_station_status
from tests.factories import create_user_with_token
from tests.services.bikes.factories import add_stations

ACTIVE = "/api/v1/bikes/plans/active"
PLANS = "/api/v1/bikes/plans"
START = dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC)


def problem(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    for word in words:
        assert word in response.json()["detail"]


@pytest.fixture
def planned(bikes_runtime: HubRuntime) -> HubRuntime:
    """Two stations and a plan: truck T1 takes 4 bikes at SJ001 and brings them to SJ002."""
    with bikes_runtime.engine.begin() as conn:
        for table in PLAN_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    add_stations(bikes_runtime)
    route = PlannedRoute(
        "T1", 0, 2500.0, 1500.0, (PlannedJob("SJ001", 4, 300.0), PlannedJob("SJ002", -4, 900.0))
    )
    target = InventoryTarget("SJ001", 20, 12, 8, 6, 9, 2.0, 0.5)
    plan = RebalancingPlan((route,), (target,), (), 8, 8, 4.0, 1.0)
    with bikes_runtime.sessions.begin() as session:
        plan_store.save_plan(
            session, plan, START, START + dt.timedelta(hours=6), "morning", "a test"
        )
    return bikes_runtime


def headers(runtime: HubRuntime, name: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_user_with_token(runtime, name, role)}"}


def test_a_driver_reads_the_route_and_reports_jobs_done(
    bikes_client: TestClient, planned: HubRuntime
) -> None:
    driver = headers(planned, "kim", "bike_driver")
    body = bikes_client.get(ACTIVE, headers=driver).json()
    assert body["trigger"] == "morning"
    assert body["bikes_planned"] == 8
    (route,) = body["routes"]
    assert route["truck"] == "T1"
    take, bring = route["jobs"]
    assert (take["station"], take["action"], take["bikes"]) == ("SJ001", "take", 4)
    assert (bring["action"], bring["bikes"], bring["done"]) == ("bring", 4, False)
    assert take["eta"] == "2026-11-25T21:05:00Z"
    assert take["lon"] is not None
    # The station had three bikes, not four: the driver reports what was really moved.
    done = bikes_client.post(f"/api/v1/bikes/plans/jobs/{take['id']}/done", json={"bikes": 3},
                             headers=driver)  # fmt: skip
    assert done.status_code == 200, done.text
    assert (done.json()["done"], done.json()["done_bikes"], done.json()["done_by"]) == (
        True, 3, "kim",
    )  # fmt: skip
    after = bikes_client.get(ACTIVE, params={"truck": "T1"}, headers=driver).json()
    assert after["routes"][0]["jobs_done"] == 1
    problem(
        bikes_client.post(f"/api/v1/bikes/plans/jobs/{take['id']}/done", json={"bikes": 3},
                          headers=driver),
        409, "already",
    )  # fmt: skip
    problem(
        bikes_client.post(f"/api/v1/bikes/plans/jobs/{bring['id']}/done", json={"bikes": 9},
                          headers=driver),
        400, "bring 4",
    )  # fmt: skip
    problem(
        bikes_client.post("/api/v1/bikes/plans/jobs/99999/done", json={"bikes": 1},
                          headers=driver),
        404, "99999",
    )  # fmt: skip
    assert bikes_client.post(f"/api/v1/bikes/plans/jobs/{bring['id']}/done",
                             json={"bikes": "many"}, headers=driver).status_code == 422  # fmt: skip


def test_only_drivers_and_operators_see_the_plan(
    bikes_client: TestClient, planned: HubRuntime
) -> None:
    assert bikes_client.get(ACTIVE).status_code == 401
    problem(bikes_client.get(ACTIVE, headers=headers(planned, "lee", "citizen")), 403, "driver")
    operator = headers(planned, "op", "operator")
    assert bikes_client.get(ACTIVE, headers=operator).status_code == 200
    problem(bikes_client.get(ACTIVE, params={"truck": "T9"}, headers=operator), 404, "T9")


def test_no_plan_yet_says_so(bikes_client: TestClient, bikes_runtime: HubRuntime) -> None:
    with bikes_runtime.engine.begin() as conn:
        for table in PLAN_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    problem(
        bikes_client.get(ACTIVE, headers=headers(bikes_runtime, "op2", "operator")),
        404, "no active plan",
    )  # fmt: skip


def test_an_operator_makes_a_plan_from_the_live_state(
    bikes_client: TestClient, bikes_runtime: HubRuntime
) -> None:
    with bikes_runtime.engine.begin() as conn:
        for table in PLAN_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    add_stations(bikes_runtime)
    operator = headers(bikes_runtime, "op3", "operator")
    now = dt.datetime.now(dt.UTC)
    write_station_status(bikes_runtime, "SJ001", 1, 19, at=now)  # will empty
    write_station_status(bikes_runtime, "SJ002", 15, 0, at=now)  # full, will fill more
    write_station_status(bikes_runtime, "SJ003", 5, 5, at=now)
    hour = now.replace(minute=0, second=0, microsecond=0)
    with bikes_runtime.sessions.begin() as session:
        store_forecasts(session, [
            StationForecast("SJ001", hour, (5.0,) * 24, (0.2,) * 24, "model"),
            StationForecast("SJ002", hour, (0.2,) * 24, (5.0,) * 24, "model"),
            StationForecast("SJ003", hour, (0.3,) * 24, (0.3,) * 24, "model"),
        ], now)  # fmt: skip
    problem(bikes_client.post(PLANS, json={}, headers=operator), 409, "no truck")
    truck = {"id": "T1", "name": "1호차", "capacity": 20, "depot_name": "depot",
             "depot_lon": 127.28, "depot_lat": 36.49, "shift_start": "00:00",
             "shift_end": "23:59"}  # fmt: skip
    assert (
        bikes_client.post("/api/v1/bikes/trucks", json=truck, headers=operator).status_code == 201
    )
    problem(bikes_client.post(PLANS, json={"horizon_hours": 30}, headers=operator), 422)
    driver = headers(bikes_runtime, "park", "bike_driver")
    problem(bikes_client.post(PLANS, json={}, headers=driver), 403, "operator")

    made = bikes_client.post(PLANS, json={"horizon_hours": 3, "time_limit_s": 1}, headers=operator)

    assert made.status_code == 201, made.text
    plan = made.json()
    (route,) = plan["routes"]
    stops = [(j["station"], j["action"]) for j in route["jobs"]]
    assert ("SJ002", "take") in stops
    assert ("SJ001", "bring") in stops
    assert 0 <= route["start_load"] <= 20  # the depot may load the truck before it leaves
    assert plan["bikes_planned"] > 0
    assert plan["lost_expected_after"] < plan["lost_expected_before"]
    assert bikes_client.get(ACTIVE, headers=driver).json()["id"] == plan["id"]
