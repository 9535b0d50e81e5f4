"""The rebalancing plan's pages in a real browser, against a real server with a stored plan.

Starts ``python -m citysmart serve`` on its own SQLite file holding five Sejong stations,
two trucks and a plan saved as the planner saves it, then drives Debian's chromium
(Playwright): the operator sees each truck's route drawn on the tiles-free map (checked in
the overlay pane and on a screenshot's pixels) and job lists that match the API; a driver
on a phone's viewport marks a job done with the bikes really moved, and the page and the
API both show it done, without a reload. Screenshots are kept in the test's temporary folder.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    expect,
)

from citysmart.core import roles
from citysmart.core.accounts import create_user
from citysmart.core.time import utcnow
from citysmart.services.bikes import SERVICE, plan_store
from citysmart.services.bikes.rebalancing.inventory import InventoryTarget
from citysmart.services.bikes.rebalancing.planning import (
    PlannedJob,
    PlannedRoute,
    RebalancingPlan,
)
from citysmart.services.bikes.stations import StationSpec, register_stations
from citysmart.services.bikes.store import TruckSpec, add_truck
from tests.e2e.harness import (
    SECRET,
    cli,
    need_leaflet,
    open_store,
    serve,
    server_env,
    sign_in_redirected,
    watch_problems,
)
from tests.e2e.png import decode_png

pytestmark = pytest.mark.e2e

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
OPERATOR, DRIVER, PASSWORD = "bike-e2e-operator", "bike-e2e-driver", "e2e-bike-password"
STATIONS = (
    StationSpec("E2E01", "세종시청 e2e", "Sejong City Hall e2e", 127.2890, 36.4800, 20),
    StationSpec("E2E02", "정부세종청사 e2e", "Government Complex e2e", 127.2620, 36.5040, 15),
    StationSpec("E2E03", "조치원역 e2e", "Jochiwon Station e2e", 127.2960, 36.6010, 10),
    StationSpec("E2E04", "도담동 e2e", "Dodam-dong e2e", 127.2560, 36.5150, 12),
    StationSpec("E2E05", "보람동 e2e", "Boram-dong e2e", 127.2900, 36.4720, 12),
)
ROUTES = (
    # Truck one drives north from the south-west depot: take 5, bring 5, take 3.
    PlannedRoute(
        "T1",
        0,
        21400.0,
        5100.0,
        (
            PlannedJob("E2E01", 5, 600.0),
            PlannedJob("E2E02", -5, 1500.0),
            PlannedJob("E2E03", 3, 3300.0),
        ),
    ),  # fmt: skip
    PlannedRoute(
        "T2", 3, 6200.0, 2400.0, (PlannedJob("E2E04", -3, 700.0), PlannedJob("E2E05", 2, 1900.0))
    ),
)
ROUTE_COLOUR = (0x0B, 0x5D, 0x7A)  # the first truck's line (bikes_plan.js COLOURS[0])


@dataclass(frozen=True)
class Server:
    """A running ``citysmart serve`` with a stored plan."""

    base_url: str


def _store_plan(data: Path) -> None:
    """Put the stations, trucks and a plan in the server's store, as the planner would."""
    with open_store(data) as runtime:
        # The CLI knows only the core roles; the app declares the services' (bike_driver).
        for role, includes in SERVICE.roles.items():
            roles.add_role(role, includes)
        with runtime.sessions.begin() as session:
            create_user(session, DRIVER, "bike_driver", PASSWORD)
        register_stations(runtime, list(STATIONS))
        start = utcnow().replace(microsecond=0)
        with runtime.sessions.begin() as session:
            for truck, name, lon, lat in (
                ("T1", "Truck one", 127.2450, 36.4700), ("T2", "Truck two", 127.2700, 36.4900),
            ):  # fmt: skip
                spec = TruckSpec(truck, name, 20, "Depot", lon, lat, dt.time(6), dt.time(15))
                add_truck(session, spec)
            target = InventoryTarget("E2E01", 20, 12, 8, 6, 9, 2.0, 0.5)
            plan = RebalancingPlan(ROUTES, (target,), (), 18, 18, 7.5, 2.0)
            plan_store.save_plan(
                session, plan, start, start + dt.timedelta(hours=6), "morning", "e2e forecast"
            )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the real server on a free port with its own SQLite file and a stored plan."""
    data = tmp_path_factory.mktemp("bikes-e2e")
    env = server_env(data, SECRET)
    cli(env, "users", "add", OPERATOR, "--role", "operator", "--password-stdin", stdin=PASSWORD)
    _store_plan(data)
    with serve(env) as base_url:
        yield Server(base_url)


@pytest.fixture(scope="module")
def browser(browser: Browser) -> Browser:
    """The shared chromium, once the map assets are known to be built."""
    need_leaflet()
    return browser


def sign_in(page: Page, base_url: str, path: str, user: str) -> None:
    """Open a page, be sent to sign in, and come back to it signed in."""
    sign_in_redirected(page, base_url, path, user, PASSWORD)


def active(context: BrowserContext, base_url: str, truck: str | None = None) -> dict[str, Any]:
    """The active plan as the API gives it to the signed-in user of a browser context."""
    query = f"?truck={truck}" if truck else ""
    response = context.request.get(f"{base_url}/api/v1/bikes/plans/active{query}")
    assert response.ok, response.text()
    body: dict[str, Any] = response.json()
    return body


def local(iso: str) -> str:
    """An API time as the page shows it: HH:MM in Seoul."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(SEOUL).strftime("%H:%M")


