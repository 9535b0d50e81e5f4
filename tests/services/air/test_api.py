"""The air API as the map page and open-data users call it (the contract in air_api.md).

One store is seeded per database and module; the tests read it (the operator test adds
users and calibrations no other test looks at).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from citysmart.core.config import Settings
from citysmart.core.db import make_engine
from citysmart.core.migrate import upgrade
from citysmart.core.time import isoformat
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.air import SERVICE, store
from citysmart.services.air import api as air_api
from citysmart.services.air.areas import PILOT_AREA_CODES, city_grid
from citysmart.services.air.calibration import CalibrationFit
from citysmart.services.air.grades import grade
from citysmart.services.air.grid import Grid
from citysmart.services.air.jobs import floor_hour, run_hourly
from citysmart.services.air.models import AIR_TABLES
from tests.factories import TABLES, create_user_with_token
from tests.services.air.factories import add_sensor, decode_png, steady, store_readings

HOUR = dt.timedelta(hours=1)
# Ten minutes past the last hour that has begun: in the past, so whole hours are fixed.
NOW = floor_hour(dt.datetime.now(dt.UTC)) - HOUR + dt.timedelta(minutes=10)
LATEST = floor_hour(NOW) - HOUR  # the newest whole hour at NOW
REPLAY = "replayed from Beijing (UCI data set), not Sejong's readings"
GRADE_KEYS = {"level", "key", "label_ko", "label_en", "colour"}


def seed(runtime: HubRuntime, grid: Grid) -> dict[str, str]:
    """Six sensors with eight hours of readings; the hourly job run over the last six."""
    sensors = {
        "dodam": add_sensor(runtime, "dodam-1", "2901053", source=REPLAY),
        "dodam2": add_sensor(runtime, "dodam-2", "2901053", shift=0.003),
        "jochiwon": add_sensor(runtime, "jochiwon-1", "2901011"),
        "silent": add_sensor(runtime, "silent-1", "2901056"),
        "sparse": add_sensor(runtime, "sparse-1", "2901058", interval_s=300),
        "station": add_sensor(runtime, "station-1", "2901033", reference=True, interval_s=3600),
    }
    start = NOW - 8 * HOUR
    store_readings(runtime, sensors["dodam"], steady(40, 20), start, NOW)
    store_readings(runtime, sensors["dodam2"], steady(60, 40), start, NOW)
    store_readings(runtime, sensors["jochiwon"], steady(100, 80), start, NOW)
    store_readings(runtime, sensors["silent"], steady(30, 10), start, NOW - 4 * HOUR)
    store_readings(runtime, sensors["sparse"], steady(30, 10), start, NOW, step_s=900)

    def hourly(t: float) -> dict[str, float]:
        return {"pm10": 45.0, "pm25": 22.0, "temperature": math.nan, "relativeHumidity": math.nan}

    # Hourly, the last one at NOW.
    store_readings(runtime, sensors["station"], hourly, start, NOW + HOUR / 2, step_s=3600)
    run_hourly(runtime, NOW, grid, max_hours=6)
    return {name: entity_id for name, (entity_id, _) in sensors.items()}


@dataclass
class Seeded:
    """One app on a seeded store, shared by the module's tests (they only read it)."""

    client: TestClient
    runtime: HubRuntime
    ids: dict[str, str]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest,
    migrated: dict[str, Engine],
    tmp_path_factory: pytest.TempPathFactory,
    coarse_grid: Grid,
) -> Iterator[Seeded]:
    """Seed once per database: the hub's and the air tables emptied, six sensors, six hours."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    engine = migrated.get(url)
    if engine is None:
        engine = migrated[url] = make_engine(url)
        upgrade(engine)
    with engine.begin() as conn:
        for table in (*AIR_TABLES, *TABLES):
            conn.execute(text(f"DELETE FROM {table}"))
    settings = Settings(
        database_url=url,
        data_dir=tmp_path_factory.mktemp("air-api"),
        mqtt_ingest=False,
        secret_key="test-secret-key-of-sufficient-length-0123456789",
    )
    runtime = HubRuntime.create(settings)
    ids = seed(runtime, coarse_grid)
    app = create_app(settings, services=[SERVICE], runtime=runtime, start_mqtt=False, migrate=False)
    with TestClient(app) as client:
        yield Seeded(client, runtime, ids)
    runtime.stop()


def problem(response: Any, status: int, *words: str) -> None:
    """Assert an RFC 7807 problem of this status whose detail says each word."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    for word in words:
        assert word in body["detail"], body


