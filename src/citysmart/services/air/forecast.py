"""Forecast each area's hourly PM2.5 and PM10 1..6 hours ahead, with a prediction interval.

One gradient-boosted model per pollutant and horizon predicts the change from the latest
reading (direct multi-horizon). Two quantile models of the change in log(1 + value) give the
interval: quantiles survive the back-transform exactly, and the log makes the interval's
width scale with the pollution level, as the spread of PM changes does.
Features come only from the origin hour and earlier. An area with no reading in the last
``max_age_hours`` gets no forecast (NaN), as persistence would have nothing to repeat.
"""

from __future__ import annotations

import datetime as dt
import pickle
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingRegressor  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from citysmart.services.air.forecast_features import (
    HOUR,
    POLLUTANTS,
    AreaSeries,
    FeatureTable,
    FloatArray,
    build_features,
    last_observed,
    series_from_hourly_means,
    to_hour,
)

__all__ = [
    "POLLUTANTS",
    "AreaForecast",
    "AreaSeries",
    "Climatology",
    "ForecastModel",
    "ForecastSet",
    "climatology_forecast",
    "fit_climatology",
    "fit_forecast_model",
    "forecast_latest",
    "load_model",
    "persistence_forecast",
    "predict",
    "save_model",
    "series_from_hourly_means",
]

SEOUL_UTC_OFFSET_HOURS = 9  # Korea keeps no daylight saving time, so a fixed offset is exact


@dataclass(frozen=True)
class ForecastSet:
    """Forecasts of one pollutant: arrays (origins, areas, horizons), NaN where none is made."""

    point: FloatArray
    lower: FloatArray
    upper: FloatArray


@dataclass
class HorizonModel:
    """Models of one pollutant at one horizon: the change, and its quantiles in log space."""

    change: HistGradientBoostingRegressor
    log_low: HistGradientBoostingRegressor
    log_high: HistGradientBoostingRegressor
    log_widening: float


@dataclass
class ForecastModel:
    """A fitted forecaster: per pollutant and horizon, a point model and two quantile models."""

    horizons: int
    interval: float
    tz_offset_hours: int
    max_age_hours: int
    weather_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    models: dict[tuple[str, int], HorizonModel]


@dataclass(frozen=True)
class AreaForecast:
    """One area's forecast of one pollutant for one future hour."""

    area: str
    pollutant: str
    time: dt.datetime
    horizon: int
    value: float
    lower: float
    upper: float


def _one_thread() -> AbstractContextManager[object]:
    # each tree's work is small here; OpenMP threads spin-wait for it, and on a shared
    # two-core machine that made fits two to four times slower (measured) than one thread
    limits: AbstractContextManager[object] = threadpool_limits(limits=1, user_api="openmp")
    return limits


def _regressor(
    loss: str, quantile: float | None, max_iter: int, random_state: int
) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        loss=loss,
        quantile=quantile,
        # fewer boosting rounds take bigger steps, so a quick fit still gets there
        learning_rate=min(0.3, 15.0 / max_iter),
        max_iter=max_iter,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=random_state,
    )


