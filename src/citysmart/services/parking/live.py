"""A lot's live view: occupied and free spaces, status, feed checks, correction, last update.

Pure: the hub's newest readings (``lots.LotFeed``) and the time in, the view out.
A spot-sensor lot's occupancy is the count of its spots whose sensor says ``occupied``;
a counter lot's is entries minus exits plus the last trusted count's correction
(``occupancy.reconcile``). Every value passes ``occupancy.check_reading`` first: a flagged
reading is never shown as the lot's occupancy; the lot is ``unknown`` with the reasons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from citysmart.services.parking import occupancy
from citysmart.services.parking.lots import COUNTERS, SPOT_STATUSES, SPOTS, LotFeed

UNKNOWN = "unknown"
REASONS = {
    "negative": "the count is below zero",
    "over_capacity": "the count is over the lot's capacity beyond the tolerance",
    "stale": "no reading for more than 15 minutes",
    "future": "the reading is dated in the future",
    "no_reading": "the lot's sensors have not reported",
    "spots_unreported": "some spot sensors have never reported",
    "bad_spot_status": "a spot sensor reported a status other than free or occupied",
}


@dataclass(frozen=True)
class LiveView:
    """What a lot shows now; ``occupied``/``free`` are None when the feed is not trusted."""

    code: str
    entity_id: str
    name: str
    lon: float | None
    lat: float | None
    capacity: int
    detection: str
    occupied: int | None
    free: int | None
    status: str  # occupancy.Status, or "unknown"
    flags: tuple[str, ...]
    raw_count: float | None  # what the sensors say, before any correction
    correction: occupancy.Correction | None
    last_updated: dt.datetime | None

    @property
    def trusted(self) -> bool:
        """Whether the occupancy shown is the feed's (no flag raised)."""
        return not self.flags


def correction_of(feed: LotFeed) -> occupancy.Correction | None:
    """Return a counter lot's last correction from its settings, or None."""
    s = feed.setting
    if s is None or s.correction_offset is None or s.correction_at is None:
        return None
    return occupancy.Correction(
        s.correction_offset,
        s.correction_trusted or 0,
        s.correction_counter or 0,
        s.correction_at,
        s.correction_source or "full_count",
    )


def counter_count(feed: LotFeed) -> tuple[int, dt.datetime] | None:
    """Return a counter lot's entries minus exits and when both were last known, or None."""
    if feed.entries is None or feed.exits is None:
        return None
    count = round(feed.entries[0] - feed.exits[0])
    return count, min(feed.entries[1], feed.exits[1])


def live_view(feed: LotFeed, now: dt.datetime) -> LiveView:
    """Return a lot's live view at ``now``."""
    correction = correction_of(feed) if feed.detection == COUNTERS else None
    raw: float | None = None
    value: int | None = None
    observed: dt.datetime | None = None
    flags: list[str] = []
    if feed.detection == SPOTS:
        statuses = feed.spot_status.values()
        if statuses:
            raw = sum(1 for status, _ in statuses if status == "occupied")
            value = int(raw)
            observed = max(when for _, when in statuses)
            if len(feed.spot_status) < feed.spots:
                flags.append("spots_unreported")
            if any(status not in SPOT_STATUSES for status, _ in statuses):
                flags.append("bad_spot_status")
    else:
        counted = counter_count(feed)
        if counted is not None:
            raw, observed = counted
            value = int(raw) + (correction.offset if correction is not None else 0)
    if value is None or observed is None:
        flags.append("no_reading")
    else:
        flags[:0] = occupancy.check_reading(value, feed.capacity, observed, now).flags
    if flags:
        occupied = free = None
        status = UNKNOWN
    else:
        assert value is not None  # no flag: a reading was there
        occupied = min(value, feed.capacity) if value >= 0 else 0
        free = feed.capacity - occupied
        status = occupancy.status(value, feed.capacity)
    return LiveView(
        code=feed.code,
        entity_id=feed.entity_id,
        name=feed.name,
        lon=feed.lon,
        lat=feed.lat,
        capacity=feed.capacity,
        detection=feed.detection,
        occupied=occupied,
        free=free,
        status=status,
        flags=tuple(flags),
        raw_count=raw,
        correction=correction,
        last_updated=observed,
    )