def test_hours_lists_the_computed_hours_newest_last(api: Seeded) -> None:
    body = api.client.get("/api/v1/air/hours").json()
    expected = [isoformat(LATEST - k * HOUR) for k in range(5, -1, -1)]
    assert body["hours"][-len(expected) :] == expected
    assert body["latest"] == isoformat(LATEST)
    assert body["updated_at"].endswith("Z")


def test_the_latest_map_has_every_field_of_the_contract(api: Seeded) -> None:
    body = api.client.get("/api/v1/air/map").json()
    assert body["hour"] == isoformat(LATEST)
    assert body["pollutant"] == "pm25"
    assert body["scheme"] == "kr"
    assert body["method_served"] in ("idw", "kriging")
    assert set(body["loo_rmse"]) == {"idw", "kriging"}
    served = body["loo_rmse"][body["method_served"]]
    assert served == min(body["loo_rmse"].values())
    assert REPLAY in body["source"]
    sensors = {s["id"]: s for s in body["sensors"]}
    assert set(sensors) == set(api.ids.values())
    for sensor in sensors.values():
        assert {
            "id", "name", "lon", "lat", "kind", "area_code", "stale", "last_seen",
            "pm10", "pm25", "capture_ok", "grade", "mean_24h", "c24e",
        } <= set(sensor)  # fmt: skip
    dodam = sensors[api.ids["dodam"]]
    assert dodam["kind"] == "lowcost"
    assert dodam["area_code"] == "2901053"
    assert dodam["pm25"] == pytest.approx(20.0, abs=0.5)
    assert dodam["capture_ok"] is True
    assert dodam["stale"] is False
    assert dodam["source"] == REPLAY
    assert set(dodam["grade"]) >= GRADE_KEYS
    assert (dodam["grade"]["key"], dodam["grade"]["label_ko"]) == ("moderate", "보통")
    assert sensors[api.ids["jochiwon"]]["grade"]["key"] == "very_unhealthy"
    assert sensors[api.ids["station"]]["kind"] == "reference"
    # A sensor silent for four hours is stale: hidden from the map, its last reading given.
    silent = sensors[api.ids["silent"]]
    assert silent["stale"] is True
    assert silent["pm25"] is None
    assert silent["grade"] is None
    assert silent["last_seen"] < isoformat(LATEST - 2 * HOUR)
    # A sensor under 75 % capture shows no value and no grade.
    sparse = sensors[api.ids["sparse"]]
    assert sparse["capture_ok"] is False
    assert sparse["pm25"] is None
    assert sparse["grade"] is None
    assert sparse["stale"] is False
    areas = {a["code"]: a for a in body["areas"]}
    assert len(areas) == 17
    assert {c for c, a in areas.items() if a["pilot"]} == PILOT_AREA_CODES
    jochiwon = areas["2901011"]
    assert (jochiwon["name_ko"], jochiwon["name_en"]) == ("조치원읍", "Jochiwon-eup")
    assert jochiwon["worst"] >= jochiwon["mean"] > areas["2901053"]["mean"]
    assert jochiwon["worst_grade"]["key"] == "very_unhealthy"
    assert set(jochiwon["mean_grade"]) >= GRADE_KEYS
    surface = body["surface"]
    assert surface["url"] == (
        f"/api/v1/air/surface.png?hour={isoformat(LATEST)}&pollutant=pm25&method=served"
    )
    (south, west), (north, east) = surface["bounds"]
    assert 36.3 < south < north < 36.8
    assert 127.0 < west < east < 127.5


def test_a_given_hour_and_pm10(api: Seeded) -> None:
    hour = isoformat(LATEST - 2 * HOUR)
    body = api.client.get("/api/v1/air/map", params={"hour": hour, "pollutant": "pm10"}).json()
    assert body["hour"] == hour
    assert body["pollutant"] == "pm10"
    dodam = next(s for s in body["sensors"] if s["id"] == api.ids["dodam"])
    assert dodam["pm10"] == pytest.approx(40.0, abs=0.5)
    assert dodam["grade"]["key"] == "moderate"  # PM10 40: 31-80
    assert "pollutant=pm10" in body["surface"]["url"]
    # The same instant with an offset names the same hour.
    kst = (LATEST - 2 * HOUR).astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat()
    assert api.client.get("/api/v1/air/map", params={"hour": kst}).json()["hour"] == hour


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"hour": "yesterday"}, 400, ("not an ISO 8601 time",)),
        ({"hour": "2026-11-25T07:30:00Z"}, 400, ("not the start of an hour",)),
        ({"hour": "2026-11-25T07:00:00"}, 400, ("no UTC offset",)),
        ({"pollutant": "o3"}, 400, ("unknown pollutant",)),
        ({"hour": "2020-01-01T00:00:00Z"}, 404, ("2020-01-01T00:00:00Z",)),
    ],
)
def test_bad_map_requests_say_what_is_wrong(
    api: Seeded,
    params: dict[str, str],
    status: int,
    words: tuple[str, ...],
) -> None:
    problem(api.client.get("/api/v1/air/map", params=params), status, *words)


