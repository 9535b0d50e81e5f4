"""Alert routes as a citizen and an operator use them, on SQLite and PostgreSQL.

Follows and inboxes are private to their owner; webhooks are checked by the deployment's
environment; follows are capped; operators list failed deliveries; and the hourly job,
run on real readings, puts the alert in the follower's inbox.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from citysmart.core.accounts import create_user
from citysmart.core.config import Settings
from citysmart.core.time import isoformat
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.air import SERVICE, alert_routes, alert_store
from citysmart.services.air.alerts import AreaHour
from citysmart.services.air.grid import Grid
from citysmart.services.air.jobs import floor_hour, run_hourly
from citysmart.services.air.models import AirMapHour
from citysmart.services.air.models_alerts import AirFollow
from citysmart.services.air.notify import AlertSettings, deliver_due
from citysmart.services.air.report import Month
from tests.factories import create_user_with_token
from tests.services.air.factories import add_sensor, steady, store_readings
from tests.services.air.test_alerts import DODAM, H0, HOUR, put_hours

API = "/api/v1/air"
PASSWORD = "correct horse battery"
JOCHIWON = "2901011"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def people(air_client: TestClient, air_runtime: HubRuntime) -> dict[str, dict[str, str]]:
    return {
        name: bearer(create_user_with_token(air_runtime, name, role))
        for name, role in (("ana", "citizen"), ("bo", "citizen"), ("ops", "operator"))
    }


def follow(client: TestClient, who: dict[str, str], **body: Any) -> Any:
    return client.post(f"{API}/follows", json={"area": DODAM, **body}, headers=who)


def test_follows_are_private_to_their_owner(
    air_client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    ana, bo = people["ana"], people["bo"]
    made = follow(air_client, ana, pollutant="pm25", level="unhealthy")
    assert made.status_code == 201, made.text
    mine = made.json()
    assert mine["area"]["name_en"].startswith("Dodam")
    assert mine["level"]["key"] == "unhealthy"
    assert mine["raised"] is False
    assert follow(air_client, bo, level=4).status_code == 201
    listed = air_client.get(f"{API}/follows", headers=ana).json()["follows"]
    assert [f["id"] for f in listed] == [mine["id"]]
    # Someone else's follow does not exist for bo.
    assert air_client.delete(f"{API}/follows/{mine['id']}", headers=bo).status_code == 404
    assert air_client.delete(f"{API}/follows/{mine['id']}", headers=ana).status_code == 204
    assert air_client.get(f"{API}/follows", headers=ana).json()["follows"] == []
    assert len(air_client.get(f"{API}/follows", headers=bo).json()["follows"]) == 1
    assert air_client.get(f"{API}/follows").status_code == 401
    assert air_client.get(f"{API}/notifications").status_code == 401


def test_bad_follows_say_what_is_wrong(
    air_client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    ana = people["ana"]
    cases = [
        ({"area": "9999999"}, "Unknown area"),
        ({"level": 1}, "Invalid level"),
        ({"level": "awful"}, "Invalid level"),
        ({"webhook_url": "ftp://example.org/x"}, "Invalid webhook URL"),
        ({"webhook_url": "https://user:pw@example.org/x"}, "Invalid webhook URL"),
        ({"email": True}, "No email address"),
    ]
    for body, title in cases:
        answer = air_client.post(f"{API}/follows", json={"area": DODAM, **body}, headers=ana)
        assert answer.status_code == 400, body
        assert answer.json()["title"] == title
    assert air_client.post(f"{API}/follows", json={"level": 3}, headers=ana).status_code == 422
    made = follow(air_client, ana, webhook_url="http://127.0.0.1:8099/hook")
    assert made.status_code == 201  # development: a local HTTP receiver is fine
    assert len(made.json()["webhook_secret"]) == 64
    listed = air_client.get(f"{API}/follows", headers=ana).json()["follows"]
    assert "webhook_secret" not in listed[0]


def test_production_refuses_plain_http_and_private_webhooks(
    settings: Settings, air_runtime: HubRuntime
) -> None:
    production = settings.model_copy(update={"environment": "production"})
    app = create_app(
        production, services=[SERVICE], runtime=air_runtime, start_mqtt=False, migrate=False
    )
    token = bearer(create_user_with_token(air_runtime, "ana", "citizen"))
    with TestClient(app, base_url="https://testserver") as client:
        for url in ("http://hooks.example.org/x", "https://192.168.0.10/x", "https://localhost/x"):
            answer = follow(client, token, webhook_url=url)
            assert answer.status_code == 400, url
            assert answer.json()["title"] == "Invalid webhook URL"
        assert follow(client, token, webhook_url="https://hooks.example.org/x").status_code == 201


def test_follows_are_capped_and_rate_limited(
    air_client: TestClient, people: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        alert_routes, "alert_settings", lambda: AlertSettings(max_follows=2, follows_per_hour=3)
    )
    ana = people["ana"]
    first = follow(air_client, ana).json()["id"]
    assert follow(air_client, ana, level=4).status_code == 201
    capped = follow(air_client, ana, level=2)
    assert capped.status_code == 409
    assert "at most 2" in capped.json()["detail"]
    assert follow(air_client, people["bo"]).status_code == 201  # the cap is per account
    air_client.delete(f"{API}/follows/{first}", headers=ana)
    assert follow(air_client, ana, level=2).status_code == 201  # third this hour
    air_client.delete(f"{API}/follows/{first + 1}", headers=ana)
    limited = follow(air_client, ana, level=3)
    assert limited.status_code == 429
    assert "per hour" in limited.json()["detail"]


def test_inbox_newest_first_unread_count_and_mark_read(
    air_client: TestClient, air_runtime: HubRuntime, people: dict[str, dict[str, str]]
) -> None:
    ana, bo = people["ana"], people["bo"]
    follow(air_client, ana, pollutant="pm25", level=3)
    follow(air_client, bo, pollutant="pm10", level=3)
    with air_runtime.sessions.begin() as session:
        session.execute(update(AirFollow).values(created_at=H0 - HOUR))
    pm25 = [50.0, 10.0, 40.0]
    put_hours(air_runtime, DODAM, {H0 + k * HOUR: AreaHour(30.0, v) for k, v in enumerate(pm25)})
    with air_runtime.sessions.begin() as session:
        alert_store.evaluate_alerts(session, H0 + 2 * HOUR, now=H0 + 3 * HOUR)
    inbox = air_client.get(f"{API}/notifications", headers=ana).json()
    assert inbox["unread"] == 2
    assert [n["hour"] for n in inbox["notifications"]] == [
        "2026-11-20T02:00:00Z",
        "2026-11-20T00:00:00Z",
    ]
    newest = inbox["notifications"][0]
    assert newest["grade"]["key"] == "unhealthy"
    assert newest["value"] == 40.0
    assert newest["read"] is False
    assert newest["area"]["code"] == DODAM
    # PM10 stayed at 30 (보통): bo has nothing, and cannot touch ana's notifications.
    assert air_client.get(f"{API}/notifications", headers=bo).json() == {
        "notifications": [],
        "unread": 0,
    }
    other = air_client.post(f"{API}/notifications/{newest['id']}/read", headers=bo)
    assert other.status_code == 404
    read = air_client.post(f"{API}/notifications/{newest['id']}/read", headers=ana)
    assert read.json() == {"unread": 1}
    unread = air_client.get(f"{API}/notifications?unread=true", headers=ana).json()
    assert [n["hour"] for n in unread["notifications"]] == ["2026-11-20T00:00:00Z"]
    assert air_client.post(f"{API}/notifications/read", headers=ana).json()["marked"] == 1
    assert air_client.get(f"{API}/notifications", headers=ana).json()["unread"] == 0


def test_operators_see_failed_deliveries_citizens_do_not(
    air_client: TestClient,
    air_runtime: HubRuntime,
    settings: Settings,
    people: dict[str, dict[str, str]],
) -> None:
    # Nothing listens on port 9 (discard): every attempt is refused.
    made = follow(air_client, people["ana"], webhook_url="http://127.0.0.1:9/hook/secret-path")
    assert made.status_code == 201
    with air_runtime.sessions.begin() as session:
        session.execute(update(AirFollow).values(created_at=H0 - HOUR))
    put_hours(air_runtime, DODAM, {H0: AreaHour(30.0, 60.0)})
    with air_runtime.sessions.begin() as session:
        alert_store.evaluate_alerts(session, H0, now=H0 + HOUR)
    config = AlertSettings(attempts=1, webhook_timeout_s=0.5)
    report = deliver_due(air_runtime.sessions, settings, H0 + HOUR, config)
    assert len(report.failed) == 1
    assert air_client.get(f"{API}/alert-deliveries", headers=people["ana"]).status_code == 403
    listed = air_client.get(f"{API}/alert-deliveries", headers=people["ops"]).json()
    [failure] = listed["deliveries"]
    assert failure["user"] == "ana"
    assert failure["status"] == "failed"
    assert failure["attempts"] == 1
    assert failure["channel"] == "webhook"
    assert failure["last_error"]
    assert failure["target"] == "http://127.0.0.1:9/…"  # the path may carry a secret
    assert listed["counts"] == {"failed": 1}
    inbox = air_client.get(f"{API}/notifications", headers=people["ana"]).json()
    assert inbox["notifications"][0]["deliveries"] == [
        {"channel": "webhook", "status": "failed", "attempts": 1}
    ]
    bad = air_client.get(f"{API}/alert-deliveries?status=lost", headers=people["ops"])
    assert bad.status_code == 400


def test_the_hourly_job_puts_the_alert_in_the_inbox(
    air_client: TestClient,
    air_runtime: HubRuntime,
    settings: Settings,
    people: dict[str, dict[str, str]],
    coarse_grid: Grid,
) -> None:
    now = floor_hour(dt.datetime.now(dt.UTC)) + dt.timedelta(minutes=10)
    dirty = add_sensor(air_runtime, "jochiwon-1", JOCHIWON)
    clean = add_sensor(air_runtime, "dodam-1", DODAM)
    start = now - 3 * HOUR
    store_readings(air_runtime, dirty, steady(120, 70), start, now)
    store_readings(air_runtime, clean, steady(20, 8), start, now)
    follow(air_client, people["ana"], area=JOCHIWON, pollutant="pm25", level=3)
    follow(air_client, people["bo"], area=DODAM, pollutant="overall", level=2)
    with air_runtime.sessions.begin() as session:
        session.execute(update(AirFollow).values(created_at=start))
    report = run_hourly(air_runtime, now, coarse_grid, max_hours=2)
    assert len(report.hours) == 2
    inbox = air_client.get(f"{API}/notifications", headers=people["ana"]).json()
    # Two unhealthy hours in a row: one alert, for the first.
    [alert] = inbox["notifications"]
    assert alert["hour"] == isoformat(report.hours[0])
    assert alert["grade"]["key"] == "unhealthy"
    assert 36 <= alert["value"] < 76
    assert air_client.get(f"{API}/notifications", headers=people["bo"]).json()["unread"] == 0
    [mine] = air_client.get(f"{API}/follows", headers=people["ana"]).json()["follows"]
    assert mine["raised"] is True
    assert mine["last_hour"] == isoformat(report.hours[-1])


CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def signed_in(client: TestClient, runtime: HubRuntime, name: str, email: str | None) -> str:
    """Sign in through the portal's form; return the page's CSRF token."""
    with runtime.sessions.begin() as session:
        create_user(session, name, "citizen", PASSWORD).email = email
    form = {"username": name, "password": PASSWORD, "next": "/air/alerts"}
    form["csrf"] = CSRF_FIELD.search(client.get("/signin").text).group(1)  # type: ignore[union-attr]
    assert client.post("/signin", data=form, follow_redirects=False).status_code == 303
    page = client.get("/air/alerts")
    assert page.status_code == 200
    return CSRF_FIELD.search(page.text).group(1)  # type: ignore[union-attr]


def test_the_alerts_page_follows_unfollows_and_reads_without_script(
    air_client: TestClient, air_runtime: HubRuntime
) -> None:
    anonymous = air_client.get("/air/alerts", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/signin?next=/air/alerts"
    csrf = signed_in(air_client, air_runtime, "ana", "ana@example.org")
    form = {"area": DODAM, "pollutant": "pm25", "level": "3", "email": "1"}
    refused = air_client.post("/air/alerts/follows", data=form, follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token
    made = air_client.post(
        "/air/alerts/follows", data={**form, "csrf": csrf}, follow_redirects=False
    )
    assert made.status_code == 303
    page = air_client.get("/air/alerts").text
    assert "<script" not in page
    assert "도담동" in page
    assert "email" in page
    assert "Armed." in page
    bad = air_client.post(
        "/air/alerts/follows", data={**form, "csrf": csrf, "webhook_url": "ftp://x.org/h"}
    )
    assert bad.status_code == 400
    assert "must start with https://" in bad.text
    [mine] = air_client.get(f"{API}/follows").json()["follows"]
    assert mine["email"] is True
    with air_runtime.sessions.begin() as session:
        session.execute(update(AirFollow).values(created_at=H0 - HOUR))
    put_hours(air_runtime, DODAM, {H0: AreaHour(30.0, 50.0)})
    with air_runtime.sessions.begin() as session:
        alert_store.evaluate_alerts(session, H0, now=H0 + HOUR)
    page = air_client.get("/air/alerts").text
    assert "1 unread" in page
    assert "2026-11-20 09:00–10:00 KST" in page
    assert "나쁨 · Unhealthy" in page
    read = air_client.post("/air/alerts/read", data={"csrf": csrf}, follow_redirects=False)
    assert read.status_code == 303
    assert "0 unread" in air_client.get("/air/alerts").text
    gone = air_client.post(
        f"/air/alerts/follows/{mine['id']}/delete", data={"csrf": csrf}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert air_client.get(f"{API}/follows").json()["follows"] == []


def test_the_report_page_opens_last_month(air_client: TestClient, air_runtime: HubRuntime) -> None:
    seoul = ZoneInfo("Asia/Seoul")
    now = dt.datetime.now(seoul)
    last = Month(now.year, now.month).previous()
    empty = air_client.get("/air/report", follow_redirects=False)
    assert empty.status_code == 200
    assert f"There is no report for {last} yet" in empty.text
    with air_runtime.sessions.begin() as session:
        session.add(
            AirMapHour(
                hour=last.start(seoul) + dt.timedelta(hours=5),
                pollutant="pm25",
                status="ok",
                sensors_used=3,
                inputs=[],
            )
        )
    answer = air_client.get("/air/report", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == f"/api/v1/air/report?month={last}&format=html"
    assert 'href="/air/alerts"' in air_client.get("/air").text
