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
    """Return the sensor-hours with ≥ 75 % capture per (area, pollutant) in ``[start, end)``.

    Counted per sensor (an index range, no join), then summed by the sensors' areas.
    """
    areas = {
        sensor_id: code
        for sensor_id, code in session.execute(
            select(AirSensor.id, AirSensor.area_code).where(AirSensor.area_code.is_not(None))
        )
    }
    rows = session.execute(
        select(AirHourly.sensor_id, AirHourly.variable, func.count())
        .where(
            AirHourly.hour >= start,
            AirHourly.hour < end,
            AirHourly.variable.in_(PM_VARIABLES),
            AirHourly.sufficient.is_(True),
        )
        .group_by(AirHourly.sensor_id, AirHourly.variable)
    )
    counts: dict[tuple[str, str], int] = {}
    for sensor_id, variable, n in rows:
        code = areas.get(sensor_id)
        if code is not None:
            key = (str(code), str(variable))
            counts[key] = counts.get(key, 0) + int(n)
    return counts


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
