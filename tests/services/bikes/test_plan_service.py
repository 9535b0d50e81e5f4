"""A plan made from the live state: fresh stations, stored forecasts, trucks on shift."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes import plan_store, store
from citysmart.services.bikes.demand.stations import StationForecast
from citysmart.services.bikes.forecast_job import store_forecasts
from citysmart.services.bikes.models_plan import PLAN_TABLES
from citysmart.services.bikes.plan_service import (
    PlanUnavailable,
    make_live_plan,
    replan,
    shift_window,
)
from citysmart.services.bikes.rebalancing.planning import (
    PlannedJob,
    PlannedRoute,
    RoutingInput,
)
from citysmart.services.bikes.stations import write_station_status
from tests.services.bikes.factories import add_stations

KST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
seen: list[RoutingInput] = []


def in_order(problem: RoutingInput) -> list[PlannedRoute]:
    """Give the first truck every job, takes first, ten minutes apart."""
    seen.append(problem)
    order = sorted(range(len(problem.station_codes)), key=lambda i: -problem.demands[i])
    jobs = tuple(
        PlannedJob(problem.station_codes[i], int(problem.demands[i]), 600.0 * k)
        for k, i in enumerate(order, start=1)
    )
    return [PlannedRoute(problem.truck_ids[0], 0, 3000.0, 600.0 * (len(jobs) + 1), jobs)]


def truck(truck_id: str, start: dt.time, end: dt.time) -> store.TruckSpec:
    return store.TruckSpec(truck_id, truck_id, 20, "depot", 127.28, 36.49, start, end)


@pytest.fixture
def city(bikes_runtime: HubRuntime) -> HubRuntime:
    """Three stations (SJ003 silent for an hour), a busy morning forecast, two trucks."""
    with bikes_runtime.engine.begin() as conn:
        for table in PLAN_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    seen.clear()
    add_stations(bikes_runtime)
    write_station_status(bikes_runtime, "SJ001", 2, 18, at=NOW - dt.timedelta(minutes=2))
    write_station_status(bikes_runtime, "SJ002", 14, 1, at=NOW - dt.timedelta(minutes=2))
    write_station_status(bikes_runtime, "SJ003", 0, 10, at=NOW - dt.timedelta(hours=1))
    start = NOW.replace(minute=0, second=0)
    with bikes_runtime.sessions.begin() as session:
        store_forecasts(session, [
            StationForecast("SJ001", start, (6.0,) * 24, (0.5,) * 24, "model"),
            StationForecast("SJ002", start, (0.5,) * 24, (6.0,) * 24, "model"),
            StationForecast("SJ003", start, (3.0,) * 24, (3.0,) * 24, "model"),
        ], NOW)  # fmt: skip
        store.add_truck(session, truck("T1", dt.time(0, 0), dt.time(23, 59)))
        # T2's shift starts in seven hours: after any horizon of these tests.
        local = NOW.astimezone(KST)
        store.add_truck(
            session,
            truck("T2", (local + dt.timedelta(hours=7)).time(),
                  (local + dt.timedelta(hours=8)).time()),
        )  # fmt: skip
    return bikes_runtime


def test_a_plan_uses_fresh_stations_and_the_trucks_on_shift(city: HubRuntime) -> None:
    with city.sessions.begin() as session:
        made = make_live_plan(session, NOW, horizon_h=3, route_solver=in_order)
    (problem,) = seen
    assert made.stale_stations == 1  # SJ003 has not reported for an hour
    assert set(problem.station_codes) == {"SJ001", "SJ002"}
    assert problem.truck_ids == ("T1",)  # T2's next shift starts after the horizon
    assert made.trucks == 1
    assert problem.start_loads == (None,)
    with city.sessions() as session:
        stored = plan_store.active_plan(session)
    assert stored is not None
    assert stored.plan.trigger == "manual"
    assert stored.plan.horizon_end == NOW.replace(minute=0, second=0) + dt.timedelta(hours=3)
    assert "no weather feed" in stored.plan.demand_source
    jobs = stored.routes[0][1]
    assert [j.station_code for j in jobs] == ["SJ002", "SJ001"]  # take at SJ002, bring to SJ001
    assert jobs[0].eta == NOW + dt.timedelta(minutes=10)
    assert stored.plan.lost_expected_after < stored.plan.lost_expected_before


def test_replanning_starts_a_truck_where_its_last_job_was(city: HubRuntime) -> None:
    with city.sessions.begin() as session:
        make_live_plan(session, NOW, route_solver=in_order)
        take = plan_store.active_plan(session).routes[0][1][0]  # type: ignore[union-attr]
        plan_store.mark_job_done(session, take.id, take.bikes, "kim", NOW)
        make_live_plan(session, NOW, trigger="replan", route_solver=in_order)
    first, second = seen
    assert first.start_loads == (None,)
    assert second.start_loads == (take.bikes,)  # what it took is still on board
    assert second.distance_m[0, 2 * second.truck_count + 0] >= 0
    # Its start is SJ002 (where it took the bikes), not the depot.
    assert second.distance_m[0, 1] > 0


def test_no_plan_without_a_truck_on_shift_or_a_fresh_station(city: HubRuntime) -> None:
    with city.sessions.begin() as session:
        with pytest.raises(PlanUnavailable, match="horizon"):
            make_live_plan(session, NOW, horizon_h=0, route_solver=in_order)
        with pytest.raises(PlanUnavailable, match="no station"):
            make_live_plan(session, NOW + dt.timedelta(hours=2), route_solver=in_order)
        session.execute(text("DELETE FROM bike_truck WHERE id = 'T1'"))
        with pytest.raises(PlanUnavailable, match="no truck"):
            make_live_plan(session, NOW, horizon_h=1, route_solver=in_order)
        assert plan_store.active_plan(session) is None


def test_a_night_shift_ends_the_next_day() -> None:
    from citysmart.services.bikes.models import Truck

    night = Truck(id="N", name="N", capacity=10, depot_name="d", depot_lon=127.0, depot_lat=36.0,
                  shift_start=dt.time(22, 0), shift_end=dt.time(6, 0))  # fmt: skip
    at = dt.datetime(2026, 11, 25, 23, 30, tzinfo=KST)
    start, end = shift_window(night, at)
    assert start == dt.datetime(2026, 11, 25, 22, 0, tzinfo=KST)
    assert end == dt.datetime(2026, 11, 26, 6, 0, tzinfo=KST)
    start, end = shift_window(night, dt.datetime(2026, 11, 26, 7, 0, tzinfo=KST))
    assert start == dt.datetime(2026, 11, 26, 22, 0, tzinfo=KST)


def test_the_hourly_job_makes_the_morning_plan_then_replans(city: HubRuntime) -> None:
    first = replan(city, NOW, time_limit_s=1)
    assert first is not None
    assert first.plan.trigger == "morning"
    again = replan(city, NOW + dt.timedelta(minutes=1), time_limit_s=1)
    assert again is not None
    assert again.plan.trigger == "replan"
    with city.sessions.begin() as session:
        session.execute(text("DELETE FROM bike_truck WHERE id = 'T1'"))
    assert replan(city, NOW, time_limit_s=1) is None  # T2 is not on shift yet
