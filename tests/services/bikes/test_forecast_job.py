"""Hourly counts from stored trips, and the stored 24-hour forecast per station."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.forecast_job import run_forecast, stored_forecasts
from citysmart.services.bikes.models import Trip
from citysmart.services.bikes.trip_counts import hourly_counts
from tests.services.bikes.factories import add_stations

KST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=KST)  # just after midnight in Sejong


def commute(runtime: HubRuntime, days: int) -> int:
    """Store ``days`` of commutes: SJ003 -> SJ001 at 8:00-8:50 and back at 18:00-18:50 (KST)."""
    rows = []
    for day in range(days, 0, -1):
        midnight = NOW.replace(hour=0, minute=0) - dt.timedelta(days=day)
        for k in range(6):
            for hour, origin, dest in ((8, "SJ003", "SJ001"), (18, "SJ001", "SJ003")):
                began = midnight + dt.timedelta(hours=hour, minutes=10 * k)
                rows.append(
                    Trip(bike_id=f"B{k}-{hour}", start_time=began, start_station=origin,
                         end_station=dest, end_time=began + dt.timedelta(minutes=20))
                )  # fmt: skip
    with runtime.sessions.begin() as session:
        session.add_all(rows)
    return len(rows)


def test_counts_put_pickups_and_returns_in_their_hours(bikes_runtime: HubRuntime) -> None:
    add_stations(bikes_runtime)
    commute(bikes_runtime, 2)
    start = NOW.replace(hour=0, minute=0) - dt.timedelta(days=2)
    with bikes_runtime.sessions() as session:
        counts = hourly_counts(
            session, ["SJ001", "SJ003", "SJ002"], start, start + dt.timedelta(days=1)
        )
    assert counts.start == start.astimezone(dt.UTC)
    assert counts.hours == 24
    city_hall, jochiwon, quiet = counts.stations
    assert jochiwon.pickups[8] == 6  # six riders leave Jochiwon between 8:00 and 8:50
    assert city_hall.returns[8] == 4  # rides of 20 minutes: four end before 9:00
    assert city_hall.returns[9] == 2
    assert city_hall.pickups[18] == 6
    assert sum(quiet.pickups) == sum(quiet.returns) == 0
    assert sum(jochiwon.pickups) == 6
    with pytest.raises(ValueError, match="aware"):
        hourly_counts(session, ["SJ001"], start.replace(tzinfo=None), start)


def test_the_forecast_job_stores_a_day_that_follows_the_commute(
    bikes_runtime: HubRuntime,
) -> None:
    add_stations(bikes_runtime)
    commute(bikes_runtime, 21)
    report = run_forecast(bikes_runtime, NOW)
    assert report.stations == 3
    assert report.by_model == 3  # three weeks of history: the model, not the fallback
    with bikes_runtime.sessions() as session:
        day = stored_forecasts(session, report.start, 24)
    assert set(day) == {"SJ001", "SJ002", "SJ003"}
    pickups = np.array(day["SJ003"][0])
    assert report.start == NOW.replace(minute=0).astimezone(dt.UTC)
    assert pickups.argmax() == 8  # 08:00 KST is the report's ninth hour
    assert pickups[8] > 3
    assert np.all(pickups >= 0)
    assert np.array(day["SJ001"][1])[8] > np.array(day["SJ001"][1])[3]
    # A second run replaces the hours ahead instead of adding to them.
    run_forecast(bikes_runtime, NOW)
    with bikes_runtime.sessions() as session:
        again = stored_forecasts(session, report.start, 24)
    assert again["SJ003"][0] == pytest.approx(day["SJ003"][0])
