"""Hourly pickups and returns per station, counted from the stored trips."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.services.bikes.demand.stations import StationHistories, StationHistory
from citysmart.services.bikes.models import Trip

HOUR = dt.timedelta(hours=1)


def hourly_counts(
    session: Session, stations: Sequence[str], start: dt.datetime, end: dt.datetime
) -> StationHistories:
    """Count each station's pickups and returns per hour in ``[start, end)`` (on the hour)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the period must be aware datetimes")
    first = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    hours = max(int((end - first) / HOUR), 0)
    index = {code: i for i, code in enumerate(stations)}
    pickups = np.zeros((len(stations), hours))
    returns = np.zeros((len(stations), hours))
    begin_s, span = first.timestamp(), hours * 3600
    rows = session.execute(
        select(Trip.start_station, Trip.start_time, Trip.end_station, Trip.end_time).where(
            Trip.end_time >= first, Trip.start_time < end
        )
    )
    for start_station, started, end_station, ended in rows:
        for code, when, counts in (
            (start_station, started, pickups),
            (end_station, ended, returns),
        ):
            offset = when.timestamp() - begin_s
            station = index.get(code)
            if station is not None and 0 <= offset < span:
                counts[station, int(offset // 3600)] += 1
    return StationHistories(
        start=first,
        stations=[
            StationHistory(code, tuple(pickups[i]), tuple(returns[i])) for code, i in index.items()
        ],
    )
