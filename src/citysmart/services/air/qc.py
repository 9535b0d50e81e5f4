"""Quality control of low-cost sensor readings: per-reading flags and stale sensors.

Flags never change a value: they are a bit mask beside it (``Flag``), one per reading
and variable, so a reading can carry several and the raw series stays as it came.

Every check runs along the last axis of an array, so a ``(sensors, readings)`` block
with NaN for missing readings is checked in one pass. Missing readings (NaN) get no flag:
they are simply absent, which the data-capture rule in ``means`` accounts for.

Pass some history before the hour being checked: a stuck run or a spike at the start of
the hour is judged with the readings before it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from citysmart.services.air.types import BoolArray, FloatArray, TimesLike, epoch_seconds

FlagArray = NDArray[np.uint8]
VARIABLES = ("pm10", "pm25", "temperature", "humidity")
# MAD × 1.4826 estimates the standard deviation of normally distributed noise.
_MAD_TO_SIGMA = 1.4826


class Flag(enum.IntFlag):
    """Why a reading is not used; several may be set on one reading."""

    OUT_OF_RANGE = 1
    STUCK = 2
    SPIKE = 4
    HUMIDITY_ABOVE_RATED = 8


@dataclass(frozen=True)
class VariableRule:
    """Limits for one variable: physical range and the smallest jump that can be a spike."""

    lo: float
    hi: float
    spike_floor: float


def _default_rules() -> dict[str, VariableRule]:
    """Return ranges for a typical optical PM sensor with a T/RH chip (PMS5003 + SHT-class)."""
    return {
        "pm10": VariableRule(0.0, 1000.0, spike_floor=30.0),
        "pm25": VariableRule(0.0, 1000.0, spike_floor=20.0),
        "temperature": VariableRule(-40.0, 60.0, spike_floor=5.0),
        "humidity": VariableRule(0.0, 100.0, spike_floor=15.0),
    }


@dataclass(frozen=True)
class QCConfig:
    """Settings of the checks; one per sensor model (the rated humidity differs by model).

    - ``rules``: per variable, the physical range and the spike floor (same unit).
    - ``rated_humidity_max``: PM readings taken above this RH (%) are flagged, since
      optical sensors over-read when particles take up water.
    - stuck: a run of identical consecutive values is flagged when it has at least
      ``stuck_count`` readings and spans at least ``stuck_duration`` (``None``: count only).
      Readings in between that are missing do not break a run.
    - spike (Hampel test): a reading further than ``spike_sigmas`` robust standard
      deviations (1.4826 · MAD) and further than the variable's ``spike_floor`` from the
      median of the ``2 · spike_half_window + 1`` readings centred on it. The floor keeps a
      flat, quantised series (MAD = 0) from flagging every small step. At least
      ``spike_half_window + 1`` values must be present in the window to judge.
    """

    rules: Mapping[str, VariableRule] = field(default_factory=_default_rules)
    rated_humidity_max: float = 90.0
    stuck_count: int = 4
    stuck_duration: dt.timedelta | None = dt.timedelta(hours=1)
    spike_half_window: int = 3
    spike_sigmas: float = 4.0


@dataclass(frozen=True)
class ReadingFlags:
    """Flags of a block of readings, one array per variable, shaped like the values."""

    pm10: FlagArray
    pm25: FlagArray
    temperature: FlagArray
    humidity: FlagArray

    def of(self, variable: str) -> FlagArray:
        """Return the flags of one variable by name ("pm10", "pm25", ...)."""
        if variable not in VARIABLES:
            raise ValueError(f"unknown variable {variable!r}: use one of {', '.join(VARIABLES)}")
        flags: FlagArray = getattr(self, variable)
        return flags


def flag_names(flags: int) -> list[str]:
    """Return the lower-case names of the flags set in one reading's mask."""
    return [member.name.lower() for member in Flag if member.name and flags & member]


def flag_series(
    times: TimesLike, values: ArrayLike, variable: str, config: QCConfig | None = None
) -> FlagArray:
    """Flag out-of-range, stuck and spike readings of one variable along the last axis.

    ``times`` is either one time per reading along the last axis (shared by every row)
    or an array shaped like ``values``; each row must be in time order.
    """
    cfg = config or QCConfig()
    if variable not in cfg.rules:
        raise ValueError(f"no QC rule for variable {variable!r}")
    rule = cfg.rules[variable]
    x = np.asarray(values, dtype=np.float64)
    seconds = np.broadcast_to(epoch_seconds(times), x.shape)
    if x.ndim == 0:
        raise ValueError("values must be an array of readings, not one number")
    rows = x.reshape(-1, x.shape[-1])
    t = seconds.reshape(-1, x.shape[-1])
    if np.any(np.diff(t, axis=1) < 0):
        raise ValueError("times must be in ascending order along each series")

    flags = np.zeros(rows.shape, dtype=np.uint8)
    present = ~np.isnan(rows)
    flags[present & ((rows < rule.lo) | (rows > rule.hi))] |= np.uint8(Flag.OUT_OF_RANGE)
    flags[_stuck(rows, t, cfg)] |= np.uint8(Flag.STUCK)
    flags[_spikes(rows, rule.spike_floor, cfg)] |= np.uint8(Flag.SPIKE)
    return flags.reshape(x.shape)


