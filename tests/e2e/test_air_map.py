"""The public fine-dust map in a real browser, against a real server with readings it stored.

Starts ``python -m citysmart serve`` (jobs off, so the test decides when the hourly job
runs), registers AirQualityObserved sensors' devices as an admin through the HTTP API (a
few kilometres apart, and 30 packed into one area as densely as the demo's), marks the
reference station on its entity and sends hours of SenML readings, runs the air service's
hourly job, then drives Debian's chromium (Playwright) over ``/air``: compact graded
badges that never overlap (close ones grouped with their count and worst grade, split by
zooming in, where the grade's word appears), the surface drawn (checked on a screenshot's
pixels), the hour slider, the 24-hour chart, the language toggle, a stale sensor greyed,
and a phone's viewport. Screenshots are kept in the test's temporary folder.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import (
    Browser,
    FloatRect,
    Locator,
    Page,
    expect,
)

from citysmart.services.air import SERVICE
from citysmart.services.air.grades import TABLES, Grade, grade
from citysmart.services.air.types import Pollutant
from tests.e2e.harness import (
    ROOT,
    cli,
    log_tail,
    need_leaflet,
    open_store,
    serve,
    server_env,
    watch_problems,
)
from tests.e2e.png import decode_png

pytestmark = pytest.mark.e2e

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
ADMIN = "air-e2e-admin"
HOURS = 5  # whole hours of readings before the current one
LOWCOST_INTERVAL_S = 600  # one reading every 10 minutes: 6 an hour, 5 needed for 75 %


@dataclass(frozen=True)
class Sensor:
    """A sensor the test registers and feeds: its level of PM2.5 and PM10 (µg/m³)."""

    key: str
    name: str
    lon: float
    lat: float
    pm25: float
    pm10: float
    reference: bool = False
    silent_hours: int = 0  # sends nothing during the last hours: stale

    @property
    def entity(self) -> str:
        return f"urn:ngsi-ld:AirQualityObserved:e2e-{self.key}"


# Levels inside one Korean grade for both pollutants, so the overall grade is that grade.
# Places kilometres apart, so that no marker hides another at the map's first zoom.
SENSORS = (
    Sensor("hansol", "Hansol e2e", 127.2583, 36.4805, pm25=8.0, pm10=20.0),
    Sensor("jochiwon", "Jochiwon e2e", 127.2950, 36.6000, pm25=25.0, pm10=55.0),
    Sensor("bugang", "Bugang e2e", 127.3720, 36.5300, pm25=50.0, pm10=110.0),
    Sensor("areum-ref", "Areum station e2e", 127.24643, 36.51212, 95.0, 170.0, reference=True),
    # Silent for the last 4 hours: over 2 h even when the newest map is of two hours ago.
    Sensor("jongchon", "Jongchon e2e", 127.2450, 36.4950, pm25=30.0, pm10=60.0, silent_hours=4),
)
LIVE = tuple(s for s in SENSORS if not s.silent_hours)
STALE = next(s for s in SENSORS if s.silent_hours)

# Levels of the four Korean grades (PM2.5, PM10), both inside the same grade.
LEVELS = ((8.0, 20.0), (25.0, 55.0), (50.0, 110.0), (95.0, 170.0))


def _dense(columns: int = 6, rows: int = 5, spacing_m: float = 300.0) -> tuple[Sensor, ...]:
    """Sensors on a grid in Yeondong-myeon, closer than a badge's width at city zoom."""
    lon0, lat0 = 127.328, 36.550
    dlon = spacing_m / (111_320 * math.cos(math.radians(lat0)))
    dlat = spacing_m / 110_574
    sensors = []
    for r in range(rows):
        for c in range(columns):
            i = r * columns + c
            pm25, pm10 = LEVELS[(r + 2 * c) % len(LEVELS)]
            lon = lon0 + (c - (columns - 1) / 2) * dlon
            lat = lat0 + (r - (rows - 1) / 2) * dlat
            sensors.append(
                Sensor(f"yeondong-{i:02d}", f"Yeondong e2e {i:02d}", lon, lat, pm25, pm10)
            )
    return tuple(sensors)


DENSE = _dense()
# A second sensor on the very spot of a grid corner's (two devices on one pole): no zoom
# separates them, so at the last zoom their group lists them.
TWIN = Sensor("yeondong-twin", "Yeondong e2e twin", DENSE[0].lon, DENSE[0].lat, 95.0, 170.0)
ALL = SENSORS + DENSE + (TWIN,)
# A sensor in the middle of the dense grid: the one the test zooms in to.
TARGET = DENSE[2 * 6 + 2]


