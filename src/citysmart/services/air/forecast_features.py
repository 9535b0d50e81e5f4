"""Hourly PM series per area and the past-only features the forecast models read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
POLLUTANTS = ("pm25", "pm10")
HOUR = np.timedelta64(1, "h")

# Lags (hours before the origin) and trailing windows; a day covers the diurnal cycle.
_LAGS = (1, 2, 3, 6, 12, 24)
_WINDOWS = (3, 6, 12, 24)


@dataclass(frozen=True)
class AreaSeries:
    """Hourly PM2.5 and PM10 means per area on consecutive UTC hours, NaN where missing."""

    times: NDArray[np.datetime64]
    areas: tuple[str, ...]
    pm25: FloatArray
    pm10: FloatArray
    weather: Mapping[str, FloatArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        times = np.asarray(self.times).astype("datetime64[h]")
        object.__setattr__(self, "times", times)
        shape = (times.size, len(self.areas))
        if times.size and np.any(np.diff(times) != HOUR):
            raise ValueError("times must be consecutive hours (put missing hours in as NaN)")
        for name in POLLUTANTS:
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.shape != shape:
                raise ValueError(f"{name} has shape {values.shape}, expected {shape}")
            object.__setattr__(self, name, values)
        weather: dict[str, FloatArray] = {}
        for name, raw in self.weather.items():
            values = np.asarray(raw, dtype=np.float64)
            if values.shape == (times.size,):
                # one city-wide reading applies to every area
                values = np.repeat(values[:, None], shape[1], axis=1)
            if values.shape != shape:
                raise ValueError(f"weather {name!r} has shape {values.shape}, expected {shape}")
            weather[name] = values
        object.__setattr__(self, "weather", weather)

    @property
    def hours(self) -> int:
        """Return the number of hours in the series."""
        return int(self.times.size)

    def values(self, pollutant: str) -> FloatArray:
        """Return the (hours, areas) array of one pollutant."""
        if pollutant not in POLLUTANTS:
            raise ValueError(f"unknown pollutant {pollutant!r} (use one of {POLLUTANTS})")
        result: FloatArray = getattr(self, pollutant)
        return result

    def index_of(self, time: np.datetime64 | dt.datetime) -> int:
        """Return the row of an hour; an aware datetime is taken in UTC."""
        hour = to_hour(time)
        if not self.hours or hour < self.times[0] or hour > self.times[-1]:
            raise ValueError(f"{hour} is outside the series")
        return int((hour - self.times[0]) // HOUR)


def to_hour(time: np.datetime64 | dt.datetime) -> np.datetime64:
    """Return the UTC hour of a datetime64 (taken as UTC) or of an aware datetime."""
    if isinstance(time, dt.datetime):
        if time.tzinfo is None:
            raise ValueError("naive datetime: give an aware time (UTC or +09:00)")
        time = np.datetime64(time.astimezone(dt.UTC).replace(tzinfo=None), "us")
    hour: np.datetime64 = time.astype("datetime64[h]")
    return hour


def series_from_hourly_means(
    rows: Iterable[tuple[dt.datetime, str, float | None, float | None]],
) -> AreaSeries:
    """Build a series from (hour, area, PM2.5, PM10) rows; absent hours become NaN."""
    records = [(to_hour(time), area, pm25, pm10) for time, area, pm25, pm10 in rows]
    if not records:
        raise ValueError("no hourly means given")
    areas = tuple(sorted({area for _, area, _, _ in records}))
    start = min(hour for hour, _, _, _ in records)
    stop = max(hour for hour, _, _, _ in records)
    hours = int((stop - start) // HOUR) + 1
    column = {area: i for i, area in enumerate(areas)}
    pm25 = np.full((hours, len(areas)), np.nan)
    pm10 = np.full((hours, len(areas)), np.nan)
    for hour, area, v25, v10 in records:
        row = int((hour - start) // HOUR)
        pm25[row, column[area]] = np.nan if v25 is None else v25
        pm10[row, column[area]] = np.nan if v10 is None else v10
    times = start + np.arange(hours) * HOUR
    return AreaSeries(times=times, areas=areas, pm25=pm25, pm10=pm10)


def last_observed(values: FloatArray, max_age_hours: int) -> tuple[FloatArray, FloatArray]:
    """Return the latest reading at or before each hour and its age, NaN past max_age_hours."""
    hours = values.shape[0]
    rows = np.arange(hours)[:, None]
    seen = np.where(np.isfinite(values), rows, -1)
    latest = np.maximum.accumulate(seen, axis=0)
    age = (rows - latest).astype(np.float64)
    usable = (latest >= 0) & (age <= max_age_hours)
    picked = np.take_along_axis(values, np.maximum(latest, 0), axis=0)
    return np.where(usable, picked, np.nan), np.where(usable, age, np.nan)


def trailing_mean(values: FloatArray, window: int) -> FloatArray:
    """Return the mean of the readings in the last `window` hours up to each hour, NaN-tolerant."""
    finite = np.isfinite(values)
    sums = np.cumsum(np.where(finite, values, 0.0), axis=0)
    counts = np.cumsum(finite, axis=0).astype(np.float64)
    pad = np.zeros((window, values.shape[1]))
    window_sum = sums - np.vstack([pad, sums])[: values.shape[0]]
    window_count = counts - np.vstack([pad, counts])[: values.shape[0]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(window_count > 0, window_sum / np.maximum(window_count, 1), np.nan)


def shifted(values: FloatArray, lag: int) -> FloatArray:
    """Return the array delayed by `lag` hours (the value `lag` hours before each row)."""
    out = np.full_like(values, np.nan)
    if lag < values.shape[0]:
        out[lag:] = values[: values.shape[0] - lag]
    return out


def _city_mean(values: FloatArray) -> FloatArray:
    finite = np.isfinite(values)
    count = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return np.repeat(mean[:, None], values.shape[1], axis=1)


@dataclass(frozen=True)
class FeatureTable:
    """Feature arrays of one pollutant, each (hours, areas), read at the forecast origin."""

    names: tuple[str, ...]
    columns: tuple[FloatArray, ...]
    anchor: FloatArray

    def rows(self, origins: NDArray[np.intp], areas: NDArray[np.intp]) -> FloatArray:
        """Return the (len(origins), features) matrix for the given origin rows and areas."""
        return np.column_stack([column[origins, areas] for column in self.columns])


def build_features(
    series: AreaSeries,
    pollutant: str,
    *,
    tz_offset_hours: int,
    max_age_hours: int,
    weather_names: tuple[str, ...],
) -> FeatureTable:
    """Build features for forecasts issued at every hour, from that hour and earlier only."""
    own = series.values(pollutant)
    other = series.values("pm10" if pollutant == "pm25" else "pm25")
    anchor, age = last_observed(own, max_age_hours)
    other_now, _ = last_observed(other, max_age_hours)
    city = _city_mean(anchor)
    named: dict[str, FloatArray] = {
        "anchor": anchor,
        "log_anchor": np.log1p(np.maximum(anchor, 0.0)),
        "age": age,
        "other_pollutant": other_now,
        "ratio_to_other": anchor / np.maximum(other_now, 1.0),
        "city_mean": city,
        "anchor_minus_city": anchor - city,
    }
    for lag in _LAGS:
        # differences from the anchor make the trees' splits hold at any pollution level
        named[f"lag{lag}_diff"] = shifted(own, lag) - anchor
        named[f"city_lag{lag}_diff"] = shifted(city, lag) - city
    for window in _WINDOWS:
        named[f"mean{window}_diff"] = trailing_mean(own, window) - anchor
    named["city_mean24_diff"] = trailing_mean(city, 24) - city
    # how much the area has been jumping lately: the spread of the next hours follows it
    log_own = np.log1p(np.maximum(own, 0.0))
    steps = np.abs(log_own - shifted(log_own, 1))
    for window in (6, 24):
        named[f"volatility{window}"] = trailing_mean(steps, window)
    other_mean6 = trailing_mean(other, 6)
    named["other_change6"] = other_now - other_mean6
    local = series.times + np.timedelta64(tz_offset_hours, "h")
    hour_of_day = (local.astype(np.int64) % 24).astype(np.float64)
    day_of_week = ((local.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.float64)
    shape = own.shape
    named["hour_of_day"] = np.broadcast_to(hour_of_day[:, None], shape)
    named["day_of_week"] = np.broadcast_to(day_of_week[:, None], shape)
    for name in weather_names:
        # a covariate the series lacks stays NaN: the trees send NaN down a learnt branch
        values = series.weather.get(name, np.full(shape, np.nan))
        named[f"w_{name}"] = values
        named[f"w_{name}_change3"] = values - shifted(values, 3)
    return FeatureTable(names=tuple(named), columns=tuple(named.values()), anchor=anchor)