def flag_readings(
    times: TimesLike,
    *,
    pm10: ArrayLike,
    pm25: ArrayLike,
    temperature: ArrayLike,
    humidity: ArrayLike,
    config: QCConfig | None = None,
) -> ReadingFlags:
    """Flag every reading of low-cost sensors; arrays are ``(..., readings)``, NaN = missing.

    On top of each variable's own checks, PM10, PM2.5 and the humidity reading itself get
    ``HUMIDITY_ABOVE_RATED`` where RH exceeds the model's rated maximum.
    """
    cfg = config or QCConfig()
    rh = np.asarray(humidity, dtype=np.float64)
    flags = {
        name: flag_series(times, values, name, cfg)
        for name, values in (
            ("pm10", pm10),
            ("pm25", pm25),
            ("temperature", temperature),
            ("humidity", rh),
        )
    }
    shapes = {name: f.shape for name, f in flags.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"variables have different shapes: {shapes}")
    humid = np.zeros(rh.shape, dtype=bool)
    np.greater(rh, cfg.rated_humidity_max, out=humid, where=~np.isnan(rh))
    for name in ("pm10", "pm25", "humidity"):
        flags[name][humid] |= np.uint8(Flag.HUMIDITY_ABOVE_RATED)
    return ReadingFlags(**flags)


def _stuck(x: FloatArray, t: FloatArray, cfg: QCConfig) -> BoolArray:
    """Mark readings in runs of identical values that are long enough, row by row."""
    n_rows, n_cols = x.shape
    present = ~np.isnan(x)
    out = np.zeros(x.shape, dtype=bool)
    if not present.any():
        return out
    # Value of the previous present reading in the same row (NaN if none): gaps do not
    # break a run, so a sensor that repeats a value between dropouts is still stuck.
    index = np.where(present, np.arange(n_cols), -1)
    last = np.maximum.accumulate(index, axis=1)
    previous = np.full_like(last, -1)
    previous[:, 1:] = last[:, :-1]
    row_ids = np.arange(n_rows)[:, None]
    previous_value = np.where(previous >= 0, x[row_ids, np.maximum(previous, 0)], np.nan)
    starts = present & (previous_value != x)
    run_ids = (np.cumsum(starts, axis=1) + row_ids * (n_cols + 1))[present]
    times = t[present]
    # Runs are contiguous in row-major order, so each run is a slice between id changes.
    edges = np.flatnonzero(np.diff(run_ids)) + 1
    first = np.concatenate(([0], edges))
    end = np.concatenate((edges, [run_ids.size]))
    lengths = end - first
    long_run = lengths >= cfg.stuck_count
    if cfg.stuck_duration is not None:
        span = times[end - 1] - times[first]
        long_run &= span >= cfg.stuck_duration.total_seconds()
    out[present] = np.repeat(long_run, lengths)
    return out


def _nan_median(windows: FloatArray) -> tuple[FloatArray, NDArray[np.int64]]:
    """Median over the last axis ignoring NaN, and the count of values used (no warnings)."""
    ordered = np.sort(windows, axis=-1)  # NaN sorts last
    count = np.sum(~np.isnan(windows), axis=-1)
    lower = np.maximum((count - 1) // 2, 0)[..., None]
    upper = np.maximum(count // 2, 0)[..., None]
    low = np.take_along_axis(ordered, lower, axis=-1)[..., 0]
    high = np.take_along_axis(ordered, upper, axis=-1)[..., 0]
    median = np.where(count > 0, (low + high) / 2.0, np.nan)
    return median, count


def _spikes(x: FloatArray, floor: float, cfg: QCConfig) -> BoolArray:
    """Mark readings far from the robust local median (Hampel test), row by row."""
    half = cfg.spike_half_window
    padded = np.pad(x, ((0, 0), (half, half)), constant_values=np.nan)
    windows = sliding_window_view(padded, 2 * half + 1, axis=1)
    median, count = _nan_median(windows)
    mad, _ = _nan_median(np.abs(windows - median[..., None]))
    deviation = np.abs(x - median)
    limit = np.maximum(cfg.spike_sigmas * _MAD_TO_SIGMA * mad, floor)
    judged = (count >= half + 1) & ~np.isnan(x)
    spikes: BoolArray = judged & (deviation > np.where(judged, limit, np.inf))
    return spikes


@dataclass(frozen=True)
class StaleSensor:
    """A sensor that has sent nothing for too long, for the operators' list."""

    sensor_id: str
    last_seen: dt.datetime | None
    silent_for: dt.timedelta | None


def stale_sensors(
    last_seen: Mapping[str, dt.datetime | None],
    now: dt.datetime,
    max_silence: dt.timedelta = dt.timedelta(hours=2),
) -> list[StaleSensor]:
    """List sensors silent for more than ``max_silence`` (never seen first, then longest)."""
    if now.tzinfo is None:
        raise ValueError("'now' must be timezone-aware")
    stale = []
    for sensor_id, seen in last_seen.items():
        if seen is None:
            stale.append(StaleSensor(sensor_id, None, None))
            continue
        if seen.tzinfo is None:
            raise ValueError(f"last-seen time of {sensor_id!r} is naive: give it a UTC offset")
        silent = now - seen
        if silent > max_silence:
            stale.append(StaleSensor(sensor_id, seen, silent))
    never = dt.timedelta.max
    return sorted(stale, key=lambda s: (-(s.silent_for or never).total_seconds(), s.sensor_id))
