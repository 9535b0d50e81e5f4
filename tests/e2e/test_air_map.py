"""The public fine-dust map in a real browser, against a real server with readings it stored.

Registers a few AirQualityObserved sensors' devices (``citysmart devices add``), starts
``python -m citysmart serve`` (jobs off, so the test decides when the hourly job runs),
marks the reference station on its entity and sends hours of SenML readings through the
HTTP API, runs the air service's hourly job, then drives Debian's chromium (Playwright)
over ``/air``: graded markers in words, the surface drawn (checked on a screenshot's
pixels), the hour slider, the 24-hour chart, the language toggle, a stale sensor greyed,
and a phone's viewport. Screenshots are kept in the test's temporary folder.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import struct
import subprocess
import sys
import time
import zlib
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.services.air import SERVICE
from citysmart.services.air.grades import grade
from tests.conftest import free_port, unavailable

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
LEAFLET = ROOT / "src" / "citysmart" / "portal" / "static" / "vendor" / "leaflet" / "leaflet.js"
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
OPERATOR = "air-e2e-operator"
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


@dataclass
class Server:
    """A running ``citysmart serve`` with the sensors the test stored readings for."""

    base_url: str
    hours: list[str]  # the hours with a map, newest last


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "citysmart", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"citysmart {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.25)
    pytest.fail(f"the server was not healthy within 60 s ({last}):\n{log.read_text()[-4000:]}")


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


def _register_devices(env: dict[str, str]) -> dict[str, str]:
    """Register each sensor's device (and so its entity) as an operator does; return keys."""
    keys = {}
    for sensor in SENSORS:
        added = _cli(
            env,
            "devices",
            "add",
            f"e2e-{sensor.key}",
            "--entity",
            sensor.entity,
            "--type",
            "AirQualityObserved",
            "--name",
            sensor.name,
            "--lat",
            str(sensor.lat),
            "--lon",
            str(sensor.lon),
        )
        keys[sensor.key] = added.strip().splitlines()[-1]
    return keys


def _store_readings(base_url: str, token: str, keys: dict[str, str]) -> None:
    """Mark the reference station and reporting intervals on the entities; send readings."""
    now = time.time()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for sensor in SENSORS:
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


def _run_hourly_job(data: Path, secret_key: str) -> None:
    """Run the air service's hourly job, as a worker's runner does, on the server's database."""
    settings = Settings(data_dir=data, mqtt_ingest=False, secret_key=secret_key)
    runtime = HubRuntime.create(settings)
    try:
        job = next(job for job in SERVICE.jobs if job.name == "air.hourly")
        job.run(runtime)
    finally:
        runtime.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the real server on a free port with its own SQLite file, then feed it."""
    data = tmp_path_factory.mktemp("air-e2e")
    http_port, mqtt_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYSMART_")}
    env.update(
        CITYSMART_DATA_DIR=str(data),
        CITYSMART_EMBEDDED_MQTT_PORT=str(mqtt_port),
        CITYSMART_SECRET_KEY="e2e-secret-key-0123456789-abcdefghijklmnop",
        # The test runs the hourly job itself, once the readings are in.
        CITYSMART_RUN_JOBS="0",
        PYTHONUNBUFFERED="1",
    )
    _cli(env, "users", "add", OPERATOR, "--role", "operator", "--no-password")
    token = _cli(env, "users", "token", OPERATOR).strip().splitlines()[-1]
    keys = _register_devices(env)
    log = data / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "citysmart",
                "serve",
                "--no-mqtt",
                "--host",
                "127.0.0.1",
                "--port",
                str(http_port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{http_port}"
        _wait_healthy(base_url, process, log)
        _store_readings(base_url, token, keys)
        _run_hourly_job(data, env["CITYSMART_SECRET_KEY"])
        hours = httpx.get(f"{base_url}/api/v1/air/hours", timeout=10).json()["hours"]
        assert len(hours) >= HOURS - 1, f"maps for {hours}:\n{log.read_text()[-4000:]}"
        yield Server(base_url, hours)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (Playwright's own download does not work here)."""
    if not CHROMIUM.exists():
        unavailable("chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    if not LEAFLET.exists():
        unavailable(
            "Leaflet",
            "the map assets are not built (npm ci --prefix web && python scripts/build_assets.py)",
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def watch_problems(page: Page) -> list[str]:
    """Collect script errors, CSP violations and failed requests of a page."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return problems


def kst(iso: str) -> str:
    """Format an API time as the page shows it: YYYY-MM-DD HH:MM in Seoul."""
    when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return when.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M")


def marker(page: Page, sensor: Sensor) -> Locator:
    """The visible part of a sensor's marker (its pill)."""
    return page.locator(f'.air-marker[data-sensor="{sensor.entity}"] .air-marker-body')


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit non-interlaced RGB(A) PNG, as Chromium's screenshots are, to RGB."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None, "no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert (depth, interlace) == (8, 0), header
    assert colour in (2, 6), header
    bpp = 3 if colour == 2 else 4
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), np.int64)
    previous = np.zeros(width * bpp, np.int64)
    for y in range(height):
        kind, line = int(rows[y, 0]), rows[y, 1:].astype(np.int64)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: a running sum per channel
            row = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) & 0xFF
        elif kind == 2:  # Up
            row = (line + previous) & 0xFF
        else:  # Average or Paeth: each byte depends on the one before it
            row = np.zeros_like(line)
            for x in range(width * bpp):
                a = int(row[x - bpp]) if x >= bpp else 0
                b = int(previous[x])
                if kind == 3:
                    guess = (a + b) >> 1
                else:
                    c = int(previous[x - bpp]) if x >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    guess = a if pa <= pb and pa <= pc else b if pb <= pc else c
                row[x] = (int(line[x]) + guess) & 0xFF
        out[y] = row
        previous = row
    return out.reshape(height, width, bpp)[:, :, :3].astype(np.uint8)


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
  return [...document.querySelectorAll(".air-marker-body")].map((node) => {
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


def surface_box(page: Page) -> dict[str, float]:
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
        expect(page.locator(".air-marker")).to_have_count(len(SENSORS))
        for sensor in LIVE:
            expected = grade(sensor.pm25, "pm25")
            assert expected.key == grade(sensor.pm10, "pm10").key  # one grade, both ways
            expect(marker(page, sensor)).to_contain_text(expected.label_en)
            expect(marker(page, sensor)).to_have_class(re.compile(rf"\bgrade-{expected.key}\b"))
        reference = next(s for s in SENSORS if s.reference)
        expect(marker(page, reference)).to_contain_text("Station")
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
        assert len(ratios) == len(SENSORS)
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

        # An area's row draws the area's chart.
        area = next(a for a in latest["areas"] if a["mean"] is not None)
        page.locator(f'#areas button[data-id="{area["code"]}"]').click()
        expect(chart.locator(".chart-title")).to_contain_text(area["name_en"])
        expect(chart.locator(".chart-bar").first).to_be_visible()

        # PM10: the surface and the legend follow.
        page.locator('label[for="pollutant-pm10"]').click()
        surface_drawn(page, hours[-1], "pm10")
        expect(page.locator("#legend-bands")).to_contain_text("31–80 µg/m³")

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
        expect(page.locator(".air-marker")).to_have_count(len(SENSORS))
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
        page.screenshot(path=str(tmp_path / "air-map-phone.png"), full_page=True)
        assert not problems, f"the page logged errors: {problems}"
    finally:
        context.close()
