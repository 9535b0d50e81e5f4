"""Per-station pickup and return forecasts (pure: plain data in, expected counts out).

One pooled LightGBM model (Poisson objective, so its outputs are mean rates) is fitted on
every station's pickups and returns at once; a row knows its station (a category), the
flow (pickups or returns) and the station's mean rate of that flow, next to the features
of ``features.py``. With too little history for lags and a model (fewer than
``min_history_days``) the forecast falls back to the network's hour-of-week means scaled
by each station's share of the network's flow; a station with too few known hours of its
own falls back the same way while the others use the model.

Day-ahead forecasts cover the 24 hours from ``start`` and see counts before ``start`` (if
``start`` is not midnight, hours after the next midnight miss the previous-day features,
which the model treats as unknown). Hour-ahead forecasts cover the hour ``start``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from citysmart.services.bikes.demand.features import (
    Horizon,
    HourlyWeather,
    context_columns,
    count_columns,
)
from citysmart.services.bikes.demand.model import ModelSettings, Target, fit_model

FloatArray = npt.NDArray[np.float64]

FLOWS = ("pickups", "returns")


class StationForecastError(ValueError):
    """The history, weather or start time cannot give a forecast."""


@dataclass(frozen=True)
class StationHistory:
    """One station's hourly pickups and returns from the history's start (NaN: unknown)."""

    station_id: str
    pickups: Sequence[float]
    returns: Sequence[float]


@dataclass(frozen=True)
class StationHistories:
    """Hourly counts of every station on one common index starting at ``start``."""

    start: datetime  # aware, on the hour: the first hour of every station's counts
    stations: Sequence[StationHistory]

    @property
    def hours(self) -> int:
        """Return the number of hours of history."""
        return len(self.stations[0].pickups) if self.stations else 0


@dataclass(frozen=True)
class StationForecast:
    """Expected pickups and returns of one station in each forecast hour (mean rates)."""

    station_id: str
    start: datetime  # the first forecast hour
    pickups: tuple[float, ...]  # expected pickups per hour, >= 0
    returns: tuple[float, ...]  # expected returns per hour, >= 0
    method: str  # "model" or "fallback" (hour-of-week means scaled by the station's share)


@dataclass(frozen=True)
class StationForecastSettings:
    """How much history the model needs and how much of it it trains on."""

    min_history_days: int = 14  # below this every station falls back
    min_station_hours: int = 7 * 24  # known hours a station needs for the model
    training_days: int = 56  # the latest days the pooled model is trained on
    # One seed and a quick learning rate: a nightly run over ~500 stations stays in minutes.
    model: ModelSettings = ModelSettings(
        target=Target.POISSON, seeds=(0,), learning_rate=0.05, max_rounds=800, patience=40
    )


def _check(
    history: StationHistories,
    weather: HourlyWeather,
    weather_start: datetime,
    start: datetime,
    steps: int,
) -> int:
    """Validate the inputs; return the index of ``start`` in the history's hours."""
    for name, moment in (("history start", history.start), ("start", start)):
        if moment.tzinfo is None:
            raise StationForecastError(f"{name} must be timezone-aware")
        if (moment.minute, moment.second, moment.microsecond) != (0, 0, 0):
            raise StationForecastError(f"{name} {moment.isoformat()} is not on the hour")
    if not history.stations:
        raise StationForecastError("no stations in the history")
    ids = [s.station_id for s in history.stations]
    if len(set(ids)) != len(ids):
        raise StationForecastError("station ids repeat in the history")
    hours = history.hours
    for station in history.stations:
        if len(station.pickups) != hours or len(station.returns) != hours:
            raise StationForecastError(
                f"station {station.station_id}: {len(station.pickups)} hours of pickups and "
                f"{len(station.returns)} of returns, expected {hours} like the others"
            )
        counts = np.asarray([*station.pickups, *station.returns], dtype=np.float64)
        if np.any(counts[np.isfinite(counts)] < 0) or np.any(np.isinf(counts)):
            raise StationForecastError(f"station {station.station_id}: negative or infinite counts")
    offset = (start - history.start) / timedelta(hours=1)
    if offset < 0:
        raise StationForecastError("start is before the history begins")
    if weather_start != history.start:
        raise StationForecastError("the weather must start at the history's first hour")
    if len(weather) < int(offset) + steps:
        raise StationForecastError(
            f"weather covers {len(weather)} hours from the history start; "
            f"{int(offset) + steps} are needed (through the {steps} forecast hours after start)"
        )
    return int(offset)


