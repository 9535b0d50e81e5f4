"""A lot's live occupancy: its status, the checks a feed must pass, and counter reconciliation.

Lots are counted in two ways: a sensor per spot (occupied or not) or counters at the
entrances and exits (entries minus exits). Counters drift (a missed car, a tailgater), so
their count is corrected whenever a trusted count arrives: the spot sensors' sum, or a
periodic full count by staff. The correction is kept and shown, never hidden in the value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Status = Literal["free", "almostFull", "full", "closed"]  # FIWARE OffStreetParking's values
ALMOST_FULL_SHARE = 0.1  # "almost full" below 10% of spaces free (and at most 10 spaces)
ALMOST_FULL_SPACES = 10
OVER_CAPACITY_TOLERANCE = 0.05  # counts up to 5% over capacity are cars queuing inside
STALE_AFTER = dt.timedelta(minutes=15)


def status(occupied: int, capacity: int, open_now: bool = True) -> Status:
    """Return a lot's status from its occupied spaces and capacity."""
    if not open_now:
        return "closed"
    free = capacity - occupied
    if free <= 0:
        return "full"
    if free <= min(ALMOST_FULL_SPACES, capacity * ALMOST_FULL_SHARE):
        return "almostFull"
    return "free"


@dataclass(frozen=True)
class FeedCheck:
    """What is wrong with a reading, if anything; a flagged reading is never shown as truth."""

    flags: tuple[str, ...]

    @property
    def trusted(self) -> bool:
        """Whether the reading may be shown as the lot's occupancy."""
        return not self.flags


def check_reading(
    occupied: float,
    capacity: int,
    observed_at: dt.datetime,
    now: dt.datetime,
    tolerance: float = OVER_CAPACITY_TOLERANCE,
) -> FeedCheck:
    """Flag a negative count, a count over capacity beyond the tolerance, or a stale reading."""
    flags = []
    if occupied < 0:
        flags.append("negative")
    if occupied > capacity * (1 + tolerance):
        flags.append("over_capacity")
    if now - observed_at > STALE_AFTER:
        flags.append("stale")
    if observed_at - now > dt.timedelta(minutes=5):
        flags.append("future")
    return FeedCheck(tuple(flags))


@dataclass(frozen=True)
class Correction:
    """The offset added to a drifting counter since a trusted count, and when it was set."""

    offset: int
    trusted_count: int
    counter_count: int
    at: dt.datetime
    source: str  # "spot_sensors" or "full_count"


def reconcile(counter_count: int, trusted_count: int, at: dt.datetime, source: str) -> Correction:
    """Return the correction that brings the counter to a trusted count taken at ``at``."""
    if trusted_count < 0:
        raise ValueError(f"a trusted count cannot be negative ({trusted_count})")
    if source not in ("spot_sensors", "full_count"):
        raise ValueError(f"unknown source of a trusted count: {source!r}")
    return Correction(trusted_count - counter_count, trusted_count, counter_count, at, source)


def corrected(counter_count: int, correction: Correction | None) -> int:
    """Return the counter's count with the last correction applied (never below zero)."""
    offset = correction.offset if correction is not None else 0
    return max(counter_count + offset, 0)
