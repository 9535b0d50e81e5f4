"""`citysmart demo` as a newcomer runs it: Sejong seeded, devices live over MQTT."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from citysmart.sim.geography import PILOT_AREA_CODES, iot_sites, load_areas, reference_sites
from tests.conftest import free_port


def test_sensors_are_placed_inside_their_pilot_areas() -> None:
    from citysmart.core.geo import point_in_multipolygon

    areas = {a.code: a for a in load_areas()}
    sites = iot_sites(list(areas.values()))
    assert len(areas) == 17
    assert len(sites) == 10 * len(PILOT_AREA_CODES) == 90
    for site in sites:
        assert site.area_code is not None
        polygon = areas[site.area_code].geometry["coordinates"]
        assert point_in_multipolygon(site.lon, site.lat, polygon)
    references = reference_sites()
    assert len(references) == 6
    # The real AirKorea site in Areum-dong, from the shipped station list.
    assert any(abs(s.lat - 36.51212) < 1e-6 and abs(s.lon - 127.24643) < 1e-6 for s in references)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    port, mqtt_port = free_port(), free_port()
    env = {
        **os.environ,
        "CITYSMART_DATA_DIR": str(tmp_path),
        "CITYSMART_EMBEDDED_MQTT_PORT": str(mqtt_port),
    }
    for name in ("CITYSMART_DATABASE_URL", "CITYSMART_MQTT_URL"):
        env.pop(name, None)
    log = (tmp_path / "demo.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "citysmart", "demo", "--port", str(port), "--interval", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The demo computes 48 air maps and seeds every service before it prints; a loaded
        # machine (CI beside other work) has taken four minutes.
        deadline = time.monotonic() + 300
        password = None
        while time.monotonic() < deadline and proc.poll() is None and password is None:
            found = re.search(r"password '([^']+)'", (tmp_path / "demo.log").read_text())
            password = found.group(1) if found else None
            time.sleep(0.3)
        assert password, (tmp_path / "demo.log").read_text()
        yield f"http://127.0.0.1:{port}", password
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise
        log.close()


def test_the_demo_serves_sejong_with_live_readings(demo: tuple[str, str], tmp_path: Path) -> None:
    base, password = demo
    with httpx.Client(base_url=base, timeout=10) as http:
        form = http.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        signed_in = http.post(
            "/signin", data={"username": "operator", "password": password, "csrf": csrf.group(1)}
        )
        assert signed_in.status_code == 303

        def latest_times() -> dict[str, str]:
            body = http.get(
                "/api/v1/entities", params={"type": "AirQualityObserved", "limit": 1000}
            )
            assert body.status_code == 200
            data = body.json()["data"]
            assert len(data) == 96
            return {
                e["id"]: e["latest"]["pm10"]["observedAt"] for e in data if "pm10" in e["latest"]
            }

        first = latest_times()
        areas = http.get("/api/v1/entities", params={"type": "AdministrativeArea"}).json()
        assert areas["count"] == 17
        assert {
            d["status"]
            for e in http.get("/api/v1/entities", params={"limit": 1000}).json()["data"]
            for d in e["devices"]
        } == {"active"}
        time.sleep(3)
        second = latest_times()
        advanced = [e for e in second if second[e] > first.get(e, "")]
        assert len(advanced) == 96, "every simulated device keeps reporting over MQTT"
        health = http.get("/healthz").json()
        assert health == {"status": "ok", "database": "ok", "mqtt": "ok"}
        # The bike network: 492 stations and 2,225 bikes, live in the GBFS feeds.
        feeds = http.get("/gbfs/gbfs.json").json()["data"]["feeds"]
        status_url = next(f["url"] for f in feeds if f["name"] == "station_status")
        stations = http.get(status_url).json()["data"]["stations"]
        assert len(stations) == 492
        docked = sum(s["num_vehicles_available"] for s in stations)
        assert 2000 < docked <= 2225  # riders take some out after the first 30 s
        assert all(s["is_renting"] for s in stations)
        # Four weeks of trip history arrived through the service's import folder.
        trips = http.get("/api/v1/bikes/trips", params={"limit": 10000}).json()["trips"]
        assert 1000 < len(trips) < 3000  # the last day's
        # The crew (4 trucks, 10 staff) is set up over HTTP and a first plan is made.
        assert len(http.get("/api/v1/bikes/trucks").json()["trucks"]) == 4
        assert len(http.get("/api/v1/bikes/staff").json()["staff"]) == 10
        deadline = time.monotonic() + 90
        plan = http.get("/api/v1/bikes/plans/active")
        while plan.status_code == 404 and time.monotonic() < deadline:
            time.sleep(1)
            plan = http.get("/api/v1/bikes/plans/active")
        assert plan.status_code == 200, plan.text
        body = plan.json()
        assert len(body["routes"]) <= 4
        assert 0 <= body["bikes_planned"] <= body["bikes_wanted"]
        # At night the forecast may leave every station in its range: no jobs then.
        jobs = sum(len(r["jobs"]) for r in body["routes"])
        assert (jobs > 0) == (body["bikes_planned"] > 0)
        # The participation scene is seeded over HTTP after the crew; its citizen signs in.
        deadline = time.monotonic() + 120
        log = ""
        while "  Participation: '" not in log and time.monotonic() < deadline:
            time.sleep(1)
            log = (tmp_path / "demo.log").read_text()  # the fixture's tmp_path
        assert "in the vote" in log, log[-2000:]
        found = re.search(r"user 'citizen', password '([^']+)'", log)
        assert found, log[-2000:]
        with httpx.Client(base_url=base, timeout=10) as citizen:
            token = re.search(r'name="csrf" value="([^"]+)"', citizen.get("/signin").text)
            assert token
            signed_in = citizen.post(
                "/signin",
                data={"username": "citizen", "password": found.group(1), "csrf": token.group(1)},
            )
            assert signed_in.status_code == 303
        process = http.get("/api/v1/participation/processes/sejong-2026-citizen-proposals")
        assert process.status_code == 200
        assert process.json()["proposal_count"] == 6
