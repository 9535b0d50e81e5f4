"""Hourly and 24-hour means with data-capture rules, and AirKorea's real-time values.

Rules (the hourly job and the reports rely on them):

- Hourly mean: the mean of the valid readings in the hour ``[start, start + 1 h)`` (UTC;
  Korea's hours fall on the same boundaries). Valid = present (not NaN) and unflagged.
  The hour counts only with at least 75 % data capture: valid readings ≥ 0.75 × the
  number expected from the sensor's reporting interval. Below that the hour is marked
  insufficient and its mean is NaN, so it can never be graded by mistake. AirKorea labels
  an hour by its end (14시 = 13:00–14:00); we label by its start.
- 24-hour mean: the mean of 24 hourly means, valid with at least 18 valid hours (75 %, as
  for the hour, and the usual rule for Korea's daily PM standards); NaN otherwise.
- AirKorea real-time values: the latest hour's mean, and the predicted 24-hour moving
  average ``C24E = (12·C12 + 12·C4) / 24``. C12 is the mean of the last 12 hours; C4 the
  mean of the last 4 hours where an hour counts as ``0.75·Ci`` when ``Ci ≥ M`` and
  ``0.9 ≤ Ci / C12 ≤ 1.7`` (M = 70 µg/m³ for PM10, 30 for PM2.5), damping a rise that is
  already carried by the 12-hour mean. Missing hours (our choice, documented because
  AirKorea's publication does not settle it): both windows use the hours that are valid
  and need 75 % of them, at least 9 of 12 and 3 of 4; otherwise C24E is NaN. The ratio
  test uses C12 over its valid hours; its bounds are inclusive (to 1e-9, against float
  noise in C12).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from citysmart.services.air.types import (
    BoolArray,
    FloatArray,
    IntArray,
    Pollutant,
    TimeArray,
    TimesLike,
    as_pollutant,
    epoch_seconds,
)

MIN_CAPTURE = 0.75
MIN_HOURS_24H = 18
# AirKorea's thresholds M above which a rising hour in C4 is damped by 0.75.
DAMPING_THRESHOLD = {Pollutant.PM10: 70.0, Pollutant.PM25: 30.0}
_RATIO_TOLERANCE = 1e-9
_HOUR = 3600


@dataclass(frozen=True)
class HourlyMeans:
    """Hourly means along the last axis; ``mean`` is NaN where capture is insufficient."""

    hour_start: TimeArray
    mean: FloatArray
    count: IntArray
    expected: int
    capture: FloatArray
    sufficient: BoolArray

    def hours_utc(self) -> list[dt.datetime]:
        """Return the hour starts as aware UTC datetimes."""
        seconds = self.hour_start.astype("datetime64[s]").astype(np.int64)
        return [dt.datetime.fromtimestamp(int(s), dt.UTC) for s in seconds]


def expected_per_hour(interval: dt.timedelta) -> int:
    """Return how many readings an hour holds at a reporting interval (at most one hour)."""
    seconds = interval.total_seconds()
    if seconds <= 0 or seconds > _HOUR:
        raise ValueError(f"reporting interval must be over 0 s and at most 1 h, got {interval}")
    return max(1, round(_HOUR / seconds))


def _hour_number(value: dt.datetime | np.datetime64) -> int:
    """Return the whole hours since the epoch of the hour that contains ``value``."""
    return math.floor(float(epoch_seconds(np.asarray([value]))[0]) / _HOUR)


def hourly_means(
    times: TimesLike,
    values: ArrayLike,
    *,
    interval: dt.timedelta,
    flags: ArrayLike | None = None,
    start: dt.datetime | np.datetime64 | None = None,
    end: dt.datetime | np.datetime64 | None = None,
    min_capture: float = MIN_CAPTURE,
) -> HourlyMeans:
    """Average readings per hour, keeping only hours with enough valid readings.

    ``values`` is ``(..., readings)`` (one row per sensor, NaN = missing) and ``times`` has
    one time per reading, shared by the rows or shaped like ``values``. ``flags`` (shaped
    like ``values``) excludes every reading whose flag is not zero. The hours run from
    the hour of ``start`` to the hour before ``end`` (default: every hour the readings
    touch); hours without any reading are returned too, as insufficient.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("values must be an array of readings, not one number")
    seconds = np.broadcast_to(epoch_seconds(times), x.shape)
    valid = ~np.isnan(x)
    if flags is not None:
        flag_array = np.asarray(flags)
        if flag_array.shape != x.shape:
            raise ValueError(f"flags shape {flag_array.shape} differs from values {x.shape}")
        valid &= flag_array == 0
    expected = expected_per_hour(interval)
    hour_of = np.floor(seconds / _HOUR).astype(np.int64)
    if start is not None:
        first = _hour_number(start)
    elif seconds.size:
        first = int(hour_of.min())
    else:
        raise ValueError("no readings and no start: cannot tell which hours to return")
    last = _hour_number(end) - 1 if end is not None else int(hour_of.max(initial=first))
    n_hours = max(0, last - first + 1)

    rows = x.reshape(-1, x.shape[-1])
    slot = (hour_of - first).reshape(rows.shape)
    keep = valid.reshape(rows.shape) & (slot >= 0) & (slot < n_hours)
    row_index = np.broadcast_to(np.arange(rows.shape[0])[:, None], rows.shape)
    cell = (row_index * n_hours + slot)[keep]
    size = rows.shape[0] * n_hours
    count = np.bincount(cell, minlength=size)
    total = np.bincount(cell, weights=rows[keep], minlength=size)
    shape = (*x.shape[:-1], n_hours)
    count = count.reshape(shape)
    sufficient = count >= min_capture * expected - 1e-9
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sufficient, total.reshape(shape) / count, np.nan)
    hours = (np.arange(first, first + n_hours) * _HOUR).astype("datetime64[s]")
    return HourlyMeans(
        hour_start=hours.astype("datetime64[h]"),
        mean=mean,
        count=count.astype(np.int64),
        expected=expected,
        capture=np.minimum(count / expected, 1.0),
        sufficient=sufficient,
    )


