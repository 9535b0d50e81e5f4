"""Names and array aliases shared by the air service's measurement modules."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray: TypeAlias = NDArray[np.float64]
BoolArray: TypeAlias = NDArray[np.bool_]
IntArray: TypeAlias = NDArray[np.int64]
# Times in arrays are numpy datetime64 values read as UTC (numpy's datetime64 carries no zone).
TimeArray: TypeAlias = NDArray[np.datetime64]
AnyArray: TypeAlias = NDArray[Any]
# Times as datetime64 values (UTC), aware datetimes, or epoch seconds.
TimesLike: TypeAlias = ArrayLike | Sequence[dt.datetime]


class Pollutant(enum.StrEnum):
    """A particulate pollutant the air service grades."""

    PM10 = "pm10"
    PM25 = "pm25"


def as_pollutant(value: Pollutant | str) -> Pollutant:
    """Return the pollutant named by ``value`` ("pm10", "pm25", "PM2.5", ...), or raise."""
    if isinstance(value, Pollutant):
        return value
    key = value.strip().lower().replace(".", "").replace("_", "")
    try:
        return Pollutant(key)
    except ValueError:
        raise ValueError(f"unknown pollutant {value!r}: use 'pm10' or 'pm25'") from None


def epoch_seconds(times: TimesLike) -> FloatArray:
    """Return seconds since the Unix epoch for datetime64 values, aware datetimes or numbers.

    datetime64 values are read as UTC; numbers are taken to be epoch seconds already.
    """
    arr = np.asarray(times)
    if np.issubdtype(arr.dtype, np.datetime64):
        if np.any(np.isnat(arr)):
            raise ValueError("times contain NaT (a missing time)")
        return arr.astype("datetime64[us]").astype(np.int64) / 1e6
    if arr.dtype == object:
        flat = [_aware_seconds(value) for value in arr.ravel()]
        return np.asarray(flat, dtype=np.float64).reshape(arr.shape)
    seconds = arr.astype(np.float64)
    if np.any(~np.isfinite(seconds)):
        raise ValueError("times contain a missing or infinite value")
    return seconds


def _aware_seconds(value: object) -> float:
    """Return epoch seconds of one aware datetime, refusing naive ones."""
    if not isinstance(value, dt.datetime):
        raise ValueError(f"not a time: {value!r}")
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: give times with a UTC offset")
    return value.timestamp()
