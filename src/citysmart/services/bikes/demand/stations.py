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
from citysmart.services.bikes.demand.model import DemandModel, ModelSettings, Target, fit_model

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

FLOWS = ("pickups", "returns")
_LOOKBACK_HOURS = 29 * 24  # the longest lag of the count features (4 weeks) plus a day


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


@dataclass(frozen=True)
class StationModel:
    """A pooled model fitted on station histories; reusable for later forecasts (e.g. hourly)."""

    horizon: Horizon
    codes: dict[str, int]  # station id -> the category code it was trained under
    fitted_until: datetime  # the first hour it was not trained on
    model: DemandModel


def _flows(history: StationHistories, issue: int, total: int) -> FloatArray:
    """Return the counts known before ``issue`` as (flow, station, hour), NaN elsewhere."""
    flows = np.full((2, len(history.stations), total), np.nan)
    for s, station in enumerate(history.stations):
        for f, values in enumerate((station.pickups, station.returns)):
            known = np.asarray(values, dtype=np.float64)[:issue]
            flows[f, s, : len(known)] = known
    return flows


def _eligible(flows: FloatArray, issue: int, settings: StationForecastSettings) -> BoolArray:
    """Say which stations know enough hours of both flows for the model."""
    known_hours = np.isfinite(flows[:, :, :issue]).sum(axis=2).min(axis=0)
    return np.asarray(known_hours >= settings.min_station_hours, dtype=np.bool_)


def fit_station_model(
    history: StationHistories,
    weather: HourlyWeather,
    start: datetime,
    horizon: Horizon = Horizon.DAY,
    settings: StationForecastSettings | None = None,
) -> StationModel | None:
    """Fit the pooled model on the counts before ``start``; None if the history is too short."""
    settings = settings or StationForecastSettings()
    issue = _check(history, weather, history.start, start, 0)
    if issue < settings.min_history_days * 24:
        return None
    flows = _flows(history, issue, issue)
    eligible = _eligible(flows, issue, settings)
    if not eligible.any():
        return None
    ids = [st.station_id for st, ok in zip(history.stations, eligible, strict=True) if ok]
    codes = {station_id: code for code, station_id in enumerate(ids)}
    first = max(0, issue - settings.training_days * 24)
    keep = np.arange(first, issue, dtype=np.int64)
    rows = _rows(flows[:, eligible], list(codes.values()), weather, history.start, horizon, keep)
    counts = flows[:, eligible, first:issue].reshape(-1)
    hours = np.tile(keep, rows.shape[0] * rows.shape[1])
    model = fit_model(
        rows.reshape(-1, rows.shape[-1]),
        counts,
        hours,
        settings=settings.model,
        categorical=(0,),
    )
    return StationModel(horizon=horizon, codes=codes, fitted_until=start, model=model)


def forecast_stations(
    history: StationHistories,
    weather: HourlyWeather,
    start: datetime,
    horizon: Horizon = Horizon.DAY,
    settings: StationForecastSettings | None = None,
    model: StationModel | None = None,
) -> list[StationForecast]:
    """Forecast each station's pickups and returns from ``start`` (24 h day-ahead, 1 h hour-ahead).

    ``weather`` runs from the history's first hour through the forecast hours (observed for
    the past, forecast for the future). Counts at or after ``start`` are ignored: the
    forecast sees only what is known when it is issued. Without ``model`` one is fitted on
    the history first; with one (from ``fit_station_model``, same horizon, fitted no later
    than ``start``) its stations are forecast without refitting and new stations fall back.
    """
    settings = settings or StationForecastSettings()
    steps = 24 if horizon is Horizon.DAY else 1
    issue = _check(history, weather, history.start, start, steps)
    if model is not None:
        if model.horizon is not horizon:
            raise StationForecastError(
                f"the model forecasts {model.horizon.value}, not {horizon.value}"
            )
        if model.fitted_until > start:
            raise StationForecastError(
                f"the model was fitted on hours up to {model.fitted_until.isoformat()}, "
                f"after the forecast start {start.isoformat()}"
            )
    else:
        model = fit_station_model(history, weather, start, horizon, settings)
    total = issue + steps
    stations = history.stations
    flows = _flows(history, issue, total)
    targets = np.arange(issue, total, dtype=np.int64)
    predicted = np.stack(
        [_network_fallback(flows[f], history.start, issue, targets) for f in (0, 1)]
    )
    uses_model = np.zeros(len(stations), dtype=bool)
    if model is not None:
        known = np.array([st.station_id in model.codes for st in stations], dtype=bool)
        uses_model = known & _eligible(flows, issue, settings)
        if uses_model.any():
            codes = [
                model.codes[st.station_id]
                for st, ok in zip(stations, uses_model, strict=True)
                if ok
            ]
            chosen = _rows(flows[:, uses_model], codes, weather, history.start, horizon, targets)
            values = model.model.predict(chosen.reshape(-1, chosen.shape[-1]))
            predicted[:, uses_model] = values.reshape(chosen.shape[:3])
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


def _rows(
    flows: FloatArray,
    codes: Sequence[int],
    weather: HourlyWeather,
    history_start: datetime,
    horizon: Horizon,
    keep: npt.NDArray[np.int64],
) -> FloatArray:
    """Return the feature rows (flow, station, hour in ``keep``, feature) of every series."""
    # Only the last 29 days before the first kept hour feed its lags: drop older history.
    low = max(0, int(keep.min()) - _LOOKBACK_HOURS)
    history_start = history_start + timedelta(hours=low)
    flows = flows[:, :, low:]
    keep = keep - low
    total = flows.shape[2]
    n_weather = low + total
    window = HourlyWeather(
        temperature=np.asarray(weather.temperature[low:n_weather], dtype=np.float64),
        rain=np.asarray(weather.rain[low:n_weather], dtype=np.float64),
        humidity=np.asarray(weather.humidity[low:n_weather], dtype=np.float64),
        wind=np.asarray(weather.wind[low:n_weather], dtype=np.float64),
    )
    context = context_columns(history_start, window)
    # No trend column: it would depend on where the history starts, and 8 weeks of training
    # give no trend worth extrapolating; the recent-level columns carry the level instead.
    del context["days"]
    hour = context["hour"].astype(np.int64)
    shared = np.column_stack(list(context.values()))
    out: list[FloatArray] = []
    for f in range(flows.shape[0]):
        for s, code in enumerate(codes):
            counts = flows[f, s]
            own = np.column_stack(list(count_columns(counts, hour, horizon).values()))
            # The station's mean rate over the hours known (all of them lie before the issue).
            mean_rate = float(np.nanmean(counts)) if np.isfinite(counts).any() else 0.0
            station = np.column_stack(
                [
                    np.full(len(keep), float(code)),  # station category
                    np.full(len(keep), float(f)),  # 0 pickups, 1 returns
                    np.full(len(keep), mean_rate),
                ]
            )
            out.append(np.hstack([station, shared[keep], own[keep]]))
    stacked = np.stack(out)
    return stacked.reshape(flows.shape[0], len(codes), len(keep), stacked.shape[-1])
