"""The monthly report written out: CSV tables and inline SVG charts for the HTML page.

CSV (UTF-8, one header row, empty cells for "no value"): ``summary`` (one row per area
and pollutant, plus an ``overall`` row), ``worst_hours`` and ``daily``. Every row names
the data's source, so replayed data never passes for Sejong's measurements.

Charts are SVG strings drawn with presentation attributes only (no ``style``, no
script: the portal's Content-Security-Policy allows neither inline), each with a title
and description for screen readers and text labels beside every colour.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from citysmart.core.time import isoformat
from citysmart.services.air.grades import TABLES
from citysmart.services.air.report import (
    GRADE_KEYS,
    POLLUTANTS,
    AreaReport,
    DailyMean,
    MonthlyReport,
    PollutantStats,
)
from citysmart.services.air.types import Pollutant

Table = Literal["summary", "worst_hours", "daily"]
TABLE_NAMES: Final[tuple[Table, ...]] = ("summary", "worst_hours", "daily")
POLLUTANT_LABELS: Final = {Pollutant.PM25: "PM2.5", Pollutant.PM10: "PM10"}
BANDS: Final = {band.key: band for band in TABLES[("kr", Pollutant.PM25)]}
UNGRADED_COLOUR: Final = "#C8CDD2"

SUMMARY_COLUMNS: Final = (
    "month", "timezone", "period_start", "period_end", "complete",
    "area_code", "area_name_ko", "area_name_en", "pilot", "pollutant", "hours",
    *(f"hours_{key}" for key in GRADE_KEYS), "hours_ungraded",
    "mean", "max_hour", "previous_mean", "change", "change_pct", "slope_per_day",
    "days_valid", "days_above_24h_standard", "hours_above_24h_standard", "standard_24h",
    "mean_12m", "standard_annual", "annual_above",
    "sensors", "sensor_hours_expected", "sensor_hours_captured", "capture_pct", "source",
)  # fmt: skip
WORST_COLUMNS: Final = (
    "month", "area_code", "area_name_en", "pollutant", "rank", "hour_utc", "hour_local",
    "value", "grade_key", "grade_ko", "grade_en", "worst_cell", "source",
)  # fmt: skip
DAILY_COLUMNS: Final = (
    "month", "area_code", "area_name_en", "day",
    "pm25_mean", "pm25_hours", "pm25_above_standard",
    "pm10_mean", "pm10_hours", "pm10_above_standard",
    *(f"hours_{key}" for key in GRADE_KEYS), "hours_ungraded", "source",
)  # fmt: skip


def number(value: float | None, digits: int = 1) -> str:
    """Format a figure for a table: rounded, or empty for no value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}"


def _csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """Write rows as CSV text with a header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def _summary_rows(report: MonthlyReport) -> Iterable[dict[str, Any]]:
    """Yield the summary table's rows."""
    common = {
        "month": str(report.month),
        "timezone": report.timezone,
        "period_start": isoformat(report.start),
        "period_end": isoformat(report.end),
        "complete": str(report.complete).lower(),
        "source": report.source,
    }
    for area in report.areas:
        where = {
            **common,
            "area_code": area.code,
            "area_name_ko": area.name_ko,
            "area_name_en": area.name_en,
            "pilot": str(area.pilot).lower(),
            "hours": report.hours,
            "sensors": area.sensors,
        }
        for pollutant in POLLUTANTS:
            s = area.stats[pollutant]
            yield {
                **where,
                "pollutant": pollutant.value,
                **{f"hours_{k}": s.hours_by_grade[k] for k in GRADE_KEYS},
                "hours_ungraded": s.hours_ungraded,
                "mean": number(s.mean),
                "max_hour": number(s.max_hour),
                "previous_mean": number(s.previous_mean),
                "change": number(s.change),
                "change_pct": number(s.change_pct),
                "slope_per_day": number(s.slope_per_day, 2),
                "days_valid": s.days_valid,
                "days_above_24h_standard": s.days_above,
                "hours_above_24h_standard": s.hours_above,
                "standard_24h": number(s.standard_24h, 0),
                "mean_12m": number(s.mean_12m),
                "standard_annual": number(s.standard_annual, 0),
                "annual_above": "" if s.annual_above is None else str(s.annual_above).lower(),
                "sensor_hours_expected": s.sensor_hours_expected,
                "sensor_hours_captured": s.sensor_hours_captured,
                "capture_pct": number(s.capture_pct),
            }
        yield {
            **where,
            "pollutant": "overall",
            **{f"hours_{k}": area.overall_hours_by_grade[k] for k in GRADE_KEYS},
            "hours_ungraded": area.overall_ungraded,
        }


