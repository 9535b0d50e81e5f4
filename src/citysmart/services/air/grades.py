"""Air-quality grades: Korea's four PM grades with the CAI score, and the US AQI (2024).

Every figure comes from the tables below; nothing about a band is written twice.

How concentrations are read before grading (documented because the tables have gaps
such as 30 | 31 µg/m³ for PM10 in Korea):

- ``"kr"``: AirKorea publishes PM10 and PM2.5 in whole µg/m³, so a concentration is
  truncated to an integer first (30.9 → 30 → 좋음; 31.0 → 보통).
- ``"us"``: EPA's AQI rules: PM2.5 truncated to 0.1 µg/m³ (9.09 → 9.0 → Good), PM10
  truncated to a whole µg/m³ (54.9 → 54 → Good).

The index is the piecewise-linear formula both schemes share,
``I = (I_hi − I_lo) / (BP_hi − BP_lo) · (C − BP_lo) + I_lo``, rounded half up to a whole
number. A concentration above the top breakpoint (KR PM10 600, PM2.5 500; US PM10 604,
PM2.5 325.4) keeps the worst grade with the index held at 500 and ``above_scale`` set:
the scales define nothing beyond 500, so we do not invent a number there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from citysmart.services.air.types import Pollutant, as_pollutant

Scheme = Literal["kr", "us"]
SCHEMES: tuple[Scheme, ...] = ("kr", "us")


@dataclass(frozen=True)
class Band:
    """One row of a grading table: a concentration range and its index range."""

    level: int
    key: str
    label_ko: str
    label_en: str
    colour: str
    lo: float
    hi: float
    index_lo: int
    index_hi: int


@dataclass(frozen=True)
class Grade:
    """A graded concentration: level (1 = best), labels, index and a colour suggestion.

    ``colour`` is only a suggestion for a fill: a page shows ``label_ko``/``label_en`` too,
    so the grade is never carried by colour alone.
    """

    scheme: Scheme
    pollutant: Pollutant
    concentration: float
    level: int
    key: str
    label_ko: str
    label_en: str
    index: int
    colour: str
    above_scale: bool = False


def _kr(pm: tuple[float, float, float, float, float]) -> tuple[Band, ...]:
    """Korea's four bands for one pollutant, from the bands' edges (integers, µg/m³)."""
    names = (
        ("good", "좋음", "Good", "#32A1FF"),
        ("moderate", "보통", "Moderate", "#00C73C"),
        ("unhealthy", "나쁨", "Unhealthy", "#FD9B5A"),
        ("very_unhealthy", "매우나쁨", "Very unhealthy", "#FF5959"),
    )
    cai = ((0, 50), (51, 100), (101, 250), (251, 500))
    starts = (pm[0], pm[1], pm[2], pm[3])
    ends = (pm[1] - 1, pm[2] - 1, pm[3] - 1, pm[4])
    return tuple(Band(i + 1, *names[i], starts[i], ends[i], cai[i][0], cai[i][1]) for i in range(4))


def _us(edges: tuple[float, ...], step: float) -> tuple[Band, ...]:
    """EPA's six AQI categories for one pollutant, from the category starts and the top."""
    names = (
        ("good", "좋음", "Good", "#00E400"),
        ("moderate", "보통", "Moderate", "#FFFF00"),
        ("unhealthy_sensitive", "민감군 영향", "Unhealthy for sensitive groups", "#FF7E00"),
        ("unhealthy", "나쁨", "Unhealthy", "#FF0000"),
        ("very_unhealthy", "매우나쁨", "Very unhealthy", "#8F3F97"),
        ("hazardous", "위험", "Hazardous", "#7E0023"),
    )
    aqi = ((0, 50), (51, 100), (101, 150), (151, 200), (201, 300), (301, 500))
    bands = []
    for i in range(6):
        hi = edges[i + 1] if i == 5 else round(edges[i + 1] - step, 1)
        bands.append(Band(i + 1, *names[i], edges[i], hi, aqi[i][0], aqi[i][1]))
    return tuple(bands)


# Korea (Ministry of Environment, AirKorea): PM10 0–30 / 31–80 / 81–150 / 151–600,
# PM2.5 0–15 / 16–35 / 36–75 / 76–500, CAI 0–50 / 51–100 / 101–250 / 251–500.
# US EPA AQI, 2024 revision: PM2.5 0–9.0 / 9.1–35.4 / 35.5–55.4 / 55.5–125.4 / 125.5–225.4
# / 225.5–325.4; PM10 0–54 / 55–154 / 155–254 / 255–354 / 355–424 / 425–604.
TABLES: dict[tuple[Scheme, Pollutant], tuple[Band, ...]] = {
    ("kr", Pollutant.PM10): _kr((0, 31, 81, 151, 600)),
    ("kr", Pollutant.PM25): _kr((0, 16, 36, 76, 500)),
    ("us", Pollutant.PM25): _us((0.0, 9.1, 35.5, 55.5, 125.5, 225.5, 325.4), 0.1),
    ("us", Pollutant.PM10): _us((0, 55, 155, 255, 355, 425, 604), 1.0),
}

