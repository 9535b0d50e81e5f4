"""Calibration of low-cost sensors: synthetic recovery, refusals, and real Beijing data.

The real-data test takes a Beijing reference station's measured PM2.5 as the truth and
makes a "low-cost sensor" from it by a SYNTHETIC, documented humidity-dependent
distortion. The PM2.5, temperature and dew point are Beijing's real data (not Sejong's);
the sensor is invented.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from citysmart.core.geo import haversine_m
from citysmart.services.air.calibration import (
    CalibrationFit,
    CalibrationRefused,
    ReferenceStation,
    RefitPolicy,
    apply_calibration,
    error_stats,
    fit_calibration,
    nearest_station,
    refit_due,
    relative_humidity,
)

BEIJING = Path(__file__).resolve().parents[3] / "data" / "beijing-multisite-air-quality"
NOW = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)


def hours(n: int) -> np.ndarray:
    return np.datetime64("2025-01-01T00", "h") + np.arange(n).astype("timedelta64[h]")


def fit(raw: np.ndarray, rh: np.ndarray, ref: np.ndarray, **kwargs: object) -> CalibrationFit:
    return fit_calibration(
        hours(raw.size),
        raw,
        rh,
        ref,
        sensor_id="sensor-1",
        station_id="station-1",
        fitted_at=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def synthetic(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw = rng.lognormal(3.2, 0.6, n)
    rh = rng.uniform(20, 95, n)
    return raw, rh


def test_linear_fit_recovers_a_known_bias_and_humidity_effect() -> None:
    raw, rh = synthetic()
    noise = np.random.default_rng(1).normal(0, 1.0, raw.size)
    ref = 4.0 + 0.6 * raw - 0.12 * rh + noise
    result = fit(raw, rh, ref)
    assert result.coefficients["intercept"] == pytest.approx(4.0, abs=0.5)
    assert result.coefficients["raw"] == pytest.approx(0.6, abs=0.01)
    assert result.coefficients["rh"] == pytest.approx(-0.12, abs=0.01)
    assert result.rmse == pytest.approx(1.0, abs=0.15)
    assert result.r2 > 0.95
    assert result.raw_rmse > 5 * result.rmse


def test_hygroscopic_fit_recovers_a_growth_effect() -> None:
    raw, rh = synthetic(seed=2)
    h = np.minimum(rh / 100, 0.95)
    ref = 1.5 + 0.7 * raw - 0.02 * raw * h * h / (1 - h)  # stays positive up to RH 95 %
    result = fit(raw, rh, ref, model="hygroscopic")
    assert result.coefficients["raw"] == pytest.approx(0.7, abs=1e-6)
    assert result.coefficients["raw_growth"] == pytest.approx(-0.02, abs=1e-6)
    assert result.rmse < 1e-6


def test_fit_reports_window_station_sample_size_and_time() -> None:
    raw, rh = synthetic(200)
    raw[:10] = np.nan  # incomplete hours are left out, and the window starts after them
    result = fit(raw, rh, 0.5 * raw + 0.1 * rh, distance_m=1234.0)
    assert result.n == 190
    assert result.window_start == dt.datetime(2025, 1, 1, 10, tzinfo=dt.UTC)
    assert result.window_end == dt.datetime(2025, 1, 9, 7, tzinfo=dt.UTC)
    assert (result.station_id, result.sensor_id, result.distance_m) == (
        "station-1",
        "sensor-1",
        1234.0,
    )
    assert result.fitted_at == NOW
    assert result.model == "linear"


def test_too_few_points_are_refused_with_the_count() -> None:
    raw, rh = synthetic(100)
    raw[:40] = np.nan
    with pytest.raises(CalibrationRefused, match="only 60 co-located hours.*at least 72"):
        fit(raw, rh, raw * 0.5)


def test_humidity_outside_0_to_100_is_not_used() -> None:
    raw, rh = synthetic(100)
    rh[:30] = 140.0
    with pytest.raises(CalibrationRefused, match="only 70"):
        fit(raw, rh, raw * 0.5)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda raw, rh: (np.full_like(raw, 12.0), rh), "raw values do not vary"),
        (lambda raw, rh: (raw, np.full_like(rh, 60.0)), "humidity do not vary"),
        (lambda raw, rh: (raw, 0.5 * raw + 3.0), "move together"),
    ],
)
def test_degenerate_designs_are_refused(make: object, reason: str) -> None:
    raw, rh = make(*synthetic(200))  # type: ignore[operator]
    with pytest.raises(CalibrationRefused, match=reason):
        fit(raw, rh, np.linspace(5, 50, raw.size))


def test_a_sensor_that_does_not_track_the_reference_is_refused() -> None:
    raw, rh = synthetic(200)
    with pytest.raises(CalibrationRefused, match="not positive"):
        fit(raw, rh, 100.0 - 0.8 * raw)


def test_corrected_values_are_derived_never_negative_and_raw_is_kept() -> None:
    raw, rh = synthetic(300)
    result = fit(raw, rh, -3.0 + 0.5 * raw - 0.05 * rh)
    sample = np.array([0.0, 10.0, 40.0, np.nan, 25.0])
    humidity = np.array([90.0, 50.0, 50.0, 50.0, np.nan])
    before = sample.copy()
    corrected = apply_calibration(result, sample, humidity)
    np.testing.assert_array_equal(sample, before)
    assert corrected[0] == 0.0  # the model gives −7.5: clipped
    assert corrected[2] == pytest.approx(-3.0 + 20.0 - 2.5, abs=1e-6)
    assert np.isnan(corrected[3])
    assert np.isnan(corrected[4])


def test_nearest_station_by_great_circle_distance() -> None:
    with (BEIJING / "stations.csv").open(encoding="utf-8", newline="") as handle:
        stations = [
            ReferenceStation(row["station"], float(row["longitude"]), float(row["latitude"]))
            for row in csv.DictReader(handle)
        ]
    lon, lat = 116.41, 39.93  # a point a few hundred metres west of Dongsi (Beijing)
    found = nearest_station(lon, lat, stations)
    assert found.station.station_id == "Dongsi"
    assert found.distance_m == pytest.approx(haversine_m(lon, lat, 116.4174, 39.9289))
    assert all(haversine_m(lon, lat, s.lon, s.lat) >= found.distance_m for s in stations)
    with pytest.raises(ValueError, match="no reference stations"):
        nearest_station(lon, lat, [])


def test_relative_humidity_from_dew_point() -> None:
    rh = relative_humidity([20.0, 25.0, 0.0, 30.0], [20.0, 10.0, -10.0, 31.0])
    assert rh[0] == pytest.approx(100.0)
    assert rh[1] == pytest.approx(38.8, abs=0.3)  # psychrometric tables: 38.8 %
    assert rh[2] == pytest.approx(46.8, abs=0.3)  # over water: 2.86 / 6.11 hPa
    assert rh[3] == 100.0  # a dew point above the temperature is capped


def test_refit_when_missing_old_flooded_with_new_data_or_drifting() -> None:
    raw, rh = synthetic(200)
    current = fit(raw, rh, 0.5 * raw + 0.1 * rh + np.random.default_rng(0).normal(0, 2, 200))
    assert refit_due(None, NOW, 0).due
    assert not refit_due(current, NOW + dt.timedelta(days=6), 100).due
    assert refit_due(current, NOW + dt.timedelta(days=7), 0).due
    assert "168 new" in refit_due(current, NOW + dt.timedelta(days=1), 168).reason
    assert refit_due(current, NOW, 10, recent_rmse=current.rmse * 2).due
    assert not refit_due(current, NOW, 10, recent_rmse=current.rmse * 1.2).due
    daily = RefitPolicy(max_age=dt.timedelta(days=1))
    assert refit_due(current, NOW + dt.timedelta(days=1), 0, daily).due


@cache
def beijing_station(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hours (UTC), PM2.5 and RH (from TEMP and DEWP) of one Beijing station."""
    path = BEIJING / f"PRSA_Data_{name}_20160301-20170228.csv"
    times, pm25, temp, dewp = [], [], [], []
    beijing_time = dt.timezone(dt.timedelta(hours=8))
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            local = dt.datetime(
                int(row["year"]), int(row["month"]), int(row["day"]), int(row["hour"]),
                tzinfo=beijing_time,
            )  # fmt: skip
            times.append(local.astimezone(dt.UTC).replace(tzinfo=None))
            pm25.append(float(row["PM2.5"]) if row["PM2.5"] != "NA" else math.nan)
            temp.append(float(row["TEMP"]) if row["TEMP"] != "NA" else math.nan)
            dewp.append(float(row["DEWP"]) if row["DEWP"] != "NA" else math.nan)
    hours_utc = np.array(times, dtype="datetime64[h]")
    return hours_utc, np.array(pm25), relative_humidity(temp, dewp)


