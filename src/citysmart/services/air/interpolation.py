"""Spatial interpolation of one hour's sensor values: IDW, ordinary kriging, tuned kriging, served.

Tuned kriging follows a ``KrigingPlan`` (an anisotropic geometry and a few nuggets) that
``kriging_plan.choose_plan`` picks on a schedule by the sensors' own leave-one-out error
over past hours; given a plan, ``fit_hour`` serves it. Gap filling lives in ``gapfill``
(re-exported here).

Everything works in a local metric projection (metres east and north of a centre). An
equirectangular projection around the data's centroid is enough at city scale: over
Sejong (about 35 km across, latitude 36.4-36.7) its east-west scale error is at most
tan(lat0) * dlat, about 0.3 %, far below the positional uncertainty of the sensors and
without effect on which sensors weigh most.

Degenerate hours never crash and never give a NaN surface (see ``fit_hour``):

- no sensor at all: ``ValueError`` (there is nothing to draw);
- one sensor, or all values equal: a flat surface at that value, served as IDW;
- two sensors: IDW is served (a variogram cannot be fitted to one pair, and leave-one-out
  on two points cannot tell the methods apart); kriging uses the linear variogram;
- a variogram fit that fails (too few pairs, no spread, no positive sill): the pure linear
  variogram ``LINEAR_VARIOGRAM``, whose kriging weights depend on the geometry only;
- sensors sharing a position are merged into one with their mean value first.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.linalg  # type: ignore[import-untyped]
from scipy.optimize import nnls  # type: ignore[import-untyped]
from scipy.spatial.distance import cdist, pdist  # type: ignore[import-untyped]

from citysmart.services.air.anisotropy import Geometry, KrigingPlan
from citysmart.services.air.gapfill import (
    MAX_GAP_HOURS,
    MIN_GAP_TRAINING,
    GapFill,
    GapMethod,
    fill_gap,
    spatial_series,
)

FloatArray = npt.NDArray[np.float64]
AnyFloatArray = npt.NDArray[np.floating]
Method = Literal["idw", "kriging", "tuned"]
VariogramModel = Literal["linear", "exponential", "spherical"]

EARTH_RADIUS_M = 6_371_008.8
METHODS: tuple[Method, ...] = ("idw", "kriging", "tuned")
# Rows of targets handled at once: 4096 x 100 float32 distances (1.6 MB) stay in cache.
_CHUNK_ROWS = 4096
# Below this many targets the plain float64 path is faster than chunks and threads.
_SMALL_TARGETS = 20_000
_SAME_PLACE_M = 1e-6


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular projection around (lon0, lat0): metres east (x) and north (y)."""

    lon0: float
    lat0: float

    @classmethod
    def around(cls, lon: AnyFloatArray, lat: AnyFloatArray) -> LocalProjection:
        """Centre a projection on the centroid of the given points."""
        return cls(float(np.mean(lon)), float(np.mean(lat)))

    def forward(self, lon: AnyFloatArray, lat: AnyFloatArray) -> FloatArray:
        """Project longitudes and latitudes (degrees) to an (n, 2) array of metres."""
        scale = math.radians(1.0) * EARTH_RADIUS_M
        x = (
            (np.asarray(lon, dtype=np.float64) - self.lon0)
            * scale
            * math.cos(math.radians(self.lat0))
        )
        y = (np.asarray(lat, dtype=np.float64) - self.lat0) * scale
        return np.column_stack([np.ravel(x), np.ravel(y)])

    def inverse(self, x: AnyFloatArray, y: AnyFloatArray) -> tuple[FloatArray, FloatArray]:
        """Turn metres east and north back into longitudes and latitudes."""
        scale = math.radians(1.0) * EARTH_RADIUS_M
        lon = self.lon0 + np.asarray(x, dtype=np.float64) / (
            scale * math.cos(math.radians(self.lat0))
        )
        lat = self.lat0 + np.asarray(y, dtype=np.float64) / scale
        return lon, lat


