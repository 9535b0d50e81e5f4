"""The free-space model: LightGBM on the change in occupancy, with conformal 80% intervals.

Per horizon, a point model (absolute error, the figure the city reads) and two quantile
models (10% and 90%). The quantile models are fitted without the last two weeks of the
training period; their interval is then widened (or narrowed) by the amount that made it
cover 80% over the last two weeks of realised targets: conformalised quantile regression
(Romano et al., 2019) on a moving window, so that the interval follows a drift in the
data (a season, a new tariff) instead of keeping the training period's width. Only targets
whose time has passed at the origin are used, as a live service would have them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from citysmart.services.parking.forecast.features import (
    change_target,
    horizon_features,
    weekly_profile,
)
from citysmart.services.parking.forecast.series import STEP

COVERAGE = 0.8
# Occupancy may pass capacity a little (cars queuing or circling inside); forecasts may too.
OVERFLOW = 1.1
CALIBRATION = pd.Timedelta(days=14)
MIN_SCORES = 200
_POINT: dict[str, Any] = {
    "objective": "l1",
    "n_estimators": 600,
    "learning_rate": 0.03,
    "num_leaves": 31,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "verbose": -1,
    # One thread: on a shared machine OpenMP threads spin-wait and run many times slower.
    "n_jobs": 1,
    "deterministic": True,
    "force_row_wise": True,
}
_QUANTILE: dict[str, Any] = {**_POINT, "objective": "quantile", "n_estimators": 400}


class ForecastError(ValueError):
    """A forecast that cannot be made, saying why."""


@dataclass
class HorizonModel:
    """The three models of one horizon and the interval's conformal correction."""

    steps: int
    point: lgb.LGBMRegressor
    lower: lgb.LGBMRegressor
    upper: lgb.LGBMRegressor
    correction: float


@dataclass
class Forecaster:
    """Models for each horizon, the weekly profile they use, and where the lots are."""

    zone: str
    country: str
    profile: pd.Series
    horizons: dict[int, HorizonModel] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def train(
        cls,
        grid: pd.DataFrame,
        until: pd.Timestamp,
        steps: tuple[int, ...],
        zone: str,
        country: str,
        seed: int = 0,
    ) -> Forecaster:
        """Train on the pairs whose target lies before ``until`` (nothing later is read)."""
        known = grid[grid["time"] < until]
        profile = weekly_profile(known, until, zone)
        forecaster = cls(zone, country, profile, seed=seed)
        for step in steps:
            forecaster.horizons[step] = forecaster._train_horizon(known, until, step)
        return forecaster

    def _train_horizon(self, known: pd.DataFrame, until: pd.Timestamp, steps: int) -> HorizonModel:
        features = horizon_features(known, steps, self.profile, self.zone, self.country)
        target = change_target(known, steps)
        usable = target.notna() & known["occupancy"].notna()
        if usable.sum() < 1000:
            raise ForecastError(
                f"only {int(usable.sum())} training pairs for +{steps * 15} min; need 1,000"
            )
        target_time = known["time"] + steps * STEP
        calibrating = usable & (target_time >= until - CALIBRATION)
        fitting = usable & ~calibrating
        point = lgb.LGBMRegressor(**_POINT, random_state=self.seed)
        point.fit(features[usable], target[usable])
        tail = (1 - COVERAGE) / 2
        lower = lgb.LGBMRegressor(**_QUANTILE, alpha=tail, random_state=self.seed)
        upper = lgb.LGBMRegressor(**_QUANTILE, alpha=1 - tail, random_state=self.seed)
        lower.fit(features[fitting], target[fitting])
        upper.fit(features[fitting], target[fitting])
        truth = target[calibrating].to_numpy()
        scores = np.maximum(
            lower.predict(features[calibrating]) - truth,
            truth - upper.predict(features[calibrating]),
        )
        level = min(1.0, np.ceil((len(scores) + 1) * COVERAGE) / len(scores))
        correction = float(np.quantile(scores, level)) if len(scores) else 0.0
        return HorizonModel(steps, point, lower, upper, correction)

    def corrections(
        self, grid: pd.DataFrame, steps: int, features: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Return each origin's interval correction: the 80% level of the last 2 weeks' scores.

        A score is how far a realised target fell outside the raw interval (negative when
        inside). Origins with fewer than ``MIN_SCORES`` realised scores in their window keep
        the training period's correction.
        """
        model = self._model(steps)
        if features is None:
            features = horizon_features(grid, steps, self.profile, self.zone, self.country)
        target = change_target(grid, steps)
        known = target.notna().to_numpy() & grid["occupancy"].notna().to_numpy()
        truth = target.to_numpy()[known]
        scores = np.maximum(
            model.lower.predict(features[known]) - truth,
            truth - model.upper.predict(features[known]),
        )
        realised_at = (grid["time"] + steps * STEP).to_numpy()[known]
        order = np.argsort(realised_at, kind="stable")
        history = pd.Series(scores[order], index=pd.DatetimeIndex(realised_at[order]))
        levels = history.rolling(CALIBRATION, min_periods=MIN_SCORES).quantile(COVERAGE)
        origins = grid["time"].to_numpy()
        last = np.searchsorted(history.index.to_numpy(), origins, side="right") - 1
        found = levels.to_numpy()[np.maximum(last, 0)]
        return np.where((last >= 0) & np.isfinite(found), found, model.correction)

    def _model(self, steps: int) -> HorizonModel:
        model = self.horizons.get(steps)
        if model is None:
            raise ForecastError(f"no model for +{steps * 15} min (have {sorted(self.horizons)})")
        return model

    def predict(self, grid: pd.DataFrame, steps: int) -> pd.DataFrame:
        """Predict occupancy ``steps`` quarter hours after every origin of ``grid``.

        Returns, per row of ``grid``: ``occupancy`` (point), ``low`` and ``high`` (the 80%
        interval), within 0 and ``OVERFLOW`` x capacity; NaN where the origin is unknown.
        """
        model = self._model(steps)
        features = horizon_features(grid, steps, self.profile, self.zone, self.country)
        correction = self.corrections(grid, steps, features)
        now = grid["occupancy"].to_numpy()
        ceiling = grid["capacity"].to_numpy() * OVERFLOW
        point = now + model.point.predict(features)
        low = now + model.lower.predict(features) - correction
        high = now + model.upper.predict(features) + correction
        low, high = np.minimum(low, point), np.maximum(high, point)
        frame = pd.DataFrame(
            {
                "occupancy": np.clip(point, 0, ceiling),
                "low": np.clip(low, 0, ceiling),
                "high": np.clip(high, 0, ceiling),
            },
            index=grid.index,
        )
        frame[np.isnan(now)] = np.nan
        return frame
