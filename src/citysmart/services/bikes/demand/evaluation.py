"""Time-ordered evaluation of the demand forecasts on Seoul's hourly rentals.

The split is by time, never random: train before ``test_from`` (December–August on the
UCI file), test from it (September–November). Each horizon's target transform is chosen
on a validation period inside the training data (its last ``validation_days``, August),
with the model trained on the hours before it; the chosen setting is then refitted on all
training hours and scored once on the test hours. Hours when the system was off
('Functioning Day' = No) are neither trained on nor scored, and their counts are unknown
to the lag features: nobody could rent, so their 0 says nothing about demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from citysmart.services.bikes.demand.features import (
    FeatureMatrix,
    Horizon,
    HourlySeries,
    HourlyWeather,
    build_features,
)
from citysmart.services.bikes.demand.model import ModelSettings, Target, fit_model
from citysmart.services.bikes.demand.seoul import SeoulData

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ISSUE_TIME = "day-ahead forecasts issued at 00:00 Asia/Seoul for that day's 24 hours"
WEATHER_NOTE = "observed weather stands in for the weather forecast (this flatters the model)"
OFF_HOURS_NOTE = (
    "hours with 'Functioning Day' = No (system off, count 0) are excluded from training "
    "and scoring, and are unknown to the lag features"
)
CANDIDATES = (Target.POISSON, Target.SQRT, Target.LOG)


class EvaluationError(ValueError):
    """The data cannot be split or scored as asked."""


@dataclass(frozen=True)
class Scores:
    """Errors of one method on the scored hours."""

    rmse: float
    mae: float
    r2: float
    hours: int


@dataclass(frozen=True)
class Selection:
    """The target transform chosen on the validation period, with each candidate's RMSE."""

    chosen: Target
    validation_rmse: dict[str, float]
    trees: list[int]


@dataclass(frozen=True)
class EvaluationReport:
    """Scores of the model (both horizons) and the baselines on the test hours."""

    label: str
    train_period: tuple[datetime, datetime]  # [first hour, last hour]
    validation_period: tuple[datetime, datetime]
    test_period: tuple[datetime, datetime]
    train_hours: int
    test_hours: int
    off_hours_excluded: dict[str, int]  # 'train' / 'test' -> hours with the system off
    scores: dict[str, Scores]  # day_ahead, hour_ahead, hour_of_week_mean, last_4_weeks_mean
    selection: dict[str, Selection]  # day_ahead / hour_ahead