@dataclass
class Server:
    """A running ``citysmart serve`` with the sensors the test stored readings for."""

    base_url: str
    hours: list[str]  # the hours with a map, newest last


def _readings(sensor: Sensor, now: float) -> list[dict[str, object]]:
    """SenML records over the last HOURS whole hours and the current one, gently varying.

    Low-cost sensors report every ten minutes (the level wobbles by a few per cent, so QC
    sees neither a stuck value nor a spike); a reference station reports once an hour.
    """
    start = (math.floor(now / 3600) - HOURS) * 3600
    step = 3600 if sensor.reference else LOWCOST_INTERVAL_S
    silent_from = (math.floor(now / 3600) - sensor.silent_hours + 1) * 3600
    records: list[dict[str, object]] = []
    for i, when in enumerate(range(start + 30, int(now) - 5, step)):
        if sensor.silent_hours and when >= silent_from:
            break
        wobble = 1 + 0.03 * math.sin(i * 1.3)
        for name, level in (("pm25", sensor.pm25), ("pm10", sensor.pm10)):
            records.append({"bt": when, "n": name, "u": "ug/m3", "v": round(level * wobble, 2)})
        records.append({"bt": when, "n": "relativeHumidity", "u": "%RH", "v": 45.0 + i % 5})
        records.append({"bt": when, "n": "temperature", "u": "Cel", "v": 12.0 + (i % 7) / 2})
    return records


def _post(client: httpx.Client, path: str, body: object, headers: dict[str, str]) -> httpx.Response:
    """POST JSON, sending again on 503 as the answer asks ("retry shortly": nothing stored)."""
    content = json.dumps(body)
    for _ in range(10):
        response = client.post(
            path, content=content, headers={"Content-Type": "application/json", **headers}
        )
        if response.status_code != 503:
            break
        time.sleep(0.3)
    return response


