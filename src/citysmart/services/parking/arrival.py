"""What guidance knows of each lot at the driver's arrival: a forecast, or the free spaces now.

For an arrival now (``arrive_in`` 0) the lot's live free spaces are used as they are. For a
later arrival, the newest stored forecast for that time is used when there is one; else
the free spaces now, with a *persistence-width* 80% interval: persistence's error grows
with the horizon, and on Bath's car parks (the only real data here) its mean absolute
error was about 6.5% of a lot's capacity per hour ahead (10.2 / 39.4 / 113.2 spaces at
+15 min / +1 h / +3 h for lots of about 600 spaces). For a normal error the 80%
half-width is 1.6 x the mean absolute error, so the half-width is
``1.6 x 0.065 x capacity x hours ahead`` (at least one space), clipped to 0..capacity.
Lots whose feed is not trusted (``unknown``) are left out: guidance never guesses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from citysmart.services.parking.guidance import LotForecast
from citysmart.services.parking.live import UNKNOWN, LiveView
from citysmart.services.parking.models import FreeSpaceForecast

PERSISTENCE_MAE_PER_HOUR: Final = 0.065  # of capacity, Bath 2016 (see above)
MAE_TO_HALF_WIDTH_80: Final = 1.6  # 1.2816 sd / 0.7979 sd for a normal error


def persistence_interval(free: int, capacity: int, minutes: float) -> tuple[float, float]:
    """Return the 80% interval around today's free spaces ``minutes`` ahead."""
    if minutes <= 0:
        return float(free), float(free)
    half = max(MAE_TO_HALF_WIDTH_80 * PERSISTENCE_MAE_PER_HOUR * capacity * minutes / 60, 1.0)
    return max(free - half, 0.0), min(free + half, float(capacity))


def lot_forecasts(
    views: Iterable[LiveView], minutes: float, stored: Mapping[str, FreeSpaceForecast]
) -> tuple[list[LotForecast], dict[str, str]]:
    """Return guidance's input per lot, and the source used per lot (or why it was left out)."""
    out: list[LotForecast] = []
    sources: dict[str, str] = {}
    for view in views:
        if view.lon is None or view.lat is None:
            sources[view.code] = "left out: no location"
            continue
        forecast = stored.get(view.code) if minutes > 0 else None
        if forecast is not None and view.status != "closed":
            expected, low, high = forecast.free_expected, forecast.free_low, forecast.free_high
            sources[view.code] = "forecast"
        elif view.status == UNKNOWN or view.free is None:
            sources[view.code] = "left out: occupancy unknown"
            continue
        else:
            expected = float(view.free)
            low, high = persistence_interval(view.free, view.capacity, minutes)
            sources[view.code] = "live" if minutes <= 0 else "persistence"
        out.append(
            LotForecast(
                view.code,
                view.name,
                view.lon,
                view.lat,
                view.capacity,
                expected,
                low,
                high,
                view.status,
            )
        )
    return out, sources
