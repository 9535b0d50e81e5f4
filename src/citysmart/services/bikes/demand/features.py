"""Leak-free features of an hourly count series for day-ahead and hour-ahead forecasts.

Day-ahead forecasts are issued at 00:00 local time of the target day for its 24 hours: a
row for hour ``h`` sees counts up to 23:00 of the day before (lags of at least ``h + 1``
hours). Hour-ahead forecasts see counts up to the hour before the target. Weather of the
target day (temperature, rain, humidity, wind) stands in for a weather forecast: when a
history is replayed it is the observed weather, which flatters the model somewhat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from citysmart.services.bikes.demand.holidays import flags_by_day

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Horizon(StrEnum):
    """How far ahead a forecast looks, which fixes what counts it may see."""

    DAY = "day-ahead"  # issued at 00:00 for the day's 24 hours
    HOUR = "hour-ahead"  # issued at the start of the target hour, counts to the hour before


@dataclass(frozen=True)
class HourlyWeather:
    """Weather per hour (observed, or a forecast for future hours)."""

    temperature: FloatArray  # °C
    rain: FloatArray  # mm in the hour
    humidity: FloatArray  # %
    wind: FloatArray  # m/s

    def __post_init__(self) -> None:
        lengths = {len(self.temperature), len(self.rain), len(self.humidity), len(self.wind)}
        if len(lengths) != 1:
            raise ValueError(f"weather arrays differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.temperature)


@dataclass(frozen=True)
class HourlySeries:
    """One hourly count series from ``start`` with its weather; NaN counts are unknown."""

    start: datetime  # aware, on the hour; hours of day are read in its time zone
    counts: FloatArray  # NaN: not observed, system off, or still in the future
    weather: HourlyWeather

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if (self.start.minute, self.start.second, self.start.microsecond) != (0, 0, 0):
            raise ValueError(f"start {self.start.isoformat()} is not on the hour")
        if len(self.counts) != len(self.weather):
            raise ValueError(f"{len(self.counts)} counts but {len(self.weather)} hours of weather")

    def times(self) -> list[datetime]:
        """Return the local start time of every hour."""
        return [self.start + timedelta(hours=i) for i in range(len(self.counts))]


@dataclass(frozen=True)
class FeatureMatrix:
    """Feature rows (one per hour of a series) and the column names."""

    names: tuple[str, ...]
    values: FloatArray  # (hours, features)

    def column(self, name: str) -> FloatArray:
        """Return one feature column by name."""
        return self.values[:, self.names.index(name)]


def _shift(values: FloatArray, lag: int) -> FloatArray:
    """Return ``values`` delayed by ``lag`` hours (NaN before the start)."""
    out = np.full_like(values, np.nan)
    if lag < len(values):
        out[lag:] = values[: len(values) - lag]
    return out


def _at(values: FloatArray, index: IntArray) -> FloatArray:
    """Return ``values[index]``, NaN where the index falls before the start."""
    out = np.full(len(index), np.nan)
    ok = index >= 0
    out[ok] = values[index[ok]]
    return out


def _window_mean(values: FloatArray, end: IntArray, width: IntArray | int) -> FloatArray:
    """Mean of the known values in ``[end - width, end)``; NaN if none is known."""
    known = np.isfinite(values)
    total = np.concatenate([[0.0], np.cumsum(np.where(known, values, 0.0))])
    seen = np.concatenate([[0], np.cumsum(known)])
    end = np.clip(end, 0, len(values))
    begin = np.clip(end - width, 0, len(values))
    number = seen[end] - seen[begin]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(number > 0, (total[end] - total[begin]) / number, np.nan)


def _stacked_mean(values: FloatArray, lags: range) -> FloatArray:
    """Mean over the known values at the given lags (NaN if none is known)."""
    stack = np.stack([_shift(values, lag) for lag in lags])
    known = np.isfinite(stack)
    number = known.sum(axis=0)
    total = np.where(known, stack, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(number > 0, total / np.maximum(number, 1), np.nan)


def _ratio(top: FloatArray, bottom: FloatArray) -> FloatArray:
    """Return ``log((1 + top) / (1 + bottom))``: a ratio that is safe at zero counts."""
    return np.log1p(top) - np.log1p(bottom)


def calendar_columns(times: list[datetime], origin: datetime) -> dict[str, FloatArray]:
    """Return hour, weekday, holiday flags and days since ``origin`` for each hour."""
    flags = flags_by_day(t.date() for t in times)
    hour = np.array([t.hour for t in times], dtype=np.float64)
    weekday = np.array([t.weekday() for t in times], dtype=np.float64)
    rows = [flags[t.date()] for t in times]
    return {
        "hour": hour,
        "weekday": weekday,
        "hour_of_week": weekday * 24 + hour,
        "holiday": np.array([f.holiday for f in rows], dtype=np.float64),
        "day_off": np.array([f.day_off for f in rows], dtype=np.float64),
        "before_holiday": np.array([f.before_holiday for f in rows], dtype=np.float64),
        "after_holiday": np.array([f.after_holiday for f in rows], dtype=np.float64),
        "bridge": np.array([f.bridge for f in rows], dtype=np.float64),
        "days": np.array([(t - origin).total_seconds() / 86400 for t in times]),
    }


def _finite_max(values: FloatArray) -> float:
    """Return the largest known value, NaN when none is known (no weather feed, or none yet)."""
    known = values[np.isfinite(values)]
    return float(known.max()) if known.size else math.nan


def weather_columns(weather: HourlyWeather, day_start: IntArray) -> dict[str, FloatArray]:
    """Return the target hour's weather and that of the hours before it on the same day."""
    index = np.arange(len(weather))
    hour = index - day_start
    rain = weather.rain
    # rain of the last 3 hours of the same day: a forecast of the day covers them
    recent_rain = _window_mean(rain, index + 1, np.minimum(hour + 1, 3)) * np.minimum(hour + 1, 3)
    day_end = np.minimum(day_start + 24, len(weather))
    return {
        "temperature": weather.temperature,
        "rain": rain,
        "humidity": weather.humidity,
        "wind": weather.wind,
        "rain_3h": recent_rain,
        "rain_day": _window_mean(rain, day_end, day_end - day_start) * 24,
        "temperature_day_max": np.array(
            [
                _finite_max(weather.temperature[max(s, 0) : e])
                for s, e in zip(day_start, day_end, strict=True)
            ]
        ),
        "wet": (rain > 0).astype(np.float64),
    }


