"""The demo's bike network: Sejong's counts, inside the city, demand shaped like Seoul's."""

from __future__ import annotations

import datetime as dt

import numpy as np
from shapely.geometry import Point, shape

from citysmart.sim.bikes import (
    BIKES,
    STATIONS,
    demand_rates,
    sejong_stations,
    seoul_hour_of_week,
)
from citysmart.sim.geography import load_areas


def test_the_network_has_sejongs_counts_inside_its_areas() -> None:
    stations = sejong_stations()
    assert len(stations) == STATIONS == 492
    assert sum(s.bikes for s in stations) == BIKES == 2225
    assert all(0 <= s.bikes <= s.capacity for s in stations)
    assert 1.5 * BIKES <= sum(s.capacity for s in stations) <= 2.5 * BIKES
    assert len({s.station_id for s in stations}) == STATIONS
    polygons = {a.code: shape(a.geometry) for a in load_areas()}
    assert all(polygons[s.area_code].contains(Point(s.lon, s.lat)) for s in stations)
    # The new town and Jochiwon hold most stations.
    urban = sum(s.area_code in {"2901011"} or s.area_code >= "2901050" for s in stations)
    assert urban >= 0.8 * STATIONS
    assert sejong_stations() == stations  # seeded: the same demo every time
    assert sejong_stations(seed=1) != stations


def test_seoul_profile_has_rush_hours_and_quiet_nights() -> None:
    profile = seoul_hour_of_week()
    assert profile.shape == (168,)
    tuesday = profile[24:48]
    assert tuesday[18] > 3 * tuesday[4]  # the evening rush against the small hours
    assert tuesday[8] > tuesday[5]


def test_rates_follow_seoul_and_send_mornings_to_work() -> None:
    stations = sejong_stations()
    wednesday = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)  # hour-of-week arithmetic only
    pickups, returns = demand_rates(stations, wednesday, 24)
    assert pickups.shape == returns.shape == (STATIONS, 24)
    scale = BIKES / 20_000
    np.testing.assert_allclose(pickups.sum(axis=0), seoul_hour_of_week()[48:72] * scale)
    np.testing.assert_allclose(returns.sum(axis=0), pickups.sum(axis=0))
    work = np.array([s.work for s in stations])
    office, home = int(np.argmax(work)), int(np.argmin(work))
    assert returns[office, 8] > pickups[office, 8]  # riders arrive at work at 8
    assert pickups[office, 18] > returns[office, 18]  # and leave at 18
    assert pickups[home, 8] > returns[home, 8]
