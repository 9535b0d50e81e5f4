"""Hourly and 24-hour means with capture rules; AirKorea's real-time values, by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from citysmart.services.air.means import (
    airkorea_realtime,
    daily_means,
    expected_per_hour,
    hourly_means,
    mean_24h,
    moving_mean_24h,
)

START = np.datetime64("2025-03-01T00:00", "s")
MINUTE = dt.timedelta(minutes=1)


def every(step_s: int, n: int) -> np.ndarray:
    return START + (np.arange(n) * step_s).astype("timedelta64[s]")


def test_full_hours_of_minute_data_average_their_own_readings() -> None:
    values = np.concatenate([np.full(60, 10.0), np.arange(60.0)])
    result = hourly_means(every(60, 120), values, interval=MINUTE)
    assert result.hours_utc() == [
        dt.datetime(2025, 3, 1, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 1, 1, tzinfo=dt.UTC),
    ]
    np.testing.assert_allclose(result.mean, [10.0, 29.5])
    assert result.count.tolist() == [60, 60]
    assert result.sufficient.all()


@pytest.mark.parametrize(("present", "sufficient"), [(45, True), (44, False), (60, True)])
def test_an_hour_needs_75_percent_capture(present: int, sufficient: bool) -> None:
    values = np.full(60, 20.0)
    values[present:] = np.nan
    result = hourly_means(every(60, 60), values, interval=MINUTE)
    assert bool(result.sufficient[0]) is sufficient
    assert result.capture[0] == pytest.approx(present / 60)
    assert (result.mean[0] == 20.0) if sufficient else math.isnan(result.mean[0])


def test_flagged_readings_are_excluded_and_count_against_capture() -> None:
    values = np.full(60, 20.0)
    values[:10] = 500.0
    flags = np.zeros(60, dtype=np.uint8)
    flags[:10] = 4
    result = hourly_means(every(60, 60), values, interval=MINUTE, flags=flags)
    assert result.mean[0] == 20.0
    assert result.count[0] == 50
    flags[:16] = 1  # 44 of 60 left: below 75 %
    assert not hourly_means(every(60, 60), values, interval=MINUTE, flags=flags).sufficient[0]


@pytest.mark.parametrize(
    ("interval_s", "expected", "needed"),
    [(60, 60, 45), (300, 12, 9), (600, 6, 5), (900, 4, 3), (3600, 1, 1)],
)
def test_expected_count_comes_from_the_reporting_interval(
    interval_s: int, expected: int, needed: int
) -> None:
    interval = dt.timedelta(seconds=interval_s)
    assert expected_per_hour(interval) == expected
    n = 3600 // interval_s
    values = np.full(n, 7.0)
    values[needed:] = np.nan
    assert hourly_means(every(interval_s, n), values, interval=interval).sufficient[0]
    values[needed - 1] = np.nan
    assert not hourly_means(every(interval_s, n), values, interval=interval).sufficient[0]


def test_hours_without_any_reading_are_returned_as_insufficient() -> None:
    times = np.concatenate([every(60, 60), every(60, 60) + np.timedelta64(3, "h")])
    result = hourly_means(times, np.full(120, 5.0), interval=MINUTE)
    assert result.sufficient.tolist() == [True, False, False, True]
    assert result.count.tolist() == [60, 0, 0, 60]


def test_start_and_end_select_the_hours() -> None:
    start = dt.datetime(2025, 3, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2025, 3, 1, 3, tzinfo=dt.UTC)
    result = hourly_means(every(60, 240), np.arange(240.0), interval=MINUTE, start=start, end=end)
    np.testing.assert_allclose(result.mean, [89.5, 149.5])


def test_a_block_of_sensors_is_averaged_row_by_row() -> None:
    block = np.stack([np.full(120, 1.0), np.full(120, 2.0), np.full(120, np.nan)])
    block[1, 60:100] = np.nan
    result = hourly_means(every(60, 120), block, interval=MINUTE)
    assert result.mean.shape == (3, 2)
    np.testing.assert_array_equal(result.sufficient, [[1, 1], [1, 0], [0, 0]])
    assert result.mean[0, 1] == 1.0


def test_bad_interval_and_bad_flags_are_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        hourly_means(every(60, 5), np.ones(5), interval=dt.timedelta(hours=2))
    with pytest.raises(ValueError, match="flags"):
        hourly_means(every(60, 5), np.ones(5), interval=MINUTE, flags=np.zeros(4))


def test_24_hour_mean_needs_18_valid_hours() -> None:
    hourly = np.arange(24.0)
    assert mean_24h(hourly) == pytest.approx(11.5)
    hourly[:6] = np.nan  # 18 left: mean of 6..23
    assert mean_24h(hourly) == pytest.approx(14.5)
    hourly[6] = np.nan
    assert math.isnan(mean_24h(hourly))
    with pytest.raises(ValueError, match="24 hourly"):
        mean_24h(np.ones(23))


def test_moving_24_hour_mean_trails_each_hour() -> None:
    hourly = np.arange(48.0)
    moving = moving_mean_24h(hourly)
    assert np.isnan(moving[:17]).all()  # fewer than 18 hours of history
    assert moving[17] == pytest.approx(np.mean(np.arange(18.0)))
    assert moving[30] == pytest.approx(np.mean(np.arange(7.0, 31.0)))
    hourly[25:32] = np.nan  # the window ending at 40 keeps 17 hours: 17..24 and 32..40
    assert math.isnan(moving_mean_24h(hourly)[40])


def test_daily_means_follow_seoul_days() -> None:
    # 15:00 UTC is midnight in Seoul: a Seoul day is 15:00 UTC to 14:00 UTC the next day.
    hours = np.datetime64("2025-03-01T15:00") + np.arange(48).astype("timedelta64[h]")
    hourly = np.concatenate([np.full(24, 10.0), np.full(24, 30.0)])
    hourly[30:37] = np.nan
    days, means = daily_means(hours, hourly)
    assert days == [dt.date(2025, 3, 2), dt.date(2025, 3, 3)]
    assert means[0] == 10.0
    assert math.isnan(means[1])  # 17 valid hours


def twelve_hours(last4: list[float], c12: float) -> list[float]:
    """Twelve hourly values whose mean is ``c12`` and that end with ``last4``."""
    first = (12 * c12 - sum(last4)) / 8
    return [first] * 8 + last4


def test_c24e_ratio_bounds_both_sides() -> None:
    # C12 = 100, PM2.5 (M = 30), every hour ≥ M. Ratios 0.90 and 1.70 are damped; 0.89 and
    # 1.71 are not: C4 = (67.5 + 89 + 127.5 + 171) / 4 = 113.75;
    # C24E = (12 · 100 + 12 · 113.75) / 24 = 106.875.
    result = airkorea_realtime(twelve_hours([90, 89, 170, 171], 100), "pm25")
    assert result.c12 == pytest.approx(100)
    assert result.c4 == pytest.approx(113.75)
    assert result.c24e == pytest.approx(106.875)
    assert result.value_1h == 171


def test_c24e_threshold_m_both_sides_and_per_pollutant() -> None:
    hours = twelve_hours([69, 70, 60, 60], 60)
    # PM10, M = 70: only 70 (ratio 1.17) is damped: C4 = (69 + 52.5 + 60 + 60) / 4 = 60.375,
    # C24E = (60 + 60.375) / 2 = 60.1875.
    pm10 = airkorea_realtime(hours, "pm10")
    assert pm10.c4 == pytest.approx(60.375)
    assert pm10.c24e == pytest.approx(60.1875)
    # PM2.5, M = 30: all four are ≥ 30 with ratios 1.15, 1.17, 1.0, 1.0, so all are damped:
    # C4 = 0.75 · 259 / 4 = 48.5625, C24E = (60 + 48.5625) / 2 = 54.28125.
    pm25 = airkorea_realtime(hours, "pm25")
    assert pm25.c4 == pytest.approx(48.5625)
    assert pm25.c24e == pytest.approx(54.28125)


def test_c24e_below_threshold_is_the_plain_average_of_the_two_means() -> None:
    hours = [10.0] * 8 + [20.0, 22.0, 24.0, 26.0]
    result = airkorea_realtime(hours, "pm25")
    # C12 = (80 + 92) / 12 = 14.333; C4 = 23; C24E = (14.333 + 23) / 2 = 18.667.
    assert result.c12 == pytest.approx(172 / 12)
    assert result.c24e == pytest.approx((172 / 12 + 23) / 2)


def test_c24e_with_missing_hours() -> None:
    hours = [40.0] * 8 + [50.0, 20.0, 20.0, 20.0]
    hours[0] = hours[3] = hours[5] = math.nan  # 9 of 12 valid: still computed
    result = airkorea_realtime(hours, "pm10")
    # C12 = (5 · 40 + 50 + 3 · 20) / 9 = 310 / 9; nothing ≥ 70, so C4 = 110 / 4 = 27.5.
    assert result.valid_hours_12 == 9
    assert result.c24e == pytest.approx((310 / 9 + 27.5) / 2)
    hours[9] = math.nan  # now C12 has only 8 of its 12 hours: no C24E
    assert math.isnan(airkorea_realtime(hours, "pm10").c24e)


def test_c4_needs_three_of_its_four_hours() -> None:
    hours = [40.0] * 12
    hours[-1] = math.nan
    three = airkorea_realtime(hours, "pm10")
    assert three.c4 == pytest.approx(40.0)
    assert math.isnan(three.value_1h)  # the real-time value is the latest hour's, missing here
    hours[-2] = math.nan
    assert math.isnan(airkorea_realtime(hours, "pm10").c24e)


def test_short_history_counts_as_missing_hours() -> None:
    assert math.isnan(airkorea_realtime([30.0] * 8, "pm25").c24e)
    assert airkorea_realtime([30.0] * 9, "pm25").valid_hours_12 == 9
    assert airkorea_realtime([5.0] * 30, "pm25").c24e == pytest.approx(5.0)
