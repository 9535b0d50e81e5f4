"""The monthly policy report, pure: per area, hours at each grade, exceedances, worst hours.

Input is each area's hourly figures from the previous month's first hour to the end of
the reported period (the area mean and worst cell of the served surface, NaN where the
hour has none) and its sensors' capture counts; output is plain dataclasses that
``report_render`` writes as CSV and HTML. Rules (chosen here, stated so the figures can
be checked by hand):

- Months and days are calendar months and days in the city's time zone (Asia/Seoul):
  the report of 2026-11 covers 2026-11-01 00:00 KST to 2026-12-01 00:00 KST. A month in
  progress is reported up to the end of the latest computed hour (``complete`` false);
  in a month that has ended, hours never computed count as not graded.
- Grades are Korea's (``grades.grade``) of the area's hourly mean; an hour without a
  mean is ``ungraded``. The overall grade is the worse of PM10 and PM2.5 where at least
  one is graded (as AirKorea's CAI takes the pollutants it has).
- Daily mean: the mean of a day's hourly means, valid with at least 18 of them (75 %).
  The month's mean is the mean of its valid daily means.
- Exceedances of Korea's 24-hour standards (PM10 100 µg/m³, PM2.5 35 µg/m³): days whose
  valid daily mean is above the standard; for reference also the hours whose hourly
  mean is above that concentration (the standard itself is a 24-hour mean).
- Annual standards (PM10 50, PM2.5 15 µg/m³) are compared with the mean of the 12 months
  ending with the reported one, only when those months have area means for at least
  75 % of their hours (one month says little about a year's mean).
- Trend: the month's mean against the previous month's (both means of valid daily
  means), and the least-squares slope of the valid daily means within the month
  (µg/m³ per day, with at least 7 valid days).
- Data capture: of the expected sensor-hours (sensors in the area × hours of the
  period), the share whose hourly mean had at least 75 % capture (``air_hourly``
  ``sufficient``), per pollutant. An area without sensors has no capture figure: its
  values are interpolated from sensors elsewhere.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from citysmart.services.air.grades import TABLES, Grade, grade, grade_levels
from citysmart.services.air.means import MIN_HOURS_24H
from citysmart.services.air.types import FloatArray, Pollutant

STANDARD_24H: Final = {Pollutant.PM10: 100.0, Pollutant.PM25: 35.0}
STANDARD_ANNUAL: Final = {Pollutant.PM10: 50.0, Pollutant.PM25: 15.0}
GRADE_KEYS: Final = tuple(band.key for band in TABLES[("kr", Pollutant.PM25)])
TOP_HOURS: Final = 10
MIN_TREND_DAYS: Final = 7
MIN_ANNUAL_COVERAGE: Final = 0.75
POLLUTANTS: Final = (Pollutant.PM25, Pollutant.PM10)
_HOUR = dt.timedelta(hours=1)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read ``YYYY-MM``; a ValueError says what is wrong."""
        found = _MONTH.match(text.strip())
        if not found:
            raise ValueError(f"month {text!r} is not YYYY-MM (for example 2026-11)")
        year, month = int(found.group(1)), int(found.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"month {text!r}: the month must be 01 to 12")
        if year < 1970:
            raise ValueError(f"month {text!r}: no data before 1970")
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def previous(self) -> Month:
        """Return the month before."""
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        """Return the month after."""
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def start(self, tz: dt.tzinfo) -> dt.datetime:
        """Return the month's first instant in a time zone, as UTC."""
        return dt.datetime(self.year, self.month, 1, tzinfo=tz).astimezone(dt.UTC)

    def days(self) -> list[dt.date]:
        """Return the month's calendar days."""
        first = dt.date(self.year, self.month, 1)
        following = self.next()
        count = (dt.date(following.year, following.month, 1) - first).days
        return [first + dt.timedelta(days=k) for k in range(count)]


