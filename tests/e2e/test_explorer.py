"""The hub explorer in a real browser, against a real server fed over MQTT.

Starts ``python -m citysmart serve`` with its embedded broker, signs in through the form in
Debian's chromium (driven by Playwright), and watches a reading published over MQTT appear
on the page without a reload.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import (
    ROOT,
    cli,
    need_leaflet,
    serve,
    server_env,
    sign_in_redirected,
    watch_problems,
)

pytestmark = pytest.mark.e2e

RESULTS = ROOT / "test-results"
USER, PASSWORD = "operator1", "e2e-operator-password"
DEVICE = "aq-e2e-01"
ENTITY = "urn:ngsi-ld:AirQualityObserved:sejong-hansol-01"


@dataclass(frozen=True)
class Server:
    """A running ``citysmart serve`` and how to reach it."""

    base_url: str
    mqtt_port: int
    device_key: str
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run the real server on free ports with its own SQLite file and embedded broker."""
    data = tmp_path_factory.mktemp("e2e")
    env = server_env(data)
    del env["CITYSMART_RUN_JOBS"]  # this server runs its jobs as by default
    cli(env, "users", "add", USER, "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    added = cli(
        env,
        "devices",
        "add",
        DEVICE,
        "--entity",
        ENTITY,
        "--type",
        "AirQualityObserved",
        "--name",
        "Hansol-dong air quality",
        "--lat",
        "36.4805",
        "--lon",
        "127.2583",
    )
    device_key = added.strip().splitlines()[-1]
    with serve(env, mqtt=True) as base_url:
        mqtt_port = int(env["CITYSMART_EMBEDDED_MQTT_PORT"])
        yield Server(base_url, mqtt_port, device_key, data / "server.log")


@pytest.fixture(scope="module")
def browser(browser: Browser) -> Browser:
    """The shared chromium, once the map assets are known to be built."""
    need_leaflet()
    return browser


def publish(port: int, device_id: str, pack: list[dict[str, object]]) -> None:
    """Publish one SenML pack with QoS 1 and wait until the broker has it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"e2e-{device_id}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        info = client.publish(f"citysmart/v1/devices/{device_id}/senml", json.dumps(pack), qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), "the broker did not acknowledge the reading"
    finally:
        client.disconnect()
        client.loop_stop()


def sign_in(page: Page, base_url: str) -> None:
    """Open the explorer, be sent to sign in, and come back to it signed in."""
    sign_in_redirected(page, base_url, "/hub/explorer", USER, PASSWORD)


def test_explorer_shows_the_map_devices_and_live_readings(server: Server, browser: Browser) -> None:
    RESULTS.mkdir(exist_ok=True)
    # The browser runs on UTC: the page must still show Seoul time.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    # CSP violations and script errors are logged as console errors.
    problems = watch_problems(page, responses=False)
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    try:
        sign_in(page, server.base_url)
        expect(page.locator(".leaflet-overlay-pane path.boundary")).to_have_count(17)
        expect(page.locator(".area-label", has_text="조치원읍")).to_have_count(1)
        devices = page.locator("#devices tbody")
        expect(devices).to_contain_text(DEVICE)
        expect(devices).to_contain_text("active")
        expect(devices).to_contain_text("never")
        expect(page.locator(".entity-marker")).to_have_count(1)
        expect(page.locator("#entities tbody")).to_contain_text("한솔동")  # the point's area
        expect(page.locator("#status")).to_contain_text("Last updated")

        observed = int(time.time())
        publish(server.mqtt_port, DEVICE, [{"bt": observed, "n": "pm10", "u": "ug/m3", "v": 37.5}])
        entities = page.locator("#entities tbody")
        expect(entities.locator("[data-attr=pm10] .value")).to_have_text("37.5", timeout=15_000)
        expect(entities).to_contain_text("µg/m³")
        seoul = dt.datetime.fromtimestamp(observed, zoneinfo.ZoneInfo("Asia/Seoul"))
        expect(entities).to_contain_text(seoul.strftime("%Y-%m-%d %H:%M:%S"))
        expect(devices).to_contain_text("s ago")

        # A second reading is highlighted as a change, with its direction in words too.
        second = [{"bt": observed + 1, "n": "pm10", "u": "ug/m3", "v": 41}]
        publish(server.mqtt_port, DEVICE, second)
        changed = entities.locator("li.changed[data-attr=pm10]")
        expect(changed).to_contain_text("41", timeout=15_000)
        expect(changed).to_contain_text("up from 37.5")

        page.screenshot(path=str(RESULTS / "explorer.png"), full_page=True)

        # The entity's name in the table shows it on the map, with its values in a popup.
        page.locator("#entities [data-focus]").first.click()
        expect(page.locator(".leaflet-popup-content")).to_contain_text("pm10")
        expect(page.locator("#map .leaflet-zoom-anim")).to_have_count(0)
        expect(page.locator("#map.zoomed-out")).to_have_count(0)  # dong names show when close
        page.screenshot(path=str(RESULTS / "explorer-popup.png"))
        assert not problems, f"the page logged errors: {problems}"
    finally:
        context.close()


def test_explorer_fits_a_phone(server: Server, browser: Browser) -> None:
    RESULTS.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    try:
        sign_in(page, server.base_url)
        expect(page.locator(".leaflet-overlay-pane path.boundary")).to_have_count(17)
        expect(page.locator("#devices tbody")).to_contain_text(DEVICE)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
        page.screenshot(path=str(RESULTS / "explorer-phone.png"), full_page=True)
    finally:
        context.close()


def test_api_docs_render_from_local_assets(server: Server, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    # CSP violations and script errors are logged as console errors.
    problems = watch_problems(page, responses=False)
    try:
        page.goto(f"{server.base_url}/docs")
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/ingest")).to_have_count(1)
        assert not problems, f"the docs page logged errors: {problems}"
    finally:
        context.close()
