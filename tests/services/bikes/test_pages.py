"""The operator's plan page and the driver's route page, rendered by the server."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from citysmart.core.models import AuditEvent
from citysmart.hub.runtime import HubRuntime
from citysmart.portal import pages as portal_pages
from citysmart.services.bikes import pages, plan_store
from citysmart.services.bikes.models_plan import PLAN_TABLES, PlanJob
from citysmart.services.bikes.rebalancing.inventory import InventoryTarget
from citysmart.services.bikes.rebalancing.planning import (
    PlannedJob,
    PlannedRoute,
    RebalancingPlan,
)
from citysmart.services.bikes.store import TruckSpec, add_truck
from tests.factories import create_user_with_token
from tests.services.bikes.factories import add_stations

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
START = dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC)  # 06:00 on the 26th in Seoul


@pytest.fixture(autouse=True)
def fresh_limiter() -> None:
    """Start each test with no sign-in attempts counted (the limiter is module-global)."""
    portal_pages.sign_in_limiter._events.clear()


@pytest.fixture
def no_plan(bikes_runtime: HubRuntime) -> HubRuntime:
    """The bikes store with stations but no plan."""
    with bikes_runtime.engine.begin() as conn:
        for table in PLAN_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    add_stations(bikes_runtime)
    return bikes_runtime


@pytest.fixture
def planned(no_plan: HubRuntime) -> HubRuntime:
    """A plan of two trucks: T1 takes 4 at SJ001 and brings them to SJ002; T2 brings 3 to SJ003."""
    with no_plan.sessions.begin() as session:
        for truck_id, name in (("T1", "Truck one"), ("T2", "Truck two")):
            add_truck(
                session,
                TruckSpec(truck_id, name, 20, "Depot", 127.27, 36.49, dt.time(6), dt.time(15)),
            )
    one = PlannedRoute(
        "T1", 0, 2500.0, 1500.0, (PlannedJob("SJ001", 4, 300.0), PlannedJob("SJ002", -4, 900.0))
    )
    two = PlannedRoute("T2", 3, 9800.0, 4000.0, (PlannedJob("SJ003", -3, 1200.0),))
    target = InventoryTarget("SJ001", 20, 12, 8, 6, 9, 2.0, 0.5)
    plan = RebalancingPlan((one, two), (target,), (), 11, 11, 4.5, 1.2)
    with no_plan.sessions.begin() as session:
        plan_store.save_plan(
            session, plan, START, START + dt.timedelta(hours=6), "morning", "LightGBM forecast"
        )
    return no_plan


def sign_in(client: TestClient, runtime: HubRuntime, name: str, role: str) -> None:
    """Create a user and sign in through the portal's form."""
    create_user_with_token(runtime, name, role, PASSWORD)
    token = CSRF_FIELD.search(client.get("/signin").text)
    assert token
    form = {"username": name, "password": PASSWORD, "next": "/", "csrf": token.group(1)}
    assert client.post("/signin", data=form, follow_redirects=False).status_code == 303


def job_ids(runtime: HubRuntime) -> dict[str, int]:
    """Each stored job's id by its station."""
    with runtime.sessions() as session:
        return {j.station_code: j.id for j in session.scalars(select(PlanJob))}