def local_hour(when: dt.datetime, timezone: str) -> str:
    """Format an hour's start in the city's zone (``2026-11-25 16:00``)."""
    return when.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _worst_rows(report: MonthlyReport) -> Iterable[dict[str, Any]]:
    """Yield the worst hours table's rows."""
    for area in report.areas:
        for pollutant in POLLUTANTS:
            for rank, worst in enumerate(area.stats[pollutant].worst_hours, start=1):
                yield {
                    "month": str(report.month),
                    "area_code": area.code,
                    "area_name_en": area.name_en,
                    "pollutant": pollutant.value,
                    "rank": rank,
                    "hour_utc": isoformat(worst.hour),
                    "hour_local": local_hour(worst.hour, report.timezone),
                    "value": number(worst.value),
                    "grade_key": worst.grade.key,
                    "grade_ko": worst.grade.label_ko,
                    "grade_en": worst.grade.label_en,
                    "worst_cell": number(worst.worst_cell),
                    "source": report.source,
                }


def _daily_rows(report: MonthlyReport) -> Iterable[dict[str, Any]]:
    """Yield the daily table's rows."""
    for area in report.areas:
        pm25, pm10 = area.stats[Pollutant.PM25], area.stats[Pollutant.PM10]
        for d25, d10, (day, counts) in zip(pm25.daily, pm10.daily, area.daily_overall, strict=True):
            yield {
                "month": str(report.month),
                "area_code": area.code,
                "area_name_en": area.name_en,
                "day": day.isoformat(),
                "pm25_mean": number(d25.mean),
                "pm25_hours": d25.hours,
                "pm25_above_standard": _above(d25, pm25.standard_24h),
                "pm10_mean": number(d10.mean),
                "pm10_hours": d10.hours,
                "pm10_above_standard": _above(d10, pm10.standard_24h),
                **{f"hours_{k}": counts[k] for k in GRADE_KEYS},
                "hours_ungraded": counts["ungraded"],
                "source": report.source,
            }


def _above(day: DailyMean, standard: float) -> str:
    """Say whether a day's mean was above a standard ("" when the day has no valid mean)."""
    return str(day.mean > standard).lower() if day.valid else ""


def report_csv(report: MonthlyReport, table: Table = "summary") -> str:
    """Return one of the report's tables as CSV text."""
    if table == "summary":
        return _csv(SUMMARY_COLUMNS, _summary_rows(report))
    if table == "worst_hours":
        return _csv(WORST_COLUMNS, _worst_rows(report))
    return _csv(DAILY_COLUMNS, _daily_rows(report))


# --- charts ----------------------------------------------------------------------------

_W, _WIDE, _H = 640, 1000, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 16, 36
_FONT = 'font-family="system-ui, sans-serif" font-size="11" fill="#333"'


def nice_axis(value: float) -> tuple[float, list[float]]:
    """Return a round axis top at or above ``value`` and its ticks (3 to 6 round steps)."""
    if value <= 0:
        return 10.0, [0.0, 5.0, 10.0]
    rough = value / 5
    power = 10 ** math.floor(math.log10(rough))
    step = next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= rough)
    count = math.ceil(value / step - 1e-9)
    return count * step, [k * step for k in range(count + 1)]


