"""The forecast jobs: persistence until there is history, a daily refit, points from the past only.

The hourly area means stored here are real: six Beijing stations (UCI data set, November
2016) standing in for six of Sejong's areas, shifted to recent hours. Beijing's data, not
Sejong's.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, insert, select, text, update

from citysmart.core.jobs import JobRunner
from citysmart.core.paths import data_dir
from citysmart.hub.runtime import HubRuntime
from citysmart.services.air import SERVICE
from citysmart.services.air.areas import PILOT_AREA_CODES
from citysmart.services.air.forecast_evaluation import load_beijing_series
from citysmart.services.air.forecast_features import AreaSeries
from citysmart.services.air.forecast_job import (
    ForecastSettings,
    area_series,
    persistence_bounds,
    run_forecast,
    run_refit,
)
from citysmart.services.air.jobs import floor_hour
from citysmart.services.air.models import AirAreaHour, AirMapHour
from citysmart.services.air.models_forecast import (
    FORECAST_TABLES,
    AirForecast,
    AirForecastModel,
)
from tests.services.air.factories import add_sensor, steady, store_readings

NOW = dt.datetime(2026, 11, 25, 9, 10, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
LAST = floor_hour(NOW) - HOUR  # the newest hour with a map
CODES = tuple(sorted(PILOT_AREA_CODES))[:6]
STATIONS = ("Aotizhongxin", "Changping", "Dingling", "Dongsi", "Guanyuan", "Gucheng")
# Small fits: the tests check behaviour, not accuracy.
QUICK = ForecastSettings(min_history_days=4, boosting_rounds=15)


@functools.cache
def stand_in_series() -> AreaSeries:
    """Twenty days of hourly PM at six Beijing stations (real data, from Beijing)."""
    return load_beijing_series(
        data_dir() / "beijing-multisite-air-quality",
        stations=STATIONS,
        start=dt.date(2016, 11, 1),
        end=dt.date(2016, 11, 20),
    )


def clear_forecast_tables(runtime: HubRuntime) -> HubRuntime:
    """Empty the forecast tables (the air fixtures empty the other air tables)."""
    with runtime.engine.begin() as conn:
        for table in FORECAST_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    return runtime


@pytest.fixture
def beijing() -> AreaSeries:
    """The stand-in area means: six Beijing stations."""
    return stand_in_series()


@pytest.fixture
def forecast_runtime(air_runtime: HubRuntime) -> HubRuntime:
    """The air runtime with the forecast tables emptied too."""
    return clear_forecast_tables(air_runtime)


def store_area_means(
    runtime: HubRuntime,
    series: AreaSeries,
    hours: int,
    *,
    last: dt.datetime = LAST,
    offset: int = 0,
    scale: float = 1.0,
    maps: bool = True,
) -> None:
    """Store ``hours`` rows of the series (from row ``offset``) as area means ending at ``last``.

    The series' stations become the areas ``CODES``; ``maps`` also stores each hour's map
    row (the hourly job's mark that the hour was processed).
    """
    first = last - (hours - 1) * HOUR
    areas: list[dict[str, Any]] = []
    map_rows: list[dict[str, Any]] = []
    for k in range(hours):
        hour = first + k * HOUR
        for pollutant in ("pm25", "pm10"):
            values = series.values(pollutant)[offset + k]
            if maps:
                map_rows.append(
                    {"hour": hour, "pollutant": pollutant, "status": "ok", "method_served": "idw",
                     "note": "", "sensors_used": len(CODES), "inputs": [], "computed_at": NOW}
                )  # fmt: skip
            for code, value in zip(CODES, values, strict=True):
                mean = None if np.isnan(value) else float(value) * scale
                areas.append(
                    {"hour": hour, "pollutant": pollutant, "area_code": code, "method": "idw",
                     "mean": mean, "worst": mean, "cells": 10}
                )  # fmt: skip
    with runtime.sessions.begin() as session:
        for table in (AirAreaHour, AirMapHour):
            session.execute(delete(table).where(table.hour >= first, table.hour <= last))
        session.execute(insert(AirAreaHour), areas)
        if map_rows:
            session.execute(insert(AirMapHour), map_rows)


def forecasts(runtime: HubRuntime) -> list[AirForecast]:
    """Return every stored forecast point."""
    with runtime.sessions() as session:
        rows = session.scalars(
            select(AirForecast).order_by(
                AirForecast.pollutant, AirForecast.area_code, AirForecast.horizon
            )
        )
        return list(rows)


def test_until_a_model_is_fitted_persistence_is_issued_and_named(
    forecast_runtime: HubRuntime, beijing: AreaSeries
) -> None:
    store_area_means(forecast_runtime, beijing, 72)
    report = run_forecast(forecast_runtime, NOW, QUICK)
    assert report.from_hour == LAST
    assert report.model_version is None
    rows = forecasts(forecast_runtime)
    assert report.points == len(rows) == len(CODES) * 2 * 6
    latest = {}
    for pollutant in ("pm25", "pm10"):
        for a, code in enumerate(CODES):
            column = beijing.values(pollutant)[:72, a]
            latest[(pollutant, code)] = column[np.isfinite(column)][-1]
    for row in rows:
        assert row.from_hour == LAST
        assert row.hour == LAST + row.horizon * HOUR
        assert row.method == "persistence"
        assert row.model_version is None  # a fallback: no model was in use
        assert row.trained_on is None
        assert row.value == pytest.approx(latest[(row.pollutant, row.area_code)])
        assert row.lower is not None
        assert row.upper is not None
        assert row.lower <= row.value <= row.upper
    # farther hours are less certain: the interval widens with the horizon
    widths = {
        h: np.median([r.upper - r.lower for r in rows if r.horizon == h])  # type: ignore[operator]
        for h in range(1, 7)
    }
    assert widths[1] < widths[3] < widths[6]
    again = run_forecast(forecast_runtime, NOW + dt.timedelta(minutes=1), QUICK)
    assert again.points == 0
    assert "already issued" in again.reason


def test_the_refit_waits_for_enough_history_then_serves_the_model_where_it_won(
    forecast_runtime: HubRuntime, beijing: AreaSeries
) -> None:
    store_area_means(forecast_runtime, beijing, 4 * 24 - 1, last=LAST - HOUR)
    early = run_refit(forecast_runtime, NOW, QUICK)
    assert early.version is None
    assert "not enough history" in early.reason
    with forecast_runtime.sessions() as session:
        assert session.scalar(select(AirForecastModel.id)) is None
    # the next hour makes four days
    store_area_means(forecast_runtime, beijing, 1, offset=4 * 24 - 1)
    fitted = run_refit(forecast_runtime, NOW, QUICK)
    assert fitted.version is not None, fitted.reason
    assert run_refit(forecast_runtime, NOW + 2 * HOUR, QUICK).reason.endswith("not due yet")
    with forecast_runtime.sessions() as session:
        fit = session.scalars(select(AirForecastModel)).one()
        evaluation, served, blob = fit.evaluation, fit.served, fit.blob
    assert blob is not None
    assert fit.train_end == LAST
    for pollutant in ("pm25", "pm10"):
        rows = evaluation["pollutants"][pollutant]
        assert [r["horizon_hours"] for r in rows] == [1, 2, 3, 4, 5, 6]
        won = [
            r["model"]["rmse"] < r["persistence"]["rmse"]
            and r["model"]["mae"] < r["persistence"]["mae"]
            for r in rows
        ]
        assert served[pollutant] == ["model" if w else "persistence" for w in won]
    report = run_forecast(forecast_runtime, NOW, QUICK)
    assert report.model_version == fitted.version
    rows = forecasts(forecast_runtime)
    assert len(rows) == len(CODES) * 2 * 6
    for row in rows:
        assert row.method == served[row.pollutant][row.horizon - 1]
        assert row.model_version == fitted.version
        assert (row.trained_on is not None) == (row.method == "model")
        assert row.lower is not None
        assert row.upper is not None
        assert row.lower <= row.value <= row.upper


def test_no_hour_after_the_issue_hour_changes_a_forecast(
    forecast_runtime: HubRuntime, beijing: AreaSeries
) -> None:
    store_area_means(forecast_runtime, beijing, 5 * 24)
    assert run_refit(forecast_runtime, NOW, QUICK).version is not None
    # Hours after the issue hour are stored (as a late catch-up would leave them) ...
    later = LAST + 6 * HOUR
    store_area_means(forecast_runtime, beijing, 6, last=later, offset=5 * 24, maps=False)
    run_forecast(forecast_runtime, NOW, QUICK)
    before = [(r.area_code, r.pollutant, r.horizon, r.value, r.lower, r.upper, r.method)
              for r in forecasts(forecast_runtime)]  # fmt: skip
    assert any(b[-1] == "model" for b in before)
    # ... and when they change, the forecast issued from the same hour is the same.
    store_area_means(forecast_runtime, beijing, 6, last=later, offset=5 * 24, scale=3, maps=False)
    with forecast_runtime.sessions.begin() as session:
        session.execute(delete(AirForecast))
    run_forecast(forecast_runtime, NOW, QUICK)
    after = [(r.area_code, r.pollutant, r.horizon, r.value, r.lower, r.upper, r.method)
             for r in forecasts(forecast_runtime)]  # fmt: skip
    assert after == before
    # A model that learnt from later hours is never used for an earlier issue hour.
    with forecast_runtime.sessions.begin() as session:
        session.execute(delete(AirForecast))
        session.execute(update(AirForecastModel).values(train_end=LAST + HOUR))
    assert run_forecast(forecast_runtime, NOW, QUICK).model_version is None
    assert {r.method for r in forecasts(forecast_runtime)} == {"persistence"}


def test_persistence_interval_reads_only_the_past_and_covers_about_80_percent(
    beijing: AreaSeries,
) -> None:
    hours = 24 * 20
    covered = total = 0
    for origin in range(24 * 10, hours - 6, 5):
        bounds = persistence_bounds(beijing, origin, 6, 0.8, 24 * 7)
        future = AreaSeries(
            times=beijing.times,
            areas=beijing.areas,
            pm25=np.where(np.arange(beijing.hours)[:, None] > origin, 999.0, beijing.pm25),
            pm10=beijing.pm10,
        )
        band = bounds["pm25"]
        assert band is not None
        # values after the origin (here absurd) leave the interval as it was
        unchanged = persistence_bounds(future, origin, 6, 0.8, 24 * 7)["pm25"]
        assert unchanged is not None
        assert np.array_equal(unchanged, band)
        values = beijing.pm25
        anchor = values[origin]
        for h in range(1, 7):
            truth = values[origin + h]
            ok = np.isfinite(truth) & np.isfinite(anchor)
            low = np.expm1(np.log1p(anchor[ok]) + band[h - 1, 0])
            high = np.expm1(np.log1p(anchor[ok]) + band[h - 1, 1])
            covered += int(((truth[ok] >= low) & (truth[ok] <= high)).sum())
            total += int(ok.sum())
    assert total > 1000
    assert 0.7 <= covered / total <= 0.9


def test_area_series_spans_the_asked_hours_even_where_none_were_stored() -> None:
    start = LAST - 3 * HOUR
    series = area_series([(start + HOUR, "2901053", 20.0, None)], start, LAST)
    assert series.hours == 4
    assert series.areas == ("2901053",)
    assert np.isnan(series.pm25[[0, 2, 3], 0]).all()
    assert series.pm25[1, 0] == 20.0
    assert np.isnan(series.pm10).all()


def test_the_demo_start_issues_a_forecast_after_the_hourly_map(
    forecast_runtime: HubRuntime,
) -> None:
    names = [job.name for job in SERVICE.jobs]
    assert names.index("air.hourly") < names.index("air.forecast_refit")
    assert names.index("air.forecast_refit") < names.index("air.forecast")
    sensor = add_sensor(forecast_runtime, "a1", "2901053")
    now = dt.datetime.now(dt.UTC)
    store_readings(forecast_runtime, sensor, steady(40, 20), now - 4 * HOUR, now, step_s=600)
    ran = JobRunner(forecast_runtime.engine, SERVICE.jobs, forecast_runtime).run_now()
    assert ran["air.forecast"] is True
    rows = forecasts(forecast_runtime)
    latest = floor_hour(now - dt.timedelta(minutes=2)) - HOUR
    assert rows
    assert {r.from_hour for r in rows} == {latest}
    assert {r.method for r in rows} == {"persistence"}
    assert {r.horizon for r in rows} == {1, 2, 3, 4, 5, 6}