def test_the_surface_png_covers_the_city_and_each_method(api: Seeded) -> None:
    url = api.client.get("/api/v1/air/map").json()["surface"]["url"]
    response = api.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    indices, colours, alpha = decode_png(response.content)
    grid = city_grid()
    assert indices.shape == grid.shape
    assert alpha[0] == 0, "index 0 is transparent (outside the city)"
    inside = indices != 0
    # As many cells drawn as the grid keeps inside the boundary (rows resampled, not lost).
    assert abs(int(inside.sum()) - int(grid.mask.sum())) < 0.01 * grid.mask.sum()
    assert indices[0, 0] == 0
    assert indices[-1, -1] == 0
    served = api.client.get("/api/v1/air/map").json()["method_served"]
    assert response.headers["x-method"] == served
    other = "idw" if served == "kriging" else "kriging"
    second = api.client.get(url.replace("method=served", f"method={other}"))
    assert second.status_code == 200
    assert second.headers["x-method"] == other
    assert not np.array_equal(decode_png(second.content)[0], indices)
    problem(api.client.get(url.replace("method=served", "method=spline")), 400, "spline")
    problem(api.client.get("/api/v1/air/surface.png", params={"hour": "2020-01-01T00:00:00Z"}), 404)


def test_areas_geojson(api: Seeded) -> None:
    response = api.client.get("/api/v1/air/areas.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 17
    properties = [f["properties"] for f in body["features"]]
    assert {p["code"] for p in properties if p["pilot"]} == PILOT_AREA_CODES
    dodam = next(p for p in properties if p["code"] == "2901053")
    assert dodam["name_ko"] == "도담동"
    assert body["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_series_of_a_sensor_and_of_an_area(api: Seeded) -> None:
    body = api.client.get("/api/v1/air/series", params={"sensor": api.ids["dodam"]}).json()
    points = body["points"]
    assert len(points) == 24
    assert points[-1]["hour"] == isoformat(LATEST)
    assert set(points[-1]) >= {"hour", "pm10", "pm25", "grade_pm10", "grade_pm25"}
    assert points[-1]["pm25"] == pytest.approx(20.0, abs=0.5)
    assert points[-1]["grade_pm25"]["key"] == "moderate"
    assert points[0]["pm25"] is None  # before the sensor's readings: null, not missing
    sparse = api.client.get(
        "/api/v1/air/series", params={"sensor": api.ids["sparse"], "hours": 3}
    ).json()
    assert [p["pm25"] for p in sparse["points"]] == [None, None, None]
    area = api.client.get("/api/v1/air/series", params={"area": "2901011", "hours": 6}).json()
    assert len(area["points"]) == 6
    assert all(p["pm25"] is not None for p in area["points"])
    last = area["points"][-1]
    assert last["grade_pm25"]["key"] == grade(last["pm25"], "pm25").key
    assert last["pm25"] <= last["worst_pm25"] <= 80.5


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({}, 400, ("either sensor",)),
        ({"sensor": "x", "area": "2901011"}, 400, ("not both",)),
        ({"area": "2901011", "hours": "0"}, 400, ("from 1 to",)),
        ({"area": "2901011", "hours": "5000"}, 400, ("5000",)),
        ({"sensor": "urn:ngsi-ld:AirQualityObserved:nope"}, 404, ("nope",)),
        ({"area": "9999999"}, 404, ("9999999",)),
    ],
)
def test_bad_series_requests_say_what_is_wrong(
    api: Seeded, params: dict[str, str], status: int, words: tuple[str, ...]
) -> None:
    problem(api.client.get("/api/v1/air/series", params=params), status, *words)


@pytest.mark.parametrize("path", ["/api/v1/air/stale", "/api/v1/air/calibration"])
def test_operator_routes_need_the_operator_role(api: Seeded, path: str) -> None:
    assert api.client.get(path).status_code == 401
    citizen = create_user_with_token(api.runtime, f"cit{len(path)}", "citizen")
    response = api.client.get(path, headers={"Authorization": f"Bearer {citizen}"})
    problem(response, 403, "operator")