def distorted_sensor(truth: np.ndarray, rh: np.ndarray, seed: int) -> np.ndarray:
    """A synthetic low-cost sensor: gain 1.3, +2 µg/m³, κ-Köhler-like humidity growth.

    raw = 1.3 · truth · (1 + 0.12 · h / (1 − h)) · lognormal(0, 0.1) + 2 + N(0, 2), h = RH/100
    (capped at 0.97), floored at 0: roughly twice the truth at 90 % RH, as optical
    sensors over-read when particles take up water. Neither fitted form is this one.
    """
    rng = np.random.default_rng(seed)
    h = np.minimum(rh / 100, 0.97)
    growth = 1 + 0.12 * h / (1 - h)
    noise = rng.lognormal(0, 0.1, truth.size)
    raw = 1.3 * truth * growth * noise + 2 + rng.normal(0, 2, truth.size)
    return np.asarray(np.maximum(raw, 0.0), dtype=np.float64)


@pytest.mark.parametrize(
    ("station", "start"),
    [("Dongsi", "2016-04-01"), ("Huairou", "2016-07-01"), ("Wanliu", "2016-11-01")],
)
def test_calibration_on_real_beijing_data_reduces_held_out_error(station: str, start: str) -> None:
    times, truth, rh = beijing_station(station)
    raw = distorted_sensor(truth, rh, seed=len(station))
    first = int(np.searchsorted(times, np.datetime64(start, "h")))
    train = slice(first, first + 28 * 24)  # four weeks to fit
    test = slice(train.stop, train.stop + 28 * 24)  # the next four weeks, unseen
    before = error_stats(raw[test], truth[test])
    after = {}
    for model in ("linear", "hygroscopic"):
        fitted = fit_calibration(
            times[train],
            raw[train],
            rh[train],
            truth[train],
            sensor_id="synthetic-sensor",
            station_id=station,
            fitted_at=NOW,
            model=model,
        )
        after[model] = error_stats(apply_calibration(fitted, raw[test], rh[test]), truth[test])
        assert after[model].n > 500
        assert after[model].rmse < 0.6 * before.rmse
        assert after[model].mae < 0.6 * before.mae
        assert after[model].r2 > max(before.r2, 0.4)
    # The distortion grows with the particle signal, which only the hygroscopic form follows.
    assert after["hygroscopic"].rmse < after["linear"].rmse
