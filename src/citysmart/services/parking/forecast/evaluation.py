"""Time-ordered evaluation of the free-space forecast against persistence and the weekly mean.

Train on every pair whose target lies before the test start; test on every origin whose
target lies in the test period and whose origin and target are both observed. The three
methods are scored on the same pairs. Errors are in spaces (free spaces and occupancy
differ by the constant capacity, so their errors are equal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from citysmart.services.parking.forecast.features import week_slot
from citysmart.services.parking.forecast.model import Forecaster
from citysmart.services.parking.forecast.series import STEP

HORIZONS = {"15min": 1, "1h": 4, "3h": 12}


@dataclass(frozen=True)
class HorizonScore:
    """One horizon's figures on the test pairs."""

    horizon: str
    pairs: int
    model_mae: float
    persistence_mae: float
    weekly_mean_mae: float
    interval_coverage: float  # share of test targets inside the model's 80% interval
    interval_width: float  # mean width of that interval, in spaces


@dataclass(frozen=True)
class Evaluation:
    """The evaluation's settings and each horizon's score."""

    lots: list[str]
    train: tuple[str, str]
    test: tuple[str, str]
    scores: list[HorizonScore]
    per_lot_mae: dict[str, dict[str, float]]

    def as_dict(self) -> dict[str, object]:
        """Return the figures as plain JSON-ready values."""
        return asdict(self)


def evaluate(
    grid: pd.DataFrame, test_from: pd.Timestamp, zone: str, country: str, seed: int = 0
) -> Evaluation:
    """Train before ``test_from`` and score each horizon on the rest of ``grid``."""
    forecaster = Forecaster.train(
        grid, test_from, tuple(HORIZONS.values()), zone=zone, country=country, seed=seed
    )
    scores, per_lot = [], {}
    for name, steps in HORIZONS.items():
        score, lot_mae = _score(grid, forecaster, test_from, name, steps)
        scores.append(score)
        per_lot[name] = lot_mae
    train_start = grid.loc[grid["occupancy"].notna(), "time"].min()
    end = grid["time"].max()
    return Evaluation(
        lots=sorted(grid["lot"].unique()),
        train=(train_start.isoformat(), test_from.isoformat()),
        test=(test_from.isoformat(), (end + STEP).isoformat()),
        scores=scores,
        per_lot_mae=per_lot,
    )


def _score(
    grid: pd.DataFrame, forecaster: Forecaster, test_from: pd.Timestamp, name: str, steps: int
) -> tuple[HorizonScore, dict[str, float]]:
    truth = grid.groupby("lot", observed=True)["occupancy"].shift(-steps)
    target_time = grid["time"] + steps * STEP
    pairs = (target_time >= test_from) & truth.notna() & grid["occupancy"].notna()
    forecast = forecaster.predict(grid, steps)[pairs]
    actual = truth[pairs].to_numpy()
    slots = week_slot(target_time[pairs].dt.tz_convert(forecaster.zone))
    keys = pd.MultiIndex.from_arrays([grid.loc[pairs, "lot"].to_numpy(), slots.to_numpy()])
    weekly = forecaster.profile.reindex(keys).to_numpy(dtype=float)
    errors = np.abs(forecast["occupancy"].to_numpy() - actual)
    inside = (actual >= forecast["low"].to_numpy()) & (actual <= forecast["high"].to_numpy())
    lots = grid.loc[pairs, "lot"].to_numpy()
    lot_mae = {lot: round(float(errors[lots == lot].mean()), 2) for lot in sorted(set(lots))}
    score = HorizonScore(
        horizon=name,
        pairs=int(pairs.sum()),
        model_mae=round(float(errors.mean()), 2),
        persistence_mae=round(float(np.abs(grid.loc[pairs, "occupancy"] - actual).mean()), 2),
        weekly_mean_mae=round(float(np.nanmean(np.abs(weekly - actual))), 2),
        interval_coverage=round(float(inside.mean()), 3),
        interval_width=round(float((forecast["high"] - forecast["low"]).mean()), 1),
    )
    return score, lot_mae
