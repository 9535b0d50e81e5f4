"""Calibration of low-cost PM sensors against the nearest reference station.

The model is fitted by ordinary least squares on co-located hourly means (the sensor's
raw hourly mean and RH against the station's hourly mean). Two forms are offered:

- ``"linear"`` (default): ``ref ≈ a + b·raw + c·RH`` (RH in %). This is the form of the
  US EPA's nationwide PurpleAir correction (Barkjohn et al., 2021): three parameters,
  stable with a few days of data, and it extrapolates gently, which matters because a
  weekly refit rarely sees the whole humidity range.
- ``"hygroscopic"``: ``ref ≈ a + b·raw + c·raw·g(RH)``, ``g = h² / (1 − h)`` with h = RH/100
  capped at 0.95. Optical sensors over-read in humid air because particles take up water
  and grow; the over-reading is proportional to the particle signal and climbs steeply
  towards saturation (κ-Köhler growth), which a linear RH term cannot follow. Prefer it
  where humid hours are common (Korean summer monsoon, fog) and the training window
  covers them; its error figures, like the linear model's, are in the fit.

Raw values are never changed: :func:`apply_calibration` derives corrected values from
them (never negative). A fit is refused, with the reason, when the data cannot determine
it (:class:`CalibrationRefused`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from citysmart.core.geo import haversine_m
from citysmart.services.air.types import FloatArray, TimesLike, epoch_seconds

Model = Literal["linear", "hygroscopic"]
MODEL_TERMS: dict[Model, tuple[str, str, str]] = {
    "linear": ("intercept", "raw", "rh"),
    "hygroscopic": ("intercept", "raw", "raw_growth"),
}
MIN_POINTS = 72
_GROWTH_CAP = 0.95
# Magnus formula constants over water (Alduchov & Eskridge, 1996).
_MAGNUS_A = 17.625
_MAGNUS_B = 243.04


class CalibrationRefused(ValueError):
    """The data cannot determine a calibration; the message says why."""


@dataclass(frozen=True)
class ReferenceStation:
    """A reference (AirKorea-type) monitoring station."""

    station_id: str
    lon: float
    lat: float
    name: str = ""


@dataclass(frozen=True)
class NearestStation:
    """The reference station nearest to a sensor and its great-circle distance."""

    station: ReferenceStation
    distance_m: float


@dataclass(frozen=True)
class ErrorStats:
    """Agreement of values with the reference over ``n`` hours (µg/m³ for RMSE and MAE)."""

    n: int
    rmse: float
    mae: float
    r2: float


@dataclass(frozen=True)
class CalibrationFit:
    """A fitted calibration and what operators need to judge it.

    ``rmse``/``mae``/``r2`` are those of the corrected values on the training hours;
    ``raw_rmse``/``raw_mae`` are the uncorrected sensor's on the same hours.
    """

    sensor_id: str
    station_id: str
    distance_m: float | None
    model: Model
    coefficients: dict[str, float]
    n: int
    r2: float
    rmse: float
    mae: float
    raw_rmse: float
    raw_mae: float
    fitted_at: dt.datetime
    window_start: dt.datetime
    window_end: dt.datetime


@dataclass(frozen=True)
class RefitPolicy:
    """When a calibration is refitted: by age, by new data, or when it drifts."""

    max_age: dt.timedelta = dt.timedelta(days=7)
    after_new_hours: int = 168
    drift_ratio: float = 1.5


@dataclass(frozen=True)
class RefitDecision:
    """Whether a refit is due, and why (for the job's log and the operators' page)."""

    due: bool
    reason: str


def relative_humidity(temperature_c: ArrayLike, dewpoint_c: ArrayLike) -> FloatArray:
    """Return RH (%) from air temperature and dew point (°C) by the Magnus formula."""
    t = np.asarray(temperature_c, dtype=np.float64)
    td = np.asarray(dewpoint_c, dtype=np.float64)
    log_ratio = _MAGNUS_A * td / (_MAGNUS_B + td) - _MAGNUS_A * t / (_MAGNUS_B + t)
    rh: FloatArray = np.minimum(100.0 * np.exp(log_ratio), 100.0)
    return rh


def nearest_station(lon: float, lat: float, stations: Sequence[ReferenceStation]) -> NearestStation:
    """Return the reference station nearest to a point (great-circle distance)."""
    if not stations:
        raise ValueError("no reference stations to choose from")
    distances = [haversine_m(lon, lat, s.lon, s.lat) for s in stations]
    best = int(np.argmin(distances))
    return NearestStation(stations[best], distances[best])


def _design(raw: FloatArray, rh: FloatArray, model: Model) -> FloatArray:
    """Return the columns of the model's design matrix (intercept first)."""
    if model == "linear":
        second = rh
    else:
        h = np.clip(rh / 100.0, 0.0, _GROWTH_CAP)
        second = raw * h * h / (1.0 - h)
    return np.column_stack([np.ones_like(raw), raw, second])


