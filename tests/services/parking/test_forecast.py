"""The free-space forecast: series, leakage-free features, model and evaluation."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from citysmart.services.parking.cli import parking
from citysmart.services.parking.forecast.evaluation import evaluate
from citysmart.services.parking.forecast.features import horizon_features, weekly_profile
from citysmart.services.parking.forecast.model import OVERFLOW, Forecaster
from citysmart.services.parking.forecast.series import (
    SeriesError,
    find_bath_file,
    quarter_hours,
    read_bath,
)

BATH = Path(__file__).resolve().parents[3] / "data" / "bath-parking-occupancy"


def synthetic_readings(days: int = 35, lots: int = 2, seed: int = 1) -> pd.DataFrame:
    """Two car parks filling by day and emptying by night, weekends quieter, 5-minute readings."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01", periods=days * 288, freq="5min", tz="UTC")
    hours = times.hour + times.minute / 60
    weekend = times.day_of_week >= 5
    rows = []
    for lot in range(lots):
        capacity = 300.0 + 100 * lot
        shape = np.clip(np.sin((hours - 7) / 12 * np.pi), 0, None)
        level = capacity * shape * np.where(weekend, 0.5, 0.9)
        noise = np.cumsum(rng.normal(0, 2, len(times)))
        noise -= pd.Series(noise).rolling(36, min_periods=1).mean().to_numpy()
        occupancy = np.clip(level + noise, 0, capacity)
        rows.append(
            pd.DataFrame(
                {"lot": f"lot{lot}", "time": times, "occupancy": occupancy, "capacity": capacity}
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_readings_become_quarter_hour_means_with_gaps_kept() -> None:
    times = pd.to_datetime(["2024-01-01 00:01", "2024-01-01 00:11", "2024-01-01 00:31"], utc=True)
    readings = pd.DataFrame(
        {"lot": "a", "time": times, "occupancy": [10.0, 20.0, 40.0], "capacity": 50.0}
    )
    grid = quarter_hours(readings)
    assert list(grid["occupancy"].fillna(-1)) == [15.0, -1, 40.0]
    assert list(grid["capacity"]) == [50.0, 50.0, 50.0]


def test_readings_without_a_time_zone_or_a_column_are_refused() -> None:
    naive = pd.DataFrame(
        {"lot": ["a"], "time": [pd.Timestamp("2024-01-01")], "occupancy": [1.0], "capacity": [2.0]}
    )
    with pytest.raises(SeriesError, match="time zone"):
        quarter_hours(naive)
    with pytest.raises(SeriesError, match="capacity"):
        quarter_hours(naive.drop(columns="capacity"))


def test_bath_rows_that_cannot_be_read_are_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bath_parking_bad.csv"
    path.write_text(
        "Name,LastUpdate,DateUploaded,Occupancy,Capacity,Status\n"
        "A,2016-01-01 00:03:00,x,10,100,Static\n"
        "A,yesterday,x,11,100,Static\n"
    )
    with pytest.raises(SeriesError, match="line 3"):
        read_bath(path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SeriesError, match="no bath_parking"):
        find_bath_file(empty)
    with pytest.raises(SeriesError, match="does not exist"):
        find_bath_file(tmp_path / "nowhere.csv")


def test_features_at_an_origin_never_read_later_data() -> None:
    grid = quarter_hours(synthetic_readings(days=15))
    until = grid["time"].min() + pd.Timedelta(days=10)
    profile = weekly_profile(grid, until, "UTC")
    before = horizon_features(grid, 4, profile, "UTC", "KR")
    changed = grid.copy()
    later = changed["time"] > until
    changed.loc[later, "occupancy"] = 0.0
    after = horizon_features(changed, 4, weekly_profile(changed, until, "UTC"), "UTC", "KR")
    origins = grid["time"] <= until
    pd.testing.assert_frame_equal(before[origins], after[origins])


def test_the_model_beats_persistence_and_its_interval_covers_about_80_percent() -> None:
    grid = quarter_hours(synthetic_readings())
    test_from = grid["time"].min() + pd.Timedelta(days=28)
    result = evaluate(grid, test_from, zone="UTC", country="KR")
    by_horizon = {s.horizon: s for s in result.scores}
    for name in ("1h", "3h"):
        assert by_horizon[name].model_mae < 0.5 * by_horizon[name].persistence_mae
    for score in result.scores:
        assert 0.65 <= score.interval_coverage <= 0.95, score


def test_forecasts_stay_within_zero_and_the_overflow_limit() -> None:
    grid = quarter_hours(synthetic_readings(days=29))
    until = grid["time"].min() + pd.Timedelta(days=28)
    forecaster = Forecaster.train(grid, until, (12,), zone="UTC", country="KR")
    forecast = forecaster.predict(grid, 12).dropna()
    ceiling = grid.loc[forecast.index, "capacity"] * OVERFLOW
    assert (forecast["low"] >= 0).all()
    assert (forecast["high"] <= ceiling + 1e-9).all()
    assert (forecast["low"] <= forecast["occupancy"]).all()
    assert (forecast["occupancy"] <= forecast["high"]).all()


def test_evaluate_on_a_slice_of_bath_prints_every_figure(tmp_path: Path) -> None:
    with gzip.open(find_bath_file(BATH), "rt") as source:
        header = source.readline()
        rows = [
            line
            for line in source
            if line.startswith(("Podium CP,", "Odd Down P+R,"))
            and "2016-01-20" <= line.split(",")[1][:10] < "2016-03-08"
        ]
    sample = tmp_path / "bath_parking_sample.csv"
    sample.write_text(header + "".join(rows))
    result = CliRunner().invoke(
        parking, ["evaluate", "--data", str(sample), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert "Bath" in figures["data"]
    assert figures["lots"] == ["Odd Down P+R", "Podium CP"]
    scores = {s["horizon"]: s for s in figures["scores"]}
    assert set(scores) == {"15min", "1h", "3h"}
    for s in scores.values():
        assert s["pairs"] > 1000
        assert s["model_mae"] < s["persistence_mae"]
        assert 0 < s["interval_coverage"] <= 1
