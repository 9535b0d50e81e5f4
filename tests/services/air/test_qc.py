"""QC flags on low-cost sensor readings, and the stale-sensor list."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pytest

from citysmart.services.air.qc import (
    Flag,
    QCConfig,
    VariableRule,
    flag_names,
    flag_readings,
    flag_series,
    stale_sensors,
)

START = np.datetime64("2025-03-01T00:00")


def minutes(n: int) -> np.ndarray:
    return START + np.arange(n).astype("timedelta64[m]")


def hours(n: int) -> np.ndarray:
    return START + np.arange(n).astype("timedelta64[h]")


def noisy(n: int, level: float = 30.0, seed: int = 1) -> np.ndarray:
    """A plausible PM series: integer readings with noise, never repeating for long."""
    rng = np.random.default_rng(seed)
    return np.round(level + 3 * np.sin(np.arange(n) / 5) + rng.normal(0, 1.5, n))


def has(flags: np.ndarray, flag: Flag) -> np.ndarray:
    return np.asarray((flags & np.uint8(flag)) != 0, dtype=bool)


def test_clean_series_gets_no_flag() -> None:
    flags = flag_series(minutes(120), noisy(120), "pm25")
    assert not flags.any()


def test_out_of_range_values_are_flagged_and_missing_ones_are_not() -> None:
    values = noisy(30)
    values[[3, 10, 20]] = [-2.0, 1500.0, np.nan]
    flags = flag_series(minutes(30), values, "pm10")
    assert np.flatnonzero(has(flags, Flag.OUT_OF_RANGE)).tolist() == [3, 10]
    assert flags[20] == 0


def test_physical_ranges_are_configurable() -> None:
    rules = dict(QCConfig().rules)
    rules["temperature"] = VariableRule(-20.0, 45.0, spike_floor=5.0)
    temps = np.full(10, 46.0) + np.arange(10) * 0.1
    default = flag_series(hours(10), temps, "temperature")
    strict = flag_series(hours(10), temps, "temperature", QCConfig(rules=rules))
    assert not has(default, Flag.OUT_OF_RANGE).any()
    assert has(strict, Flag.OUT_OF_RANGE).all()


def test_stuck_value_over_an_hour_of_minute_data_is_flagged() -> None:
    values = noisy(180)
    values[40:110] = 17.0  # 70 identical minutes
    flags = flag_series(minutes(180), values, "pm25")
    assert has(flags, Flag.STUCK)[40:110].all()
    assert not has(flags, Flag.STUCK)[:40].any()
    assert not has(flags, Flag.STUCK)[110:].any()


def test_identical_values_for_less_than_the_window_are_not_stuck() -> None:
    values = noisy(180)
    values[40:70] = 17.0  # 30 identical minutes: plausible for an integer sensor
    assert not has(flag_series(minutes(180), values, "pm25"), Flag.STUCK).any()


def test_stuck_on_hourly_data_needs_the_configured_count() -> None:
    values = noisy(12)
    values[2:5] = 40.0  # three hours
    values[7:11] = 55.0  # four hours
    stuck = has(flag_series(hours(12), values, "pm25"), Flag.STUCK)
    assert np.flatnonzero(stuck).tolist() == [7, 8, 9, 10]


def test_stuck_by_count_alone_when_no_window_is_set() -> None:
    values = noisy(60)
    values[10:15] = 9.0
    config = QCConfig(stuck_count=5, stuck_duration=None)
    stuck = has(flag_series(minutes(60), values, "pm25", config), Flag.STUCK)
    assert np.flatnonzero(stuck).tolist() == [10, 11, 12, 13, 14]


def test_missing_readings_do_not_break_a_stuck_run() -> None:
    values = noisy(100)
    values[10:90] = 21.0
    values[30:35] = np.nan
    values[60] = np.nan
    flags = flag_series(minutes(100), values, "pm25")
    present = ~np.isnan(values[10:90])
    assert has(flags[10:90], Flag.STUCK)[present].all()
    assert not flags[30:35].any()


def test_a_zero_variance_sensor_is_stuck_throughout() -> None:
    flags = flag_series(minutes(90), np.full(90, 0.0), "pm10")
    assert has(flags, Flag.STUCK).all()


def test_single_spike_is_flagged_but_not_its_neighbours() -> None:
    values = noisy(60)
    values[25] += 120
    values[40] = 0.0  # a drop-out to zero is a (negative) spike too
    spikes = has(flag_series(minutes(60), values, "pm25"), Flag.SPIKE)
    assert np.flatnonzero(spikes).tolist() == [25, 40]


def test_a_step_to_a_new_level_is_not_a_spike() -> None:
    values = np.concatenate([noisy(30, 20.0), noisy(30, 120.0, seed=2)])
    assert not has(flag_series(minutes(60), values, "pm25"), Flag.SPIKE).any()


def test_small_steps_in_a_flat_quantised_series_are_not_spikes() -> None:
    values = np.full(60, 8.0)
    values[::7] = 9.0  # MAD is zero here: only the floor keeps this from being flagged
    assert not has(flag_series(minutes(60), values, "pm25"), Flag.SPIKE).any()


def test_spike_threshold_scales_with_local_noise() -> None:
    rng = np.random.default_rng(3)
    quiet = 50 + rng.normal(0, 1, 60)
    loud = 50 + rng.normal(0, 15, 60)
    quiet[30] += 40
    loud[30] = np.median(loud[27:34]) + 40
    assert has(flag_series(minutes(60), quiet, "pm25"), Flag.SPIKE)[30]
    assert not has(flag_series(minutes(60), loud, "pm25"), Flag.SPIKE)[30]


def test_humidity_above_rated_range_flags_pm_and_humidity_not_temperature() -> None:
    n = 20
    rh = np.full(n, 70.0) + np.arange(n) * 0.01
    rh[5] = 91.0
    rh[6] = 90.0  # exactly at the rated maximum is still within it
    rh[7] = np.nan
    flags = flag_readings(
        minutes(n), pm10=noisy(n, 50), pm25=noisy(n), temperature=15 + rh / 100, humidity=rh
    )
    for name in ("pm10", "pm25", "humidity"):
        assert np.flatnonzero(has(flags.of(name), Flag.HUMIDITY_ABOVE_RATED)).tolist() == [5]
    assert not has(flags.temperature, Flag.HUMIDITY_ABOVE_RATED).any()


def test_rated_humidity_is_set_per_sensor_model() -> None:
    rh = np.array([70.0, 82.0, 85.0, 79.0])
    pm = np.array([20.0, 21.0, 22.0, 23.0])
    flags = flag_readings(
        hours(4),
        pm10=pm,
        pm25=pm,
        temperature=pm,
        humidity=rh,
        config=QCConfig(rated_humidity_max=80.0),
    )
    assert np.flatnonzero(has(flags.pm25, Flag.HUMIDITY_ABOVE_RATED)).tolist() == [1, 2]


def test_one_reading_can_carry_several_flags() -> None:
    values = noisy(40)
    values[20] = 5000.0
    flags = flag_series(minutes(40), values, "pm25")
    assert flag_names(int(flags[20])) == ["out_of_range", "spike"]


def test_raw_values_are_never_modified() -> None:
    pm = noisy(90)
    pm[10] = 9999.0
    pm[50:] = 3.0
    before = pm.copy()
    flag_readings(minutes(90), pm10=pm, pm25=pm, temperature=pm, humidity=pm)
    np.testing.assert_array_equal(pm, before)


def test_rows_of_a_block_are_checked_independently() -> None:
    block = np.stack([noisy(90, seed=s) for s in range(5)])
    block[2, 10:80] = 12.0
    block[4, 45] += 100
    together = flag_series(minutes(90), block, "pm25")
    one_by_one = np.stack([flag_series(minutes(90), row, "pm25") for row in block])
    np.testing.assert_array_equal(together, one_by_one)
    assert has(together[2], Flag.STUCK).sum() == 70
    assert not has(together[[0, 1, 3]], Flag.STUCK).any()


def test_unsorted_times_and_unknown_variables_are_refused() -> None:
    with pytest.raises(ValueError, match="ascending"):
        flag_series(minutes(5)[::-1], noisy(5), "pm25")
    with pytest.raises(ValueError, match="no QC rule"):
        flag_series(minutes(5), noisy(5), "ozone")


def test_aware_datetimes_are_accepted_as_times() -> None:
    base = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    times = [base + dt.timedelta(hours=h) for h in range(6)]
    values = np.array([5.0, 5.0, 5.0, 5.0, 6.0, 7.0])
    assert has(flag_series(times, values, "pm25"), Flag.STUCK).tolist() == [1, 1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match="naive"):
        flag_series([t.replace(tzinfo=None) for t in times], values, "pm25")


def test_hundred_sensors_an_hour_of_minute_data_takes_milliseconds() -> None:
    rng = np.random.default_rng(0)
    shape = (100, 60)
    pm25 = np.round(rng.normal(25, 4, shape))
    rh = rng.uniform(30, 95, shape)
    best = np.inf
    for _ in range(5):
        began = time.perf_counter()
        flag_readings(minutes(60), pm10=pm25 * 1.5, pm25=pm25, temperature=rh / 4, humidity=rh)
        best = min(best, time.perf_counter() - began)
    assert best < 0.1  # about 5 ms on the 2-core CI machine


NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_stale_sensors_are_those_silent_for_over_two_hours() -> None:
    seen = {
        "fresh": NOW - dt.timedelta(minutes=5),
        "edge": NOW - dt.timedelta(hours=2),
        "late": NOW - dt.timedelta(hours=2, minutes=1),
        "old": NOW - dt.timedelta(days=3),
        "never": None,
    }
    stale = stale_sensors(seen, NOW)
    assert [s.sensor_id for s in stale] == ["never", "old", "late"]
    assert stale[1].last_seen == seen["old"]
    assert stale[2].silent_for == dt.timedelta(hours=2, minutes=1)
    assert stale[0].last_seen is None


def test_stale_limit_is_configurable_and_times_must_be_aware() -> None:
    seen = {"a": NOW - dt.timedelta(minutes=45)}
    assert stale_sensors(seen, NOW, max_silence=dt.timedelta(minutes=30))[0].sensor_id == "a"
    with pytest.raises(ValueError, match="aware"):
        stale_sensors(seen, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        stale_sensors({"b": NOW.replace(tzinfo=None)}, NOW)
