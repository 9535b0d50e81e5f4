"""Gap filling: a sensor's current hour is missing while its earlier hours are known."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.linalg  # type: ignore[import-untyped]
from scipy.spatial.distance import cdist  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]
AnyFloatArray = npt.NDArray[np.floating]
GapMethod = Literal["regression", "change", "spatial"]
# Hours of the sensor's own history the gap-fill regression needs before it is trusted.
MIN_GAP_TRAINING = 48
# How far back the sensor's own last value may lie for the change-field estimate.
MAX_GAP_HOURS = 24
_SAME_PLACE_M = 1e-6


@dataclass(frozen=True)
class GapFill:
    """A missing hour of one sensor, filled, and how it was filled."""

    value: float
    method: GapMethod


def spatial_series(
    xy_self: AnyFloatArray, xy_others: AnyFloatArray, others: AnyFloatArray, power: float = 2.0
) -> FloatArray:
    """IDW of the other sensors at one position, hour by hour (NaN where none reported)."""
    rows = np.asarray(others, dtype=np.float64).reshape(-1, len(xy_others))
    d2 = cdist(np.asarray(xy_self, dtype=np.float64).reshape(1, 2), np.asarray(xy_others))[0] ** 2
    weights = np.maximum(d2, _SAME_PLACE_M**2) ** (-power / 2)
    present = np.isfinite(rows)
    totals = np.where(present, rows, 0.0) @ weights
    norms = present @ weights
    with np.errstate(invalid="ignore", divide="ignore"):
        series: FloatArray = np.where(norms > 0, totals / norms, np.nan)
    return series


def _regression(own: FloatArray, field: FloatArray, lags: int) -> float | None:
    """Fit own[t] on own[t-1..t-lags] and field[t..t-lags] over the past; predict the gap.

    ``own`` holds k past hours, ``field`` the same k hours plus the current one. None when
    a needed input of the current hour is missing or too few past rows are complete.
    """
    k = len(own)
    if k <= lags:
        return None
    # Row t (t = lags..k-1 for training, t = k for the gap): own[t-1..t-lags], field[t..t-lags].
    own_padded = np.append(own, np.nan)
    columns = [own_padded[lags - j : k + 1 - j] for j in range(1, lags + 1)]
    columns += [field[lags - j : k + 1 - j] for j in range(lags + 1)]
    design = np.column_stack(columns)
    target = own_padded[lags:]
    now = design[-1]
    if not np.all(np.isfinite(now)):
        return None
    usable = np.all(np.isfinite(design[:-1]), axis=1) & np.isfinite(target[:-1])
    if usable.sum() < MIN_GAP_TRAINING:
        return None
    coef = scipy.linalg.lstsq(design[:-1][usable], target[:-1][usable])[0]
    value = float(now @ coef)
    return value if np.isfinite(value) else None


def fill_gap(
    xy_self: AnyFloatArray,
    own_past: AnyFloatArray,
    xy_others: AnyFloatArray,
    others: AnyFloatArray,
    *,
    power: float = 2.0,
) -> GapFill:
    """Fill a sensor's missing current hour from its own past and the other sensors.

    ``own_past`` holds the sensor's previous k hours (oldest first, NaN where missing);
    ``others`` holds the other sensors over the same k hours plus the current one
    (k + 1 rows). With its previous hour known and enough own history, a least-squares
    regression (scipy ``lstsq``), fitted on its own history, of the sensor on its previous
    two hours and the others' IDW field now and two hours back answers ("regression"); when
    the hour before the previous one is missing, on its previous hour and the field now and
    an hour back. Otherwise its last value (at most ``MAX_GAP_HOURS`` back) plus the change
    of the others' IDW field since then ("change"); without one, the IDW field alone
    ("spatial"). Values are never negative.
    """
    own = np.asarray(own_past, dtype=np.float64).ravel()
    field_ = spatial_series(xy_self, xy_others, others, power)
    if len(field_) != len(own) + 1:
        raise ValueError(f"others need {len(own) + 1} hours (own past + now), got {len(field_)}")
    now = field_[-1]
    if not np.isfinite(now):
        raise ValueError("no other sensor reported this hour: nothing to fill the gap from")
    known = np.flatnonzero(np.isfinite(own))
    if len(known) == 0 or len(own) - known[-1] > MAX_GAP_HOURS:
        return GapFill(max(float(now), 0.0), "spatial")
    last = int(known[-1])
    if last == len(own) - 1:
        # Two own lags when both are known (the sensor's own inertia beyond one hour), else one.
        for lags in (2, 1):
            value = _regression(own, field_, lags)
            if value is not None:
                return GapFill(max(value, 0.0), "regression")
    if np.isfinite(field_[last]):
        return GapFill(max(float(own[last] + now - field_[last]), 0.0), "change")
    return GapFill(max(float(own[last]), 0.0), "change")