def error_stats(predicted: ArrayLike, reference: ArrayLike) -> ErrorStats:
    """Return RMSE, MAE and R² of values against the reference (pairs with NaN skipped)."""
    p = np.asarray(predicted, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    both = ~np.isnan(p) & ~np.isnan(r)
    p, r = p[both], r[both]
    if p.size == 0:
        return ErrorStats(0, math.nan, math.nan, math.nan)
    residual = p - r
    total = float(np.sum((r - r.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else math.nan
    return ErrorStats(
        n=int(p.size),
        rmse=float(np.sqrt(np.mean(residual**2))),
        mae=float(np.mean(np.abs(residual))),
        r2=r2,
    )


def _check_design(columns: FloatArray, model: Model) -> None:
    """Refuse a design whose regressors do not vary or move together."""
    names = {"raw": "the sensor's raw values", "rh": "the humidity", "raw_growth": "raw × g(RH)"}
    terms = MODEL_TERMS[model]
    spread = columns[:, 1:].std(axis=0)
    scale = np.maximum(np.abs(columns[:, 1:]).mean(axis=0), 1.0)
    for name, s, size in zip(terms[1:], spread, scale, strict=True):
        if s <= 1e-9 * size:
            raise CalibrationRefused(
                f"{names[name]} do not vary over the training hours: the model is undetermined"
            )
    correlation = float(np.corrcoef(columns[:, 1], columns[:, 2])[0, 1])
    if abs(correlation) > 0.9999:
        raise CalibrationRefused(
            f"{names[terms[1]]} and {names[terms[2]]} move together "
            f"(correlation {correlation:.5f}): their effects cannot be separated"
        )


def fit_calibration(
    hours: TimesLike,
    raw: ArrayLike,
    rh: ArrayLike,
    reference: ArrayLike,
    *,
    sensor_id: str,
    station_id: str,
    fitted_at: dt.datetime,
    distance_m: float | None = None,
    model: Model = "linear",
    min_points: int = MIN_POINTS,
) -> CalibrationFit:
    """Fit a sensor's calibration on co-located hourly means; refuse when it cannot.

    Hours where the raw mean, RH (0–100 %) or the reference is missing are left out;
    ``min_points`` complete hours are required.
    """
    if model not in MODEL_TERMS:
        raise ValueError(f"unknown calibration model {model!r}: use 'linear' or 'hygroscopic'")
    if fitted_at.tzinfo is None:
        raise ValueError("fitted_at must be timezone-aware")
    x = np.asarray(raw, dtype=np.float64)
    h = np.asarray(rh, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    seconds = epoch_seconds(hours)
    if not (x.shape == h.shape == y.shape == seconds.shape) or x.ndim != 1:
        raise ValueError("hours, raw, rh and reference must be 1-D arrays of the same length")
    usable = ~np.isnan(x) & ~np.isnan(y) & ~np.isnan(h) & (h >= 0) & (h <= 100)
    n = int(usable.sum())
    if n < min_points:
        raise CalibrationRefused(
            f"only {n} co-located hours with raw, humidity and reference values; "
            f"a fit needs at least {min_points}"
        )
    x, h, y, seconds = x[usable], h[usable], y[usable], seconds[usable]
    columns = _design(x, h, model)
    _check_design(columns, model)
    solution, *_ = np.linalg.lstsq(columns, y, rcond=None)
    coefficients = dict(zip(MODEL_TERMS[model], (float(c) for c in solution), strict=True))
    if coefficients["raw"] <= 0:
        raise CalibrationRefused(
            f"the fitted gain on the raw values is {coefficients['raw']:.3g} (not positive): "
            "the sensor does not track the reference station"
        )
    corrected = np.maximum(columns @ solution, 0.0)
    fitted = error_stats(corrected, y)
    uncorrected = error_stats(x, y)
    return CalibrationFit(
        sensor_id=sensor_id,
        station_id=station_id,
        distance_m=distance_m,
        model=model,
        coefficients=coefficients,
        n=n,
        r2=fitted.r2,
        rmse=fitted.rmse,
        mae=fitted.mae,
        raw_rmse=uncorrected.rmse,
        raw_mae=uncorrected.mae,
        fitted_at=fitted_at,
        window_start=dt.datetime.fromtimestamp(float(seconds.min()), dt.UTC),
        window_end=dt.datetime.fromtimestamp(float(seconds.max()), dt.UTC),
    )


def apply_calibration(fit: CalibrationFit, raw: ArrayLike, rh: ArrayLike) -> FloatArray:
    """Return corrected values (new array, never negative; NaN where raw or RH is missing)."""
    x = np.asarray(raw, dtype=np.float64)
    h = np.asarray(rh, dtype=np.float64)
    x, h = np.broadcast_arrays(x, h)
    coefficients = np.array([fit.coefficients[name] for name in MODEL_TERMS[fit.model]])
    design = _design(x.ravel(), h.ravel(), fit.model)
    corrected = np.maximum(design @ coefficients, 0.0).reshape(x.shape)
    missing = np.isnan(x) | np.isnan(h)
    result: FloatArray = np.where(missing, np.nan, corrected)
    return result


def refit_due(
    fit: CalibrationFit | None,
    now: dt.datetime,
    new_hours: int,
    policy: RefitPolicy | None = None,
    recent_rmse: float | None = None,
) -> RefitDecision:
    """Decide whether a sensor's calibration should be refitted now.

    ``new_hours`` counts co-located hours gathered since the fit; ``recent_rmse`` is the
    current fit's error on those hours, if known (drift beyond ``drift_ratio`` × the
    fit's own RMSE triggers a refit early).
    """
    rules = policy or RefitPolicy()
    if now.tzinfo is None:
        raise ValueError("'now' must be timezone-aware")
    if fit is None:
        return RefitDecision(True, "no calibration yet")
    age = now - fit.fitted_at
    if age >= rules.max_age:
        return RefitDecision(
            True, f"the fit is {_days(age)} old (refit every {_days(rules.max_age)})"
        )
    if new_hours >= rules.after_new_hours:
        return RefitDecision(True, f"{new_hours} new co-located hours since the fit")
    if recent_rmse is not None and recent_rmse > rules.drift_ratio * fit.rmse:
        return RefitDecision(
            True,
            f"recent RMSE {recent_rmse:.1f} µg/m³ is over {rules.drift_ratio}× "
            f"the fit's {fit.rmse:.1f}",
        )
    return RefitDecision(False, "the fit is current")


def _days(span: dt.timedelta) -> str:
    """Format a span in days for messages."""
    return f"{span.total_seconds() / 86_400:.1f} days"