def _register_devices(client: httpx.Client, token: str) -> dict[str, str]:
    """Register each sensor's device (and so its entity) as an admin does; return keys."""
    keys = {}
    for sensor in ALL:
        device = {
            "id": f"e2e-{sensor.key}",
            "entity_id": sensor.entity,
            "entity_type": "AirQualityObserved",
            "name": sensor.name,
            "location": {"type": "Point", "coordinates": [sensor.lon, sensor.lat]},
        }
        response = _post(client, "/api/v1/devices", device, {"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
        keys[sensor.key] = response.json()["key"]
    return keys


def _store_readings(base_url: str, token: str) -> None:
    """Register the devices, mark the reference station and reporting intervals; send readings."""
    now = time.time()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        keys = _register_devices(client, token)
        for sensor in ALL:
            entity = {
                "id": sensor.entity,
                "type": "AirQualityObserved",
                "properties": {
                    "reference": sensor.reference,
                    "reportingIntervalS": 3600 if sensor.reference else LOWCOST_INTERVAL_S,
                },
            }
            auth = {"Authorization": f"Bearer {token}"}
            response = _post(client, "/api/v1/entities", entity, auth)
            assert response.status_code == 201, response.text
            device = {"Authorization": f"Bearer {keys[sensor.key]}"}
            response = _post(client, "/api/v1/ingest", _readings(sensor, now), device)
            assert response.status_code == 202, response.text
            assert not response.json()["rejected"], response.text


def _run_jobs(data: Path, secret_key: str) -> None:
    """Run the air service's hourly job, then its forecast job, as a worker's runner does."""
    with open_store(data, secret_key) as runtime:
        for name in ("air.hourly", "air.forecast"):
            job = next(job for job in SERVICE.jobs if job.name == name)
            job.run(runtime)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the real server on a free port with its own SQLite file, then feed it."""
    data = tmp_path_factory.mktemp("air-e2e")
    # The test runs the hourly job itself, once the readings are in (jobs are off).
    env = server_env(data)
    cli(env, "users", "add", ADMIN, "--role", "admin", "--no-password")
    token = cli(env, "users", "token", ADMIN).strip().splitlines()[-1]
    with serve(env) as base_url:
        _store_readings(base_url, token)
        _run_jobs(data, env["CITYSMART_SECRET_KEY"])
        hours = httpx.get(f"{base_url}/api/v1/air/hours", timeout=10).json()["hours"]
        assert len(hours) >= HOURS - 1, f"maps for {hours}:\n{log_tail(data / 'server.log')}"
        yield Server(base_url, hours)


@pytest.fixture(scope="module")
def browser(browser: Browser) -> Browser:
    """The shared chromium, once the map assets are known to be built."""
    need_leaflet()
    return browser


def kst(iso: str) -> str:
    """Format an API time as the page shows it: YYYY-MM-DD HH:MM in Seoul."""
    when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return when.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M")


def marker(page: Page, sensor: Sensor) -> Locator:
    """The visible part of a sensor's marker (its badge)."""
    return page.locator(f'.air-marker[data-sensor="{sensor.entity}"] .air-marker-body')


def expected_grade(entity: str) -> Grade | None:
    """The grade a sensor's badge must show (None when it is stale)."""
    sensor = next(s for s in ALL if s.entity == entity)
    return None if sensor.silent_hours else grade(sensor.pm25, "pm25")


# Every badge on the map that is shown (a grouped sensor's own badge is not): its box, its
# text and the sensors it stands for.
SHOWN_BADGES = """() => [...document.querySelectorAll(".air-marker-body, .air-group-body")]
  .filter((node) => node.getClientRects().length > 0)
  .map((node) => {
    const box = node.getBoundingClientRect();
    const group = node.closest(".air-group");
    const sensors = group
      ? group.dataset.sensors.split(" ")
      : [node.closest(".air-marker").dataset.sensor];
    return {
      x: box.left, y: box.top, w: box.width, h: box.height, text: node.textContent,
      group: Boolean(group), sensors,
    };
  })"""


def check_badges(
    page: Page, words: Mapping[str, tuple[str, ...]], stale: str
) -> list[dict[str, Any]]:
    """Check the badges at the current zoom and return them.

    None overlaps another, each sensor is shown once (alone or in a group), and every badge
    says its grade in text, one of ``words[key]`` (a group: its members' worst, and how many
    they are; a stale sensor: ``stale``).
    """
    badges: list[dict[str, Any]] = page.evaluate(SHOWN_BADGES)
    for i, a in enumerate(badges):
        for b in badges[i + 1 :]:
            apart = (
                a["x"] + a["w"] <= b["x"] + 0.5
                or b["x"] + b["w"] <= a["x"] + 0.5
                or a["y"] + a["h"] <= b["y"] + 0.5
                or b["y"] + b["h"] <= a["y"] + 0.5
            )
            assert apart, f"badges overlap: {a} and {b}"
    shown = [entity for badge in badges for entity in badge["sensors"]]
    assert sorted(shown) == sorted(s.entity for s in ALL), "each sensor once, alone or grouped"
    for badge in badges:
        grades = [expected_grade(e) for e in badge["sensors"]]
        live = [g for g in grades if g is not None]
        text = str(badge["text"])
        if not live:
            assert stale in text, badge
            continue
        worst = max(live, key=lambda g: g.level)
        said = words[worst.key]
        assert any(word in text for word in said), f"{badge} should say one of {said}"
        if badge["group"]:
            assert str(len(grades)) in text, f"{badge} should count {len(grades)} sensors"
    return badges


def grade_codes(page: Page) -> dict[str, str]:
    """The short grade codes of the English legend, by grade key."""
    codes = {}
    for item in page.locator("#legend-bands li[data-grade]").all():
        key = item.get_attribute("data-grade") or ""
        codes[key] = item.locator(".legend-code").inner_text().strip()
    return codes


def laid_out(page: Page) -> None:
    """Wait until the page has placed the sensors' badges on the map."""
    expect(page.locator(".air-marker")).to_have_count(len(ALL))
    expect(page.locator("#air-map")).to_have_attribute("data-layout", re.compile(r"^\d+$"))


def map_zoom(page: Page) -> float:
    """The zoom the badges were last laid out for."""
    return float(page.locator("#air-map").get_attribute("data-zoom") or "nan")


def wait_for_new_zoom(page: Page, before: float) -> None:
    """Wait until the badges are laid out again at a zoom other than ``before``."""
    page.wait_for_function(
        "(z) => Number(document.getElementById('air-map').dataset.zoom) !== z",
        arg=before,
        timeout=10_000,
    )


def coloured_share(png: bytes) -> float:
    """Share of pixels with a clear hue (grade colours), not the map's grey-blue ground."""
    rgb = decode_png(png).astype(np.int64)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    return float((chroma > 60).mean())


# The contrast ratio (WCAG 2) of each marker's text on its fill, computed in the page.
CONTRAST_OF_MARKERS = """() => {
  const luminance = (css) => {
    const [r, g, b] = css.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
      const c = v / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return [...document.querySelectorAll(".air-marker-body, .air-group-body")].map((node) => {
    const style = getComputedStyle(node);
    const [a, b] = [luminance(style.color), luminance(style.backgroundColor)];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });
}"""


def surface_drawn(page: Page, hour: str, pollutant: str) -> None:
    """Wait until the surface image on the map is the given hour's and has loaded."""
    page.wait_for_function(
        """([hour, pollutant]) => {
          const img = document.querySelector("img.air-surface");
          if (!img || !img.complete || img.naturalWidth === 0) return false;
          const query = new URL(img.src).searchParams;
          return new Date(query.get("hour")).getTime() === new Date(hour).getTime()
            && query.get("pollutant") === pollutant;
        }""",
        arg=[hour, pollutant],
        timeout=15_000,
    )


def surface_box(page: Page) -> FloatRect:
    """The part of the map the surface image covers, in page pixels."""
    image = page.locator("img.air-surface").bounding_box()
    frame = page.locator("#air-map").bounding_box()
    assert image is not None
    assert frame is not None
    left, top = max(image["x"], frame["x"]), max(image["y"], frame["y"])
    right = min(image["x"] + image["width"], frame["x"] + frame["width"])
    bottom = min(image["y"] + image["height"], frame["y"] + frame["height"])
    assert right - left > 100, "the surface is (almost) outside the map"
    assert bottom - top > 100, "the surface is (almost) outside the map"
    return {"x": left, "y": top, "width": right - left, "height": bottom - top}


def test_the_map_grades_sensors_in_words_and_draws_the_surface(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    # The browser runs on UTC in English: the page must still show Seoul time.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="UTC", locale="en-US"
    )
    page = context.new_page()
    problems = watch_problems(page)
    latest = httpx.get(f"{server.base_url}/api/v1/air/map", timeout=10).json()
    try:
        page.goto(f"{server.base_url}/air")
        expect(page.locator("h1")).to_have_text("Fine dust in Sejong")
        laid_out(page)
        # The legend explains the badges' short codes: one or two letters each.
        codes = grade_codes(page)
        bands = TABLES[("kr", Pollutant.PM25)]
        assert set(codes) == {band.key for band in bands} | {"none"}, codes
        assert all(1 <= len(code) <= 2 for code in codes.values()), codes
        words = {band.key: (codes[band.key], band.label_en) for band in bands}

        # City zoom: no badge over another; the dense area's sensors are grouped.
        badges = check_badges(page, words, "No data")
        groups = [b for b in badges if b["group"]]
        assert groups, "30 sensors in one area should not all stand alone at city zoom"
        page.locator("#air-map").screenshot(path=str(tmp_path / "air-map-city-zoom.png"))
        values = {s["id"]: s["pm25"] for s in latest["sensors"]}
        dense_areas = {
            s["area_code"] for s in latest["sensors"] if s["name"] in {d.name for d in DENSE}
        }
        assert len(dense_areas) == 1, f"the dense sensors should share one area: {dense_areas}"
        for sensor in LIVE:
            expected = grade(sensor.pm25, "pm25")
            assert expected.key == grade(sensor.pm10, "pm10").key  # one grade, both ways
            badge = marker(page, sensor)  # kilometres from any other: alone
            expect(badge).to_be_visible()
            expect(badge).to_contain_text(codes[expected.key])
            expect(badge).to_contain_text(str(math.floor(values[sensor.entity] + 0.5)))
            expect(badge).to_have_class(re.compile(rf"\bgrade-{expected.key}\b"))
            # Its full grade is in its name and its tooltip.
            named = re.compile(rf"{re.escape(sensor.name)}.*{re.escape(expected.label_en)}$")
            icon = page.locator(f'.air-marker[data-sensor="{sensor.entity}"]')
            expect(icon).to_have_attribute("aria-label", named)
        badge.hover()
        expect(page.locator(".leaflet-tooltip .air-tooltip")).to_have_text(named)
        reference = next(s for s in SENSORS if s.reference)
        expect(marker(page, reference).locator(".shape-reference")).to_have_count(1)
        expect(page.locator(".air-marker-body.kind-reference")).to_have_count(1)

        # A sensor silent for hours is greyed, says so in words, with when it was last heard.
        stale = next(s for s in latest["sensors"] if s["id"] == STALE.entity)
        assert stale["stale"] is True
        expect(marker(page, STALE)).to_contain_text("No data")
        expect(page.locator(f'.air-marker.is-stale[data-sensor="{STALE.entity}"]')).to_have_count(1)
        row = page.locator(f'#sensors tr[data-sensor="{STALE.entity}"]')
        expect(row).to_have_class(re.compile(r"\bis-stale\b"))
        expect(row).to_contain_text(f"Stale since {kst(stale['last_seen'])}")

        # Grade words stay readable on their colours (WCAG AA: 4.5:1 for small text).
        ratios = page.evaluate(CONTRAST_OF_MARKERS)
        assert len(ratios) == len(ALL) + len(groups)
        assert min(ratios) >= 4.5, f"marker text contrast {ratios}"
        # Icon-only buttons carry names.
        for name in ("Previous hour", "Next hour", "Latest"):
            expect(page.get_by_role("button", name=name, exact=True)).to_have_count(1)

        hours = server.hours
        expect(page.locator("#status")).to_contain_text(
            f"Last updated {kst(latest['updated_at'])} KST"
        )
        expect(page.locator("#hour-label")).to_have_text(f"{kst(hours[-1])} KST (latest)")

        # The surface is drawn: at full opacity its area of the map is in grade colours,
        # at none it is the plain ground (markers and lines are in both screenshots).
        surface_drawn(page, hours[-1], "pm25")
        page.locator("#opacity").focus()
        page.keyboard.press("End")
        expect(page.locator("#opacity-value")).to_have_text("100 %")
        box = surface_box(page)
        drawn = page.screenshot(path=str(tmp_path / "air-map-surface.png"), clip=box)
        page.keyboard.press("Home")
        expect(page.locator("#opacity-value")).to_have_text("0 %")
        bare = page.screenshot(path=str(tmp_path / "air-map-no-surface.png"), clip=box)
        with_surface, without = coloured_share(drawn), coloured_share(bare)
        assert with_surface > 0.25, f"only {with_surface:.0%} of the surface region is coloured"
        assert with_surface - without > 0.2, (with_surface, without)
        page.keyboard.press("End")

        # The slider, by keyboard, goes an hour back: the label, the status and the surface.
        page.locator("#hour-slider").focus()
        page.keyboard.press("ArrowLeft")
        expect(page.locator("#hour-label")).to_have_text(f"{kst(hours[-2])} KST")
        expect(page.locator("#status")).to_contain_text(f"map of {kst(hours[-2])} KST")
        surface_drawn(page, hours[-2], "pm25")
        page.locator("#hour-latest").click()
        surface_drawn(page, hours[-1], "pm25")

        # A marker's click draws its 24-hour chart: one bar per graded hour, in its grade.
        chosen = LIVE[1]
        marker(page, chosen).click()
        chart = page.locator("#chart")
        expect(chart.locator(".chart-title")).to_contain_text(chosen.name)
        series = httpx.get(
            f"{server.base_url}/api/v1/air/series",
            params={"sensor": chosen.entity, "hours": 24},
            timeout=10,
        ).json()["points"]
        graded = [p for p in series if p["pm25"] is not None]
        assert len(graded) >= HOURS - 1, series
        expect(chart.locator(".chart-bar")).to_have_count(len(graded))
        colour = grade(chosen.pm25, "pm25").colour
        for bar in chart.locator(".chart-bar").all():
            assert (bar.get_attribute("fill") or "").lower() == colour.lower()
        selected = page.locator(f'#sensors tr[data-sensor="{chosen.entity}"]')
        expect(selected).to_have_class(re.compile(r"\bis-selected\b"))
        # Above its chart: its 24-hour mean and C24E as the API gives them, graded in words,
        # or "not enough hours"; C24E explained in a tooltip.
        answer = next(s for s in latest["sensors"] if s["id"] == chosen.entity)
        figures = page.locator("#day-figures")
        expect(figures).to_be_visible()
        for key, label in (("mean_24h", "24-hour mean"), ("c24e", "C24E (predicted 24-h average)")):
            figure = figures.locator(f'[data-figure="day_{"mean" if key == "mean_24h" else key}"]')
            expect(figure.locator("dt")).to_have_text(label)
            if answer[key] is None:
                expect(figure.locator("dd")).to_have_text("not enough hours")
            else:
                expect(figure.locator("dd .value")).to_have_text(f"{shown(answer[key])} µg/m³")
                word = grade(answer[key], "pm25").label_en
                expect(figure.locator("dd .grade-badge")).to_contain_text(word)
        tip = figures.locator('[data-figure="day_c24e"] dt')
        expect(tip).to_have_attribute("title", re.compile(r"AirKorea.*24-hour moving average"))

        # An area's row draws the area's chart.
        area = next(a for a in latest["areas"] if a["mean"] is not None)
        page.locator(f'#areas button[data-id="{area["code"]}"]').click()
        expect(chart.locator(".chart-title")).to_contain_text(area["name_en"])
        expect(chart.locator(".chart-bar").first).to_be_visible()
        # ... and its next 6 hours: graded in words, the method named (persistence here: no
        # model is fitted on a few hours), the issue time.
        check_forecast(page, server, area["code"], "pm25", "en")

        # Selecting a group zooms in to its sensors until the chosen one stands alone...
        target = marker(page, TARGET)
        for _ in range(8):
            if target.is_visible():
                break
            before = map_zoom(page)
            page.locator(f'.air-group[data-sensors~="{TARGET.entity}"] .air-group-body').click()
            wait_for_new_zoom(page, before)
        expect(target).to_be_visible()
        assert map_zoom(page) <= 18
        check_badges(page, words, "No data")
        # ... and closer still (centred on it from the list), it spells its grade out.
        page.locator(f'#sensors button[data-id="{TARGET.entity}"]').click()
        full = grade(TARGET.pm25, "pm25").label_en
        for _ in range(8):
            if full in target.inner_text():
                break
            before = map_zoom(page)
            page.locator(".leaflet-control-zoom-in").click()
            wait_for_new_zoom(page, before)
        expect(target).to_contain_text(full)
        check_badges(page, words, "No data")
        expect(marker(page, reference)).to_contain_text("Station")  # alone and zoomed in
        page.locator("#air-map").screenshot(path=str(tmp_path / "air-map-zoomed-in.png"))

        # By keyboard, a group zooms in; at the last zoom, sensors on one spot are listed.
        page.locator(f'#sensors button[data-id="{TWIN.entity}"]').click()  # centres on it
        twins = page.locator(f'.air-group[data-sensors~="{TWIN.entity}"]')
        popup = page.locator(".air-group-popup")
        for _ in range(8):
            if popup.count():
                break
            before = map_zoom(page)
            twins.focus()
            page.keyboard.press("Enter")
            page.wait_for_function(
                """(z) => Number(document.getElementById('air-map').dataset.zoom) !== z
                  || document.querySelector('.air-group-popup')""",
                arg=before,
                timeout=10_000,
            )
        expect(popup).to_be_visible()
        expect(twins).to_have_attribute(
            "aria-label", re.compile(r"^2 sensors close together.*list them")
        )
        expect(twins).to_contain_text(codes["very_unhealthy"])  # the worse of the two
        check_badges(page, words, "No data")
        expect(popup).to_have_css("opacity", "1")  # faded in
        page.locator("#air-map").screenshot(path=str(tmp_path / "air-map-group-list.png"))
        popup.get_by_role("button", name=re.compile(re.escape(DENSE[0].name))).click()
        expect(chart.locator(".chart-title")).to_contain_text(DENSE[0].name)

        # PM10: the surface and the legend follow.
        page.locator('label[for="pollutant-pm10"]').click()
        surface_drawn(page, hours[-1], "pm10")
        expect(page.locator("#legend-bands")).to_contain_text("31–80 µg/m³")
        # The selected area's forecast follows too (the twin's list click chose a sensor: back).
        page.locator(f'#areas button[data-id="{area["code"]}"]').click()
        check_forecast(page, server, area["code"], "pm10", "en")

        # Korean: every label, the grades on the markers, the status.
        page.locator("#lang-toggle").click()
        expect(page.locator("h1")).to_have_text("세종시 미세먼지")
        expect(page.locator("#air")).to_have_attribute("lang", "ko")
        expect(page.locator("#lang-toggle")).to_have_text("English")
        expect(page.locator("#status")).to_contain_text(
            f"최근 갱신 {kst(latest['updated_at'])} KST"
        )
        for sensor in LIVE:
            expect(marker(page, sensor)).to_contain_text(grade(sensor.pm10, "pm10").label_ko)
        expect(marker(page, STALE)).to_contain_text("수신 없음")
        expect(page.locator('label[for="hour-slider"]')).to_have_text("시각 (KST)")
        check_forecast(page, server, area["code"], "pm10", "ko")
        page.screenshot(path=str(tmp_path / "air-map-ko.png"), full_page=True)
        assert not problems, f"the page logged errors: {problems}"
    finally:
        context.close()


def test_the_map_fits_a_phone_in_the_browsers_language(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="ko-KR",
        timezone_id="UTC",
    )
    page = context.new_page()
    problems = watch_problems(page)
    try:
        page.goto(f"{server.base_url}/air")
        expect(page.locator("h1")).to_have_text("세종시 미세먼지")  # the browser's language
        laid_out(page)
        # Korean's grade words are short: the badges carry them whole, and still never overlap.
        words = {band.key: (band.label_ko,) for band in TABLES[("kr", Pollutant.PM25)]}
        check_badges(page, words, "수신 없음")
        sensor = LIVE[1]
        expect(marker(page, sensor)).to_contain_text(grade(sensor.pm25, "pm25").label_ko)
        surface_drawn(page, server.hours[-1], "pm25")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
        for control in (
            "#lang-toggle",
            "#hour-prev",
            "#hour-slider",
            "#hour-latest",
            "#opacity",
            'label[for="pollutant-pm10"]',
        ):
            box = page.locator(control).bounding_box()
            assert box is not None, control
            assert box["x"] >= 0, control
            assert box["x"] + box["width"] <= 390, control
            assert box["height"] >= 24, f"{control} is too small to tap ({box['height']}px)"
        page.locator("#hour-prev").tap()
        expect(page.locator("#hour-label")).to_contain_text(kst(server.hours[-2]))
        marker(page, sensor).tap()
        chart = page.locator("#chart .chart-svg")
        expect(chart).to_be_visible()
        expect(chart).to_be_in_viewport()  # the chart comes into view under the map
        expect(page.locator("#day-figures")).to_contain_text("24시간 평균")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the sensor's panel scrolls sideways on a phone ({width}px wide)"
        page.locator("#panel").screenshot(path=str(tmp_path / "air-panel-phone.png"))
        page.screenshot(path=str(tmp_path / "air-map-phone.png"), full_page=True)
        assert not problems, f"the page logged errors: {problems}"
    finally:
        context.close()


def shown(value: float) -> str:
    """Format a value as the page does: one decimal, none from 100."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def check_forecast(page: Page, server: Server, code: str, pollutant: str, lang: str) -> None:
    """The panel shows the area's 6 forecast hours as the API gives them, in ``lang``."""
    body = httpx.get(
        f"{server.base_url}/api/v1/air/forecast",
        params={"area": code, "pollutant": pollutant},
        timeout=10,
    ).json()
    assert body["fallback"] is True, body  # a few hours of history: persistence stands in
    points = body["points"]
    assert [p["horizon"] for p in points] == [1, 2, 3, 4, 5, 6], points
    forecast = page.locator("#forecast")
    expect(forecast).to_be_visible()
    name = body["area"]["name_ko" if lang == "ko" else "name_en"]
    expect(forecast.locator(".forecast-area")).to_contain_text(name)
    expect(forecast.locator(".forecast-area")).to_contain_text(
        {"pm25": "PM2.5", "pm10": "PM10"}[pollutant]
    )
    method = forecast.locator(".forecast-method")
    if lang == "ko":
        expect(method).to_contain_text("지속 예보")
    else:
        expect(method).to_have_text("Persistence (the last hour carried forward)")
    expect(method).to_have_attribute("title", re.compile("model|모델"))
    issued = "발표" if lang == "ko" else "Issued"
    expect(forecast.locator(".forecast-issued")).to_contain_text(
        f"{issued} {kst(body['issued_at'])} KST"
    )
    rows = forecast.locator("tbody tr")
    expect(rows).to_have_count(6)
    for row, point in zip(rows.all(), points, strict=True):
        label = point["grade"]["label_ko" if lang == "ko" else "label_en"]
        expect(row.locator(".grade-badge")).to_contain_text(label)
        expect(row.locator(".value")).to_have_text(shown(point["value"]))
        if point["lower"] is not None and point["upper"] is not None:
            expect(row.locator(".forecast-range")).to_contain_text(
                f"{shown(point['lower'])}–{shown(point['upper'])}"
            )
        else:
            expect(row.locator(".forecast-range")).to_contain_text(
                "범위 없음" if lang == "ko" else "no range yet"
            )
        expect(row.locator("time")).to_contain_text(kst(point["hour"])[-5:])


def test_a_link_with_an_area_opens_it_with_its_chart_and_forecast(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, timezone_id="UTC", locale="en-US"
    )
    page = context.new_page()
    problems = watch_problems(page)
    latest = httpx.get(f"{server.base_url}/api/v1/air/map", timeout=10).json()
    area = next(a for a in latest["areas"] if a["mean"] is not None)
    try:
        page.goto(f"{server.base_url}/air?area={area['code']}&lang=ko")
        expect(page.locator("h1")).to_have_text("세종시 미세먼지")  # ?lang= still decides
        expect(page.locator("#chart .chart-title")).to_contain_text(area["name_ko"])
        row = page.locator(f'#areas tr[data-area="{area["code"]}"]')
        expect(row).to_have_class(re.compile(r"\bis-selected\b"))
        check_forecast(page, server, area["code"], "pm25", "ko")
        expect(page.locator("#area-notice")).to_be_hidden()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
        page.locator("#forecast").screenshot(path=str(tmp_path / "air-forecast-phone.png"))

        # An unknown code is set aside with a small notice; nothing is selected.
        page.goto(f"{server.base_url}/air?area=0000000&lang=en")
        expect(page.locator("#area-notice")).to_contain_text("0000000")
        expect(page.locator("#chart-hint")).to_be_visible()
        expect(page.locator("#forecast")).to_be_hidden()
        assert not problems, f"the page logged errors: {problems}"
    finally:
        context.close()


GROUPS_JS = ROOT / "src" / "citysmart" / "services" / "air" / "static" / "air_map_groups.js"

# Random badges (seeded) at several densities through group() and widen(): what comes out.
PLACE_AT_RANDOM = """([n, seed]) => {
  let state = seed;
  const random = () => (state = (state * 16807) % 2147483647) / 2147483647;
  const items = Array.from({ length: n }, (_, id) => {
    const w = 30 + random() * 40;
    return { id, x: random() * 800, y: random() * 600, w, h: 18, wide: { w: w * 2.2, h: 18 } };
  });
  const { group, widen } = window.CitysmartAirGroups;
  const size = (members) => ({ w: 44 + 4 * String(members.length).length, h: 20 });
  const clusters = group(items, size, 3);
  const rank = (item) => item.id;
  const wide = widen(clusters, rank, 3);
  return {
    items: items.map(({ id, x, y, w, h }) => ({ id, x, y, w, h })),
    clusters: clusters.map((c) => ({
      ids: c.members.map((m) => m.id), x: c.x, y: c.y, w: c.w, h: c.h,
      wide: c.members.length === 1 && wide.has(c.members[0]),
    })),
  };
}"""


def _overlap(a: Mapping[str, float], b: Mapping[str, float], gap: float) -> bool:
    return (
        abs(a["x"] - b["x"]) < (a["w"] + b["w"]) / 2 + gap
        and abs(a["y"] - b["y"]) < (a["h"] + b["h"]) / 2 + gap
    )


@pytest.mark.parametrize(("count", "seed"), [(12, 1), (96, 7), (400, 11)])
def test_badge_placement_leaves_no_overlap_and_loses_no_sensor(
    browser: Browser, count: int, seed: int
) -> None:
    page = browser.new_page()
    try:
        page.add_script_tag(path=str(GROUPS_JS))
        placed = page.evaluate(PLACE_AT_RANDOM, [count, seed])
    finally:
        page.close()
    items = {item["id"]: item for item in placed["items"]}
    clusters = placed["clusters"]
    # Every badge is in exactly one place on the map.
    assert sorted(i for c in clusters for i in c["ids"]) == sorted(items)
    boxes = []
    for cluster in clusters:
        members = [items[i] for i in cluster["ids"]]
        if len(members) == 1:
            # A badge standing alone stays on its sensor.
            assert (cluster["x"], cluster["y"]) == (members[0]["x"], members[0]["y"])
        else:
            # A group sits amid its sensors.
            assert cluster["x"] == pytest.approx(sum(m["x"] for m in members) / len(members))
            assert cluster["y"] == pytest.approx(sum(m["y"] for m in members) / len(members))
        wide = 2.2 if cluster["wide"] else 1.0
        boxes.append({**cluster, "w": cluster["w"] * wide})
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not _overlap(a, b, 3), (a, b)
    # Sparse badges all stand alone; dense ones are gathered.
    if count <= 12:
        assert len(clusters) >= count - 2
    else:
        assert len(clusters) < count
    # A badge that stayed short had no room for its long label.
    for i, cluster in enumerate(boxes):
        if len(cluster["ids"]) == 1 and not cluster["wide"]:
            longer = {**cluster, "w": cluster["w"] * 2.2}
            others = boxes[:i] + boxes[i + 1 :]
            assert any(_overlap(longer, other, 3) for other in others), cluster