def test_operators_see_stale_sensors_and_calibrations(
    api: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = create_user_with_token(api.runtime, "op", "operator")
    auth = {"Authorization": f"Bearer {token}"}
    # The stale check asks the clock: pin it, so a slow run (or a clock stepped by NTP
    # mid-run, which once made every sensor look silent in CI) cannot change the answer.
    monkeypatch.setattr(air_api, "utcnow", lambda: NOW + HOUR)
    stale = api.client.get("/api/v1/air/stale", headers=auth).json()
    assert stale["checked_at"] == isoformat(NOW + HOUR)
    # The others read until NOW, an hour before the check; one stopped four hours earlier.
    assert [s["id"] for s in stale["sensors"]] == [api.ids["silent"]]
    first = stale["sensors"][0]
    assert first["silent_for_s"] > 4 * 3600
    assert first["last_seen"] < isoformat(NOW - 4 * HOUR)
    fitted = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    with api.runtime.sessions.begin() as session:
        store.save_fit(
            session,
            CalibrationFit(
                api.ids["dodam"], api.ids["station"], 4200.0, "linear",
                {"intercept": 1.0, "raw": 0.7, "rh": -0.05}, 120, 0.91, 3.2, 2.5, 7.5, 6.0,
                fitted, fitted - dt.timedelta(days=7), fitted,
            ),
            "pm25",
        )  # fmt: skip
        store.save_refusal(
            session, api.ids["dodam2"], "pm25", "only 5 co-located hours", fitted, None, None
        )
    fits = api.client.get("/api/v1/air/calibration", headers=auth).json()["fits"]
    by_key = {(f["sensor"], f["pollutant"]): f for f in fits}
    assert (api.ids["station"], "pm25") not in by_key  # reference stations are not calibrated
    dodam = by_key[(api.ids["dodam"], "pm25")]
    assert dodam["status"] == "ok"
    assert dodam["station"] == api.ids["station"]
    assert dodam["station_name"] == "sensor station-1"
    assert dodam["coefficients"] == {"intercept": 1.0, "raw": 0.7, "rh": -0.05}
    assert (dodam["n"], dodam["r2"], dodam["rmse"]) == (120, 0.91, 3.2)
    assert dodam["fitted_at"] == "2026-11-24T00:00:00Z"
    refused = by_key[(api.ids["dodam2"], "pm25")]
    assert refused["status"] == "refused"
    assert refused["last_attempt"]["reason"] == "only 5 co-located hours"
    assert by_key[(api.ids["jochiwon"], "pm10")]["status"] == "pending"


def test_csv_and_geojson_downloads(api: Seeded) -> None:
    params = {"start": isoformat(LATEST - HOUR), "end": isoformat(LATEST + HOUR)}
    response = api.client.get("/api/v1/air/export.csv", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # Two hours; every sensor that reported in them (the silent one did not).
    assert {r["hour"] for r in rows} == {isoformat(LATEST - HOUR), isoformat(LATEST)}
    assert len(rows) == 2 * 5
    dodam = next(r for r in rows if r["sensor_id"] == api.ids["dodam"])
    assert float(dodam["pm25"]) == pytest.approx(20.0, abs=0.5)
    assert dodam["source"] == REPLAY
    sparse = next(r for r in rows if r["sensor_id"] == api.ids["sparse"])
    assert sparse["pm25"] == ""  # under 75 % capture
    assert float(sparse["pm25_capture"]) == pytest.approx(1 / 3, abs=0.01)
    geo = api.client.get("/api/v1/air/export.geojson", params=params)
    assert geo.headers["content-type"].startswith("application/geo+json")
    body = geo.json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == len(rows)
    assert REPLAY in body["sources"]
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert {"hour", "sensor_id", "pm10", "pm25", "source"} <= set(feature["properties"])


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start": "2026-11-25T05:00:00Z", "end": "2026-11-25T04:00:00Z"}, ("must be before",)),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, ("at most 31 days",)),
        ({"start": "soon"}, ("start",)),
    ],
)
@pytest.mark.parametrize("kind", ["csv", "geojson"])
def test_bad_download_periods_say_what_is_wrong(
    api: Seeded, params: dict[str, str], words: tuple[str, ...], kind: str
) -> None:
    problem(api.client.get(f"/api/v1/air/export.{kind}", params=params), 400, *words)
