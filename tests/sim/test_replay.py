"""The demo's replay of Beijing's real series onto Sejong's sensors, labelled as such."""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.air import SERVICE
from citysmart.services.air.areas import city_grid
from citysmart.services.air.jobs import floor_hour, run_hourly
from citysmart.sim.demo import BACKFILL_STEP, backfill, seed, sejong_sites
from citysmart.sim.geography import PILOT_AREA_CODES
from citysmart.sim.replay import (
    BEIJING,
    HOURS,
    KST,
    REPLAY_LABEL,
    Replay,
    Station,
    assign_stations,
    beijing_folder,
    fill_gaps,
    load_stations,
    replay_index,
)
from tests.services.air.factories import clear_air_tables


@pytest.fixture(scope="module")
def stations() -> list[Station]:
    return load_stations()


@pytest.fixture(scope="module")
def replay(stations: list[Station]) -> Replay:
    areas, sites = sejong_sites()
    return Replay(assign_stations(areas, sites, stations))


def _csv_value(station: str, when: dt.datetime, column: str) -> float:
    """Read one value of one station's file as published (Beijing local time)."""
    path = next(beijing_folder().glob(f"PRSA_Data_{station}_*.csv"))
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            key = (int(row["year"]), int(row["month"]), int(row["day"]), int(row["hour"]))
            if key == (when.year, when.month, when.day, when.hour):
                return float(row[column]) if row[column] != "NA" else math.nan
    raise AssertionError(f"no row for {when}")


def hour_of_year(year: int, month: int, day: int, hour: int) -> int:
    """Return the index of a Beijing local hour in the data's year (from 2016-03-01)."""
    when = dt.datetime(year, month, day, hour, tzinfo=BEIJING)
    return (when - dt.datetime(2016, 3, 1, tzinfo=BEIJING)) // dt.timedelta(hours=1)


def test_now_replays_the_same_month_day_and_hour_of_beijings_year() -> None:
    autumn = dt.datetime(2026, 11, 25, 9, 30, tzinfo=KST)
    assert replay_index(autumn) == replay_index(dt.datetime(2016, 11, 25, 9, tzinfo=KST))
    assert replay_index(autumn) == hour_of_year(2016, 11, 25, 9)
    # UTC instants are read on the Korean clock: 00:30 UTC is 09:30 KST.
    assert replay_index(dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)) == replay_index(autumn)
    winter = replay_index(dt.datetime(2027, 1, 10, 23, tzinfo=KST))
    assert winter == hour_of_year(2017, 1, 10, 23)
    leap = replay_index(dt.datetime(2028, 2, 29, 12, tzinfo=KST))
    assert leap == replay_index(dt.datetime(2027, 2, 28, 12, tzinfo=KST))
    assert replay_index(dt.datetime(2026, 3, 1, 0, tzinfo=KST)) == 0
    assert replay_index(dt.datetime(2027, 2, 28, 23, tzinfo=KST)) == HOURS - 1


def test_each_pilot_area_replays_its_own_station_and_stations_replay_their_area(
    replay: Replay, stations: list[Station]
) -> None:
    areas, sites = sejong_sites()
    by_area: dict[str, set[str]] = {}
    for site in sites:
        if not site.reference:
            by_area.setdefault(str(site.area_code), set()).add(replay.station_of(site).name)
    assert set(by_area) == set(PILOT_AREA_CODES)
    assert all(len(names) == 1 for names in by_area.values())
    assert len({next(iter(n)) for n in by_area.values()}) == 9, "nine distinct stations"
    # The AirKorea site in Areum-dong (a pilot area) replays Areum-dong's station.
    areum = next(s for s in sites if s.reference and abs(s.lat - 36.51212) < 1e-6)
    assert replay.station_of(areum).name in by_area["2901059"]
    # The same assignment every run.
    again = Replay(assign_stations(areas, sites, stations))
    assert all(again.station_of(s).name == replay.station_of(s).name for s in sites)


