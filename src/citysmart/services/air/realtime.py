"""Each sensor's 24-hour mean and AirKorea's real-time figures (C24E) at a map hour.

AirKorea shows, beside the latest hourly value, the 24-hour mean and the predicted 24-hour
moving average C24E (``means.airkorea_realtime``). Both come from the stored hourly means
of the day before the hour, read in one query for every sensor.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.services.air.means import airkorea_realtime, mean_24h
from citysmart.services.air.models import AirHourly

_HOUR = dt.timedelta(hours=1)
POLLUTANTS = ("pm10", "pm25")


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One sensor's figures for one pollutant at an hour (None: not enough valid hours)."""

    mean_24h: float | None
    c24e: float | None
    valid_hours_24: int


def figures_at(session: Session, hour: dt.datetime) -> dict[str, dict[str, DayFigures]]:
    """Return ``{sensor: {pollutant: DayFigures}}`` for the 24 hours ending with ``hour``."""
    start = hour - 23 * _HOUR
    rows = session.execute(
        select(AirHourly.sensor_id, AirHourly.variable, AirHourly.hour, AirHourly.value).where(
            AirHourly.variable.in_(POLLUTANTS),
            AirHourly.hour >= start,
            AirHourly.hour <= hour,
            AirHourly.sufficient.is_(True),
        )
    )
    series: dict[tuple[str, str], list[float]] = defaultdict(lambda: [math.nan] * 24)
    for sensor, variable, at, value in rows:
        if value is not None:
            series[(sensor, variable)][int((at - start) / _HOUR)] = float(value)
    out: dict[str, dict[str, DayFigures]] = defaultdict(dict)
    for (sensor, variable), values in series.items():
        array = np.asarray(values)
        mean = mean_24h(array)
        c24e = airkorea_realtime(array, variable).c24e
        out[sensor][variable] = DayFigures(
            mean_24h=None if math.isnan(mean) else round(mean, 1),
            c24e=None if math.isnan(c24e) else round(c24e, 1),
            valid_hours_24=int(np.count_nonzero(~np.isnan(array))),
        )
    return dict(out)


__all__ = ["DayFigures", "figures_at"]
