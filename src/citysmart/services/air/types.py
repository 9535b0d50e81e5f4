"""Names and array aliases shared by the air service's measurement modules."""

from __future__ import annotations

import enum
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

FloatArray: TypeAlias = NDArray[np.float64]
BoolArray: TypeAlias = NDArray[np.bool_]
IntArray: TypeAlias = NDArray[np.int64]
# Times in arrays are numpy datetime64 values read as UTC (numpy's datetime64 carries no zone).
TimeArray: TypeAlias = NDArray[np.datetime64]
AnyArray: TypeAlias = NDArray[Any]


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
