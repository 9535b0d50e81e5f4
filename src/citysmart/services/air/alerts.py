"""Alerts, pure: whether an area's hour reaches a follow's grade, and the follow's hysteresis.

A citizen follows an area at a Korean grade level (2 보통, 3 나쁨, 4 매우나쁨) of PM2.5,
PM10 or the overall grade. Each computed hour moves the follow's state:

- **Reached** (the area's grade is at or above the level): a follow that is not raised
  is raised, and that hour gives one alert. A raised follow stays raised: no repeat,
  however long the area stays at or above the level.
- **Below**: a raised follow re-arms after :data:`DEFAULT_REARM_HOURS` graded hours
  below the level in a row (1: the first hour back below re-arms, the plain "no repeat
  until it falls back below"; a deployment can ask for more hours of calm before the
  next alert with ``CITYSMART_AIR_ALERT_REARM_HOURS``). An hour that reaches the level
  again resets that count.
- **Ungraded**: an hour without a valid area value (capture under 75 % at every
  sensor, no map) neither raises nor re-arms, nor breaks or extends a run of hours below.

The area's grade is the Korean grade of the area mean of the hour's served surface (the
"mean" grade the map shows for the dong). For ``overall`` (the worse of the two
pollutants) an hour *reaches* the level when either present pollutant does, and is
*below* it only when both are present and below: with one pollutant missing the hour
cannot say the air is clean again, so it counts as ungraded for re-arming.

Each hour is applied at most once: hours at or before the follow's ``last_hour`` are
ignored, so the job can evaluate an hour again (a retry, a catch-up) without a repeat.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final, Literal

from citysmart.services.air.grades import TABLES, Grade, grade
from citysmart.services.air.types import Pollutant

AlertPollutant = Literal["pm25", "pm10", "overall"]
ALERT_POLLUTANTS: Final[tuple[AlertPollutant, ...]] = ("pm25", "pm10", "overall")
Verdict = Literal["reached", "below", "ungraded"]
DEFAULT_REARM_HOURS: Final = 1
# Following "좋음 or worse" would alert on every hour: the lowest level worth following is 2.
MIN_LEVEL: Final = 2
MAX_LEVEL: Final = 4
LEVEL_KEYS: Final = {band.level: band.key for band in TABLES[("kr", Pollutant.PM25)]}


@dataclass(frozen=True)
class AreaHour:
    """An area's hourly mean of each pollutant (µg/m³); None where the hour is not graded."""

    pm10: float | None
    pm25: float | None


@dataclass(frozen=True)
class HourCheck:
    """How an hour stands against a follow's level, and the grade that decided it.

    ``grade`` is the graded value that reached the level (for ``overall``, the worse of
    the two), or the worse graded value below it; None when ungraded.
    """

    verdict: Verdict
    grade: Grade | None
    value: float | None = None


@dataclass(frozen=True)
class FollowState:
    """A follow's alert state: raised or armed, hours below while raised, last hour seen."""

    raised: bool = False
    raised_hour: dt.datetime | None = None
    below_hours: int = 0
    last_hour: dt.datetime | None = None


@dataclass(frozen=True)
class Alert:
    """One alert to deliver: the hour the area reached the level, its grade and mean (µg/m³)."""

    hour: dt.datetime
    grade: Grade
    value: float


def level_of(value: int | str) -> int:
    """Return a grade level from 2..4 or a key ("unhealthy"); a ValueError names bad input."""
    if isinstance(value, str) and not value.strip().isdigit():
        by_key = {key: level for level, key in LEVEL_KEYS.items()}
        if value not in by_key:
            raise ValueError(f"unknown grade {value!r}: use one of {', '.join(by_key)}")
        level = by_key[value]
    else:
        level = int(value)
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ValueError(
            f"grade level {level}: follow level {MIN_LEVEL} ({LEVEL_KEYS[MIN_LEVEL]}) to "
            f"{MAX_LEVEL} ({LEVEL_KEYS[MAX_LEVEL]})"
        )
    return level


def _graded(value: float | None, pollutant: Pollutant) -> tuple[Grade, float] | None:
    """Grade an area value, or None when the hour has none (or a non-finite one)."""
    if value is None or not math.isfinite(value):
        return None
    return grade(max(value, 0.0), pollutant), value


def _worse(graded: Iterable[tuple[Grade, float]]) -> tuple[Grade, float]:
    """Return the worse of some graded values (higher level, then higher index)."""
    return max(graded, key=lambda g: (g[0].level, g[0].index))


def check_hour(area: AreaHour, pollutant: AlertPollutant, level: int) -> HourCheck:
    """Tell whether an area's hour reached a level of a pollutant (or overall), see module."""
    pm10 = _graded(area.pm10, Pollutant.PM10)
    pm25 = _graded(area.pm25, Pollutant.PM25)
    if pollutant == "pm25":
        graded = [pm25] if pm25 is not None else []
        complete = pm25 is not None
    elif pollutant == "pm10":
        graded = [pm10] if pm10 is not None else []
        complete = pm10 is not None
    elif pollutant == "overall":
        graded = [g for g in (pm10, pm25) if g is not None]
        complete = len(graded) == 2
    else:
        raise ValueError(f"unknown alert pollutant {pollutant!r}: use pm25, pm10 or overall")
    reached = [g for g in graded if g[0].level >= level]
    if reached:
        return HourCheck("reached", *_worse(reached))
    if complete:
        return HourCheck("below", *_worse(graded))
    return HourCheck("ungraded", None)


def step(
    state: FollowState,
    hour: dt.datetime,
    check: HourCheck,
    rearm_hours: int = DEFAULT_REARM_HOURS,
) -> tuple[FollowState, Alert | None]:
    """Apply one hour to a follow: the new state, and the alert this hour raises if any."""
    if rearm_hours < 1:
        raise ValueError(f"rearm_hours must be at least 1, got {rearm_hours}")
    if state.last_hour is not None and hour <= state.last_hour:
        return state, None  # already applied: evaluating an hour again never repeats
    seen = replace(state, last_hour=hour)
    if check.verdict == "ungraded":
        return seen, None
    if check.verdict == "reached":
        assert check.grade is not None
        assert check.value is not None
        if state.raised:
            return replace(seen, below_hours=0), None
        raised = replace(seen, raised=True, raised_hour=hour, below_hours=0)
        return raised, Alert(hour, check.grade, check.value)
    if not state.raised:
        return seen, None
    below = state.below_hours + 1
    if below >= rearm_hours:
        return replace(seen, raised=False, below_hours=0), None
    return replace(seen, below_hours=below), None


def run(
    state: FollowState,
    hours: Iterable[tuple[dt.datetime, AreaHour]],
    pollutant: AlertPollutant,
    level: int,
    rearm_hours: int = DEFAULT_REARM_HOURS,
) -> tuple[FollowState, list[Alert]]:
    """Apply hours in time order to a follow; return its final state and the alerts raised."""
    alerts: list[Alert] = []
    for hour, area in sorted(hours, key=lambda item: item[0]):
        state, alert = step(state, hour, check_hour(area, pollutant, level), rearm_hours)
        if alert is not None:
            alerts.append(alert)
    return state, alerts


__all__ = [
    "ALERT_POLLUTANTS",
    "DEFAULT_REARM_HOURS",
    "LEVEL_KEYS",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "Alert",
    "AlertPollutant",
    "AreaHour",
    "FollowState",
    "HourCheck",
    "Verdict",
    "check_hour",
    "level_of",
    "run",
    "step",
]