# The resolution a concentration is truncated to before it is looked up.
STEPS: dict[tuple[Scheme, Pollutant], str] = {
    ("kr", Pollutant.PM10): "1",
    ("kr", Pollutant.PM25): "1",
    ("us", Pollutant.PM25): "0.1",
    ("us", Pollutant.PM10): "1",
}


def _table(pollutant: Pollutant | str, scheme: str) -> tuple[Pollutant, tuple[Band, ...]]:
    """Return the pollutant and its table under ``scheme``; a ValueError names bad input."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown grading scheme {scheme!r}: use 'kr' or 'us'")
    chosen = as_pollutant(pollutant)
    return chosen, TABLES[(scheme, chosen)]


def _check(concentration: float) -> float:
    """Return the concentration as a float, refusing NaN, infinities and negatives."""
    value = float(concentration)
    if not math.isfinite(value):
        raise ValueError(f"cannot grade a concentration of {value}: not a finite number")
    if value < 0:
        raise ValueError(f"cannot grade a negative concentration ({value} µg/m³)")
    return value


def truncate(concentration: float, pollutant: Pollutant | str, scheme: Scheme = "kr") -> float:
    """Truncate a concentration to the resolution the scheme grades at (see module doc)."""
    chosen, _ = _table(pollutant, scheme)
    value = _check(concentration)
    # Decimal on the shortest repr, so 35.4 stays 35.4 rather than 35.39999...
    step = Decimal(STEPS[(scheme, chosen)])
    # A wide context, so an absurd reading (1e30) still truncates instead of failing.
    exact = Decimal(repr(value)).quantize(step, rounding=ROUND_DOWN, context=_WIDE)
    return float(exact)


_WIDE = Context(prec=400)


def _round_half_up(value: float) -> int:
    """Round to the nearest whole number, halves upward (EPA's rounding of the AQI)."""
    return math.floor(value + 0.5)


def grade(concentration: float, pollutant: Pollutant | str, scheme: Scheme = "kr") -> Grade:
    """Grade one concentration (µg/m³) of PM10 or PM2.5 under ``"kr"`` or ``"us"``."""
    chosen, bands = _table(pollutant, scheme)
    value = truncate(concentration, chosen, scheme)
    for band in bands:
        if value <= band.hi:
            slope = (band.index_hi - band.index_lo) / (band.hi - band.lo)
            index = _round_half_up(slope * (value - band.lo) + band.index_lo)
            return _grade_of(band, scheme, chosen, value, index, above_scale=False)
    top = bands[-1]
    return _grade_of(top, scheme, chosen, value, top.index_hi, above_scale=True)


def _grade_of(
    band: Band, scheme: Scheme, pollutant: Pollutant, value: float, index: int, *, above_scale: bool
) -> Grade:
    """Build the Grade for a band."""
    return Grade(
        scheme=scheme,
        pollutant=pollutant,
        concentration=value,
        level=band.level,
        key=band.key,
        label_ko=band.label_ko,
        label_en=band.label_en,
        index=index,
        colour=band.colour,
        above_scale=above_scale,
    )


def overall_grade(pm10: float | None, pm25: float | None, scheme: Scheme = "kr") -> Grade | None:
    """Return the worse of the PM10 and PM2.5 grades; ``None`` stands for "no valid value".

    With neither value there is no grade (``None``). A NaN is refused like in :func:`grade`:
    pass ``None`` for an hour that was not graded.
    """
    graded = [
        grade(value, pollutant, scheme)
        for value, pollutant in ((pm10, Pollutant.PM10), (pm25, Pollutant.PM25))
        if value is not None
    ]
    if not graded:
        return None
    return max(graded, key=lambda g: (g.level, g.index))


def grade_levels(
    concentrations: ArrayLike, pollutant: Pollutant | str, scheme: Scheme = "kr"
) -> NDArray[np.int8]:
    """Grade levels for an array (e.g. a map surface): 1 = best, 0 where the value is NaN.

    Negative or infinite values raise a ValueError, as in :func:`grade`; clip a surface at
    zero before grading it if its interpolation can undershoot.
    """
    chosen, bands = _table(pollutant, scheme)
    values = np.asarray(concentrations, dtype=np.float64)
    missing = np.isnan(values)
    present = values[~missing]
    if np.any(np.isinf(present)) or np.any(present < 0):
        raise ValueError("cannot grade negative or infinite concentrations")
    step = float(STEPS[(scheme, chosen)])
    # The tiny epsilon undoes float noise such as 35.4 / 0.1 = 353.99999999999994.
    truncated = np.floor(values / step + 1e-9) * step
    starts = np.array([band.lo for band in bands[1:]])
    levels = np.searchsorted(starts, truncated, side="right") + 1
    return np.where(missing, 0, levels).astype(np.int8)
