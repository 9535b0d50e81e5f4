"""Guidance: rank lots for a driver by the chance of a free space at arrival and the walk.

For each lot, the forecast at the arrival time gives expected free spaces and an 80%
interval; the free spaces at arrival are taken as normally distributed with that mean and
the spread the interval implies (its width is 2 x 1.2816 standard deviations). A lot's
cost is the walk to the destination (minutes at 4.8 km/h, straight line x 1.3 for streets)
plus the expected cost of finding it full: the chance of no free space times the minutes a
driver loses going on to the next lot (``FULL_PENALTY_MIN``). Lots are ranked by cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from citysmart.core.geo import haversine_m

WALK_M_PER_MIN = 80.0  # 4.8 km/h
DETOUR = 1.3  # street distance over straight line, a common urban factor
FULL_PENALTY_MIN = 10.0
Z80 = 1.2816  # the 90th percentile of a standard normal: an 80% interval is +-Z80 sd
MAX_WALK_M = 2000.0


@dataclass(frozen=True)
class LotForecast:
    """What guidance knows of one lot at the driver's arrival time."""

    lot_id: str
    name: str
    lon: float
    lat: float
    capacity: int
    free_expected: float
    free_low: float  # the 80% interval's lower end
    free_high: float
    status: str  # the lot's live status ("closed" lots are never suggested)


@dataclass(frozen=True)
class Suggestion:
    """A ranked lot: its walk, its chance of a space, and why it ranks where it does."""

    lot: LotForecast
    walk_m: float
    walk_min: float
    chance_free: float  # probability of at least one free space at arrival
    cost_min: float


def chance_of_space(expected: float, low: float, high: float) -> float:
    """Return P(free spaces >= 1) for a normal with the interval's implied spread.

    An interval of no width is an exact count (the live value, no forecast): a space is
    there or it is not.
    """
    if high <= low:
        return 1.0 if expected >= 0.5 else 0.0
    sd = max((high - low) / (2 * Z80), 0.5)
    # Continuity correction: at least one space means the continuous value passes 0.5.
    return 0.5 * math.erfc((0.5 - expected) / (sd * math.sqrt(2)))


def rank_lots(
    lots: Iterable[LotForecast], lon: float, lat: float, max_walk_m: float = MAX_WALK_M
) -> list[Suggestion]:
    """Rank the open lots within ``max_walk_m`` of the destination, best first."""
    suggestions = []
    for lot in lots:
        if lot.status == "closed":
            continue
        walk_m = haversine_m(lon, lat, lot.lon, lot.lat) * DETOUR
        if walk_m > max_walk_m:
            continue
        walk_min = walk_m / WALK_M_PER_MIN
        chance = chance_of_space(lot.free_expected, lot.free_low, lot.free_high)
        cost = walk_min + (1 - chance) * FULL_PENALTY_MIN
        suggestions.append(Suggestion(lot, walk_m, walk_min, chance, cost))
    suggestions.sort(key=lambda s: (s.cost_min, s.walk_m, s.lot.lot_id))
    return suggestions