# Points along the first truck's drawn line, in page pixels (the SVG path's own geometry).
ROUTE_POINTS = """() => {
  const path = document.querySelector(".leaflet-overlay-pane path.bike-route-0");
  const matrix = path.getScreenCTM();
  const length = path.getTotalLength();
  const points = [];
  for (let i = 1; i < 40; i++) {
    const p = path.getPointAtLength(length * i / 40);
    points.push([p.x * matrix.a + p.y * matrix.c + matrix.e,
                 p.x * matrix.b + p.y * matrix.d + matrix.f]);
  }
  return points;
}"""


def route_pixels(page: Page, points: list[list[float]], path: Path) -> float:
    """The share of points with a pixel of the route's colour within 2 px, on a screenshot."""
    image = decode_png(page.screenshot(path=str(path)))
    target = ROUTE_COLOUR
    hits = 0
    for x, y in points:
        cx, cy = round(x), round(y)
        near = image[max(cy - 2, 0) : cy + 3, max(cx - 2, 0) : cx + 3].reshape(-1, 3)
        distance = abs(near - target).sum(axis=1)
        hits += bool((distance < 60).any())
    return hits / len(points)


def test_the_operator_sees_each_route_drawn_and_the_jobs_of_the_api(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="UTC", locale="en-US"
    )
    page = context.new_page()
    problems = watch_problems(page)
    try:
        sign_in(page, server.base_url, "/bikes/plan", OPERATOR)
        plan = active(context, server.base_url)
        assert [r["truck"] for r in plan["routes"]] == ["T1", "T2"]
        expect(page.locator(".leaflet-overlay-pane path.boundary")).to_have_count(17)
        expect(page.locator(".leaflet-overlay-pane path.bike-route")).to_have_count(2)
        expect(page.locator(".leaflet-marker-pane .bikes-stop")).to_have_count(5)
        expect(page.locator(".bikes-stop-take")).to_have_count(3)
        expect(page.locator("#bikes-planned")).to_have_text("18 / 18")
        expect(page.locator("#lost-trips")).to_have_text("7.5 → 2.0")
        expect(page.locator("#demand-source")).to_have_text("e2e forecast")
        for route in plan["routes"]:
            section = page.locator(f'section.bikes-route[data-truck="{route["truck"]}"]')
            expect(section).to_contain_text(f"{route['distance_m'] / 1000:.1f} km")
            rows = section.locator("tr.bikes-job")
            expect(rows).to_have_count(len(route["jobs"]))
            for row, job in zip(rows.all(), route["jobs"], strict=True):
                expect(row.locator(".job-station")).to_have_text(job["station_name"])
                words = f"{job['action'].capitalize()} {job['bikes']}"
                expect(row.locator(".job-words")).to_have_text(words)
                expect(row.locator("time")).to_have_text(local(job["eta"]))
                expect(row).to_contain_text("Not done")
                assert row.get_attribute("data-job") == str(job["id"])

        page.locator("#plan-map").screenshot(path=str(tmp_path / "bikes-plan-map.png"))

        # The line is drawn on the plain base: pixels of its colour all along it, and none
        # there once the lines are hidden. Markers, tooltips and the other truck's line (which
        # crosses it) are hidden so as not to count.
        page.evaluate("""() => { for (const p of document.querySelectorAll(
            ".leaflet-marker-pane, .leaflet-tooltip-pane, path.bike-route:not(.bike-route-0)"))
            { p.style.display = "none"; } }""")
        page.locator("#plan-map").scroll_into_view_if_needed()
        points = page.evaluate(ROUTE_POINTS)
        drawn = route_pixels(page, points, tmp_path / "bikes-plan-routes.png")
        page.evaluate("""() => { for (const p of document.querySelectorAll(
            "path.bike-route")) { p.style.display = "none"; } }""")
        bare = route_pixels(page, points, tmp_path / "bikes-plan-no-routes.png")
        assert drawn >= 0.9, f"only {drawn:.0%} of the route's points show its colour"
        assert bare <= 0.1, f"{bare:.0%} of the points show the route's colour without it"

        page.get_by_role("button", name="한국어").click()
        expect(page.locator("#bikes-plan th").nth(1)).to_have_text("대여소")
        expect(page.locator("tr.bikes-job .job-words").first).to_have_text("5대 회수")
        page.get_by_role("button", name="English").click()

        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(tmp_path / "bikes-plan-phone.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the plan page scrolls sideways on a phone ({width}px wide)"
        assert not problems, f"the page logged errors: {problems}"
    finally:
        context.close()


def test_a_driver_on_a_phone_marks_a_job_done(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        timezone_id="UTC", locale="en-US",
    )  # fmt: skip
    page = context.new_page()
    problems = watch_problems(page, allowed=("/done",))  # the refused report (409) below
    try:
        sign_in(page, server.base_url, "/bikes/driver", DRIVER)
        page.get_by_label("My truck").select_option("T2")
        page.get_by_role("button", name="Show route").click()
        expect(page).to_have_url(f"{server.base_url}/bikes/driver?truck=T2")
        first, second = active(context, server.base_url, "T2")["routes"][0]["jobs"]
        card = page.locator(".next-job")
        expect(card.locator(".next-station")).to_contain_text(first["station_name"])
        expect(card.locator(".job-words")).to_have_text("Bring 3")
        moved = card.get_by_label("Bikes really moved")
        expect(moved).to_have_value("3")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the driver's page scrolls sideways ({width}px wide)"
        page.screenshot(path=str(tmp_path / "bikes-driver-phone.png"), full_page=True)

        moved.fill("7")  # more than planned: said in words, nothing sent
        moved.press("Enter")
        expect(card.locator(".form-error")).to_have_text("Enter a whole number from 0 to 3.")
        page.evaluate("window.notReloaded = true")
        moved.fill("2")
        moved.press("Enter")  # the keyboard submits the form
        expect(page.locator("#driver-status")).to_have_text("Job #1 marked done: 2 bikes.")
        assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
        done = page.locator("#jobs-done li")
        expect(done).to_have_count(1)
        expect(done).to_contain_text(first["station_name"])
        expect(done).to_contain_text("Done: 2 moved at")
        expect(done).to_contain_text(f"by {DRIVER}")
        expect(page.locator(".next-job .next-station")).to_contain_text(second["station_name"])
        expect(page.locator("#next-heading")).to_be_focused()

        after = active(context, server.base_url, "T2")["routes"][0]
        assert after["jobs_done"] == 1
        job = after["jobs"][0]
        assert (job["done"], job["done_bikes"], job["done_by"]) == (True, 2, DRIVER)
        page.screenshot(path=str(tmp_path / "bikes-driver-done.png"), full_page=True)

        # The next job is reported from elsewhere meanwhile: this page's try is refused (409),
        # said in words, and the lists catch up.
        token = page.locator("#bikes-driver").get_attribute("data-csrf") or ""
        elsewhere = context.request.post(
            f"{server.base_url}/api/v1/bikes/plans/jobs/{second['id']}/done",
            data={"bikes": 1},
            headers={"X-CSRF-Token": token},
        )
        assert elsewhere.ok, elsewhere.text()
        page.locator(".next-job").get_by_label("Bikes really moved").press("Enter")
        expect(page.locator("#driver-status")).to_contain_text("already reported done")
        expect(page.locator("#jobs-done li")).to_have_count(2)
        expect(page.locator(".all-done")).to_have_text("All jobs done. Thank you!")
        assert not problems, f"the page logged errors: {problems}"
    finally:
        context.close()


def test_the_make_plan_button_says_what_happened(server: Server, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch_problems(page, allowed=("/api/v1/bikes/plans",))
    try:
        sign_in(page, server.base_url, "/bikes/plan", OPERATOR)
        with page.expect_response(
            lambda r: r.url.endswith("/api/v1/bikes/plans") and r.request.method == "POST"
        ) as answer:
            page.get_by_role("button", name="Make a new plan now").click()
        status = answer.value.status
        if status in (404, 405):
            # The lead's endpoint is not on this server yet: the page says so.
            expect(page.locator("#make-status")).to_contain_text("not available")
            expect(page.get_by_role("button", name="Make a new plan now")).to_be_enabled()
        elif answer.value.ok:
            expect(page.locator("#bikes-planned")).to_be_visible()  # the page shows the new plan
        else:
            expect(page.locator("#make-status")).to_contain_text("could not be made")
        assert status != 403, "the page's POST lacks the session's CSRF header"
        assert not problems, f"the page logged errors: {problems}"
    finally:
        context.close()
