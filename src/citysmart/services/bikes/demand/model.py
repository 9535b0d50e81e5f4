"""Gradient-boosted (LightGBM) demand model with time-ordered early stopping and seed ensembles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_MIN_EARLY_STOP_ROWS = 48


class Target(StrEnum):
    """How counts are transformed before the trees see them."""

    LOG = "log1p"  # squared error on log(1 + count)
    SQRT = "sqrt"  # squared error on sqrt(count): variance-stabilising for counts
    POISSON = "poisson"  # Poisson deviance on the raw count: predicts a mean rate directly


@dataclass(frozen=True)
class ModelSettings:
    """LightGBM settings; the number of trees is set by early stopping on the training tail."""

    target: Target = Target.POISSON
    learning_rate: float = 0.03
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.8
    seeds: tuple[int, ...] = (0, 1, 2)
    max_rounds: int = 3000
    patience: int = 100
    holdout_share: float = 0.15  # the latest share of training hours used for early stopping
    holdout_max_hours: int = 28 * 24
    # One thread: on a shared machine OpenMP threads spin-wait and run many times slower.
    threads: int = 1


def _transform(counts: FloatArray, target: Target) -> FloatArray:
    """Map counts to the scale the model is fitted on."""
    if target is Target.LOG:
        return np.log1p(counts)
    if target is Target.SQRT:
        return np.sqrt(counts)
    return counts


def _back(values: FloatArray, target: Target) -> FloatArray:
    """Map model outputs back to counts (non-negative)."""
    if target is Target.LOG:
        return np.maximum(np.expm1(values), 0.0)
    if target is Target.SQRT:
        return np.maximum(values, 0.0) ** 2
    return np.maximum(values, 0.0)


def _params(settings: ModelSettings, seed: int) -> dict[str, Any]:
    """Return LightGBM's parameters for one ensemble member."""
    return {
        "objective": "poisson" if settings.target is Target.POISSON else "regression",
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_data_in_leaf": settings.min_data_in_leaf,
        "feature_fraction": settings.feature_fraction,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": seed,
        "num_threads": settings.threads,
        "verbose": -1,
        "deterministic": True,
        "force_row_wise": True,
    }


@dataclass
class DemandModel:
    """A fitted ensemble that predicts mean counts per hour."""

    settings: ModelSettings
    boosters: list[Any] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)

    def predict(self, features: FloatArray) -> FloatArray:
        """Return the predicted mean count of each row (never negative)."""
        if not self.boosters:
            raise RuntimeError("the model is not fitted")
        outputs = [
            _back(np.asarray(b.predict(features), dtype=np.float64), self.settings.target)
            for b in self.boosters
        ]
        return np.asarray(np.mean(outputs, axis=0), dtype=np.float64)


def _dataset(features: FloatArray, target: FloatArray, categorical: Sequence[int]) -> Any:
    """Wrap rows for LightGBM."""
    return lgb.Dataset(
        features,
        target,
        categorical_feature=list(categorical) if categorical else "auto",
        free_raw_data=False,
        params={"verbose": -1},
    )


def fit_model(
    features: FloatArray,
    counts: FloatArray,
    hours: npt.NDArray[np.int64],
    settings: ModelSettings | None = None,
    categorical: Sequence[int] = (),
) -> DemandModel:
    """Fit on rows with known counts; stop early on the latest training hours, then refit all.

    ``hours`` orders the rows in time (any integer hour index): the early-stopping rows are
    the latest ones, so the number of trees is chosen on data after the fitting rows, as a
    forecast would meet it. The final trees are refitted on every row with that number.
    """
    settings = settings or ModelSettings()
    known = np.isfinite(counts)
    if known.sum() < 24:
        raise ValueError(f"{int(known.sum())} hours with known counts; need at least 24")
    x, y, t = features[known], counts[known], hours[known]
    target = _transform(y, settings.target)
    span = int(t.max() - t.min()) + 1
    hold = min(settings.holdout_max_hours, int(span * settings.holdout_share))
    cut = t.max() - hold
    early, late = t <= cut, t > cut
    model = DemandModel(settings)
    for seed in settings.seeds:
        params = _params(settings, seed)
        rounds = settings.max_rounds
        if late.sum() >= _MIN_EARLY_STOP_ROWS and early.sum() >= _MIN_EARLY_STOP_ROWS:
            probe = lgb.train(
                params,
                _dataset(x[early], target[early], categorical),
                settings.max_rounds,
                valid_sets=[_dataset(x[late], target[late], categorical)],
                callbacks=[lgb.early_stopping(settings.patience, verbose=False)],
            )
            rounds = max(int(probe.best_iteration), 10)
        else:
            rounds = min(rounds, 300)  # too little history to hold any out
        booster = lgb.train(params, _dataset(x, target, categorical), rounds)
        model.boosters.append(booster)
        model.rounds.append(rounds)
    return model