def mean_24h(hourly: ArrayLike, min_hours: int = MIN_HOURS_24H) -> float:
    """Return the mean of 24 hourly means, or NaN with fewer than ``min_hours`` valid."""
    values = np.asarray(hourly, dtype=np.float64)
    if values.shape != (24,):
        raise ValueError(f"a 24-hour mean needs 24 hourly values, got shape {values.shape}")
    valid = values[~np.isnan(values)]
    return float(valid.mean()) if valid.size >= min_hours else math.nan


def moving_mean_24h(hourly: ArrayLike, min_hours: int = MIN_HOURS_24H) -> FloatArray:
    """Return the trailing 24-hour mean ending at each hour, NaN below ``min_hours`` valid.

    Hours before the start of the series count as missing.
    """
    values = np.asarray(hourly, dtype=np.float64)
    valid = ~np.isnan(values)
    sums = np.concatenate(([0.0], np.cumsum(np.where(valid, values, 0.0))))
    counts = np.concatenate(([0], np.cumsum(valid)))
    ends = np.arange(1, values.size + 1)
    begins = np.maximum(ends - 24, 0)
    n = counts[ends] - counts[begins]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums[ends] - sums[begins]) / n
    result: FloatArray = np.where(n >= min_hours, means, np.nan)
    return result


def daily_means(
    hour_start: TimesLike,
    hourly: ArrayLike,
    *,
    utc_offset_hours: int = 9,
    min_hours: int = MIN_HOURS_24H,
) -> tuple[list[dt.date], FloatArray]:
    """Return calendar-day means (Asia/Seoul days by default, UTC+9 without DST).

    Each day needs ``min_hours`` valid hourly means; days come back in order.
    """
    values = np.asarray(hourly, dtype=np.float64)
    seconds = epoch_seconds(hour_start)
    if seconds.shape != values.shape or values.ndim != 1:
        raise ValueError("hour_start and hourly must be 1-D and of the same length")
    day = np.floor((seconds + utc_offset_hours * _HOUR) / 86_400).astype(np.int64)
    days = np.unique(day)
    valid = ~np.isnan(values)
    index = np.searchsorted(days, day[valid])
    count = np.bincount(index, minlength=days.size)
    total = np.bincount(index, weights=values[valid], minlength=days.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(count >= min_hours, total / count, np.nan)
    epoch = dt.date(1970, 1, 1)
    return [epoch + dt.timedelta(days=int(d)) for d in days], means


@dataclass(frozen=True)
class RealtimeValues:
    """AirKorea-style real-time figures for one sensor and pollutant (NaN = not enough data)."""

    value_1h: float
    c12: float
    c4: float
    c24e: float
    valid_hours_12: int
    valid_hours_4: int


def airkorea_realtime(hourly: ArrayLike, pollutant: Pollutant | str) -> RealtimeValues:
    """Return the latest hourly value and the predicted 24-hour average C24E.

    ``hourly`` are consecutive hourly means, oldest first, ending with the current hour
    (NaN for a missing or insufficient hour); only the last 12 are used.
    """
    threshold = DAMPING_THRESHOLD[as_pollutant(pollutant)]
    values = np.asarray(hourly, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("hourly must be a non-empty 1-D series of hourly means")
    window = np.concatenate((np.full(max(0, 12 - values.size), np.nan), values[-12:]))
    last12 = window[~np.isnan(window)]
    recent = window[-4:]
    recent = recent[~np.isnan(recent)]
    c12 = float(last12.mean()) if last12.size >= 9 else math.nan
    c4 = math.nan
    if recent.size >= 3 and not math.isnan(c12):
        ratio = recent / c12 if c12 > 0 else np.full(recent.size, np.inf)
        damped = (
            (recent >= threshold)
            & (ratio >= 0.9 - _RATIO_TOLERANCE)
            & (ratio <= 1.7 + _RATIO_TOLERANCE)
        )
        c4 = float(np.where(damped, 0.75 * recent, recent).mean())
    c24e = (12 * c12 + 12 * c4) / 24 if not math.isnan(c4) else math.nan
    return RealtimeValues(
        value_1h=float(values[-1]),
        c12=c12,
        c4=c4,
        c24e=c24e,
        valid_hours_12=int(last12.size),
        valid_hours_4=int(recent.size),
    )
