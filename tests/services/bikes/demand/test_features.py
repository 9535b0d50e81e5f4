"""The features never see counts the forecast could not know when it is issued."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from citysmart.services.bikes.demand.features import (
    FeatureMatrix,
    Horizon,
    HourlySeries,
    HourlyWeather,
    build_features,
)

SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2018, 6, 1, tzinfo=SEOUL)
DAYS = 40


def _series(counts: np.ndarray) -> HourlySeries:
    rng = np.random.default_rng(1)
    n = len(counts)
    weather = HourlyWeather(
        temperature=rng.normal(20, 5, n),
        rain=rng.exponential(0.2, n),
        humidity=rng.uniform(30, 90, n),
        wind=rng.uniform(0, 5, n),
    )
    return HourlySeries(start=START, counts=counts, weather=weather)


def _counts() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.poisson(300, DAYS * 24).astype(np.float64)


def _features(counts: np.ndarray, horizon: Horizon) -> FeatureMatrix:
    return build_features(_series(counts), horizon)


@pytest.mark.parametrize("hour", [0, 7, 23])
def test_day_ahead_rows_ignore_their_own_day(hour: int) -> None:
    counts = _counts()
    day = 30
    midnight = day * 24
    base = _features(counts, Horizon.DAY)
    changed = counts.copy()
    changed[midnight + hour :] *= 3  # the target hour and everything after it
    changed[midnight : midnight + hour] += 50  # and the earlier hours of the same day
    moved = _features(changed, Horizon.DAY)
    rows = slice(midnight, midnight + 24)
    np.testing.assert_array_equal(base.values[rows], moved.values[rows])


def test_day_ahead_rows_see_the_day_before() -> None:
    counts = _counts()
    midnight = 30 * 24
    changed = counts.copy()
    changed[midnight - 1] += 500  # 23:00 of the day before: known at the 00:00 issue
    base = _features(counts, Horizon.DAY)
    moved = _features(changed, Horizon.DAY)
    assert not np.array_equal(base.values[midnight + 23], moved.values[midnight + 23])


@pytest.mark.parametrize("target", [30 * 24, 30 * 24 + 9, 30 * 24 + 23])
def test_hour_ahead_rows_ignore_their_hour_and_later(target: int) -> None:
    counts = _counts()
    base = _features(counts, Horizon.HOUR)
    changed = counts.copy()
    changed[target:] = changed[target:] * 2 + 7
    moved = _features(changed, Horizon.HOUR)
    np.testing.assert_array_equal(base.values[: target + 1], moved.values[: target + 1])
    # ...but they do see the hour before.
    changed[target - 1] += 500
    seen = _features(changed, Horizon.HOUR)
    assert not np.array_equal(base.values[target], seen.values[target])


def test_unknown_counts_stay_unknown_not_zero() -> None:
    counts = _counts()
    counts[29 * 24 : 30 * 24] = np.nan  # the system was off the whole day before
    matrix = _features(counts, Horizon.DAY)
    row = 30 * 24 + 8
    assert np.isnan(matrix.column("same_hour_1d_ago")[row])
    assert np.isnan(matrix.column("previous_day_mean")[row])
    assert np.isfinite(matrix.column("same_hour_mean_7d")[row])


def test_series_rejects_naive_start() -> None:
    counts = _counts()
    series = _series(counts)
    with pytest.raises(ValueError, match="timezone-aware"):
        HourlySeries(start=START.replace(tzinfo=None), counts=counts, weather=series.weather)
    with pytest.raises(ValueError, match="hours of weather"):
        HourlySeries(start=START, counts=counts[:-1], weather=series.weather)


def test_holiday_column_marks_chuseok() -> None:
    start = datetime(2018, 9, 1, tzinfo=SEOUL)
    counts = np.ones(30 * 24)
    series = HourlySeries(start=start, counts=counts, weather=_series(counts).weather)
    matrix = build_features(series, Horizon.DAY)
    chuseok = (datetime(2018, 9, 24, 12, tzinfo=SEOUL) - start) // timedelta(hours=1)
    assert matrix.column("holiday")[chuseok] == 1.0
    assert matrix.column("holiday")[chuseok + 48] == 1.0  # the substitute holiday, 26th
    assert matrix.column("holiday")[chuseok + 72] == 0.0