@pytest.mark.parametrize(
    ("path", "needed"), [("/bikes/plan", "operator"), ("/bikes/driver", "bike_driver")]
)
def test_pages_send_visitors_to_sign_in_and_refuse_citizens(
    bikes_client: TestClient, planned: HubRuntime, path: str, needed: str
) -> None:
    anonymous = bikes_client.get(path, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/signin?next={path}"
    sign_in(bikes_client, planned, "minji", "citizen")
    refused = bikes_client.get(path)
    assert refused.status_code == 403
    assert needed in refused.text


def test_a_driver_may_not_open_the_operators_plan(
    bikes_client: TestClient, planned: HubRuntime
) -> None:
    sign_in(bikes_client, planned, "kim", "bike_driver")
    assert bikes_client.get("/bikes/plan").status_code == 403
    assert bikes_client.get("/bikes/driver").status_code == 200


def test_the_operator_sees_the_summary_and_each_trucks_jobs(
    bikes_client: TestClient, planned: HubRuntime
) -> None:
    sign_in(bikes_client, planned, "op", "operator")
    page = bikes_client.get("/bikes/plan")
    assert page.status_code == 200
    html = page.text
    assert "11 / 11" in html  # bikes planned / wanted
    assert "4.5 → 1.2" in html  # lost trips expected before and after
    assert "2026-11-26 06:00 – 2026-11-26 12:00" in html  # the horizon in Seoul time
    assert "LightGBM forecast" in html
    assert html.count('class="bikes-route"') == 2
    assert "Truck one" in html
    assert "Truck two" in html
    # ETAs in Seoul time: T1's first stop 5 minutes after 06:00, T2's 20 minutes after.
    assert ">06:05</time>" in html
    assert ">06:20</time>" in html
    assert "2.5 km" in html
    assert "9.8 km" in html
    assert "Take 4" in html
    assert "Bring 4" in html
    assert "Bring 3" in html
    assert "세종시청" in html
    assert 'data-api="/api/v1/bikes/plans"' in html
    assert '<script src="/static/services/bikes/bikes_plan.js"></script>' in html
    assert "No plan yet" not in html


def test_no_plan_yet_is_said_on_both_pages(bikes_client: TestClient, no_plan: HubRuntime) -> None:
    sign_in(bikes_client, no_plan, "op", "operator")
    plan = bikes_client.get("/bikes/plan")
    assert plan.status_code == 200
    assert "No plan yet" in plan.text
    assert 'id="plan-map"' not in plan.text
    assert 'id="make-plan"' in plan.text  # the operator can still make one
    driver = bikes_client.get("/bikes/driver")
    assert driver.status_code == 200
    assert "No plan yet" in driver.text


def test_the_driver_picks_a_truck_and_sees_the_next_job_first(
    bikes_client: TestClient, planned: HubRuntime
) -> None:
    sign_in(bikes_client, planned, "kim", "bike_driver")
    picker = bikes_client.get("/bikes/driver").text
    assert "Choose your truck" in picker
    assert 'value="T1"' in picker
    assert 'value="T2"' in picker
    page = bikes_client.get("/bikes/driver", params={"truck": "T1"}).text
    next_job = page.split('class="next-job', 1)[1].split("</section>", 1)[0]
    assert "세종시청" in next_job
    assert "Take 4" in next_job
    assert 'name="bikes" min="0" max="4"' in next_job
    assert 'value="4"' in next_job
    assert "geo:36.48000,127.28900" in next_job
    assert "정부세종청사" in page.split('id="jobs-left"', 1)[1]
    assert "No job done yet" in page
    missing = bikes_client.get("/bikes/driver", params={"truck": "T9"})
    assert missing.status_code == 404
    assert "no route in the active plan" in missing.text


def test_the_drivers_form_reports_a_job_done_without_script(
    bikes_client: TestClient, planned: HubRuntime
) -> None:
    sign_in(bikes_client, planned, "kim", "bike_driver")
    page = bikes_client.get("/bikes/driver", params={"truck": "T1"}).text
    token = CSRF_FIELD.search(page)
    assert token
    take = job_ids(planned)["SJ001"]
    form = {"bikes": "3", "truck": "T1"}
    refused = bikes_client.post(f"/bikes/driver/jobs/{take}/done", data=form)
    assert refused.status_code == 403  # no CSRF token
    form["csrf"] = token.group(1)
    too_many = bikes_client.post(f"/bikes/driver/jobs/{take}/done", data={**form, "bikes": "9"})
    assert too_many.status_code == 400
    assert "take 4" in too_many.text
    words = bikes_client.post(f"/bikes/driver/jobs/{take}/done", data={**form, "bikes": "some"})
    assert words.status_code == 400
    assert "whole number" in words.text
    done = bikes_client.post(f"/bikes/driver/jobs/{take}/done", data=form, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/bikes/driver?truck=T1"
    after = bikes_client.get("/bikes/driver", params={"truck": "T1"}).text
    finished = after.split('id="jobs-done"', 1)[1]
    assert "세종시청" in finished
    assert "Done: 3 moved" in finished
    assert "by kim" in finished
    assert "정부세종청사" in after.split('class="next-job', 1)[1].split("</section>", 1)[0]
    api = bikes_client.get("/api/v1/bikes/plans/active", params={"truck": "T1"}).json()
    assert api["routes"][0]["jobs"][0]["done_bikes"] == 3
    with planned.sessions() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "bikes.plan.job_done" in actions


def test_local_times_and_figures_are_formatted_for_seoul() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    assert pages.local_time("2026-11-25T21:05:00Z", seoul) == "06:05"
    assert pages.local_time("2026-11-25T21:05:00Z", seoul, with_date=True) == "2026-11-26 06:05"
    assert pages.local_time(None, seoul) == ""
    assert pages.km(2549.0) == "2.5"
    assert pages.hours_minutes(3 * 3600 + 7 * 60 + 20) == "3:07"
    assert pages.hours_minutes(59.0) == "0:01"
