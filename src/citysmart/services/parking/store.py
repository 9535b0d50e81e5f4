"""Reading and writing the parking tables: counter corrections and stored forecasts.

Every writer checks its input first and raises ``StoreError`` (a ValueError) saying what
was wrong, so a refused request changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.services.parking import occupancy
from citysmart.services.parking.live import counter_count
from citysmart.services.parking.lots import COUNTERS, read_feeds
from citysmart.services.parking.models import FreeSpaceForecast, LotSetting

FORECAST_MATCH = dt.timedelta(minutes=15)  # a stored forecast counts for targets this close


class StoreError(ValueError):
    """A write the parking store refuses, with a message saying why."""


def record_full_count(
    session: Session, code: str, occupied: int, at: dt.datetime
) -> occupancy.Correction:
    """Store a trusted full count of a counter lot as its counters' new correction.

    The counters' entries minus exits now (their newest readings) are set against the
    count; the offset is kept and applied to every later counter reading.
    """
    feeds = read_feeds(session, [code])
    if not feeds:
        raise StoreError(f"no lot {code!r} is registered")
    feed = feeds[0]
    if feed.detection != COUNTERS or feed.setting is None:
        raise StoreError(
            f"lot {code} is counted by a sensor per spot; full counts correct counter lots"
        )
    if occupied > feed.capacity * (1 + occupancy.OVER_CAPACITY_TOLERANCE):
        raise StoreError(f"a count of {occupied} is over lot {code}'s {feed.capacity} spaces")
    counted = counter_count(feed)
    if counted is None:
        raise StoreError(f"lot {code}'s counters have not reported: nothing to correct yet")
    try:
        correction = occupancy.reconcile(counted[0], occupied, at, "full_count")
    except ValueError as exc:
        raise StoreError(str(exc)) from exc
    s = feed.setting
    s.correction_offset = correction.offset
    s.correction_trusted = correction.trusted_count
    s.correction_counter = correction.counter_count
    s.correction_at = correction.at
    s.correction_source = correction.source
    session.flush()
    return correction


def save_forecasts(session: Session, rows: Sequence[FreeSpaceForecast]) -> int:
    """Store forecasts (replacing any with the same lot, origin and target); return how many."""
    for row in rows:
        if not row.free_low <= row.free_expected <= row.free_high:
            raise StoreError(f"lot {row.lot_code}: the interval does not hold the forecast")
        session.merge(row)
    session.flush()
    return len(rows)


def latest_forecasts(
    session: Session, codes: Sequence[str], target: dt.datetime
) -> dict[str, FreeSpaceForecast]:
    """Return, per lot, the newest forecast whose target is within 15 minutes of ``target``."""
    if not codes:
        return {}
    rows = session.scalars(
        select(FreeSpaceForecast)
        .where(
            FreeSpaceForecast.lot_code.in_(list(codes)),
            FreeSpaceForecast.target >= target - FORECAST_MATCH,
            FreeSpaceForecast.target <= target + FORECAST_MATCH,
        )
        .order_by(FreeSpaceForecast.origin)
    )
    best: dict[str, FreeSpaceForecast] = {}
    for row in rows:
        old = best.get(row.lot_code)
        # Newest origin wins; among one origin's targets, the nearest to the arrival.
        if (
            old is None
            or row.origin > old.origin
            or abs(row.target - target) < abs(old.target - target)
        ):
            best[row.lot_code] = row
    return best


def lot_setting(session: Session, code: str) -> LotSetting | None:
    """Return a lot's settings row, or None."""
    return session.get(LotSetting, code)
