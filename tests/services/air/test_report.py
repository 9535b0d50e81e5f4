"""The monthly report's figures against small data computed by hand, and how it is written.

November 2026 in Sejong (KST), one area, two sensors:

- PM2.5: 1 Nov 24 h at 40 (나쁨); 2 Nov 20 h at 30 (보통), 4 h missing; 3 Nov 17 h at 80
  (매우나쁨), too few hours for a daily mean; 4 Nov 12 h at 10 (좋음) and 12 h at 60
  (나쁨), a daily mean of exactly 35, which is not above the standard. 15 Oct: 24 h at 20.
- PM10: 1 Nov 24 h at 120 (나쁨); 2 Nov the same 20 h at 90 (나쁨).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from citysmart.services.air.report import (
    AreaInput,
    Month,
    MonthlyReport,
    monthly_report,
    timeline_start,
)
from citysmart.services.air.report_render import (
    DAILY_COLUMNS,
    SUMMARY_COLUMNS,
    WORST_COLUMNS,
    daily_chart,
    grade_hours_chart,
    report_csv,
)
from citysmart.services.air.types import Pollutant

KST = ZoneInfo("Asia/Seoul")
NOV = Month(2026, 11)
START = timeline_start(NOV, KST)
END = NOV.next().start(KST)
TOTAL = int((END - START) / dt.timedelta(hours=1))
PM25, PM10 = Pollutant.PM25, Pollutant.PM10
REPLAY = "replayed from Beijing (UCI data set), not Sejong's readings"


def at(month: int, day: int, hour: int) -> int:
    """Index of a KST hour on the timeline."""
    when = dt.datetime(2026, month, day, hour, tzinfo=KST).astimezone(dt.UTC)
    return int((when - START) / dt.timedelta(hours=1))


def area(**overrides: object) -> AreaInput:
    pm25 = np.full(TOTAL, np.nan)
    pm10 = np.full(TOTAL, np.nan)
    pm25[at(11, 1, 0) : at(11, 2, 0)] = 40.0
    pm25[at(11, 2, 0) : at(11, 2, 20)] = 30.0
    pm25[at(11, 3, 0) : at(11, 3, 17)] = 80.0
    pm25[at(11, 4, 0) : at(11, 4, 12)] = 10.0
    pm25[at(11, 4, 12) : at(11, 5, 0)] = 60.0
    pm25[at(10, 15, 0) : at(10, 16, 0)] = 20.0
    pm10[at(11, 1, 0) : at(11, 2, 0)] = 120.0
    pm10[at(11, 2, 0) : at(11, 2, 20)] = 90.0
    values: dict[str, object] = {
        "code": "2901053",
        "name_ko": "도담동",
        "name_en": "Dodam-dong",
        "pilot": True,
        "mean": {PM25: pm25, PM10: pm10},
        "worst": {PM25: pm25 + 7.0, PM10: pm10 + 9.0},
        "sensors": 2,
        "captured": {PM25: 1080, PM10: 700},
        "mean_12m": {PM25: 18.0, PM10: 40.0},
        "coverage_12m": {PM25: 0.8, PM10: 0.5},
    }
    values.update(overrides)
    return AreaInput(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def report() -> MonthlyReport:
    return monthly_report(NOV, "Asia/Seoul", END, [area()], REPLAY)


def test_hours_at_each_grade(report: MonthlyReport) -> None:
    [dodam] = report.areas
    assert report.hours == 720
    assert report.complete
    pm25 = dodam.stats[PM25]
    assert pm25.hours_by_grade == {
        "good": 12,
        "moderate": 20,
        "unhealthy": 36,
        "very_unhealthy": 17,
    }
    assert pm25.hours_ungraded == 720 - 85
    assert dodam.stats[PM10].hours_by_grade == {
        "good": 0,
        "moderate": 0,
        "unhealthy": 44,
        "very_unhealthy": 0,
    }
    # Overall: the worse of the two where either is graded (2 Nov: PM10's 나쁨 over 보통).
    assert dodam.overall_hours_by_grade == {
        "good": 12,
        "moderate": 0,
        "unhealthy": 56,
        "very_unhealthy": 17,
    }
    assert dodam.overall_ungraded == 635


def test_exceedances_of_the_24_hour_standards(report: MonthlyReport) -> None:
    pm25, pm10 = report.areas[0].stats[PM25], report.areas[0].stats[PM10]
    assert [d.day.day for d in pm25.daily if d.valid] == [1, 2, 4]
    assert pm25.days_valid == 3
    assert pm25.exceedance_days == [dt.date(2026, 11, 1)]  # 4 Nov's 35.0 is not above 35
    assert pm25.hours_above == 24 + 17 + 12
    assert pm10.exceedance_days == [dt.date(2026, 11, 1)]
    assert pm10.hours_above == 24
    assert pm25.daily[2].hours == 17
    assert math.isnan(pm25.daily[2].mean)


def test_trend_against_the_previous_month(report: MonthlyReport) -> None:
    pm25 = report.areas[0].stats[PM25]
    assert pm25.mean == pytest.approx((40 + 30 + 35) / 3)
    assert pm25.previous_mean == pytest.approx(20.0)
    assert pm25.change == pytest.approx(15.0)
    assert pm25.change_pct == pytest.approx(75.0)
    assert pm25.slope_per_day is None  # three valid days are too few for a trend
    assert pm25.max_hour == 80.0
    assert report.areas[0].stats[PM10].previous_mean is None


def test_a_steady_rise_has_its_slope() -> None:
    pm25 = np.full(TOTAL, np.nan)
    for day in range(1, 11):
        pm25[at(11, day, 0) : at(11, day + 1, 0)] = 10.0 + 2.0 * day
    steady = area(mean={PM25: pm25, PM10: np.full(TOTAL, np.nan)})
    got = monthly_report(NOV, "Asia/Seoul", END, [steady]).areas[0].stats[PM25]
    assert got.slope_per_day == pytest.approx(2.0)


def test_worst_hours_capture_and_annual_mean(report: MonthlyReport) -> None:
    pm25 = report.areas[0].stats[PM25]
    assert len(pm25.worst_hours) == 10
    first = pm25.worst_hours[0]
    assert first.hour == dt.datetime(2026, 11, 3, 0, tzinfo=KST)  # earliest of the equal worst
    assert first.value == 80.0
    assert first.worst_cell == 87.0
    assert first.grade.key == "very_unhealthy"
    assert [w.value for w in pm25.worst_hours] == [80.0] * 10
    assert pm25.sensor_hours_expected == 2 * 720
    assert pm25.capture_pct == pytest.approx(75.0)
    assert pm25.mean_12m == 18.0
    assert pm25.annual_above is True
    # Half a year of PM10 is no annual mean.
    assert report.areas[0].stats[PM10].mean_12m is None
    assert report.areas[0].stats[PM10].annual_above is None
    no_sensor = monthly_report(NOV, "Asia/Seoul", END, [area(sensors=0)]).areas[0]
    assert no_sensor.stats[PM25].capture_pct is None


def test_a_month_in_progress_ends_at_the_latest_hour() -> None:
    end = dt.datetime(2026, 11, 10, tzinfo=KST).astimezone(dt.UTC)
    total = int((end - START) / dt.timedelta(hours=1))
    partial = area(
        mean={PM25: area().mean[PM25][:total], PM10: area().mean[PM10][:total]},
        worst={PM25: area().worst[PM25][:total], PM10: area().worst[PM10][:total]},
    )
    got = monthly_report(NOV, "Asia/Seoul", end, [partial])
    assert not got.complete
    assert got.hours == 9 * 24
    assert len(got.areas[0].stats[PM25].daily) == 9
    assert got.areas[0].stats[PM25].sensor_hours_expected == 2 * 9 * 24
    with pytest.raises(ValueError, match="timeline has"):
        monthly_report(NOV, "Asia/Seoul", END, [partial])


def test_days_are_korean_calendar_days() -> None:
    # 1 Nov 00:00-08:59 KST is still 31 Oct in UTC: it counts for November's first day.
    pm25 = np.full(TOTAL, np.nan)
    pm25[at(11, 1, 0) : at(11, 1, 18)] = 50.0
    got = monthly_report(
        NOV, "Asia/Seoul", END, [area(mean={PM25: pm25, PM10: np.full(TOTAL, np.nan)})]
    )
    assert got.areas[0].stats[PM25].daily[0].hours == 18
    assert got.areas[0].stats[PM25].daily[0].mean == 50.0
    assert got.start == dt.datetime(2026, 10, 31, 15, tzinfo=dt.UTC)


def test_months_are_read_strictly() -> None:
    assert Month.parse("2026-01").previous() == Month(2025, 12)
    assert str(Month.parse(" 2026-12 ").next()) == "2027-01"
    for bad, why in [("2026-13", "01 to 12"), ("2026-1", "YYYY-MM"), ("Nov", "YYYY-MM")]:
        with pytest.raises(ValueError, match=why):
            Month.parse(bad)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_summary_csv_columns_and_figures(report: MonthlyReport) -> None:
    text = report_csv(report, "summary")
    assert text.splitlines()[0].split(",") == list(SUMMARY_COLUMNS)
    by = {r["pollutant"]: r for r in rows(text)}
    assert set(by) == {"pm25", "pm10", "overall"}
    pm25 = by["pm25"]
    assert pm25["area_name_ko"] == "도담동"
    assert pm25["hours_unhealthy"] == "36"
    assert pm25["days_above_24h_standard"] == "1"
    assert pm25["hours_above_24h_standard"] == "53"
    assert pm25["mean"] == "35.0"
    assert pm25["change_pct"] == "75.0"
    assert pm25["capture_pct"] == "75.0"
    assert pm25["annual_above"] == "true"
    assert pm25["slope_per_day"] == ""
    assert by["overall"]["hours_unhealthy"] == "56"
    assert by["overall"]["mean"] == ""
    assert {r["source"] for r in by.values()} == {REPLAY}


def test_worst_hours_and_daily_csv(report: MonthlyReport) -> None:
    worst = rows(report_csv(report, "worst_hours"))
    assert list(worst[0]) == list(WORST_COLUMNS)
    pm25 = [r for r in worst if r["pollutant"] == "pm25"]
    assert [r["rank"] for r in pm25] == [str(k) for k in range(1, 11)]
    assert pm25[0]["hour_local"] == "2026-11-03 00:00"
    assert pm25[0]["hour_utc"] == "2026-11-02T15:00:00Z"
    assert pm25[0]["grade_ko"] == "매우나쁨"
    daily = rows(report_csv(report, "daily"))
    assert list(daily[0]) == list(DAILY_COLUMNS)
    assert len(daily) == 30
    first = daily[0]
    assert first["day"] == "2026-11-01"
    assert first["pm25_mean"] == "40.0"
    assert first["pm25_above_standard"] == "true"
    assert first["hours_unhealthy"] == "24"
    assert daily[2]["pm25_mean"] == ""  # 17 hours: no daily mean
    assert daily[2]["pm25_above_standard"] == ""
    assert daily[2]["hours_very_unhealthy"] == "17"
    assert daily[2]["hours_ungraded"] == "7"


def test_charts_are_svg_with_words_and_no_script_or_inline_style(report: MonthlyReport) -> None:
    dodam = report.areas[0]
    line = daily_chart(dodam.stats[PM25], dodam, "c0-pm25", 30)
    bars = grade_hours_chart(dodam, "c0-grades", 30)
    for svg in (line, bars):
        assert svg.startswith("<svg")
        assert svg.endswith("</svg>")
        assert "<script" not in svg
        assert "style=" not in svg
        assert " on" not in svg
        assert "<title" in svg
        assert "<desc" in svg
    # Three valid days: one segment for 1-2 Nov, one point for 4 Nov; the standard at 35.
    assert len(re.findall(r"<circle ", line)) == 3
    assert "24-h standard" in line
    assert ">0<" in line
    assert "2026-11-01" in line  # the exceedance day is named for screen readers
    # 1 Nov: one bar of 24 unhealthy hours; 3 Nov: 17 very unhealthy and 7 ungraded.
    assert "2026-11-01: Unhealthy 24 h" in bars
    assert "2026-11-03: Very unhealthy 17 h" in bars
    assert "2026-11-03: not graded 7 h" in bars
