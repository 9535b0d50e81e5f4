"""The monthly report over HTTP: CSV and a printable HTML page, public, with clear 400s.

Two days of October 2026 (KST) in Dodam-dong, as the hourly job stores them, on SQLite
and PostgreSQL: 5 Oct PM2.5 50 / PM10 60 all day, 6 Oct PM2.5 20 / PM10 40 all day, one
replayed sensor with sufficient PM2.5 hours throughout the two days.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from citysmart.services.air.alerts import AreaHour
from citysmart.services.air.models import AirHourly, AirSensor
from citysmart.services.air.report import Month
from tests.services.air.test_alerts import DODAM, HOUR, put_hours

KST = ZoneInfo("Asia/Seoul")
REPORT = "/api/v1/air/report"
REPLAY = "replayed from Beijing (UCI data set), not Sejong's readings"
OCT5 = dt.datetime(2026, 10, 5, tzinfo=KST).astimezone(dt.UTC)


@pytest.fixture
def seeded(air_client: TestClient, air_runtime: HubRuntime) -> TestClient:
    values = {OCT5 + k * HOUR: AreaHour(60.0, 50.0) for k in range(24)}
    values |= {OCT5 + (24 + k) * HOUR: AreaHour(40.0, 20.0) for k in range(24)}
    put_hours(air_runtime, DODAM, values)
    with air_runtime.sessions.begin() as session:
        session.add(
            AirSensor(
                id="s-1", name="dodam 1", kind="lowcost", rated_rh_max=90.0, interval_s=60.0,
                area_code=DODAM, lon=127.28, lat=36.48, source=REPLAY,
            )
        )  # fmt: skip
        session.add_all(
            AirHourly(
                sensor_id="s-1",
                variable="pm25",
                hour=hour,
                raw=1.0,
                value=1.0,
                count=60,
                readings=60,
                expected=60,
                capture=1.0,
                sufficient=True,
            )  # fmt: skip
            for hour in values
        )
    return air_client


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_summary_per_area_without_signing_in(seeded: TestClient) -> None:
    answer = seeded.get(REPORT, params={"month": "2026-10", "format": "csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "sejong-air-report-2026-10-summary.csv" in answer.headers["content-disposition"]
    table = rows(answer.text)
    assert len(table) == 17 * 3  # every area: PM2.5, PM10 and overall
    dodam = {r["pollutant"]: r for r in table if r["area_code"] == DODAM}
    assert dodam["pm25"]["hours_unhealthy"] == "24"
    assert dodam["pm25"]["hours_moderate"] == "24"
    assert dodam["pm25"]["hours_ungraded"] == str(31 * 24 - 48)
    assert dodam["pm25"]["days_above_24h_standard"] == "1"
    assert dodam["pm25"]["mean"] == "35.0"
    assert dodam["pm25"]["sensors"] == "1"
    assert dodam["pm25"]["capture_pct"] == f"{100 * 48 / (31 * 24):.1f}"
    assert dodam["pm10"]["days_above_24h_standard"] == "0"
    assert dodam["overall"]["hours_unhealthy"] == "24"
    assert dodam["overall"]["hours_moderate"] == "24"
    assert dodam["pm25"]["complete"] == "true"
    assert dodam["pm25"]["period_start"] == "2026-09-30T15:00:00Z"
    assert {r["source"] for r in table} == {REPLAY}
    other = {r["pollutant"]: r for r in table if r["area_code"] == "2901011"}
    assert other["pm25"]["hours_ungraded"] == str(31 * 24)
    assert other["pm25"]["capture_pct"] == ""  # no sensor there


def test_csv_worst_hours_and_daily(seeded: TestClient) -> None:
    worst = rows(seeded.get(REPORT, params={"month": "2026-10", "format": "csv",
                                            "table": "worst_hours"}).text)  # fmt: skip
    mine = [r for r in worst if r["area_code"] == DODAM and r["pollutant"] == "pm25"]
    assert len(mine) == 10
    assert mine[0]["hour_local"] == "2026-10-05 00:00"
    assert {r["value"] for r in mine} == {"50.0"}
    assert mine[0]["worst_cell"] == "55.0"
    daily = rows(seeded.get(REPORT, params={"month": "2026-10", "format": "csv",
                                            "table": "daily"}).text)  # fmt: skip
    dodam = [r for r in daily if r["area_code"] == DODAM]
    assert len(dodam) == 31
    assert [r["pm25_mean"] for r in dodam[4:6]] == ["50.0", "20.0"]


def test_html_page_with_svg_charts_and_no_script(seeded: TestClient) -> None:
    answer = seeded.get(REPORT, params={"month": "2026-10", "format": "html"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page = answer.text
    assert "<script" not in page
    assert " style=" not in page
    assert page.count("<svg") == 3  # only Dodam-dong has data: its two lines and its bars
    assert "No graded hour this month" in page
    assert REPLAY.replace("'", "&#39;") in page
    assert "/static/services/air/air_report.css" in page
    assert "2026-10-05" in page
    css = seeded.get("/static/services/air/air_report.css")
    assert css.status_code == 200
    assert "@media print" in css.text
    # Monthly navigation: September is offered, and it says it has no data.
    assert 'month=2026-09&amp;format=html"' in page
    previous = seeded.get(REPORT, params={"month": "2026-09"})
    assert previous.status_code == 400


def test_bad_months_answer_400_and_say_why(seeded: TestClient) -> None:
    now = dt.datetime.now(KST)
    upcoming = Month(now.year, now.month).next()
    cases = [
        ({"month": "2026-13"}, "Invalid month", "01 to 12"),
        ({"month": "October"}, "Invalid month", "YYYY-MM"),
        ({"month": str(upcoming)}, "Month not begun", "has not begun"),
        ({"month": "2026-08"}, "No data for this month", "2026-10-05 00:00 to 2026-10-06 23:00"),
        ({"month": "2026-10", "format": "pdf"}, "Unknown format", "html or csv"),
        ({"month": "2026-10", "format": "csv", "table": "x"}, "Unknown table", "worst_hours"),
    ]
    for params, title, detail in cases:
        answer = seeded.get(REPORT, params=params)
        assert answer.status_code == 400, params
        assert answer.json()["title"] == title
        assert detail in answer.json()["detail"]
    assert seeded.get(REPORT).status_code == 422  # month is required


def test_no_computed_hour_at_all_says_so(air_client: TestClient) -> None:
    answer = air_client.get(REPORT, params={"month": "2026-10"})
    assert answer.status_code == 400
    assert "has not computed any hour yet" in answer.json()["detail"]
