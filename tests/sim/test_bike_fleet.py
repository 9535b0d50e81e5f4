"""The demo's bike stations report through the hub as riders take and return bikes."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.stations import read_stations
from citysmart.sim.bike_fleet import BikeRiders, drop_trip_history, seed_bike_stations
from citysmart.sim.bike_roster import plan_horizon
from citysmart.sim.bikes import BIKES, STATIONS, sejong_stations

# 08:00 on a Wednesday in Sejong: the morning rush.
RUSH = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def test_stations_report_and_riders_move_bikes_without_losing_any(runtime: HubRuntime) -> None:
    sites = seed_bike_stations(runtime, at=RUSH - dt.timedelta(minutes=1))
    with runtime.sessions.begin() as session:
        stored = read_stations(session)
    assert len(stored) == STATIONS
    assert sum(s.bikes or 0 for s in stored) == BIKES
    riders = BikeRiders(runtime, sites, tick_s=1800.0)
    reported = riders.step(RUSH)
    assert reported > 30  # half an hour of the rush: riders across the city
    riding = len(riders.riding)
    assert riding > 30
    with runtime.sessions.begin() as session:
        after = {s.code: s for s in read_stations(session)}
    assert sum(s.bikes or 0 for s in after.values()) + riding == BIKES
    assert all(
        (s.bikes or 0) + (s.docks or 0) == s.capacity for s in after.values()
    )  # every report is whole
    # Twenty-five minutes later every ride of the first tick has ended at a station.
    riders.step(RUSH + dt.timedelta(minutes=26))
    assert all(when > RUSH + dt.timedelta(minutes=26) for when, _ in riders.riding)
    assert int(riders.bikes.sum()) + len(riders.riding) == BIKES


def test_four_weeks_of_trips_are_delivered_once_as_a_csv_export(tmp_path: Path) -> None:
    sites = sejong_stations()
    path = drop_trip_history(sites, tmp_path)
    assert path == tmp_path / "bikes" / "trip-inbox" / "demo-trips.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Seoul's use per bike: about 1,900 trips a day over 2,225 bikes.
    assert 28 * 1500 < len(rows) < 28 * 2300
    codes = {s.station_id for s in sites}
    for row in rows[:2000]:
        began = dt.datetime.fromisoformat(row["start_time"])
        assert began.utcoffset() == dt.timedelta(hours=9)  # Seoul time, offset written
        assert dt.datetime.fromisoformat(row["end_time"]) > began
        assert {row["start_station"], row["end_station"]} <= codes
    assert drop_trip_history(sites, tmp_path) is None  # delivered once, not at each start
    assert not list(path.parent.glob("*.partial"))


def test_quiet_stations_still_report_every_few_minutes(runtime: HubRuntime) -> None:
    night = RUSH.replace(hour=3)
    sites = seed_bike_stations(runtime, at=night - dt.timedelta(minutes=1))
    riders = BikeRiders(runtime, sites, tick_s=30.0)
    riders.last_report[:] = (night - dt.timedelta(minutes=1)).timestamp()
    assert riders.step(night) < 20  # 03:00: a few riders at most
    assert riders.step(night + dt.timedelta(minutes=5)) == STATIONS  # the heartbeat
    with runtime.sessions.begin() as session:
        stored = read_stations(session)
    beat = night + dt.timedelta(minutes=5)
    assert all(s.last_reported == beat for s in stored)


@pytest.mark.parametrize(
    ("hour", "minute", "horizon"),
    [(9, 0, 4), (21, 59, 4), (22, 0, 12), (23, 30, 11), (2, 0, 8), (5, 59, 5)],
)
def test_the_first_plan_covers_the_next_shift_after_hours(
    hour: int, minute: int, horizon: int
) -> None:
    at = dt.datetime(2026, 11, 25, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert plan_horizon(at) == horizon
