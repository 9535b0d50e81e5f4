"""Per-station forecasts: non-negative rates of the right shape, a fallback for short history."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from citysmart.services.bikes.demand.features import Horizon, HourlyWeather
from citysmart.services.bikes.demand.model import ModelSettings
from citysmart.services.bikes.demand.stations import (
    StationForecastError,
    StationForecastSettings,
    StationHistories,
    StationHistory,
    fit_station_model,
    forecast_stations,
)

SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2018, 5, 1, tzinfo=SEOUL)  # a Tuesday
QUICK = StationForecastSettings(
    min_history_days=14,
    training_days=21,
    model=ModelSettings(seeds=(0,), learning_rate=0.1, max_rounds=200, patience=20),
)


def _rates(days: int, stations: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected pickups and returns (station, hour): commuter peaks, busier stations."""
    hours = np.arange(days * 24)
    hour = hours % 24
    weekday = (hours // 24 + START.weekday()) % 7
    profile = 1 + 6 * np.exp(-((hour - 8) ** 2) / 3) + 5 * np.exp(-((hour - 18) ** 2) / 3)
    profile = np.where(weekday >= 5, 1 + 2 * np.exp(-((hour - 14) ** 2) / 12), profile)
    size = np.linspace(0.5, 2.0, stations)
    morning = np.exp(-((hour - 8) ** 2) / 3)
    pickups = np.outer(size, profile)
    returns = np.outer(size[::-1], profile + 2 * morning)
    return pickups, returns


def _history(days: int, stations: int = 6) -> tuple[StationHistories, HourlyWeather, datetime]:
    rng = np.random.default_rng(5)
    pickups, returns = _rates(days, stations)
    seen = days - 1  # the last day is the one forecast; its counts must not matter
    history = StationHistories(
        start=START,
        stations=[
            StationHistory(
                station_id=f"ST-{s}",
                pickups=rng.poisson(pickups[s, : seen * 24]).astype(float).tolist(),
                returns=rng.poisson(returns[s, : seen * 24]).astype(float).tolist(),
            )
            for s in range(stations)
        ],
    )
    n = days * 24
    weather = HourlyWeather(
        temperature=np.full(n, 18.0),
        rain=np.zeros(n),
        humidity=np.full(n, 55.0),
        wind=np.full(n, 2.0),
    )
    return history, weather, START + timedelta(days=seen)


def test_day_ahead_model_gives_24_non_negative_hours_per_station() -> None:
    history, weather, start = _history(days=29)
    forecasts = forecast_stations(history, weather, start, Horizon.DAY, QUICK)
    assert [f.station_id for f in forecasts] == [s.station_id for s in history.stations]
    pickups, returns = _rates(29, 6)
    for forecast in forecasts:
        assert forecast.method == "model"
        assert forecast.start == start
        assert len(forecast.pickups) == len(forecast.returns) == 24
        assert min(forecast.pickups) >= 0
        assert min(forecast.returns) >= 0
    predicted = np.array([f.pickups for f in forecasts])
    truth = pickups[:, -24:]
    # Closer to the true rates than a flat daily mean would be.
    flat = np.repeat(truth.mean(axis=1, keepdims=True), 24, axis=1)
    assert np.abs(predicted - truth).mean() < 0.6 * np.abs(flat - truth).mean()
    assert np.array([f.returns for f in forecasts]).sum() == pytest.approx(
        returns[:, -24:].sum(), rel=0.25
    )


def test_hour_ahead_gives_one_hour() -> None:
    history, weather, start = _history(days=29)
    start = start + timedelta(hours=8)
    # Hour-ahead knows the counts up to the hour before: extend the history to 07:00.
    rng = np.random.default_rng(9)
    longer = StationHistories(
        start=history.start,
        stations=[
            StationHistory(
                s.station_id, [*s.pickups, *rng.poisson(2.0, 8)], [*s.returns, *[1.0] * 8]
            )
            for s in history.stations
        ],
    )
    forecasts = forecast_stations(longer, weather, start, Horizon.HOUR, QUICK)
    assert all(len(f.pickups) == len(f.returns) == 1 for f in forecasts)
    assert all(f.pickups[0] >= 0 and f.returns[0] >= 0 for f in forecasts)


def test_short_history_falls_back_to_scaled_hour_of_week_means() -> None:
    history, weather, start = _history(days=4)
    forecasts = forecast_stations(history, weather, start, Horizon.DAY, QUICK)
    assert {f.method for f in forecasts} == {"fallback"}
    pickups = np.array([f.pickups for f in forecasts])
    assert pickups.shape == (6, 24)
    assert (pickups >= 0).all()
    # Busier stations get more, in proportion to their share of the network's pickups.
    totals = pickups.sum(axis=1)
    assert list(np.argsort(totals)) == list(range(6))
    # The morning peak of the network's profile survives the scaling.
    assert pickups[:, 8].sum() > 3 * pickups[:, 3].sum()


def test_station_without_known_hours_falls_back_alone() -> None:
    history, weather, start = _history(days=29)
    empty = StationHistory("NEW", [float("nan")] * history.hours, [float("nan")] * history.hours)
    with_new = StationHistories(start=history.start, stations=[*history.stations, empty])
    forecasts = forecast_stations(with_new, weather, start, Horizon.DAY, QUICK)
    methods = {f.station_id: f.method for f in forecasts}
    assert methods["NEW"] == "fallback"
    assert methods["ST-0"] == "model"
    assert min(forecasts[-1].pickups) >= 0
    assert sum(forecasts[-1].pickups) > 0


def test_bad_inputs_are_explained() -> None:
    history, weather, start = _history(days=4)
    with pytest.raises(StationForecastError, match="timezone-aware"):
        forecast_stations(history, weather, start.replace(tzinfo=None))
    with pytest.raises(StationForecastError, match="before the history"):
        forecast_stations(history, weather, START - timedelta(hours=1))
    short = HourlyWeather(
        weather.temperature[:30], weather.rain[:30], weather.humidity[:30], weather.wind[:30]
    )
    with pytest.raises(StationForecastError, match="weather covers 30 hours"):
        forecast_stations(history, short, start)
    ragged = StationHistories(
        start=START, stations=[*history.stations, StationHistory("X", [1.0], [1.0])]
    )
    with pytest.raises(StationForecastError, match="station X"):
        forecast_stations(ragged, weather, start)


def test_counts_from_start_on_are_not_seen() -> None:
    history, weather, start = _history(days=29)
    hours_before = history.hours
    padded = StationHistories(
        start=history.start,
        stations=[
            StationHistory(
                s.station_id, [*s.pickups, *[500.0] * 24], [*s.returns, *[float("nan")] * 24]
            )
            for s in history.stations
        ],
    )
    assert padded.hours == hours_before + 24
    plain = forecast_stations(history, weather, start, Horizon.DAY, QUICK)
    with_future = forecast_stations(padded, weather, start, Horizon.DAY, QUICK)
    assert [f.pickups for f in plain] == [f.pickups for f in with_future]
    assert [f.returns for f in plain] == [f.returns for f in with_future]


def test_fitted_model_is_reused_for_later_hours() -> None:
    history, weather, start = _history(days=29)
    model = fit_station_model(history, weather, start, Horizon.HOUR, QUICK)
    assert model is not None
    assert set(model.codes) == {s.station_id for s in history.stations}
    later = start + timedelta(hours=3)
    grown = StationHistories(
        start=history.start,
        stations=[
            *(
                StationHistory(s.station_id, [*s.pickups, 1, 2, 3], [*s.returns, 1, 1, 1])
                for s in history.stations
            ),
            StationHistory(
                "NEW", [float("nan")] * (history.hours + 3), [0.0] * (history.hours + 3)
            ),
        ],
    )
    forecasts = forecast_stations(grown, weather, later, Horizon.HOUR, QUICK, model=model)
    methods = {f.station_id: f.method for f in forecasts}
    assert methods.pop("NEW") == "fallback"
    assert set(methods.values()) == {"model"}
    with pytest.raises(StationForecastError, match="forecasts hour-ahead, not day-ahead"):
        forecast_stations(grown, weather, start, Horizon.DAY, QUICK, model=model)
    with pytest.raises(StationForecastError, match="after the forecast start"):
        forecast_stations(
            history, weather, start - timedelta(hours=1), Horizon.HOUR, QUICK, model=model
        )


def test_no_model_from_a_short_history() -> None:
    history, weather, start = _history(days=4)
    assert fit_station_model(history, weather, start, Horizon.DAY, QUICK) is None