def context_columns(
    start: datetime, weather: HourlyWeather, origin: datetime | None = None
) -> dict[str, FloatArray]:
    """Return the calendar and weather columns of the hours from ``start`` (shared by series).

    ``origin`` dates the trend feature (days since it); it defaults to ``start``.
    """
    times = [start + timedelta(hours=i) for i in range(len(weather))]
    hour = np.array([t.hour for t in times], dtype=np.int64)
    day_start = np.arange(len(times), dtype=np.int64) - hour
    return calendar_columns(times, origin or start) | weather_columns(weather, day_start)


def count_columns(counts: FloatArray, hour: IntArray, horizon: Horizon) -> dict[str, FloatArray]:
    """Return the columns drawn from earlier counts, as known at ``horizon``'s issue time.

    ``hour`` is each row's local hour of day. Day-ahead rows see counts before their day's
    midnight; hour-ahead rows see counts before their hour.
    """
    n = len(counts)
    index = np.arange(n, dtype=np.int64)
    day_start = index - hour
    columns: dict[str, FloatArray] = {}
    # Same hour on earlier days: always before the target's midnight, known at both horizons.
    for days in (1, 2, 7):
        columns[f"same_hour_{days}d_ago"] = _shift(counts, 24 * days)
    same_hour_7d = _stacked_mean(counts, range(24, 24 * 8, 24))
    columns["same_hour_mean_7d"] = same_hour_7d
    columns["same_hour_mean_28d"] = _stacked_mean(counts, range(24, 24 * 29, 24))
    columns["hour_of_week_mean_4w"] = _stacked_mean(counts, range(168, 168 * 5, 168))
    # What was known at the day-ahead issue time (00:00 of the target's day).
    previous_day = _window_mean(counts, day_start, 24)
    columns["previous_day_mean"] = previous_day
    columns["previous_week_mean"] = _window_mean(counts, day_start, 168)
    columns["previous_day_vs_week"] = _ratio(previous_day, columns["previous_week_mean"])
    last_known = _at(counts, day_start - 1)
    columns["last_known"] = last_known
    columns["last_known_vs_day_before"] = _ratio(last_known, _at(counts, day_start - 25))
    # Last week's profile at this hour, moved to the level of the day before.
    day_level = np.nan_to_num(columns["previous_day_vs_week"])
    columns["naive_day"] = np.log1p(same_hour_7d) + day_level
    if horizon is Horizon.HOUR:
        lag1 = _shift(counts, 1)
        previous_hour_7d = _stacked_mean(counts, range(25, 24 * 8, 24))
        # The last hour moved by the usual step from that hour to this one in the last week.
        step = np.log1p(same_hour_7d) - np.log1p(previous_hour_7d)
        columns["profile_step"] = step
        columns["naive_hour"] = np.log1p(lag1) + step
        columns["lag_1h_minus_2h"] = lag1 - _shift(counts, 2)
        columns["lag_1h"] = lag1
        columns["lag_2h"] = _shift(counts, 2)
        columns["lag_3h"] = _shift(counts, 3)
        columns["lag_1h_vs_yesterday"] = _ratio(lag1, _shift(counts, 25))
        columns["lag_1h_vs_week"] = _ratio(lag1, previous_hour_7d)
        so_far = np.maximum(hour, 1)
        today = _window_mean(counts, index, so_far)
        columns["today_vs_yesterday"] = np.where(
            hour > 0, _ratio(today, _window_mean(counts, index - 24, so_far)), np.nan
        )
        columns["last_24h_mean"] = _window_mean(counts, index, 24)
    return columns


def to_matrix(columns: dict[str, FloatArray]) -> FeatureMatrix:
    """Stack named columns into a feature matrix."""
    names = tuple(columns)
    values = np.column_stack([columns[name] for name in names]).astype(np.float64)
    return FeatureMatrix(names=names, values=values)


def build_features(
    series: HourlySeries, horizon: Horizon, origin: datetime | None = None
) -> FeatureMatrix:
    """Return the features of every hour of ``series`` for forecasts at ``horizon``.

    A row uses only counts known when its forecast is issued: before the target's day for
    day-ahead, before the target hour for hour-ahead. ``origin`` dates the trend feature
    (days since it); it defaults to the series start.
    """
    context = context_columns(series.start, series.weather, origin)
    hour = context["hour"].astype(np.int64)
    return to_matrix(context | count_columns(series.counts, hour, horizon))