def score(predicted: FloatArray, actual: FloatArray) -> Scores:
    """Return RMSE, MAE and R² of ``predicted`` against ``actual``."""
    if len(actual) == 0:
        raise EvaluationError("no hours to score")
    error = predicted - actual
    spread = float(np.sum((actual - actual.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / spread if spread > 0 else float("nan")
    return Scores(
        rmse=float(np.sqrt(np.mean(error**2))),
        mae=float(np.mean(np.abs(error))),
        r2=r2,
        hours=len(actual),
    )


def series_of(data: SeoulData) -> HourlySeries:
    """Return the Seoul data as an hourly series (off hours' counts unknown)."""
    return HourlySeries(
        start=data.times[0],
        counts=data.counts,
        weather=HourlyWeather(
            temperature=data.temperature, rain=data.rain, humidity=data.humidity, wind=data.wind
        ),
    )


def hour_of_week_means(
    times: Sequence[datetime], counts: FloatArray, rows: BoolArray
) -> FloatArray:
    """Return the mean count of each hour of the week (0 = Monday 00:00) over ``rows``."""
    slot = np.array([t.weekday() * 24 + t.hour for t in times])
    known = rows & np.isfinite(counts)
    overall = float(np.mean(counts[known])) if known.any() else 0.0
    means = np.full(168, overall)
    for k in range(168):
        hit = known & (slot == k)
        if hit.any():
            means[k] = float(np.mean(counts[hit]))
    return means


def _fit_predict(
    matrix: FeatureMatrix,
    counts: FloatArray,
    train: BoolArray,
    target_rows: BoolArray,
    settings: ModelSettings,
) -> tuple[FloatArray, list[int]]:
    """Fit on ``train`` rows and predict ``target_rows``."""
    hours = np.arange(len(counts), dtype=np.int64)
    model = fit_model(matrix.values[train], counts[train], hours[train], settings=settings)
    return model.predict(matrix.values[target_rows]), model.rounds


def evaluate(
    data: SeoulData,
    test_from: datetime,
    validation_days: int = 31,
    seeds: tuple[int, ...] = (0, 1, 2),
    candidates: Sequence[Target] = CANDIDATES,
) -> EvaluationReport:
    """Train before ``test_from``, pick settings on the training tail, score after it once."""
    if test_from.tzinfo is None:
        raise EvaluationError("test_from must be timezone-aware")
    times = data.times
    stamp = np.array([t.timestamp() for t in times])
    test_rows = stamp >= test_from.timestamp()
    validation_from = test_from - timedelta(days=validation_days)
    validation_rows = (stamp >= validation_from.timestamp()) & ~test_rows
    before_validation = stamp < validation_from.timestamp()
    known = np.isfinite(data.counts)
    if not (known & test_rows).any():
        raise EvaluationError(
            f"no functioning hours on or after {test_from:%Y-%m-%d}: nothing to test on"
        )
    if (known & before_validation).sum() < 7 * 24 or not (known & validation_rows).any():
        raise EvaluationError(
            f"need at least a week of hours before {validation_from:%Y-%m-%d} and some in the "
            f"{validation_days} validation days before {test_from:%Y-%m-%d}"
        )
    series = series_of(data)
    counts = data.counts
    train = known & ~test_rows
    scored = known & test_rows
    actual = counts[scored]
    scores: dict[str, Scores] = {}
    selection: dict[str, Selection] = {}
    for horizon, key in ((Horizon.DAY, "day_ahead"), (Horizon.HOUR, "hour_ahead")):
        matrix = build_features(series, horizon)
        validation_rmse: dict[str, float] = {}
        for target in candidates:
            settings = ModelSettings(target=target, seeds=seeds[:1])
            predicted, _ = _fit_predict(
                matrix, counts, known & before_validation, known & validation_rows, settings
            )
            validation_rmse[target.value] = score(predicted, counts[known & validation_rows]).rmse
        chosen = min(candidates, key=lambda t: validation_rmse[t.value])
        settings = replace(ModelSettings(target=chosen), seeds=seeds)
        predicted, trees = _fit_predict(matrix, counts, train, scored, settings)
        scores[key] = score(predicted, actual)
        selection[key] = Selection(chosen=chosen, validation_rmse=validation_rmse, trees=trees)
    how = hour_of_week_means(times, counts, train)
    slot = np.array([t.weekday() * 24 + t.hour for t in times])
    scores["hour_of_week_mean"] = score(how[slot][scored], actual)
    last_4_weeks = build_features(series, Horizon.DAY).column("hour_of_week_mean_4w")
    # Where the last four weeks hold no functioning hour, fall back to the training mean.
    last_4_weeks = np.where(np.isfinite(last_4_weeks), last_4_weeks, how[slot])
    scores["last_4_weeks_mean"] = score(last_4_weeks[scored], actual)
    first_test = int(np.argmax(test_rows))
    first_validation = int(np.argmax(validation_rows))
    off = ~data.functioning
    return EvaluationReport(
        label=data.label,
        train_period=(times[0], times[first_test - 1]),
        validation_period=(times[first_validation], times[first_test - 1]),
        test_period=(times[first_test], times[-1]),
        train_hours=int(train.sum()),
        test_hours=int(scored.sum()),
        off_hours_excluded={
            "train": int((off & ~test_rows).sum()),
            "test": int((off & test_rows).sum()),
        },
        scores=scores,
        selection=selection,
    )