@dataclass(frozen=True)
class Variogram:
    """An isotropic variogram: gamma(h) = nugget + sill * shape(h / range), gamma(0) = 0.

    For the linear model ``sill`` is the slope per metre and ``range_m`` is unused.
    """

    model: VariogramModel
    nugget: float
    sill: float
    range_m: float = 1.0

    def structure(self, h: AnyFloatArray) -> AnyFloatArray:
        """Return the part of gamma that depends on distance (no nugget), in h's dtype."""
        if self.model == "linear":
            return h * h.dtype.type(self.sill)
        r = h / h.dtype.type(self.range_m)
        if self.model == "exponential":
            return (1 - np.exp(-r)) * h.dtype.type(self.sill)
        r = np.minimum(r, 1)
        return (1.5 * r - 0.5 * r**3) * h.dtype.type(self.sill)

    def __call__(self, h: AnyFloatArray) -> FloatArray:
        """Return gamma(h) in float64, zero at zero distance."""
        h = np.asarray(h, dtype=np.float64)
        return np.where(h > 0, self.nugget + self.structure(h), 0.0)


# Pure linear variogram: the fallback when no variogram can be fitted. Kriging weights do
# not change when a variogram is scaled, so its slope is irrelevant.
LINEAR_VARIOGRAM = Variogram("linear", nugget=0.0, sill=1.0)


