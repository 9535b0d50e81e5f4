"""Leave-one-station-out cross-validation of the interpolators and of gap filling.

For each evaluated hour and each station with a value (the held-out one), only the
other stations' values are handed to the predictors: the held-out station's value,
and in the spatial evaluation its whole history, take no part in its own prediction
(not in the fit, the variogram, the served choice, nor anything tuned). The tuned
kriging's plan for a held-out station is chosen, as the service would choose it each
day, from the other stations' leave-one-out errors over the ``plan_days`` days before
the hour's day: past hours of the others only. The gap-fill evaluation is the one place
where the held-out station's own earlier hours are used, as that mode allows; its
current hour never is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt

from citysmart.services.air.anisotropy import KrigingPlan
from citysmart.services.air.interpolation import (
    FloatArray,
    GapFill,
    Method,
    VariogramModel,
    fill_gap,
    fit_hour,
)
from citysmart.services.air.kriging_plan import (
    GEOMETRIES,
    KEEP_NUGGETS,
    NUGGET_SHARES,
    candidate_losses,
    network_scale,
    plan_from_losses,
)

# "served" is what the service serves: tuned kriging once a plan exists, before that the
# one of IDW and kriging with the lower leave-one-out error, which "idw_or_kriging" keeps
# for every hour (the rule served before plans existed).
SPATIAL_METHODS = ("nearest", "idw", "kriging", "served", "city_mean")
PREVIOUS_SERVED = "idw_or_kriging"
GAP_METHODS = ("gap_fill", "idw", "persistence")
MIN_OTHERS = 3
# Past hours with enough stations that a plan needs before it replaces the per-hour choice.
MIN_PLAN_HOURS = 72
_DAY = 24


@dataclass(frozen=True)
class Scores:
    """RMSE, MAE and R² of predictions against the truth, over ``count`` predictions."""

    rmse: float
    mae: float
    r2: float
    count: int


def score(predicted: Sequence[float] | FloatArray, truth: Sequence[float] | FloatArray) -> Scores:
    """Score predictions against the truth (R² against the truth's own mean)."""
    p = np.asarray(predicted, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if len(t) == 0:
        return Scores(float("nan"), float("nan"), float("nan"), 0)
    error = p - t
    total = float(np.sum((t - t.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / total if total > 0 else float("nan")
    return Scores(float(np.sqrt(np.mean(error**2))), float(np.mean(np.abs(error))), r2, len(t))


@dataclass(frozen=True)
class Settings:
    """How the predictors are set up (the same for every station and hour)."""

    power: float = 2.0
    variogram_model: VariogramModel = "linear"
    variogram_hours: int = 0
    gap_history_hours: int = 720
    plan_days: int = 60
    plan_nuggets: int = KEEP_NUGGETS


@dataclass(frozen=True)
class Evaluation:
    """Scores of each spatial method and of gap filling, over the same held-out pairs."""

    hours: int
    spatial: dict[str, Scores]
    previous_served: Scores
    served_share: dict[str, float]
    gap_fill: dict[str, Scores]
    gap_fill_paths: dict[str, int]
    settings: Settings = field(default_factory=Settings)

    def to_dict(self) -> dict[str, object]:
        """Return the figures as plain JSON-ready data (NaN as None)."""
        gap: dict[str, object] = {m: _scores_dict(s) for m, s in self.gap_fill.items()}
        if self.gap_fill:
            gap["paths"] = dict(self.gap_fill_paths)
            gap["rmse_ratio_to_idw"] = _number(
                self.gap_fill["gap_fill"].rmse / self.gap_fill["idw"].rmse
                if self.gap_fill["idw"].rmse > 0
                else float("nan")
            )
        kriging = self.spatial["kriging"].rmse
        return {
            "hours_evaluated": self.hours,
            "spatial": {m: _scores_dict(s) for m, s in self.spatial.items()},
            "served_rmse_relative_to_kriging": _number(
                self.spatial["served"].rmse / kriging if kriging > 0 else float("nan")
            ),
            PREVIOUS_SERVED: _scores_dict(self.previous_served),
            "served_share": dict(self.served_share),
            "gap_fill": gap,
            "settings": asdict(self.settings),
        }


def _number(value: float) -> float | None:
    """Return a JSON-safe number (None for NaN)."""
    return None if math.isnan(value) else round(value, 4)


def _scores_dict(scores: Scores) -> dict[str, object]:
    """Return one method's scores as plain data."""
    return {
        "rmse": _number(scores.rmse),
        "mae": _number(scores.mae),
        "r2": _number(scores.r2),
        "count": scores.count,
    }


def sample_hours(total: int, count: int | None, seed: int) -> list[int]:
    """Return all hour indices, or ``count`` of them drawn without replacement (sorted)."""
    if count is None or count >= total:
        return list(range(total))
    if count <= 0:
        raise ValueError("the number of hours must be positive")
    rng = np.random.default_rng(seed)
    return sorted(int(h) for h in rng.choice(total, size=count, replace=False))


class PlanCache:
    """Tuned-kriging plans per held-out station and day, from the other stations' past only.

    The candidates' leave-one-out losses of each day are summed once per held-out station
    (over the other stations' columns) and reused by every hour that looks back on them.
    """

    def __init__(self, xy: FloatArray, table: FloatArray, settings: Settings) -> None:
        self._xy = xy
        self._table = table
        self._settings = settings
        self._days: dict[tuple[int, int], tuple[FloatArray, int]] = {}
        self._plans: dict[tuple[int, int], KrigingPlan | None] = {}

    def _others(self, held_out: int) -> npt.NDArray[np.intp]:
        """Return every station but the held-out one (present this hour or not)."""
        return np.delete(np.arange(self._table.shape[1]), held_out)

    def _day(self, held_out: int, day: int, scale: float) -> tuple[FloatArray, int]:
        """Return one day's summed candidate losses over the others, and its hours that counted."""
        key = (held_out, day)
        if key not in self._days:
            others = self._others(held_out)
            rows = self._table[day * _DAY : (day + 1) * _DAY, others]
            self._days[key] = candidate_losses(self._xy[others], rows, scale)
        return self._days[key]

    def plan(self, held_out: int, hour: int) -> KrigingPlan | None:
        """Return the plan for ``held_out`` on ``hour``'s day: days before it, others only."""
        day = hour // _DAY
        key = (held_out, day)
        if key not in self._plans:
            scale = network_scale(self._xy[self._others(held_out)])
            total = np.zeros((len(GEOMETRIES), len(NUGGET_SHARES)))
            used = 0
            for past in range(max(0, day - self._settings.plan_days), day):
                losses, count = self._day(held_out, past, scale)
                total += losses
                used += count
            self._plans[key] = (
                plan_from_losses(total, scale, keep=self._settings.plan_nuggets)
                if used >= MIN_PLAN_HOURS
                else None
            )
        return self._plans[key]


@dataclass(frozen=True)
class HeldOut:
    """The predictions of one held-out station at one hour."""

    spatial: dict[str, float]
    served: Method
    gap_fill: GapFill | None


def predict_held_out(
    xy: FloatArray,
    table: FloatArray,
    hour: int,
    held_out: int,
    settings: Settings | None = None,
    *,
    gap_fill: bool = True,
    plans: PlanCache | None = None,
) -> HeldOut | None:
    """Predict station ``held_out`` at ``hour`` without its own data; None if too few others.

    The spatial predictions read the other stations' columns only (the tuned kriging's
    plan: their hours before ``hour``'s day). The gap fill (when asked and the station's
    previous hour is known) also reads the station's own hours before ``hour``, never the
    hour itself. ``plans`` caches plans across calls on the same table.
    """
    settings = settings or Settings()
    present = np.isfinite(table[hour])
    present[held_out] = False
    others = np.flatnonzero(present)
    if len(others) < MIN_OTHERS:
        return None
    plans = plans or PlanCache(xy, table, settings)
    plan = plans.plan(held_out, hour)
    target = xy[held_out : held_out + 1]
    spatial, served = _predict_spatial(xy[others], table, hour, others, target, settings, plan)
    filled = None
    if gap_fill and hour > 0 and np.isfinite(table[hour - 1, held_out]):
        start = max(0, hour - settings.gap_history_hours)
        filled = fill_gap(
            xy[held_out],
            table[start:hour, held_out],
            xy[others],
            table[start : hour + 1, others],
            power=settings.power,
        )
    return HeldOut(spatial, served, filled)


def evaluate(
    xy: FloatArray,
    values: npt.ArrayLike,
    hours: Sequence[int],
    settings: Settings | None = None,
    *,
    gap_fill: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Cross-validate by leaving each station out in turn at each of ``hours``.

    ``xy`` is (stations, 2) in metres; ``values`` is (all hours, stations), NaN where
    missing. A station is evaluated at an hour when it has a value and at least
    ``MIN_OTHERS`` others do too; its 1-hour gap fill when its previous hour is known.
    """
    settings = settings or Settings()
    table = np.asarray(values, dtype=np.float64)
    plans = PlanCache(xy, table, settings)
    truth: list[float] = []
    spatial: dict[str, list[float]] = {m: [] for m in (*SPATIAL_METHODS, PREVIOUS_SERVED)}
    served_count: dict[Method, int] = {"idw": 0, "kriging": 0, "tuned": 0}
    gap_truth: list[float] = []
    gaps: dict[str, list[float]] = {m: [] for m in GAP_METHODS}
    paths: dict[str, int] = {"regression": 0, "change": 0, "spatial": 0}
    for done, hour in enumerate(hours):
        for held_out in np.flatnonzero(np.isfinite(table[hour])):
            result = predict_held_out(
                xy, table, hour, int(held_out), settings, gap_fill=gap_fill, plans=plans
            )
            if result is None:
                continue
            value = float(table[hour, held_out])
            truth.append(value)
            served_count[result.served] += 1
            for method, predicted in result.spatial.items():
                spatial[method].append(predicted)
            if result.gap_fill is not None:
                gap_truth.append(value)
                gaps["gap_fill"].append(result.gap_fill.value)
                gaps["idw"].append(result.spatial["idw"])
                gaps["persistence"].append(float(table[hour - 1, held_out]))
                paths[result.gap_fill.method] += 1
        if progress is not None:
            progress(done + 1, len(hours))
    served_total = max(1, sum(served_count.values()))
    return Evaluation(
        hours=len(hours),
        spatial={m: score(spatial[m], truth) for m in SPATIAL_METHODS},
        previous_served=score(spatial[PREVIOUS_SERVED], truth),
        served_share={str(m): c / served_total for m, c in served_count.items()},
        gap_fill={m: score(p, gap_truth) for m, p in gaps.items()} if gap_fill else {},
        gap_fill_paths=paths if gap_fill else {},
        settings=settings,
    )


def _predict_spatial(
    xy_others: FloatArray,
    table: FloatArray,
    hour: int,
    others: npt.NDArray[np.intp],
    target: FloatArray,
    settings: Settings,
    plan: KrigingPlan | None,
) -> tuple[dict[str, float], Method]:
    """Predict the held-out position from the other stations only (their columns alone)."""
    now = table[hour, others]
    history = None
    if settings.variogram_hours > 0:
        history = table[max(0, hour - settings.variogram_hours) : hour, others]
    fitted = fit_hour(
        xy_others,
        now,
        power=settings.power,
        history=history,
        variogram_model=settings.variogram_model,
        plan=plan,
    )
    nearest = int(np.argmin(np.sum((xy_others - target) ** 2, axis=1)))
    kriging = float(fitted.predict(target, "kriging")[0])
    idw = float(fitted.predict(target, "idw")[0])
    previous = kriging if fitted.loo_rmse["kriging"] < fitted.loo_rmse["idw"] else idw
    predicted = {
        "nearest": float(now[nearest]),
        "idw": idw,
        "kriging": kriging,
        "served": float(fitted.predict(target, "served")[0]),
        "city_mean": float(np.mean(now)),
        PREVIOUS_SERVED: previous,
    }
    return predicted, fitted.served
