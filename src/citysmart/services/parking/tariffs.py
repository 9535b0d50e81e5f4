"""Tariffs by time band, the fee for a stay, and occupancy-based price suggestions.

A tariff charges each started unit of time (10 minutes, say) at the rate of the band in
which the unit starts; a grace period makes short stays free; a daily cap limits what one
local calendar day may cost. Price suggestions follow demand-responsive pricing (SFpark,
Seoul's public lots): raise a band's rate where occupancy runs above the 85% target, lower
it where it runs below, by at most a step per review, rounded to 100 won.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

TARGET_OCCUPANCY = 0.85
MAX_STEP = 0.2  # at most 20% up or down per review
ROUND_TO = 100  # won


@dataclass(frozen=True)
class Band:
    """A rate for the units starting on some weekdays between two local times."""

    weekdays: frozenset[int]  # 0 = Monday
    start: dt.time
    end: dt.time  # exclusive; 00:00 means midnight at the end of the day
    rate: int  # won per unit

    def covers(self, local: dt.datetime) -> bool:
        """Whether a unit starting at ``local`` is charged at this band's rate."""
        if local.weekday() not in self.weekdays:
            return False
        clock = local.time()
        return self.start <= clock and (self.end == dt.time(0) or clock < self.end)


@dataclass(frozen=True)
class Tariff:
    """A lot's tariff: the bands, the unit, the grace period and the daily cap."""

    bands: tuple[Band, ...]
    unit_minutes: int = 10
    grace_minutes: int = 0
    daily_cap: int | None = None  # won per local calendar day
    zone: str = "Asia/Seoul"

    def __post_init__(self) -> None:
        """Refuse a tariff that cannot be applied."""
        if self.unit_minutes <= 0:
            raise ValueError("the unit must last at least a minute")
        if any(b.rate < 0 for b in self.bands):
            raise ValueError("a rate cannot be negative")
        if self.daily_cap is not None and self.daily_cap < 0:
            raise ValueError("the daily cap cannot be negative")


@dataclass(frozen=True)
class Fee:
    """What a stay costs, and how that was reached."""

    total: int
    units: int
    free_units: int  # units outside every band (free hours)
    capped_days: tuple[dt.date, ...] = field(default=())


def fee(tariff: Tariff, entry: dt.datetime, exit_: dt.datetime) -> Fee:
    """Return the fee for a stay from ``entry`` to ``exit_`` (timezone-aware)."""
    if entry.tzinfo is None or exit_.tzinfo is None:
        raise ValueError("entry and exit times must carry a time zone")
    if exit_ < entry:
        raise ValueError(f"exit {exit_.isoformat()} is before entry {entry.isoformat()}")
    stay = exit_ - entry
    if stay <= dt.timedelta(minutes=tariff.grace_minutes):
        return Fee(0, 0, 0)
    zone = ZoneInfo(tariff.zone)
    unit = dt.timedelta(minutes=tariff.unit_minutes)
    units = math.ceil(stay / unit)
    per_day: dict[dt.date, int] = {}
    free = 0
    for n in range(units):
        local = (entry + n * unit).astimezone(zone)
        band = next((b for b in tariff.bands if b.covers(local)), None)
        if band is None:
            free += 1
            continue
        per_day[local.date()] = per_day.get(local.date(), 0) + band.rate
    capped = tuple(
        day
        for day, amount in sorted(per_day.items())
        if tariff.daily_cap is not None and amount > tariff.daily_cap
    )
    total = sum(
        min(amount, tariff.daily_cap) if tariff.daily_cap is not None else amount
        for amount in per_day.values()
    )
    return Fee(total, units, free, capped)


@dataclass(frozen=True)
class PriceSuggestion:
    """A suggested new rate for one band, with the occupancy that led to it."""

    band: Band
    occupancy: float
    current_rate: int
    suggested_rate: int

    @property
    def change(self) -> int:
        """Return the suggested change in won per unit."""
        return self.suggested_rate - self.current_rate


def suggest_rate(
    band: Band,
    occupancy: float,
    min_rate: int = 0,
    max_rate: int | None = None,
    target: float = TARGET_OCCUPANCY,
) -> PriceSuggestion:
    """Suggest a band's rate from its mean occupancy (0-1) over the review period.

    The change is proportional to the gap to the target (1% over target: about 1.3%
    dearer), limited to ``MAX_STEP`` per review and to the lot's minimum and maximum rates.
    """
    if not 0 <= occupancy <= 1.5:
        raise ValueError(f"occupancy must be a share of capacity, not {occupancy}")
    gap = (occupancy - target) / target
    factor = 1 + max(-MAX_STEP, min(MAX_STEP, gap))
    raw = band.rate * factor if band.rate else (ROUND_TO if gap > 0 else 0)
    rate = int(round(raw / ROUND_TO) * ROUND_TO)
    rate = max(rate, min_rate)
    if max_rate is not None:
        rate = min(rate, max_rate)
    return PriceSuggestion(band, occupancy, band.rate, rate)