def test_reference_sites_send_beijings_hourly_values(replay: Replay) -> None:
    _, sites = sejong_sites()
    station_site = next(s for s in sites if s.reference)
    when = dt.datetime(2026, 11, 25, 9, 20, tzinfo=KST)
    values = replay.values(station_site, when)
    name = replay.station_of(station_site).name
    expected = _csv_value(name, dt.datetime(2016, 11, 25, 9, tzinfo=BEIJING), "PM2.5")
    assert math.isfinite(expected), "the file has this hour (else the test would pick another)"
    assert values["pm25"] == round(expected)
    assert set(values) <= {"pm10", "pm25"}


def test_low_cost_sensors_read_the_series_with_their_own_bias_and_humidity(
    stations: list[Station],
) -> None:
    _, sites = sejong_sites()
    sensor = next(s for s in sites if not s.reference)
    # A station with known weather: 20 µg/m³ all year, dry then humid.
    flat = np.full(HOURS, 20.0)
    dry = replace(stations[0], pm25=flat, pm10=2 * flat, humidity=np.full(HOURS, 40.0))
    humid = replace(dry, humidity=np.full(HOURS, 88.0))
    start = dt.datetime(2026, 11, 1, tzinfo=KST)
    times = [start + k * BACKFILL_STEP for k in range(300)]

    def mean_pm25(station: Station) -> float:
        source = Replay({sensor.device_id: station})
        readings = [source.values(sensor, t) for t in times]
        assert all({"pm10", "pm25", "temperature", "relativeHumidity"} == set(r) for r in readings)
        return float(np.mean([r["pm25"] for r in readings]))

    in_dry, in_humid = mean_pm25(dry), mean_pm25(humid)
    assert 0.8 * 20 < in_dry < 1.45 * 20  # the sensor's gain, not a different level
    assert in_humid > 1.2 * in_dry  # optical sensors over-read in humid air
    # Two sensors on one station differ (each its own gain and noise).
    other = next(s for s in sites if not s.reference and s.device_id != sensor.device_id)
    source = Replay({sensor.device_id: dry, other.device_id: dry})
    assert source.values(sensor, times[0])["pm25"] != source.values(other, times[0])["pm25"]


def test_gaps_replay_the_last_measured_hour() -> None:
    series = np.array([math.nan, 5.0, math.nan, math.nan, 8.0, math.nan])
    assert fill_gaps(series).tolist() == [5.0, 5.0, 5.0, 5.0, 8.0, 8.0]
    assert np.isnan(fill_gaps(np.array([math.nan, math.nan]))).all()


def test_the_demo_seeds_labelled_replayed_sensors_and_its_map_says_so(
    runtime: HubRuntime, settings: Settings, replay: Replay
) -> None:
    clear_air_tables(runtime)
    areas, sites = seed(runtime, replay)
    assert len(sites) == 96
    # A few sensors for a few hours keep the test fast; the demo backfills 49 h of all.
    chosen = [s for s in sites if s.reference][:2] + [s for s in sites if not s.reference][::15]
    now = floor_hour(dt.datetime.now(dt.UTC)) + dt.timedelta(minutes=5)
    stored = backfill(runtime, chosen, replay.values, hours=3, end=now)
    assert stored > 0
    run_hourly(runtime, now, city_grid(800.0), max_hours=2)
    app = create_app(settings, services=[SERVICE], runtime=runtime, start_mqtt=False, migrate=False)
    with TestClient(app) as client:
        body = client.get("/api/v1/air/map").json()
        assert body["source"] == REPLAY_LABEL
        reporting = [s for s in body["sensors"] if s["pm25"] is not None]
        assert {s["id"] for s in reporting} == {s.entity_id for s in chosen}
        assert all(s["source"] == REPLAY_LABEL for s in body["sensors"])
        entity = client.get(f"/ngsi-ld/v1/entities/{chosen[-1].entity_id}").json()
        assert entity["source"]["value"] == REPLAY_LABEL
        assert "Beijing" in entity["replayedFrom"]["value"]