def _network_fallback(
    counts: FloatArray, start: datetime, issue: int, targets: npt.NDArray[np.int64]
) -> FloatArray:
    """Forecast ``targets`` of every series as the network's hour-of-week mean × its share.

    ``counts`` is (series, hours) for one flow; only hours before ``issue`` are used.
    """
    known = counts[:, :issue]
    network = np.nansum(known, axis=0)
    observed = np.isfinite(known).any(axis=0)
    times = [start + timedelta(hours=i) for i in range(counts.shape[1])]
    slot = np.array([t.weekday() * 24 + t.hour for t in times])
    hour = slot % 24
    overall = float(network[observed].mean()) if observed.any() else 0.0
    per_slot = np.full(168, np.nan)
    per_hour = np.full(24, np.nan)
    for k in range(168):
        hit = observed & (slot[:issue] == k)
        if hit.any():
            per_slot[k] = network[hit].mean()
    for h in range(24):
        hit = observed & (hour[:issue] == h)
        if hit.any():
            per_hour[h] = network[hit].mean()
    # An hour of the week never seen yet borrows the same hour of other days, then the mean.
    level = per_slot[slot[targets]]
    level = np.where(np.isfinite(level), level, per_hour[hour[targets]])
    level = np.where(np.isfinite(level), level, overall)
    totals = np.nansum(known, axis=1)
    hours_known = np.isfinite(known).sum(axis=1)
    rate = np.where(hours_known > 0, totals / np.maximum(hours_known, 1), np.nan)
    share_known = np.isfinite(rate)
    total_rate = float(np.nansum(rate))
    if total_rate > 0:
        share = np.where(share_known, rate / total_rate, np.nan)
    else:
        share = np.full(len(rate), np.nan)
    # A station with no known hour gets the average station's share.
    average = 1.0 / len(rate)
    share = np.where(np.isfinite(share), share, average)
    if share_known.any() and not share_known.all():
        share = share / share.sum()
    return np.asarray(np.outer(share, level), dtype=np.float64)


def forecast_stations(
    history: StationHistories,
    weather: HourlyWeather,
    start: datetime,
    horizon: Horizon = Horizon.DAY,
    settings: StationForecastSettings | None = None,
) -> list[StationForecast]:
    """Forecast each station's pickups and returns from ``start`` (24 h day-ahead, 1 h hour-ahead).

    ``weather`` runs from the history's first hour through the forecast hours
    (observed for the past, forecast for the future). Counts at or after ``start`` are
    ignored: the forecast sees only what is known when it is issued.
    """
    settings = settings or StationForecastSettings()
    steps = 24 if horizon is Horizon.DAY else 1
    issue = _check(history, weather, history.start, start, steps)
    total = issue + steps
    stations = history.stations
    flows = np.full((2, len(stations), total), np.nan)
    for s, station in enumerate(stations):
        for f, values in enumerate((station.pickups, station.returns)):
            known = np.asarray(values, dtype=np.float64)[:issue]
            flows[f, s, : len(known)] = known
    targets = np.arange(issue, total, dtype=np.int64)
    fallback = np.stack(
        [_network_fallback(flows[f], history.start, issue, targets) for f in (0, 1)]
    )
    predicted = fallback.copy()
    uses_model = np.zeros(len(stations), dtype=bool)
    if issue >= settings.min_history_days * 24:
        known_hours = np.isfinite(flows[:, :, :issue]).sum(axis=2).min(axis=0)
        uses_model = known_hours >= settings.min_station_hours
        if uses_model.any():
            predicted[:, uses_model] = _pooled_model(
                flows[:, uses_model], weather, history.start, issue, targets, horizon, settings
            )
    return [
        StationForecast(
            station_id=station.station_id,
            start=start,
            pickups=tuple(float(v) for v in predicted[0, s]),
            returns=tuple(float(v) for v in predicted[1, s]),
            method="model" if uses_model[s] else "fallback",
        )
        for s, station in enumerate(stations)
    ]


def _pooled_model(
    flows: FloatArray,
    weather: HourlyWeather,
    history_start: datetime,
    issue: int,
    targets: npt.NDArray[np.int64],
    horizon: Horizon,
    settings: StationForecastSettings,
) -> FloatArray:
    """Fit one model over all series of ``flows`` (flow, station, hour); predict ``targets``."""
    total = flows.shape[2]
    first = max(0, issue - settings.training_days * 24)
    window = HourlyWeather(
        temperature=np.asarray(weather.temperature[:total], dtype=np.float64),
        rain=np.asarray(weather.rain[:total], dtype=np.float64),
        humidity=np.asarray(weather.humidity[:total], dtype=np.float64),
        wind=np.asarray(weather.wind[:total], dtype=np.float64),
    )
    context = context_columns(history_start, window)
    hour = context["hour"].astype(np.int64)
    shared = np.column_stack(list(context.values()))
    train_rows: list[FloatArray] = []
    train_counts: list[FloatArray] = []
    train_hours: list[npt.NDArray[np.int64]] = []
    predict_rows: list[FloatArray] = []
    hours = np.arange(total, dtype=np.int64)
    n_flows, n_stations = flows.shape[0], flows.shape[1]
    for f in range(n_flows):
        for s in range(n_stations):
            counts = flows[f, s]
            own = np.column_stack(list(count_columns(counts, hour, horizon).values()))
            mean_rate = float(np.nanmean(counts[:issue]))
            station = np.column_stack(
                [
                    np.full(total, float(s)),  # station category
                    np.full(total, float(f)),  # 0 pickups, 1 returns
                    np.full(total, mean_rate),
                ]
            )
            rows = np.hstack([station, shared, own])
            train = slice(first, issue)
            train_rows.append(rows[train])
            train_counts.append(counts[train])
            train_hours.append(hours[train])
            predict_rows.append(rows[targets])
    model = fit_model(
        np.vstack(train_rows),
        np.concatenate(train_counts),
        np.concatenate(train_hours),
        settings=settings.model,
        categorical=(0,),
    )
    predicted = model.predict(np.vstack(predict_rows))
    return predicted.reshape(n_flows, n_stations, len(targets))
