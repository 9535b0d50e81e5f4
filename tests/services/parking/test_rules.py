"""Parking rules: status, feed checks, counter reconciliation, fees, price suggestions, sessions."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from citysmart.services.parking.occupancy import check_reading, corrected, reconcile, status
from citysmart.services.parking.sessions import GateEvent, build_sessions, overstays, turnover
from citysmart.services.parking.tariffs import Band, Tariff, fee, suggest_rate

SEOUL = ZoneInfo("Asia/Seoul")
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def kst(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Return a time in November 2026 (the 2nd is a Monday), Seoul time."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SEOUL)


@pytest.mark.parametrize(
    ("occupied", "capacity", "open_now", "expected"),
    [
        (0, 100, True, "free"),
        (89, 100, True, "free"),
        (90, 100, True, "almostFull"),
        (99, 100, True, "almostFull"),
        (100, 100, True, "full"),
        (104, 100, True, "full"),
        (15, 20, True, "free"),
        (18, 20, True, "almostFull"),  # 2 free of 20: 10%
        (10, 100, False, "closed"),
        (495, 500, True, "almostFull"),  # 5 free: under both 10 spaces and 10%
        (480, 500, True, "free"),  # 20 free: 4% but more than 10 spaces
    ],
)
def test_status_follows_free_spaces(
    occupied: int, capacity: int, open_now: bool, expected: str
) -> None:
    assert status(occupied, capacity, open_now) == expected


def test_bad_feeds_are_flagged_and_not_trusted() -> None:
    now = kst(2, 12)
    assert check_reading(50, 100, now, now).trusted
    assert check_reading(105, 100, now, now).trusted  # within 5%: cars queuing inside
    assert check_reading(-1, 100, now, now).flags == ("negative",)
    assert check_reading(106, 100, now, now).flags == ("over_capacity",)
    assert check_reading(50, 100, now - dt.timedelta(minutes=16), now).flags == ("stale",)
    assert check_reading(50, 100, now + dt.timedelta(minutes=10), now).flags == ("future",)


def test_a_trusted_count_corrects_a_drifting_counter() -> None:
    correction = reconcile(counter_count=112, trusted_count=97, at=kst(2, 9), source="full_count")
    assert correction.offset == -15
    assert corrected(130, correction) == 115
    assert corrected(5, correction) == 0  # never below zero
    assert corrected(40, None) == 40
    with pytest.raises(ValueError, match="negative"):
        reconcile(10, -1, kst(2, 9), "full_count")
    with pytest.raises(ValueError, match="unknown source"):
        reconcile(10, 5, kst(2, 9), "guess")


DAY = Band(WEEKDAYS, dt.time(9), dt.time(18), 500)
EVENING = Band(WEEKDAYS, dt.time(18), dt.time(22), 300)
WEEKEND = Band(frozenset({5, 6}), dt.time(9), dt.time(0), 200)
TARIFF = Tariff((DAY, EVENING, WEEKEND), unit_minutes=10, grace_minutes=30, daily_cap=20_000)


def test_the_fee_charges_each_started_unit_at_its_band() -> None:
    # 09:00-09:31 on Monday: past the grace period, 4 started units at 500.
    assert fee(TARIFF, kst(2, 9), kst(2, 9, 31)).total == 2000
    # 17:50-18:25: one unit at the day rate, three at the evening rate.
    assert fee(TARIFF, kst(2, 17, 50), kst(2, 18, 25)).total == 500 + 3 * 300
    # 21:40-23:00: two evening units, then free hours.
    result = fee(TARIFF, kst(2, 21, 40), kst(2, 23))
    assert (result.total, result.units, result.free_units) == (600, 8, 6)


def test_grace_period_cap_and_bad_times() -> None:
    assert fee(TARIFF, kst(2, 10), kst(2, 10, 30)).total == 0
    whole_day = fee(TARIFF, kst(2, 8), kst(2, 23))
    assert whole_day.total == 20_000  # 54 x 500 + 24 x 300 = 34,200, capped
    assert whole_day.capped_days == (dt.date(2026, 11, 2),)
    two_days = fee(TARIFF, kst(2, 8), kst(3, 23))
    assert two_days.total == 40_000  # the cap applies per local day
    with pytest.raises(ValueError, match="before entry"):
        fee(TARIFF, kst(2, 10), kst(2, 9))
    with pytest.raises(ValueError, match="time zone"):
        fee(TARIFF, dt.datetime(2026, 11, 2, 9), kst(2, 10))  # noqa: DTZ001


def test_the_fee_uses_the_lot_s_local_time() -> None:
    utc_entry = dt.datetime(2026, 11, 2, 0, 0, tzinfo=dt.UTC)  # 09:00 in Seoul
    assert fee(TARIFF, utc_entry, utc_entry + dt.timedelta(minutes=40)).total == 2000


@pytest.mark.parametrize(
    ("occupancy", "expected"),
    [
        (0.85, 500),  # on target: unchanged
        (0.95, 600),  # 11.8% over: +59 won, rounded to 100
        (1.0, 600),
        (0.40, 400),  # far under: -20% at most
        (0.75, 400),  # 11.8% under: -59 won, rounded
    ],
)
def test_price_suggestions_aim_at_85_percent(occupancy: float, expected: int) -> None:
    assert suggest_rate(DAY, occupancy).suggested_rate == expected


def test_price_suggestions_respect_the_lot_s_limits() -> None:
    assert suggest_rate(DAY, 1.0, max_rate=500).suggested_rate == 500
    assert suggest_rate(DAY, 0.1, min_rate=450).suggested_rate == 450
    free_band = Band(WEEKDAYS, dt.time(9), dt.time(18), 0)
    assert suggest_rate(free_band, 0.99).suggested_rate == 100  # a free band that fills up
    with pytest.raises(ValueError, match="share of capacity"):
        suggest_rate(DAY, 85)


def event(vehicle: str, kind: str, at: dt.datetime, lot: str = "L1") -> GateEvent:
    """Return a gate event."""
    return GateEvent(lot, vehicle, kind, at)  # type: ignore[arg-type]


def test_entries_and_exits_make_sessions_and_anomalies() -> None:
    events = [
        event("a", "entry", kst(2, 9)),
        event("b", "entry", kst(2, 9, 5)),
        event("a", "exit", kst(2, 10)),
        event("c", "exit", kst(2, 10, 30)),  # never entered
        event("b", "entry", kst(2, 11)),  # b's exit was missed
        event("a", "entry", kst(2, 12), lot="L2"),
    ]
    sessions, anomalies = build_sessions(events)
    closed = [s for s in sessions if s.exit is not None]
    assert [(s.vehicle, s.entry, s.exit) for s in closed] == [("a", kst(2, 9), kst(2, 10))]
    assert {(s.lot, s.vehicle, s.entry) for s in sessions if s.exit is None} == {
        ("L1", "b", kst(2, 11)),
        ("L2", "a", kst(2, 12)),
    }
    assert sorted(a.reason for a in anomalies) == [
        "entry without exit before a new entry",
        "exit without entry",
    ]


def test_overstays_and_turnover() -> None:
    sessions, _ = build_sessions(
        [
            event("a", "entry", kst(2, 8)),
            event("b", "entry", kst(2, 11)),
            event("c", "entry", kst(2, 7)),
            event("c", "exit", kst(2, 12)),
        ]
    )
    late = overstays(sessions, {"L1": dt.timedelta(hours=3)}, now=kst(2, 12))
    assert [s.vehicle for s in late] == ["a"]  # b is within 3 h; c has left
    assert overstays(sessions, {}, now=kst(2, 12)) == []
    assert turnover(sessions, 2, kst(2, 0), kst(3, 0)) == 1.5
