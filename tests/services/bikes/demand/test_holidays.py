"""Korean public holidays as the demand features see them."""

from __future__ import annotations

from datetime import date

from citysmart.services.bikes.demand.holidays import day_flags, holiday_name, is_holiday


def test_chuseok_2018_is_a_holiday() -> None:
    assert is_holiday(date(2018, 9, 24))
    assert "Chuseok" in (holiday_name(date(2018, 9, 24)) or "")


def test_substitute_holiday_after_chuseok_2018_counts() -> None:
    # Chuseok's first day fell on a Sunday in 2018, so Wednesday 26 September was given back.
    assert date(2018, 9, 26).weekday() == 2
    assert is_holiday(date(2018, 9, 26))
    assert not is_holiday(date(2018, 9, 27))


def test_children_day_substitute_2018() -> None:
    # 5 May 2018 was a Saturday: Monday 7 May was the substitute holiday.
    assert is_holiday(date(2018, 5, 7))
    assert day_flags(date(2018, 5, 7)).day_off


def test_flags_around_a_holiday() -> None:
    before = day_flags(date(2018, 9, 22))
    after = day_flags(date(2018, 9, 27))
    assert before.before_holiday
    assert not before.holiday
    assert after.after_holiday
    assert not after.day_off


def test_ordinary_working_day_has_no_flags() -> None:
    flags = day_flags(date(2018, 11, 14))  # a Wednesday
    assert not flags.holiday
    assert not flags.day_off
    assert not flags.before_holiday
    assert not flags.after_holiday


def test_bridge_day_between_weekend_and_christmas() -> None:
    # Monday 24 Dec 2018 sits between Sunday and Christmas Day (Tuesday).
    assert day_flags(date(2018, 12, 24)).bridge
    assert not day_flags(date(2018, 12, 26)).bridge
