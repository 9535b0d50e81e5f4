"""Choose the tuned kriging's plan by the sensors' own leave-one-out error over past hours.

Each candidate is a geometry (isotropic, or stretched along one of eight directions by
one of three ratios) and a nugget (a share of the network's median sensor spacing) of a
linear variogram. For every past hour each candidate predicts every sensor from the
others (leave-one-out, in closed form from one inverse per candidate, Dubrule 1983);
the squared errors are summed over hours. The plan keeps the geometry whose best nugget
has the lowest sum, with its ``keep`` best nuggets, whose predictions are then averaged:
one hour's error picks a nugget badly, and an average over the best few is steadier.

Only the values handed in take part: to judge a method at a sensor, hand in the others.
Run it on a schedule (daily, say), not per request: 60 days of 100 sensors take tens of
seconds, while applying a plan to an hour costs a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.spatial.distance import pdist, squareform  # type: ignore[import-untyped]

from citysmart.services.air.anisotropy import Geometry, KrigingPlan

FloatArray = npt.NDArray[np.float64]
AnyFloatArray = npt.NDArray[np.floating]

GEOMETRIES: tuple[Geometry, ...] = (Geometry(),) + tuple(
    Geometry(angle, ratio) for angle in np.arange(0.0, 180.0, 22.5) for ratio in (0.7, 0.5, 0.35)
)
# Nuggets as shares of the median distance between sensors: from nearly exact
# interpolation (0.03) to strong smoothing (0.5), on a doubling scale.
NUGGET_SHARES: tuple[float, ...] = (0.03, 0.06, 0.12, 0.25, 0.5)
# Nuggets averaged in a plan.
KEEP_NUGGETS = 3
# Fewer sensors than this in an hour teach nothing about the geometry: the hour is skipped.
MIN_SENSORS = 4


def network_scale(xy: AnyFloatArray) -> float:
    """Return the median distance (m) between the sensors: the unit of the nugget shares."""
    points = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(points) < 2:
        raise ValueError("a network scale needs at least two sensors")
    scale = float(np.median(pdist(points)))
    if not scale > 0:
        raise ValueError("the sensors share one position: no distance to scale by")
    return scale


def _pattern_losses(
    points: FloatArray,
    rows: FloatArray,
    scale_m: float,
    geometries: Sequence[Geometry],
    shares: Sequence[float],
) -> FloatArray | None:
    """Sum the candidates' squared LOO errors over hours that share one set of sensors.

    The LOO residuals are linear in the values, with one matrix per candidate that
    depends on the positions only: one batched inverse serves every hour of the set.
    """
    n = len(points)
    nuggets = np.asarray(shares, dtype=np.float64) * scale_m
    count = len(geometries) * len(nuggets)
    matrices = np.ones((count, n + 1, n + 1))
    matrices[:, n, n] = 0.0
    for g, geometry in enumerate(geometries):
        distances = squareform(pdist(geometry.transform(points)))
        block = slice(g * len(nuggets), (g + 1) * len(nuggets))
        matrices[block, :n, :n] = distances[None] + nuggets[:, None, None]
    index = np.arange(n)
    matrices[:, index, index] = 0.0
    try:
        inverses = np.linalg.inv(matrices)
    except np.linalg.LinAlgError:
        return None  # sensors too close for floating point: these hours teach nothing
    # residuals[c, h, i] = sum_j inverse[c, i, j] * z[h, j] / inverse[c, i, i]
    loo = inverses[:, :n, :n] / inverses[:, index, index][:, :, None]
    residuals = np.einsum("cij,hj->chi", loo, rows)
    losses: FloatArray = np.sum(residuals**2, axis=(1, 2)).reshape(len(geometries), len(nuggets))
    return losses


def candidate_losses(
    xy: AnyFloatArray,
    history: AnyFloatArray,
    scale_m: float,
    *,
    geometries: Sequence[Geometry] = GEOMETRIES,
    shares: Sequence[float] = NUGGET_SHARES,
) -> tuple[FloatArray, int]:
    """Sum each candidate's squared leave-one-out errors over the hours of ``history``.

    ``history`` is (hours, sensors), NaN where missing (one hour: a single row). Returns
    a (geometries, nuggets) array and the number of hours that counted: hours with fewer
    than ``MIN_SENSORS`` values are skipped. ``scale_m`` (``network_scale`` of the whole
    network) turns the nugget shares into metres; keep it fixed across hours compared.
    """
    points = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    rows = np.asarray(history, dtype=np.float64).reshape(-1, len(points))
    present = np.isfinite(rows) & np.all(np.isfinite(points), axis=1)
    total = np.zeros((len(geometries), len(shares)))
    used = 0
    patterns, inverse = np.unique(present, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):
        if pattern.sum() < MIN_SENSORS:
            continue
        hours = np.flatnonzero(inverse.ravel() == k)
        losses = _pattern_losses(
            points[pattern], rows[np.ix_(hours, np.flatnonzero(pattern))], scale_m,
            geometries, shares,
        )  # fmt: skip
        if losses is not None:
            total += losses
            used += len(hours)
    return total, used


def plan_from_losses(
    losses: AnyFloatArray,
    scale_m: float,
    *,
    geometries: Sequence[Geometry] = GEOMETRIES,
    shares: Sequence[float] = NUGGET_SHARES,
    keep: int = KEEP_NUGGETS,
) -> KrigingPlan:
    """Turn summed candidate losses (geometries, nuggets) into a plan (see the module doc)."""
    table = np.asarray(losses, dtype=np.float64)
    if table.shape != (len(geometries), len(shares)):
        expected = (len(geometries), len(shares))
        raise ValueError(f"losses of shape {table.shape}, expected {expected}")
    best_geometry = int(np.argmin(table.min(axis=1)))
    order = np.argsort(table[best_geometry], kind="stable")[: max(1, keep)]
    nuggets = tuple(float(shares[k]) * scale_m for k in sorted(order))
    return KrigingPlan(geometries[best_geometry], nuggets)


def choose_plan(
    xy: AnyFloatArray,
    history: AnyFloatArray,
    *,
    scale_m: float | None = None,
    keep: int = KEEP_NUGGETS,
) -> KrigingPlan | None:
    """Choose a plan from past hours: ``history`` is (hours, sensors), NaN where missing.

    None when no hour has ``MIN_SENSORS`` values. ``scale_m`` defaults to the network's
    median sensor spacing.
    """
    points = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(points) < MIN_SENSORS:
        return None
    scale = network_scale(points) if scale_m is None else scale_m
    total, used = candidate_losses(points, history, scale)
    if used == 0:
        return None
    return plan_from_losses(total, scale, keep=keep)
