"""Korean public holidays (incl. substitute holidays) as day flags for demand features."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays as holidays_lib


@lru_cache(maxsize=64)
def _calendar(year: int) -> dict[date, str]:
    """Return South Korea's public holidays of one year (the ``holidays`` package, KR)."""
    return dict(holidays_lib.country_holidays("KR", years=year, language="en_US").items())


def holiday_name(day: date) -> str | None:
    """Return the name of the Korean public holiday on ``day``, or None on a normal day."""
    return _calendar(day.year).get(day)


def is_holiday(day: date) -> bool:
    """Say whether ``day`` is a Korean public holiday (substitute holidays included)."""
    return holiday_name(day) is not None


def is_day_off(day: date) -> bool:
    """Say whether ``day`` is a weekend day or a public holiday."""
    return day.weekday() >= 5 or is_holiday(day)


@dataclass(frozen=True)
class DayFlags:
    """What the calendar says about one day, as used by the demand features."""

    holiday: bool  # a public holiday (incl. substitute)
    day_off: bool  # weekend or holiday
    before_holiday: bool  # the next day is a holiday
    after_holiday: bool  # the previous day was a holiday
    bridge: bool  # a working day squeezed between days off (many take it off)


def day_flags(day: date) -> DayFlags:
    """Return the calendar flags of ``day``."""
    one = timedelta(days=1)
    off = is_day_off(day)
    return DayFlags(
        holiday=is_holiday(day),
        day_off=off,
        before_holiday=is_holiday(day + one),
        after_holiday=is_holiday(day - one),
        bridge=not off and is_day_off(day - one) and is_day_off(day + one),
    )


def flags_by_day(days: Iterable[date]) -> dict[date, DayFlags]:
    """Return the flags of each distinct day."""
    return {day: day_flags(day) for day in set(days)}
