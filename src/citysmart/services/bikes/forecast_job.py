"""The hourly demand forecast: each station's pickups and returns for the next 24 hours.

The counts come from the stored trips (from the first stored trip on, so hours before the
history began are not taken for quiet ones); the forecast sees only hours before the
current one. No weather feed reaches the hub yet, so the weather inputs are unknown (the
model treats them as missing) and the forecasts say so in their source line.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from citysmart.core.service import Job
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.demand.features import HourlyWeather
from citysmart.services.bikes.demand.stations import (
    StationForecast,
    StationForecastSettings,
    StationHistories,
    forecast_stations,
)
from citysmart.services.bikes.models import Trip
from citysmart.services.bikes.models_plan import DemandForecast
from citysmart.services.bikes.stations import read_stations
from citysmart.services.bikes.trip_counts import hourly_counts

logger = logging.getLogger(__name__)
HOUR = dt.timedelta(hours=1)
SEOUL = ZoneInfo("Asia/Seoul")
HISTORY = dt.timedelta(days=56)
EVERY_S = 3600.0
SOURCE = (
    "pooled gradient boosting on the stored trips (hour of week, Korean holidays, recent "
    "counts); no weather feed yet"
)


@dataclass(frozen=True, slots=True)
class ForecastReport:
    """What one forecast run did."""

    start: dt.datetime
    stations: int
    by_model: int
    seconds: float


def floor_hour(when: dt.datetime) -> dt.datetime:
    """Return the start of the hour holding ``when`` (UTC)."""
    return when.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _first_trip(session: Session) -> dt.datetime | None:
    first: dt.datetime | None = session.scalar(select(func.min(Trip.start_time)))
    return first


def forecast_now(
    session: Session, now: dt.datetime, settings: StationForecastSettings | None = None
) -> list[StationForecast]:
    """Forecast every registered station's next 24 hours from the trips stored so far."""
    start = floor_hour(now)
    codes = [s.code for s in read_stations(session)]
    if not codes:
        return []
    first = _first_trip(session)
    begin = max(start - HISTORY, floor_hour(first)) if first else start - 24 * HOUR
    begin = min(begin, start - HOUR)  # at least one hour of (possibly empty) history
    counts = hourly_counts(session, codes, begin, start)
    # Hours of the day, weekdays and holidays are Sejong's: the model sees local time.
    history = StationHistories(counts.start.astimezone(SEOUL), counts.stations)
    hours = history.hours + 24
    unknown = np.full(hours, np.nan)
    weather = HourlyWeather(unknown, unknown.copy(), unknown.copy(), unknown.copy())
    return forecast_stations(history, weather, start.astimezone(SEOUL), settings=settings)


def store_forecasts(
    session: Session, forecasts: list[StationForecast], issued_at: dt.datetime
) -> None:
    """Replace the stored forecasts from the forecasts' first hour on."""
    if not forecasts:
        return
    start = forecasts[0].start
    session.execute(delete(DemandForecast).where(DemandForecast.hour >= start))
    session.add_all(
        DemandForecast(
            station_code=f.station_id, hour=start + k * HOUR, pickups=pickups,
            returns=returns, method=f.method, issued_at=issued_at,
        )
        for f in forecasts
        for k, (pickups, returns) in enumerate(zip(f.pickups, f.returns, strict=True))
    )  # fmt: skip


def stored_forecasts(
    session: Session, start: dt.datetime, hours: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Return each station's stored pickups and returns for ``hours`` from ``start``."""
    rows = session.scalars(
        select(DemandForecast).where(
            DemandForecast.hour >= start, DemandForecast.hour < start + hours * HOUR
        )
    )
    result: dict[str, tuple[list[float], list[float]]] = {}
    for row in rows:
        pickups, returns = result.setdefault(row.station_code, ([0.0] * hours, [0.0] * hours))
        k = int((row.hour - start) / HOUR)
        pickups[k], returns[k] = row.pickups, row.returns
    return result


def run_forecast(runtime: HubRuntime, now: dt.datetime | None = None) -> ForecastReport:
    """Forecast and store the next 24 hours of every station."""
    began = time.perf_counter()
    now = now or utcnow()
    with runtime.sessions.begin() as session:
        forecasts = forecast_now(session, now)
        store_forecasts(session, forecasts, utcnow())
    report = ForecastReport(
        floor_hour(now),
        len(forecasts),
        sum(f.method == "model" for f in forecasts),
        time.perf_counter() - began,
    )
    logger.info(
        "bikes: forecast from %s for %d stations (%d by the model) in %.1f s",
        report.start.isoformat(), report.stations, report.by_model, report.seconds,
    )  # fmt: skip
    return report


def forecast_job(context: Any) -> None:
    """Run the hourly forecast (the runner passes the hub's runtime)."""
    run_forecast(context)


FORECAST_JOBS = (Job("bikes.forecast", forecast_job, EVERY_S),)