def _training_rows(
    n_areas: int, horizon: int, train_end: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    # every target hour must lie before train_end, so no later value reaches the fit
    origins = np.arange(max(train_end - horizon, 0))
    grid_o, grid_a = np.meshgrid(origins, np.arange(n_areas), indexing="ij")
    return grid_o.ravel(), grid_a.ravel()


def _log(values: FloatArray) -> FloatArray:
    return np.log1p(np.maximum(values, 0.0))


def _unlog(values: FloatArray) -> FloatArray:
    return np.expm1(values)


@dataclass(frozen=True)
class _FitSettings:
    train_end: int
    calibration_start: int
    interval: float
    max_iter: int
    random_state: int


def _fit_horizon(
    values: FloatArray, table: FeatureTable, horizon: int, settings: _FitSettings
) -> HorizonModel:
    origins, areas = _training_rows(values.shape[1], horizon, settings.train_end)
    future = values[origins + horizon, areas]
    anchor = table.anchor[origins, areas]
    keep = np.isfinite(future) & np.isfinite(anchor)
    if keep.sum() < 100:
        raise ValueError(f"too little data to fit +{horizon} h: {int(keep.sum())} rows")
    origins, future, anchor = origins[keep], future[keep], anchor[keep]
    features = table.rows(origins, areas[keep])
    log_change = _log(future) - _log(anchor)
    # split conformal: the quantile models learn on the earlier hours, and the later ones
    # measure how far outside their band the truth falls, which sets the widening
    calibrate = origins >= settings.calibration_start
    learn = origins + horizon < settings.calibration_start
    if calibrate.sum() < 50 or learn.sum() < 50:
        learn = calibrate = np.ones(origins.size, dtype=bool)
    tail = (1.0 - settings.interval) / 2.0
    low, high = (
        _regressor("quantile", q, settings.max_iter, settings.random_state).fit(
            features[learn], log_change[learn]
        )
        for q in (tail, 1.0 - tail)
    )
    scores = np.maximum(
        low.predict(features[calibrate]) - log_change[calibrate],
        log_change[calibrate] - high.predict(features[calibrate]),
    )
    level = min(1.0, settings.interval * (1.0 + 1.0 / scores.size))
    change = _regressor("squared_error", None, settings.max_iter, settings.random_state)
    return HorizonModel(
        change=change.fit(features, future - anchor),
        log_low=low,
        log_high=high,
        log_widening=float(np.quantile(scores, level)),
    )


def fit_forecast_model(
    series: AreaSeries,
    *,
    horizons: int = 6,
    interval: float = 0.8,
    train_end: np.datetime64 | dt.datetime | None = None,
    tz_offset_hours: int = SEOUL_UTC_OFFSET_HOURS,
    max_age_hours: int = 24,
    calibration_fraction: float = 0.25,
    max_iter: int = 150,
    random_state: int = 0,
) -> ForecastModel:
    """Fit the forecaster on the hours before train_end (all of the series when None)."""
    if not 0.0 < interval < 1.0:
        raise ValueError(f"interval must lie between 0 and 1, got {interval}")
    if horizons < 1:
        raise ValueError(f"horizons must be at least 1, got {horizons}")
    end = series.hours if train_end is None else _row_before(series, train_end)
    settings = _FitSettings(
        train_end=end,
        calibration_start=int(end * (1.0 - calibration_fraction)),
        interval=interval,
        max_iter=max_iter,
        random_state=random_state,
    )
    weather_names = tuple(sorted(series.weather))
    models: dict[tuple[str, int], HorizonModel] = {}
    feature_names: tuple[str, ...] = ()
    with _one_thread():
        for pollutant in POLLUTANTS:
            table = build_features(
                series,
                pollutant,
                tz_offset_hours=tz_offset_hours,
                max_age_hours=max_age_hours,
                weather_names=weather_names,
            )
            feature_names = table.names
            for horizon in range(1, horizons + 1):
                try:
                    models[(pollutant, horizon)] = _fit_horizon(
                        series.values(pollutant), table, horizon, settings
                    )
                except ValueError as exc:
                    raise ValueError(f"{pollutant}: {exc}") from exc
    return ForecastModel(
        horizons=horizons,
        interval=interval,
        tz_offset_hours=tz_offset_hours,
        max_age_hours=max_age_hours,
        weather_names=weather_names,
        feature_names=feature_names,
        models=models,
    )


def _row_before(series: AreaSeries, time: np.datetime64 | dt.datetime) -> int:
    hour = to_hour(time)
    return int(np.clip((hour - series.times[0]) // HOUR, 0, series.hours))


def _predict_horizon(
    fitted: HorizonModel, anchor: FloatArray, features: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    # concentrations are never negative, whatever the change model says
    point = np.maximum(anchor + fitted.change.predict(features), 0.0)
    log_anchor, widen = _log(anchor), fitted.log_widening
    low = _unlog(log_anchor + fitted.log_low.predict(features) - widen)
    high = _unlog(log_anchor + fitted.log_high.predict(features) + widen)
    # quantile models fitted apart can cross each other or the mean: keep them ordered
    return point, np.minimum(low, point), np.maximum(high, point)


def predict(
    model: ForecastModel, series: AreaSeries, origins: NDArray[np.intp]
) -> dict[str, ForecastSet]:
    """Forecast every area from each origin row, for horizons 1..model.horizons."""
    origins = np.asarray(origins, dtype=np.intp)
    n_areas = len(series.areas)
    grid_o, grid_a = np.meshgrid(origins, np.arange(n_areas), indexing="ij")
    flat_o, flat_a = grid_o.ravel(), grid_a.ravel()
    result: dict[str, ForecastSet] = {}
    with _one_thread():
        for pollutant in POLLUTANTS:
            table = build_features(
                series,
                pollutant,
                tz_offset_hours=model.tz_offset_hours,
                max_age_hours=model.max_age_hours,
                weather_names=model.weather_names,
            )
            anchor = table.anchor[flat_o, flat_a]
            known = np.isfinite(anchor)
            features = table.rows(flat_o[known], flat_a[known])
            # flat rows (origin-major, area-minor) x horizons, NaN where no anchor exists
            outputs = [np.full((flat_o.size, model.horizons), np.nan) for _ in range(3)]
            if known.any():
                for horizon in range(1, model.horizons + 1):
                    fitted = model.models[(pollutant, horizon)]
                    parts = _predict_horizon(fitted, anchor[known], features)
                    for out, part in zip(outputs, parts, strict=True):
                        out[known, horizon - 1] = part
            point, lower, upper = (
                out.reshape(origins.size, n_areas, model.horizons) for out in outputs
            )
            result[pollutant] = ForecastSet(point=point, lower=lower, upper=upper)
    return result


def forecast_latest(model: ForecastModel, series: AreaSeries) -> tuple[AreaForecast, ...]:
    """Forecast the hours after the series' last hour, one record per area, pollutant and hour."""
    origin = series.hours - 1
    sets = predict(model, series, np.array([origin]))
    records: list[AreaForecast] = []
    for pollutant, forecast in sets.items():
        for a, area in enumerate(series.areas):
            for h in range(model.horizons):
                if not np.isfinite(forecast.point[0, a, h]):
                    continue
                when = (series.times[origin] + (h + 1) * HOUR).astype(dt.datetime)
                records.append(
                    AreaForecast(
                        area=area,
                        pollutant=pollutant,
                        time=when.replace(tzinfo=dt.UTC),
                        horizon=h + 1,
                        value=float(forecast.point[0, a, h]),
                        lower=float(forecast.lower[0, a, h]),
                        upper=float(forecast.upper[0, a, h]),
                    )
                )
    return tuple(records)


def persistence_forecast(
    series: AreaSeries, origins: NDArray[np.intp], horizons: int, max_age_hours: int = 24
) -> dict[str, FloatArray]:
    """Repeat each area's latest reading (at most max_age_hours old) for every horizon."""
    origins = np.asarray(origins, dtype=np.intp)
    result: dict[str, FloatArray] = {}
    for pollutant in POLLUTANTS:
        latest, _ = last_observed(series.values(pollutant), max_age_hours)
        result[pollutant] = np.repeat(latest[origins][:, :, None], horizons, axis=2)
    return result


@dataclass(frozen=True)
class Climatology:
    """Mean of each pollutant per area and local hour of day, learnt from a training period."""

    tz_offset_hours: int
    areas: tuple[str, ...]
    means: dict[str, FloatArray]  # pollutant -> (24, areas)


def _local_hour(times: NDArray[np.datetime64], tz_offset_hours: int) -> NDArray[np.intp]:
    local = times.astype("datetime64[h]") + np.timedelta64(tz_offset_hours, "h")
    return (local.astype(np.int64) % 24).astype(np.intp)


def fit_climatology(
    series: AreaSeries,
    *,
    train_end: np.datetime64 | dt.datetime | None = None,
    tz_offset_hours: int = SEOUL_UTC_OFFSET_HOURS,
) -> Climatology:
    """Learn the hour-of-day mean per area from the hours before train_end."""
    end = series.hours if train_end is None else _row_before(series, train_end)
    hours = _local_hour(series.times[:end], tz_offset_hours)
    means: dict[str, FloatArray] = {}
    for pollutant in POLLUTANTS:
        values = series.values(pollutant)[:end]
        table = np.full((24, len(series.areas)), np.nan)
        for hour in range(24):
            rows = values[hours == hour]
            counts = np.isfinite(rows).sum(axis=0)
            sums = np.where(np.isfinite(rows), rows, 0.0).sum(axis=0)
            table[hour] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        means[pollutant] = table
    return Climatology(tz_offset_hours=tz_offset_hours, areas=series.areas, means=means)


def climatology_forecast(
    climatology: Climatology, series: AreaSeries, origins: NDArray[np.intp], horizons: int
) -> dict[str, FloatArray]:
    """Forecast each target hour as its area's training mean for that hour of day."""
    if climatology.areas != series.areas:
        raise ValueError("the climatology was learnt for other areas")
    origins = np.asarray(origins, dtype=np.intp)
    targets = series.times[origins][:, None] + np.arange(1, horizons + 1)[None, :] * HOUR
    hours = _local_hour(targets, climatology.tz_offset_hours)  # (origins, horizons)
    return {
        pollutant: np.transpose(table[hours], (0, 2, 1))
        for pollutant, table in climatology.means.items()
    }


def save_model(model: ForecastModel, path: Path) -> None:
    """Write a fitted model to a file (pickle: load only files this platform wrote)."""
    path.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def load_model(path: Path) -> ForecastModel:
    """Read a model written by save_model."""
    model = pickle.loads(path.read_bytes())
    if not isinstance(model, ForecastModel):
        raise ValueError(f"{path} does not hold a forecast model")
    return model