@dataclass(frozen=True)
class AreaInput:
    """One area's hourly figures on the report's timeline, and its sensors' capture.

    The arrays hold one value per hour from the timeline's start (NaN = no value).
    ``captured`` counts sufficient sensor-hours per pollutant within the reported
    period; ``mean_12m`` and ``coverage_12m`` the 12-month means and hour coverage.
    """

    code: str
    name_ko: str
    name_en: str
    pilot: bool
    mean: Mapping[Pollutant, FloatArray]
    worst: Mapping[Pollutant, FloatArray]
    sensors: int = 0
    captured: Mapping[Pollutant, int] = field(default_factory=dict)
    mean_12m: Mapping[Pollutant, float | None] = field(default_factory=dict)
    coverage_12m: Mapping[Pollutant, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DailyMean:
    """A day's mean (NaN when fewer than 18 valid hours) and its valid hours."""

    day: dt.date
    mean: float
    hours: int

    @property
    def valid(self) -> bool:
        """Tell whether the day has a valid mean."""
        return not math.isnan(self.mean)


@dataclass(frozen=True)
class WorstHour:
    """One of the month's worst hours of an area: its mean, grade and worst cell."""

    hour: dt.datetime
    value: float
    grade: Grade
    worst_cell: float | None


@dataclass(frozen=True)
class PollutantStats:
    """One pollutant's month in one area."""

    pollutant: Pollutant
    hours_by_grade: dict[str, int]
    hours_ungraded: int
    max_hour: float | None
    daily: list[DailyMean]
    previous_daily: list[DailyMean]
    days_valid: int
    exceedance_days: list[dt.date]
    hours_above: int
    standard_24h: float
    mean: float | None
    previous_mean: float | None
    change: float | None
    change_pct: float | None
    slope_per_day: float | None
    standard_annual: float
    mean_12m: float | None
    coverage_12m: float
    worst_hours: list[WorstHour]
    sensor_hours_expected: int
    sensor_hours_captured: int
    capture_pct: float | None

    @property
    def days_above(self) -> int:
        """Return how many days exceeded the 24-hour standard."""
        return len(self.exceedance_days)

    @property
    def annual_above(self) -> bool | None:
        """Tell whether the 12-month mean is above the annual standard (None: not known)."""
        return None if self.mean_12m is None else self.mean_12m > self.standard_annual


@dataclass(frozen=True)
class AreaReport:
    """One area's month: both pollutants, the overall grade hours, per day too."""

    code: str
    name_ko: str
    name_en: str
    pilot: bool
    sensors: int
    stats: dict[Pollutant, PollutantStats]
    overall_hours_by_grade: dict[str, int]
    overall_ungraded: int
    daily_overall: list[tuple[dt.date, dict[str, int]]]

    @property
    def has_data(self) -> bool:
        """Tell whether any hour of the month was graded."""
        return any(self.overall_hours_by_grade.values())


@dataclass(frozen=True)
class MonthlyReport:
    """The month's report over every area."""

    month: Month
    timezone: str
    start: dt.datetime
    end: dt.datetime
    hours: int
    complete: bool
    source: str
    areas: list[AreaReport]


def timeline_start(month: Month, tz: dt.tzinfo) -> dt.datetime:
    """Return the first hour the inputs cover: the previous month's first hour (UTC)."""
    return month.previous().start(tz)


def _local_days(start: dt.datetime, count: int, tz: dt.tzinfo) -> list[dt.date]:
    """Return the local calendar day of each of ``count`` hours from ``start``."""
    return [(start + k * _HOUR).astimezone(tz).date() for k in range(count)]


def _daily(
    values: FloatArray, days: Sequence[dt.date], wanted: Sequence[dt.date]
) -> list[DailyMean]:
    """Return the daily means of the wanted days (hours outside them ignored)."""
    sums: dict[dt.date, float] = {}
    counts: dict[dt.date, int] = {}
    for value, day in zip(values.tolist(), days, strict=True):
        if not math.isnan(value):
            sums[day] = sums.get(day, 0.0) + value
            counts[day] = counts.get(day, 0) + 1
    result = []
    for day in wanted:
        n = counts.get(day, 0)
        mean = sums[day] / n if n >= MIN_HOURS_24H else math.nan
        result.append(DailyMean(day, mean, n))
    return result


def _mean_of_days(days: Sequence[DailyMean]) -> float | None:
    """Return the mean of the valid daily means, or None without any."""
    valid = [d.mean for d in days if d.valid]
    return float(np.mean(valid)) if valid else None


def _slope(days: Sequence[DailyMean]) -> float | None:
    """Return the least-squares slope of the valid daily means (µg/m³ per day)."""
    points = [(k, d.mean) for k, d in enumerate(days) if d.valid]
    if len(points) < MIN_TREND_DAYS:
        return None
    x = np.array([p[0] for p in points], dtype=np.float64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    slope = np.polyfit(x, y, 1)[0]
    return float(slope)


def _count_grades(levels: np.ndarray) -> dict[str, int]:
    """Return hours per grade key from grade levels (0 = ungraded, not counted)."""
    return {key: int(np.count_nonzero(levels == k + 1)) for k, key in enumerate(GRADE_KEYS)}


def _pollutant_stats(
    area: AreaInput,
    pollutant: Pollutant,
    month_slice: slice,
    previous_slice: slice,
    days: Sequence[dt.date],
    month: Month,
    start: dt.datetime,
    period_hours: int,
) -> PollutantStats:
    """Compute one pollutant's figures for one area."""
    values = np.asarray(area.mean[pollutant], dtype=np.float64)
    worst = np.asarray(area.worst[pollutant], dtype=np.float64)
    here = values[month_slice]
    levels = grade_levels(np.maximum(here, 0.0), pollutant)
    valid = ~np.isnan(here)
    begun = set(days[month_slice])
    daily = _daily(here, days[month_slice], [d for d in month.days() if d in begun])
    previous = _daily(values[previous_slice], days[previous_slice], month.previous().days())
    standard = STANDARD_24H[pollutant]
    mean = _mean_of_days(daily)
    previous_mean = _mean_of_days(previous)
    change = mean - previous_mean if mean is not None and previous_mean is not None else None
    change_pct = (
        100.0 * change / previous_mean
        if change is not None and previous_mean is not None and previous_mean > 0
        else None
    )
    order = [i for i in np.argsort(-np.where(valid, here, -np.inf), kind="stable") if valid[i]]
    offset = month_slice.start or 0
    worst_hours = [
        WorstHour(
            hour=start + (offset + int(i)) * _HOUR,
            value=float(here[i]),
            grade=grade(max(float(here[i]), 0.0), pollutant),
            worst_cell=None if math.isnan(worst[offset + i]) else float(worst[offset + i]),
        )
        for i in order[:TOP_HOURS]
    ]
    expected = area.sensors * period_hours
    captured = int(area.captured.get(pollutant, 0))
    return PollutantStats(
        pollutant=pollutant,
        hours_by_grade=_count_grades(levels),
        hours_ungraded=int(np.count_nonzero(~valid)),
        max_hour=float(np.nanmax(here)) if valid.any() else None,
        daily=daily,
        previous_daily=previous,
        days_valid=sum(d.valid for d in daily),
        exceedance_days=[d.day for d in daily if d.valid and d.mean > standard],
        hours_above=int(np.count_nonzero(here[valid] > standard)),
        standard_24h=standard,
        mean=mean,
        previous_mean=previous_mean,
        change=change,
        change_pct=change_pct,
        slope_per_day=_slope(daily),
        standard_annual=STANDARD_ANNUAL[pollutant],
        mean_12m=(
            area.mean_12m.get(pollutant)
            if area.coverage_12m.get(pollutant, 0.0) >= MIN_ANNUAL_COVERAGE
            else None
        ),
        coverage_12m=float(area.coverage_12m.get(pollutant, 0.0)),
        worst_hours=worst_hours,
        sensor_hours_expected=expected,
        sensor_hours_captured=captured,
        capture_pct=100.0 * captured / expected if expected else None,
    )


def monthly_report(
    month: Month,
    timezone: str,
    end: dt.datetime,
    areas: Sequence[AreaInput],
    source: str = "measured",
) -> MonthlyReport:
    """Compute the month's report (see the module for every rule).

    ``end`` is the end of the reported period: the month's end, or earlier for a month
    in progress (the end of the latest computed hour). Each area's arrays cover the hours
    from :func:`timeline_start` to ``end``.
    """
    tz = ZoneInfo(timezone)
    first = timeline_start(month, tz)
    month_start = month.start(tz)
    month_end = month.next().start(tz)
    end = min(end, month_end)
    if end <= month_start:
        raise ValueError(f"the period of {month} ends before it starts")
    total = int((end - first) / _HOUR)
    at = int((month_start - first) / _HOUR)
    month_slice, previous_slice = slice(at, total), slice(0, at)
    days = _local_days(first, total, tz)
    period_hours = total - at
    reports = []
    for area in areas:
        for pollutant in POLLUTANTS:
            if len(area.mean[pollutant]) != total or len(area.worst[pollutant]) != total:
                raise ValueError(
                    f"area {area.code} {pollutant.value}: {len(area.mean[pollutant])} hours "
                    f"given, the timeline has {total}"
                )
        stats = {
            p: _pollutant_stats(
                area, p, month_slice, previous_slice, days, month, first, period_hours
            )
            for p in POLLUTANTS
        }
        levels = np.maximum(
            grade_levels(np.maximum(area.mean[Pollutant.PM10][month_slice], 0.0), Pollutant.PM10),
            grade_levels(np.maximum(area.mean[Pollutant.PM25][month_slice], 0.0), Pollutant.PM25),
        )
        month_days = days[month_slice]
        daily_overall: list[tuple[dt.date, dict[str, int]]] = []
        for day in sorted(set(month_days)):
            mask = np.array([d == day for d in month_days])
            counts = _count_grades(levels[mask])
            counts["ungraded"] = int(np.count_nonzero(levels[mask] == 0))
            daily_overall.append((day, counts))
        reports.append(
            AreaReport(
                code=area.code,
                name_ko=area.name_ko,
                name_en=area.name_en,
                pilot=area.pilot,
                sensors=area.sensors,
                stats=stats,
                overall_hours_by_grade=_count_grades(levels),
                overall_ungraded=int(np.count_nonzero(levels == 0)),
                daily_overall=daily_overall,
            )
        )
    return MonthlyReport(
        month=month,
        timezone=timezone,
        start=month_start,
        end=end,
        hours=period_hours,
        complete=end >= month_end,
        source=source,
        areas=reports,
    )


__all__ = [
    "GRADE_KEYS",
    "POLLUTANTS",
    "STANDARD_24H",
    "STANDARD_ANNUAL",
    "TOP_HOURS",
    "AreaInput",
    "AreaReport",
    "DailyMean",
    "Month",
    "MonthlyReport",
    "PollutantStats",
    "WorstHour",
    "monthly_report",
    "timeline_start",
]
