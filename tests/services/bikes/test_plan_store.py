"""Plans stored: one active at a time, jobs reported done within what was planned."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes import plan_store
from citysmart.services.bikes.models_plan import PLAN_TABLES
from citysmart.services.bikes.rebalancing.inventory import InventoryTarget
from citysmart.services.bikes.rebalancing.planning import (
    PlannedJob,
    PlannedRoute,
    RebalancingPlan,
)

START = dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def a_plan(take: int = 5) -> RebalancingPlan:
    target = InventoryTarget("s1", 20, 15, 15 - take, 8, 11, 3.0, 1.0)
    route = PlannedRoute(
        "t1", 0, 4200.0, 1800.0,
        (PlannedJob("s1", take, 600.0), PlannedJob("s2", -take, 1500.0)),
    )  # fmt: skip
    return RebalancingPlan((route,), (target,), ("s9",), 2 * take, 2 * take, 6.0, 2.5)


@pytest.fixture
def plans(runtime: HubRuntime) -> HubRuntime:
    with runtime.engine.begin() as conn:
        for table in PLAN_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    return runtime


def test_a_saved_plan_is_active_with_its_jobs_in_order(plans: HubRuntime) -> None:
    with plans.sessions.begin() as session:
        plan_store.save_plan(
            session, a_plan(), START, START + dt.timedelta(hours=6), "morning", "x"
        )
    with plans.sessions.begin() as session:
        stored = plan_store.active_plan(session)
        assert stored is not None
        assert stored.plan.trigger == "morning"
        assert stored.plan.bikes_planned == 10
        ((route, jobs),) = stored.routes
        assert route.truck_id == "t1"
        assert [(j.station_code, j.bikes) for j in jobs] == [("s1", 5), ("s2", -5)]
        assert jobs[1].eta == START + dt.timedelta(seconds=1500)


def test_a_new_plan_supersedes_the_old_one_and_its_jobs(plans: HubRuntime) -> None:
    end = START + dt.timedelta(hours=6)
    with plans.sessions.begin() as session:
        first = plan_store.save_plan(session, a_plan(5), START, end, "morning", "x")
        old_job = plan_store.active_plan(session).routes[0][1][0].id  # type: ignore[union-attr]
        plan_store.save_plan(session, a_plan(3), START, end, "replan", "x")
    with plans.sessions.begin() as session:
        stored = plan_store.active_plan(session)
        assert stored is not None
        assert stored.plan.id != first.id
        assert [j.bikes for j in stored.routes[0][1]] == [3, -3]
        with pytest.raises(plan_store.JobNotFound, match="not in the active plan"):
            plan_store.mark_job_done(session, old_job, 1, "driver1", START)


def test_a_driver_reports_what_was_really_moved(plans: HubRuntime) -> None:
    with plans.sessions.begin() as session:
        plan_store.save_plan(
            session, a_plan(5), START, START + dt.timedelta(hours=1), "manual", "x"
        )
        take, bring = plan_store.active_plan(session).routes[0][1]  # type: ignore[union-attr]
        done = plan_store.mark_job_done(session, take.id, 4, "driver1", START)
        assert (done.done_bikes, done.done_by) == (4, "driver1")
        with pytest.raises(plan_store.PlanError, match="already reported"):
            plan_store.mark_job_done(session, take.id, 4, "driver1", START)
        for wrong in (6, 2, True):  # more than planned, the wrong way, not a number
            with pytest.raises(plan_store.PlanError):
                plan_store.mark_job_done(session, bring.id, wrong, "driver1", START)
        assert bring.done_at is None


def test_bad_plans_are_refused(plans: HubRuntime) -> None:
    with plans.sessions.begin() as session:
        with pytest.raises(plan_store.PlanError, match="trigger"):
            plan_store.save_plan(session, a_plan(), START, START, "whenever", "x")
        with pytest.raises(plan_store.PlanError, match="horizon"):
            plan_store.save_plan(session, a_plan(), START, START, "manual", "x")
        assert plan_store.active_plan(session) is None