def _svg_open(chart_id: str, title: str, desc: str, width: int) -> list[str]:
    """Start an SVG with its accessible title and description."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {_H}" width="100%" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d" class="report-chart">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]


def _axes(top: float, days: int, unit: str, ticks: Sequence[float], width: int) -> list[str]:
    """Draw the y gridlines with labels and the x axis with day numbers."""
    plot_h = _H - _TOP - _BOTTOM
    parts = []
    for tick in ticks:
        y = _TOP + plot_h * (1 - tick / top)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{width - _RIGHT}" y2="{y:.1f}" '
            'stroke="#E3E6EA" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{tick:g}</text>'
        )
    base = _TOP + plot_h
    parts.append(
        f'<line x1="{_LEFT}" y1="{base}" x2="{width - _RIGHT}" y2="{base}" stroke="#666"/>'
    )
    step = (width - _LEFT - _RIGHT) / max(days, 1)
    for day in range(1, days + 1):
        if day == 1 or day % 5 == 0:
            x = _LEFT + step * (day - 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{base + 14}" text-anchor="middle" {_FONT}>{day}</text>'
            )
    parts.append(
        f'<text x="{(_LEFT + width - _RIGHT) / 2:.0f}" y="{_H - 4}" text-anchor="middle" '
        f"{_FONT}>day of month · 일</text>"
    )
    parts.append(
        f'<text x="12" y="{_TOP + plot_h / 2:.0f}" text-anchor="middle" {_FONT} '
        f'transform="rotate(-90 12 {_TOP + plot_h / 2:.0f})">{escape(unit)}</text>'
    )
    return parts


def _series_path(days: Sequence[DailyMean], top: float, count: int) -> tuple[list[str], str]:
    """Return path segments (broken at days without a valid mean) and point coordinates."""
    plot_h = _H - _TOP - _BOTTOM
    step = (_W - _LEFT - _RIGHT) / max(count, 1)
    segments: list[str] = []
    current: list[str] = []
    points = []
    for k, day in enumerate(days[:count]):
        if not day.valid:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        x = _LEFT + step * (k + 0.5)
        y = _TOP + plot_h * (1 - min(day.mean, top) / top)
        current.append(f"{'M' if not current else 'L'}{x:.1f},{y:.1f}")
        points.append(f"{x:.1f},{y:.1f}")
    if current:
        segments.append(" ".join(current))
    return segments, " ".join(points)


def daily_chart(stats: PollutantStats, area: AreaReport, chart_id: str, days_in_month: int) -> str:
    """Draw a pollutant's daily means (line), the previous month's (dashed), and the standard."""
    label = POLLUTANT_LABELS[stats.pollutant]
    valid = [d.mean for d in (*stats.daily, *stats.previous_daily) if d.valid]
    top, ticks = nice_axis(max([stats.standard_24h * 1.2, *valid]))
    above = ", ".join(d.isoformat() for d in stats.exceedance_days) or "none"
    desc = (
        f"Daily mean {label} in {area.name_en}: month mean {number(stats.mean)} µg/m³, "
        f"previous month {number(stats.previous_mean)} µg/m³; 24-hour standard "
        f"{stats.standard_24h:g} µg/m³; days above: {above}."
    )
    parts = _svg_open(chart_id, f"{label} daily mean, {area.name_en} · {area.name_ko}", desc, _W)
    parts += _axes(top, days_in_month, f"{label} µg/m³", ticks, _W)
    plot_h = _H - _TOP - _BOTTOM
    y_std = _TOP + plot_h * (1 - stats.standard_24h / top)
    parts.append(
        f'<line x1="{_LEFT}" y1="{y_std:.1f}" x2="{_W - _RIGHT}" y2="{y_std:.1f}" '
        'stroke="#C62828" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    parts.append(
        f'<text x="{_W - _RIGHT - 4}" y="{y_std - 5:.1f}" text-anchor="end" '
        'font-family="system-ui, sans-serif" font-size="11" fill="#C62828" '
        'stroke="#FFFFFF" stroke-width="3" paint-order="stroke">'
        f"24-h standard · 일평균 기준 {stats.standard_24h:g}</text>"
    )
    previous, _ = _series_path(stats.previous_daily, top, days_in_month)
    for segment in previous:
        parts.append(
            f'<path d="{segment}" fill="none" stroke="#8A939C" stroke-width="1.5" '
            'stroke-dasharray="3 3"/>'
        )
    current, points = _series_path(stats.daily, top, days_in_month)
    for segment in current:
        parts.append(f'<path d="{segment}" fill="none" stroke="#1F5FA8" stroke-width="2"/>')
    for point in points.split():
        x, y = point.split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="#1F5FA8"/>')
    legend_y = _TOP + 4
    parts.append(
        f'<line x1="{_LEFT + 8}" y1="{legend_y}" x2="{_LEFT + 28}" y2="{legend_y}" '
        'stroke="#1F5FA8" stroke-width="2"/>'
    )
    parts.append(f'<text x="{_LEFT + 32}" y="{legend_y + 4}" {_FONT}>this month · 이번 달</text>')
    parts.append(
        f'<line x1="{_LEFT + 138}" y1="{legend_y}" x2="{_LEFT + 158}" y2="{legend_y}" '
        'stroke="#8A939C" stroke-width="1.5" stroke-dasharray="3 3"/>'
    )
    parts.append(
        f'<text x="{_LEFT + 162}" y="{legend_y + 4}" {_FONT}>previous month · 지난 달</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def grade_hours_chart(area: AreaReport, chart_id: str, days_in_month: int) -> str:
    """Draw the hours of each overall grade per day as stacked bars (24 h a day)."""
    totals = {k: area.overall_hours_by_grade[k] for k in GRADE_KEYS}
    desc = "Hours per day at each overall grade. Month totals: " + ", ".join(
        f"{BANDS[k].label_en} ({BANDS[k].label_ko}) {totals[k]} h" for k in GRADE_KEYS
    )
    desc += f", not graded {area.overall_ungraded} h."
    title = f"Overall grade hours per day, {area.name_en} · {area.name_ko}"
    parts = _svg_open(chart_id, title, desc, _WIDE)
    top = 24.0
    parts += _axes(top, days_in_month, "hours · 시간", [0, 6, 12, 18, 24], _WIDE)
    plot_h = _H - _TOP - _BOTTOM
    step = (_WIDE - _LEFT - _RIGHT) / days_in_month
    width = max(step * 0.75, 1.0)
    for k, (day, counts) in enumerate(area.daily_overall):
        y = float(_TOP + plot_h)
        x = _LEFT + step * k + (step - width) / 2
        for key in (*GRADE_KEYS, "ungraded"):
            hours = counts[key]
            if not hours:
                continue
            h = plot_h * hours / top
            y -= h
            colour = UNGRADED_COLOUR if key == "ungraded" else BANDS[key].colour
            name = "not graded" if key == "ungraded" else BANDS[key].label_en
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{day.isoformat()}: {escape(name)} {hours} h</title></rect>'
            )
    parts.append("</svg>")
    return "".join(parts)


def legend() -> list[dict[str, str]]:
    """Return the grade legend (colour with its labels; the charts never rely on colour)."""
    items = [
        {"key": k, "colour": BANDS[k].colour, "ko": BANDS[k].label_ko, "en": BANDS[k].label_en}
        for k in GRADE_KEYS
    ]
    items.append(
        {"key": "ungraded", "colour": UNGRADED_COLOUR, "ko": "등급 없음", "en": "Not graded"}
    )
    return items


def page_context(report: MonthlyReport) -> dict[str, Any]:
    """Return what the report page's template shows: figures, charts, labels."""
    areas = []
    days = len(report.month.days())
    for index, area in enumerate(report.areas):
        charts = {
            p.value: daily_chart(area.stats[p], area, f"c{index}-{p.value}", days)
            for p in POLLUTANTS
        }
        charts["grades"] = grade_hours_chart(area, f"c{index}-grades", days)
        areas.append({"area": area, "charts": charts})
    return {
        "report": report,
        "areas": areas,
        "grade_keys": GRADE_KEYS,
        "bands": BANDS,
        "legend": legend(),
        "pollutants": POLLUTANTS,
        "pollutant_labels": POLLUTANT_LABELS,
        "number": number,
        "local_hour": local_hour,
    }


__all__ = [
    "DAILY_COLUMNS",
    "SUMMARY_COLUMNS",
    "TABLE_NAMES",
    "WORST_COLUMNS",
    "Table",
    "daily_chart",
    "grade_hours_chart",
    "legend",
    "local_hour",
    "number",
    "page_context",
    "report_csv",
]
