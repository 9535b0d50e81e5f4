"""The demo's bike stations report through the hub as riders take and return bikes."""

from __future__ import annotations

import datetime as dt

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.stations import read_stations
from citysmart.sim.bike_fleet import BikeRiders, seed_bike_stations
from citysmart.sim.bikes import BIKES, STATIONS

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
