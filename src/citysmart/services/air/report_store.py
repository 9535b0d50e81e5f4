"""What the monthly report reads: area hours, sensors' capture, 12-month means (plain rows).

Aggregated figures only: nothing here reads or returns anything about a person.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysmart.services.air.models import AirAreaHour, AirHourly, AirMapHour, AirSensor

PM_VARIABLES = ("pm10", "pm25")


def computed_range(session: Session) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Return the first and the latest hour the hourly job has processed."""
    first, last = session.execute(
        select(func.min(AirMapHour.hour), func.max(AirMapHour.hour))
    ).one()
    return first, last


def mapped_hours(session: Session, start: dt.datetime, end: dt.datetime) -> int:
    """Return how many hours in ``[start, end)`` have a drawn map of either pollutant."""
    stmt = select(func.count(func.distinct(AirMapHour.hour))).where(
        AirMapHour.hour >= start, AirMapHour.hour < end, AirMapHour.status == "ok"
    )
    return int(session.scalar(stmt) or 0)


def area_hours(
    session: Session, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, str, str, float | None, float | None]]:
    """Return (hour, pollutant, area, mean, worst) of every area hour in ``[start, end)``."""
    a = AirAreaHour
    rows = session.execute(
        select(a.hour, a.pollutant, a.area_code, a.mean, a.worst).where(
            a.hour >= start, a.hour < end
        )
    )
    return [(h, p, c, m, w) for h, p, c, m, w in rows]


def sensors_per_area(session: Session) -> dict[str, int]:
    """Return how many sensors each area holds."""
    rows = session.execute(
        select(AirSensor.area_code, func.count())
        .where(AirSensor.area_code.is_not(None))
        .group_by(AirSensor.area_code)
    )
    return {str(code): int(n) for code, n in rows}


def captured_sensor_hours(
    session: Session, start: dt.datetime, end: dt.datetime
) -> dict[tuple[str, str], int]:
    """Return the sensor-hours with ≥ 75 % capture per (area, pollutant) in ``[start, end)``."""
    rows = session.execute(
        select(AirSensor.area_code, AirHourly.variable, func.count())
        .join(AirSensor, AirSensor.id == AirHourly.sensor_id)
        .where(
            AirHourly.hour >= start,
            AirHourly.hour < end,
            AirHourly.variable.in_(PM_VARIABLES),
            AirHourly.sufficient.is_(True),
            AirSensor.area_code.is_not(None),
        )
        .group_by(AirSensor.area_code, AirHourly.variable)
    )
    return {(str(code), str(variable)): int(n) for code, variable, n in rows}


def period_means(
    session: Session, start: dt.datetime, end: dt.datetime
) -> dict[tuple[str, str], tuple[float, int]]:
    """Return the mean of the hourly area means and their count per (area, pollutant)."""
    a = AirAreaHour
    rows = session.execute(
        select(a.area_code, a.pollutant, func.avg(a.mean), func.count(a.mean))
        .where(a.hour >= start, a.hour < end, a.mean.is_not(None))
        .group_by(a.area_code, a.pollutant)
    )
    return {(str(c), str(p)): (float(m), int(n)) for c, p, m, n in rows if m is not None}


def sensor_sources(session: Session) -> list[str]:
    """Return the distinct data sources of the sensors (replay labels among them)."""
    return sorted(set(session.scalars(select(AirSensor.source).distinct())))


__all__ = [
    "area_hours",
    "captured_sensor_hours",
    "computed_range",
    "mapped_hours",
    "period_means",
    "sensor_sources",
    "sensors_per_area",
]