def _pair_semivariances(
    xy: FloatArray, values: FloatArray, history: FloatArray | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return pair distances, pooled semivariances and their pair counts.

    Previous hours are pooled as relative semivariances (each hour divided by its mean
    squared, then rescaled to the current hour) so that a smoggy hour and a clean one
    weigh alike; values missing in an hour (NaN) leave their pairs out of that hour.
    """
    rows = values[None, :] if history is None else np.vstack([history, values[None, :]])
    i, j = np.triu_indices(len(values), 1)
    semi = 0.5 * (rows[:, i] - rows[:, j]) ** 2
    present = np.isfinite(rows)
    totals = np.where(present, rows, 0.0).sum(axis=1)
    level = totals / np.maximum(present.sum(axis=1), 1)
    usable = level > 0
    semi = semi[usable] / (level[usable, None] ** 2)
    counts = np.sum(np.isfinite(semi), axis=0).astype(np.float64)
    pooled = np.nansum(semi, axis=0) / np.maximum(counts, 1)
    current = float(np.mean(values))
    scale = current**2 if current > 0 else 1.0
    return pdist(xy), pooled * scale, counts


def fit_variogram(
    xy: FloatArray,
    values: FloatArray,
    *,
    history: FloatArray | None = None,
    model: VariogramModel = "linear",
    bins: int = 8,
) -> Variogram | None:
    """Fit a variogram to this hour's values (pooled with ``history``'s hours), or None.

    ``history`` is an (hours, sensors) array of the same sensors' previous values, NaN
    where missing. The fit is a weighted non-negative least squares (scipy ``nnls``) of
    nugget and sill on the binned empirical semivariances; for the exponential and
    spherical models, the range is chosen on a grid of 24 candidates. None means that no
    variogram could be fitted (fewer than 3 sensors, no spread, or no positive sill).
    """
    if len(values) < 3:
        return None
    distances, semi, counts = _pair_semivariances(xy, values, history)
    keep = (counts > 0) & (distances > 0)
    if keep.sum() < 3 or not np.any(semi[keep] > 0):
        return None
    distances, semi, counts = distances[keep], semi[keep], counts[keep]
    # Bins of equal pair count: with ~10 sensors fixed-width bins would leave most empty.
    order = np.argsort(distances)
    groups = np.array_split(order, min(bins, len(order)))
    lag = np.array([np.average(distances[g], weights=counts[g]) for g in groups])
    gamma = np.array([np.average(semi[g], weights=counts[g]) for g in groups])
    weight = np.sqrt(np.array([counts[g].sum() for g in groups]))
    if model == "linear":
        candidates = [1.0]
    else:
        candidates = list(np.geomspace(lag.min() / 2, lag.max() * 3, 24))
    best: tuple[float, Variogram] | None = None
    for range_m in candidates:
        shape = Variogram(model, 0.0, 1.0, float(range_m)).structure(lag)
        design = np.column_stack([np.ones_like(lag), shape]) * weight[:, None]
        (nugget, sill), residual = nnls(design, gamma * weight)
        if sill > 0 and (best is None or residual < best[0]):
            best = (float(residual), Variogram(model, float(nugget), float(sill), float(range_m)))
    return None if best is None else best[1]


def _merge_same_places(xy: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Merge sensors at the same position into one carrying their mean value."""
    if len(values) < 2 or pdist(xy).min() > _SAME_PLACE_M:
        return xy, values
    rounded = np.round(xy / _SAME_PLACE_M).astype(np.int64)
    unique, inverse = np.unique(rounded, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    sums = np.bincount(inverse, weights=values, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    first = np.array([np.flatnonzero(inverse == k)[0] for k in range(len(unique))])
    return xy[first], sums / counts


def _clean(xy: AnyFloatArray, values: AnyFloatArray) -> tuple[FloatArray, FloatArray]:
    """Drop sensors without a finite value and merge shared positions."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    values = np.asarray(values, dtype=np.float64).ravel()
    if len(xy) != len(values):
        raise ValueError(f"{len(xy)} positions but {len(values)} values")
    keep = np.isfinite(values) & np.all(np.isfinite(xy), axis=1)
    return _merge_same_places(xy[keep], values[keep])


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """Threads for large grids: numpy releases the GIL in its array loops."""
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1))


def _chunked(
    targets: AnyFloatArray, sensors: FloatArray, rows: Callable[[AnyFloatArray], AnyFloatArray]
) -> AnyFloatArray:
    """Apply ``rows`` (squared distances of a chunk -> its predictions) over all targets."""
    points = np.asarray(targets, dtype=np.float32)
    out = np.empty(len(points), dtype=np.float32)
    sx = sensors[:, 0].astype(np.float32)
    sy = sensors[:, 1].astype(np.float32)

    def run(start: int) -> None:
        chunk = points[start : start + _CHUNK_ROWS]
        d2 = (chunk[:, 0:1] - sx) ** 2
        d2 += (chunk[:, 1:2] - sy) ** 2
        out[start : start + len(chunk)] = rows(d2)

    list(_pool().map(run, range(0, len(points), _CHUNK_ROWS)))
    return out


def _squared_distances(targets: AnyFloatArray, sensors: FloatArray) -> FloatArray:
    """Squared distances between targets and sensors in float64."""
    d2: FloatArray = cdist(
        np.asarray(targets, dtype=np.float64).reshape(-1, 2), sensors, "sqeuclidean"
    )
    return d2


def _exact_hits(d2: AnyFloatArray, values: AnyFloatArray, predicted: AnyFloatArray) -> None:
    """Give targets that sit on a sensor that sensor's value (both methods are exact)."""
    nearest = np.argmin(d2, axis=1)
    hit = d2[np.arange(len(d2)), nearest] <= _SAME_PLACE_M**2
    if np.any(hit):
        predicted[hit] = values[nearest[hit]]


@dataclass(frozen=True)
class IdwModel:
    """Inverse distance weighting of one hour's sensors."""

    xy: FloatArray
    values: FloatArray
    power: float = 2.0
    method: Method = field(default="idw", init=False)

    def _rows(self, d2: AnyFloatArray) -> AnyFloatArray:
        """Predict from squared distances (any dtype), exact at sensors."""
        floor = d2.dtype.type(_SAME_PLACE_M**2)
        weights = np.maximum(d2, floor)
        if self.power == 2.0:
            np.reciprocal(weights, out=weights)
        else:
            weights **= d2.dtype.type(-self.power / 2)
        predicted: AnyFloatArray = (weights @ self.values.astype(d2.dtype)) / weights.sum(axis=1)
        _exact_hits(d2, self.values.astype(d2.dtype), predicted)
        return predicted

    def predict(self, targets: AnyFloatArray) -> AnyFloatArray:
        """Predict at (m, 2) target positions in metres (float32 for large m)."""
        if len(self.values) == 1:
            return np.full(len(targets), self.values[0])
        if len(targets) < _SMALL_TARGETS:
            return self._rows(_squared_distances(targets, self.xy))
        return _chunked(targets, self.xy, self._rows)

    def loo_residuals(self) -> FloatArray:
        """Return each sensor's value minus its prediction from all the other sensors."""
        if len(self.values) < 2:
            return np.zeros(len(self.values))
        weights = np.maximum(cdist(self.xy, self.xy, "sqeuclidean"), _SAME_PLACE_M**2)
        weights **= -self.power / 2
        np.fill_diagonal(weights, 0.0)
        predicted = (weights @ self.values) / weights.sum(axis=1)
        residuals: FloatArray = self.values - predicted
        return residuals


@dataclass(frozen=True)
class KrigingModel:
    """Ordinary kriging of one hour's sensors, solved once in dual form.

    The dual coefficients ``coefficients`` (one per sensor, summing to zero) and the
    constant ``mean`` make any prediction a distance-based sum:
    z(x) = mean + sum_i coefficients_i * gamma(|x - x_i|). ``inverse`` is the inverse of
    the kriging matrix, kept for closed-form leave-one-out residuals (Dubrule, 1983).
    """

    xy: FloatArray
    values: FloatArray
    variogram: Variogram
    coefficients: FloatArray
    mean: float
    inverse: FloatArray
    method: Method = field(default="kriging", init=False)

    def _rows(self, d2: AnyFloatArray) -> AnyFloatArray:
        """Predict from squared distances (any dtype), exact at sensors."""
        distances = np.sqrt(d2)
        coefficients = self.coefficients.astype(d2.dtype)
        # The nugget term is nugget * sum(coefficients), zero up to rounding: added once.
        offset = self.mean + self.variogram.nugget * float(self.coefficients.sum())
        predicted: AnyFloatArray = self.variogram.structure(distances) @ coefficients
        predicted += d2.dtype.type(offset)
        _exact_hits(d2, self.values.astype(d2.dtype), predicted)
        return predicted

    def predict(self, targets: AnyFloatArray) -> AnyFloatArray:
        """Predict at (m, 2) target positions in metres (float32 for large m)."""
        if len(targets) < _SMALL_TARGETS:
            return self._rows(_squared_distances(targets, self.xy))
        return _chunked(targets, self.xy, self._rows)

    def loo_residuals(self) -> FloatArray:
        """Return each sensor's value minus its kriged value from the others (same variogram)."""
        n = len(self.values)
        if n < 2:
            return np.zeros(n)
        residuals: FloatArray = self.coefficients / np.diag(self.inverse)[:n]
        return residuals


def fit_idw(xy: AnyFloatArray, values: AnyFloatArray, power: float = 2.0) -> IdwModel:
    """Set up IDW for one hour's sensors (NaN values dropped, shared positions merged)."""
    clean_xy, clean_values = _clean(xy, values)
    if len(clean_values) == 0:
        raise ValueError("no sensor with a value: nothing to interpolate")
    return IdwModel(clean_xy, clean_values, power)


def _kriging_matrix(xy: FloatArray, variogram: Variogram) -> FloatArray:
    """Build the (n + 1) x (n + 1) ordinary kriging matrix with its unbiasedness row."""
    n = len(xy)
    matrix = np.ones((n + 1, n + 1))
    matrix[:n, :n] = variogram(cdist(xy, xy))
    matrix[n, n] = 0.0
    return matrix


def fit_kriging(
    xy: AnyFloatArray, values: AnyFloatArray, variogram: Variogram | None = None
) -> KrigingModel:
    """Solve ordinary kriging for one hour's sensors; None or a singular fit -> linear variogram."""
    clean_xy, clean_values = _clean(xy, values)
    n = len(clean_values)
    if n == 0:
        raise ValueError("no sensor with a value: nothing to interpolate")
    if n == 1:
        return KrigingModel(
            clean_xy, clean_values, LINEAR_VARIOGRAM, np.zeros(1), float(clean_values[0]),
            np.zeros((2, 2)),
        )  # fmt: skip
    chosen = variogram if variogram is not None else LINEAR_VARIOGRAM
    for candidate in (chosen, LINEAR_VARIOGRAM):
        matrix = _kriging_matrix(clean_xy, candidate)
        try:
            inverse = scipy.linalg.inv(matrix)
        except (np.linalg.LinAlgError, ValueError):
            continue
        if not np.all(np.isfinite(inverse)):
            continue
        dual = inverse @ np.append(clean_values, 0.0)
        return KrigingModel(clean_xy, clean_values, candidate, dual[:n], float(dual[n]), inverse)
    # Distinct positions with a linear variogram always give a regular matrix; this is a
    # guard against positions too close for floating point: fall back to the mean.
    return KrigingModel(
        clean_xy, clean_values, LINEAR_VARIOGRAM, np.zeros(n), float(clean_values.mean()),
        np.eye(n + 1),
    )  # fmt: skip


@dataclass(frozen=True)
class TunedKrigingModel:
    """Kriging in a stretched plane, averaged over a plan's nuggets (one dual form).

    With one geometry, the nuggets' dual forms share their distances: the average of their
    predictions is one sum mean + sum_i coefficients_i * |x - x_i| in the stretched plane
    (the nugget terms vanish because each coefficient vector sums to zero).
    """

    xy: FloatArray
    values: FloatArray
    plan: KrigingPlan
    stretched: KrigingModel
    residuals: FloatArray
    method: Method = field(default="tuned", init=False)

    def predict(self, targets: AnyFloatArray) -> AnyFloatArray:
        """Predict at (m, 2) target positions in metres (float32 for large m)."""
        return self.stretched.predict(self.plan.geometry.transform(targets))

    def loo_residuals(self) -> FloatArray:
        """Return each sensor's value minus its prediction from the others (same plan)."""
        return self.residuals


def fit_tuned_kriging(
    xy: AnyFloatArray, values: AnyFloatArray, plan: KrigingPlan
) -> TunedKrigingModel:
    """Krige one hour's sensors with ``plan`` (NaN values dropped, shared positions merged)."""
    clean_xy, clean_values = _clean(xy, values)
    n = len(clean_values)
    if n == 0:
        raise ValueError("no sensor with a value: nothing to interpolate")
    stretched_xy = np.asarray(plan.geometry.transform(clean_xy), dtype=np.float64)
    models = [
        fit_kriging(stretched_xy, clean_values, Variogram("linear", nugget, 1.0))
        for nugget in plan.nuggets_m
    ]
    coefficients = np.mean([m.coefficients for m in models], axis=0)
    mean = float(np.mean([m.mean + m.variogram.nugget * m.coefficients.sum() for m in models]))
    residuals = np.mean([m.loo_residuals() for m in models], axis=0)
    # Every model is linear with slope 1 (a fallback too), so the averaged dual form is
    # exact; it reuses KrigingModel's surface code, but its ``inverse`` is the first
    # nugget's only: leave-one-out residuals come from ``residuals``, never from it.
    averaged = KrigingModel(
        stretched_xy, clean_values, Variogram("linear", 0.0, 1.0), coefficients, mean,
        models[0].inverse,
    )  # fmt: skip
    return TunedKrigingModel(clean_xy, clean_values, plan, averaged, residuals)


Model = IdwModel | KrigingModel | TunedKrigingModel


@dataclass(frozen=True)
class HourFit:
    """The interpolators of one hour, their leave-one-out errors and the served choice.

    ``tuned`` exists when the hour was fitted with a plan; it is then the served method.
    """

    idw: IdwModel
    kriging: KrigingModel
    loo_rmse: dict[str, float]
    served: Method
    note: str
    tuned: TunedKrigingModel | None = None

    def model(self, method: Method | Literal["served"] = "served") -> Model:
        """Return the model of ``method`` (``served``: the one this hour serves)."""
        chosen = self.served if method == "served" else method
        if chosen == "tuned":
            if self.tuned is None:
                raise ValueError("tuned kriging needs a plan: fit the hour with plan=...")
            return self.tuned
        return self.idw if chosen == "idw" else self.kriging

    def predict(
        self, targets: AnyFloatArray, method: Method | Literal["served"] = "served"
    ) -> AnyFloatArray:
        """Predict at (m, 2) positions in metres with ``method``."""
        return self.model(method).predict(targets)


def fit_hour(
    xy: AnyFloatArray,
    values: AnyFloatArray,
    *,
    power: float = 2.0,
    history: AnyFloatArray | None = None,
    variogram_model: VariogramModel = "linear",
    plan: KrigingPlan | None = None,
) -> HourFit:
    """Fit IDW and kriging (and tuned kriging with ``plan``) to one hour's sensors; serve one.

    Without a plan the one of IDW and kriging with the lower LOO RMSE is served (ties serve
    IDW). With a plan (chosen from past hours, see ``kriging_plan.choose_plan``) tuned
    kriging is served: its settings were chosen on many hours, which one hour's
    leave-one-out error cannot overrule reliably. ``history`` (hours, sensors), aligned
    with ``values``, lets the per-hour variogram pool the same sensors' previous hours
    (its rows may hold NaN). Hours too small or flat to krige serve IDW either way.
    """
    xy_all = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    values_all = np.asarray(values, dtype=np.float64).ravel()
    idw = fit_idw(xy_all, values_all, power)
    n = len(idw.values)
    if n < 3 or np.ptp(idw.values) == 0:
        note = "one sensor" if n == 1 else "two sensors" if n == 2 else "all values equal"
        kriging = fit_kriging(idw.xy, idw.values, LINEAR_VARIOGRAM)
        loo = {"idw": _rmse(idw.loo_residuals()), "kriging": _rmse(kriging.loo_residuals())}
        tuned = None if plan is None else fit_tuned_kriging(idw.xy, idw.values, plan)
        if tuned is not None:
            loo["tuned"] = _rmse(tuned.loo_residuals())
        return HourFit(idw, kriging, loo, "idw", f"{note}: IDW served", tuned)
    past = None
    if history is not None and n == len(values_all):
        # Pooling needs the same sensors in the same order; with any sensor dropped or
        # merged this hour the history no longer lines up, so this hour fits alone.
        past = np.asarray(history, dtype=np.float64).reshape(-1, n)
    variogram = fit_variogram(idw.xy, idw.values, history=past, model=variogram_model)
    note = "" if variogram is not None else "variogram fit failed: linear variogram"
    kriging = fit_kriging(idw.xy, idw.values, variogram)
    loo = {"idw": _rmse(idw.loo_residuals()), "kriging": _rmse(kriging.loo_residuals())}
    if plan is not None:
        tuned = fit_tuned_kriging(idw.xy, idw.values, plan)
        loo["tuned"] = _rmse(tuned.loo_residuals())
        return HourFit(idw, kriging, loo, "tuned", note, tuned)
    served: Method = "kriging" if loo["kriging"] < loo["idw"] else "idw"
    return HourFit(idw, kriging, loo, served, note)


def _rmse(residuals: FloatArray) -> float:
    """Root mean square of residuals (0 for none)."""
    return float(np.sqrt(np.mean(residuals**2))) if len(residuals) else 0.0


__all__ = [
    "EARTH_RADIUS_M",
    "LINEAR_VARIOGRAM",
    "MAX_GAP_HOURS",
    "METHODS",
    "MIN_GAP_TRAINING",
    "AnyFloatArray",
    "FloatArray",
    "GapFill",
    "GapMethod",
    "Geometry",
    "HourFit",
    "IdwModel",
    "KrigingModel",
    "KrigingPlan",
    "LocalProjection",
    "Method",
    "Model",
    "TunedKrigingModel",
    "Variogram",
    "VariogramModel",
    "fill_gap",
    "fit_hour",
    "fit_idw",
    "fit_kriging",
    "fit_tuned_kriging",
    "fit_variogram",
    "spatial_series",
]
