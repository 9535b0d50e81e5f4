"""The monthly policy report: ``GET /api/v1/air/report?month=YYYY-MM&format=csv|html``.

Public: aggregated area figures only. A bad month, one not begun, or one without any
computed hour answers 400 with the reason (and, for no data, which hours do have data).
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from citysmart.core.auth import OptionalPrincipal, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.time import utcnow
from citysmart.portal.pages import render
from citysmart.services.air import report_store
from citysmart.services.air.areas import load_areas
from citysmart.services.air.report import (
    POLLUTANTS,
    AreaInput,
    Month,
    MonthlyReport,
    monthly_report,
    timeline_start,
)
from citysmart.services.air.report_render import TABLE_NAMES, page_context, report_csv
from citysmart.services.air.types import FloatArray

router = APIRouter(prefix="/api/v1/air", tags=["air report"])
FORMATS: Final = ("html", "csv")
_HOUR = dt.timedelta(hours=1)


def _month(value: str, tz: dt.tzinfo, now: dt.datetime) -> Month:
    """Parse the month and refuse one that has not begun."""
    try:
        month = Month.parse(value)
    except ValueError as exc:
        raise Problem(400, "Invalid month", str(exc)) from exc
    if month.start(tz) > now:
        raise Problem(400, "Month not begun", f"{month} has not begun yet")
    return month


def _local(when: dt.datetime, tz: dt.tzinfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:00")


def source_label(sources: list[str]) -> str:
    """Say where the data comes from: the replay or simulation labels, else "measured"."""
    labelled = [s for s in sources if s and s != "measured"]
    if not labelled:
        return "measured"
    return "; ".join(labelled) + ("; measured" if "measured" in sources else "")


def build_report(
    session: SessionDep, month: Month, timezone: str, now: dt.datetime
) -> MonthlyReport:
    """Read the month (and the one before, and the 12 months to it) and compute the report.

    A month that has ended is reported whole (hours never computed count as not graded);
    the month in progress up to the end of the latest computed hour.
    """
    tz = ZoneInfo(timezone)
    start, month_end = month.start(tz), month.next().start(tz)
    first, latest = report_store.computed_range(session)
    if not report_store.mapped_hours(session, start, month_end):
        known = (
            f"the air job has computed hours from {_local(first, tz)} to {_local(latest, tz)}"
            if first and latest
            else "the air job has not computed any hour yet"
        )
        raise Problem(
            400, "No data for this month", f"no computed map in {month} ({timezone}); {known}"
        )
    assert latest is not None
    end = month_end if now >= month_end else min(month_end, latest + _HOUR)
    origin = timeline_start(month, tz)
    total = int((end - origin) / _HOUR)
    means: dict[tuple[str, str], FloatArray] = {}
    worsts: dict[tuple[str, str], FloatArray] = {}
    for hour, pollutant, code, mean, worst in report_store.area_hours(session, origin, end):
        key = (code, pollutant)
        if key not in means:
            means[key] = np.full(total, np.nan)
            worsts[key] = np.full(total, np.nan)
        at = int((hour - origin) / _HOUR)
        means[key][at] = np.nan if mean is None else mean
        worsts[key][at] = np.nan if worst is None else worst
    sensors = report_store.sensors_per_area(session)
    captured = report_store.captured_sensor_hours(session, start, end)
    following = month.next()
    year_start = Month(following.year - 1, following.month).start(tz)
    year_hours = int((month_end - year_start) / _HOUR)
    yearly = report_store.period_means(session, year_start, month_end)
    empty = np.full(total, np.nan)
    inputs = []
    for area in load_areas():
        inputs.append(
            AreaInput(
                code=area.code,
                name_ko=area.name_ko,
                name_en=area.name_en,
                pilot=area.pilot,
                mean={p: means.get((area.code, p.value), empty) for p in POLLUTANTS},
                worst={p: worsts.get((area.code, p.value), empty) for p in POLLUTANTS},
                sensors=sensors.get(area.code, 0),
                captured={p: captured.get((area.code, p.value), 0) for p in POLLUTANTS},
                mean_12m={p: yearly.get((area.code, p.value), (None, 0))[0] for p in POLLUTANTS},
                coverage_12m={
                    p: yearly.get((area.code, p.value), (None, 0))[1] / year_hours
                    for p in POLLUTANTS
                },
            )
        )
    source = source_label(report_store.sensor_sources(session))
    return monthly_report(month, timezone, end, inputs, source)


@router.get(
    "/report",
    summary="Monthly report per area (hours at each grade, exceedances, worst hours, trend)",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "text/csv": {}}}},
)
def read_report(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    month: str = Query(..., description="The month, YYYY-MM (calendar month in KST)"),
    format: str = Query("html", description="html (printable, with charts) or csv"),
    table: str = Query("summary", description="CSV table: summary, worst_hours or daily"),
) -> Response:
    """Return a month's report per area as an HTML page with charts, or as CSV."""
    if format not in FORMATS:
        raise Problem(400, "Unknown format", f"format {format!r}: use {' or '.join(FORMATS)}")
    if table not in TABLE_NAMES:
        raise Problem(400, "Unknown table", f"table {table!r}: use {', '.join(TABLE_NAMES)}")
    timezone = request.app.state.settings.timezone
    now = utcnow()
    chosen = _month(month, ZoneInfo(timezone), now)
    report = build_report(session, chosen, timezone, now)
    if format == "csv":
        name = f"sejong-air-report-{chosen}-{table}.csv"
        return Response(
            report_csv(report, table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return render(
        request,
        "air/air_report.html",
        principal,
        previous_month=str(chosen.previous()),
        next_month=str(chosen.next())
        if chosen.next().start(ZoneInfo(timezone)) <= utcnow()
        else None,
        api="/api/v1/air",
        **page_context(report),
    )


__all__ = ["build_report", "router", "source_label"]
