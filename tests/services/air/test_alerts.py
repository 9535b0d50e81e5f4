"""Alerts: the follow's hysteresis, the hourly evaluation, and delivery by webhook and email.

The evaluation and delivery tests run on SQLite and PostgreSQL, with area hours written
as the hourly job writes them, and a real HTTP receiver on a thread for the webhooks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from citysmart.core.accounts import create_user
from citysmart.core.config import Settings
from citysmart.core.models import User
from citysmart.hub.runtime import HubRuntime
from citysmart.services.air import alert_store
from citysmart.services.air.alerts import (
    AreaHour,
    FollowState,
    check_hour,
    level_of,
    run,
    step,
)
from citysmart.services.air.models import AirAreaHour, AirMapHour, AirSensor
from citysmart.services.air.models_alerts import AirAlertDelivery, AirFollow, AirNotification
from citysmart.services.air.notify import (
    SIGNATURE_HEADER,
    AlertSettings,
    ConsoleEmailBackend,
    WebhookRefused,
    check_webhook_url,
    deliver_due,
)

H0 = dt.datetime(2026, 11, 20, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
DODAM = "2901053"  # 도담동 Dodam-dong
AREUM = "2901058"


def hours(n: int, start: dt.datetime = H0) -> list[dt.datetime]:
    return [start + k * HOUR for k in range(n)]


# --- the pure state machine --------------------------------------------------------------


def test_grade_edges_decide_reached_and_below() -> None:
    # Korea's PM2.5 bands: 16-35 moderate, 36-75 unhealthy; values are truncated first.
    assert check_hour(AreaHour(None, 35.9), "pm25", 3).verdict == "below"
    reached = check_hour(AreaHour(None, 36.0), "pm25", 3)
    assert reached.verdict == "reached"
    assert reached.grade is not None
    assert reached.grade.key == "unhealthy"
    assert check_hour(AreaHour(150.9, None), "pm10", 4).verdict == "below"
    assert check_hour(AreaHour(151.0, None), "pm10", 4).verdict == "reached"
    assert check_hour(AreaHour(151.0, None), "pm25", 3).verdict == "ungraded"


def test_overall_is_reached_by_either_pollutant_and_below_only_with_both() -> None:
    worse = check_hour(AreaHour(90.0, 80.0), "overall", 3)
    assert worse.verdict == "reached"
    assert worse.grade is not None
    assert worse.grade.pollutant.value == "pm25"
    assert worse.grade.key == "very_unhealthy"
    assert check_hour(AreaHour(90.0, None), "overall", 3).verdict == "reached"
    assert check_hour(AreaHour(20.0, 10.0), "overall", 3).verdict == "below"
    # One pollutant missing: the air cannot be called clean again.
    assert check_hour(AreaHour(20.0, None), "overall", 3).verdict == "ungraded"
    assert check_hour(AreaHour(None, None), "overall", 2).verdict == "ungraded"


def test_raises_once_never_repeats_and_rearms_below() -> None:
    series = [
        AreaHour(None, 20.0),  # below
        AreaHour(None, 50.0),  # reached: alert
        AreaHour(None, 60.0),  # still at or above: no repeat
        AreaHour(None, None),  # ungraded
        AreaHour(None, 80.0),  # worse still: no repeat
        AreaHour(None, 30.0),  # below: re-armed
        AreaHour(None, 40.0),  # reached again: alert
    ]
    state, alerts = run(FollowState(), zip(hours(7), series, strict=True), "pm25", 3)
    assert [a.hour for a in alerts] == [H0 + HOUR, H0 + 6 * HOUR]
    assert [a.value for a in alerts] == [50.0, 40.0]
    assert state.raised
    assert state.raised_hour == H0 + 6 * HOUR
    assert state.last_hour == H0 + 6 * HOUR


def test_ungraded_hours_neither_raise_nor_rearm() -> None:
    series = [AreaHour(None, 50.0), AreaHour(None, None), AreaHour(None, None)]
    series += [AreaHour(None, 55.0)]
    state, alerts = run(FollowState(), zip(hours(4), series, strict=True), "pm25", 3)
    assert len(alerts) == 1
    assert state.raised
    state, alerts = run(
        FollowState(), zip(hours(3), [AreaHour(None, None)] * 3, strict=True), "pm25", 3
    )
    assert alerts == []
    assert not state.raised
    assert state.last_hour == H0 + 2 * HOUR


def test_rearm_after_n_hours_below_in_a_row() -> None:
    high, low, gap = AreaHour(None, 50.0), AreaHour(None, 10.0), AreaHour(None, None)
    # Two hours below then high again: with 3 hours needed, still no repeat.
    series = [high, low, low, high, low, gap, low, low, high]
    state, alerts = run(FollowState(), zip(hours(9), series, strict=True), "pm25", 3, 3)
    # The gap neither breaks nor extends the run of three hours below (hours 4, 6, 7).
    assert [a.hour for a in alerts] == [H0, H0 + 8 * HOUR]
    with pytest.raises(ValueError, match="rearm_hours"):
        step(FollowState(), H0, check_hour(high, "pm25", 3), 0)


def test_an_hour_applied_twice_never_repeats() -> None:
    state, first = step(FollowState(), H0, check_hour(AreaHour(None, 50.0), "pm25", 3))
    assert first is not None
    rearmed, _ = step(state, H0 + HOUR, check_hour(AreaHour(None, 5.0), "pm25", 3))
    again, repeat = step(rearmed, H0 + HOUR, check_hour(AreaHour(None, 50.0), "pm25", 3))
    assert repeat is None
    assert again == rearmed
    older, _ = step(rearmed, H0, check_hour(AreaHour(None, 50.0), "pm25", 3))
    assert older == rearmed


def test_levels_by_number_or_key() -> None:
    assert level_of("unhealthy") == 3
    assert level_of(4) == level_of("4") == 4
    with pytest.raises(ValueError, match="follow level 2"):
        level_of(1)
    with pytest.raises(ValueError, match="unknown grade"):
        level_of("bad")


def test_webhook_urls_checked_by_environment() -> None:
    assert check_webhook_url("http://127.0.0.1:9/x", "development") == "http://127.0.0.1:9/x"
    assert check_webhook_url("https://hooks.example.org/a?b=1", "production")
    for url, why in [
        ("http://hooks.example.org/a", "https"),
        ("https://127.0.0.1/a", "not a public address"),
        ("https://10.1.2.3/a", "not a public address"),
        ("https://[::1]/a", "not a public address"),
        ("https://localhost/a", "local name"),
        ("https://printer.local/a", "local name"),
        ("https://user:pw@hooks.example.org/a", "user name"),
        ("ftp://hooks.example.org/a", "https"),
        ("https:///a", "no host"),
    ]:
        with pytest.raises(WebhookRefused, match=why):
            check_webhook_url(url, "production")


# --- evaluation in the store -------------------------------------------------------------


def put_hours(runtime: HubRuntime, code: str, values: dict[dt.datetime, AreaHour]) -> None:
    """Store maps and area means as the hourly job does (None: a map without a value)."""
    with runtime.sessions.begin() as session:
        for hour, area in values.items():
            for pollutant, mean in (("pm10", area.pm10), ("pm25", area.pm25)):
                if session.get(AirMapHour, (hour, pollutant)) is None:
                    session.add(
                        AirMapHour(
                            hour=hour,
                            pollutant=pollutant,
                            status="ok" if mean is not None else "no_data",
                            method_served="idw",
                            note="",
                            sensors_used=1,
                            inputs=[],
                            computed_at=hour + HOUR,
                        )
                    )
                session.add(
                    AirAreaHour(
                        hour=hour,
                        pollutant=pollutant,
                        area_code=code,
                        method="idw",
                        mean=mean,
                        worst=None if mean is None else mean + 5,
                        cells=10,
                    )
                )


def add_user(runtime: HubRuntime, name: str, email: str | None = None) -> int:
    with runtime.sessions.begin() as session:
        user = create_user(session, name, "citizen")
        user.email = email
        return user.id


def add_follow(
    runtime: HubRuntime, user_id: int, code: str = DODAM, level: int = 3, **extra: Any
) -> int:
    with runtime.sessions.begin() as session:
        follow = alert_store.create_follow(
            session,
            user_id,
            code,
            extra.pop("pollutant", "pm25"),
            level,
            extra.pop("webhook_url", None),
            extra.pop("email", False),
            H0 - HOUR,
        )
        return follow.id


def evaluate(runtime: HubRuntime, hour: dt.datetime, **config: Any) -> alert_store.AlertsReport:
    with runtime.sessions.begin() as session:
        return alert_store.evaluate_alerts(
            session, hour, now=hour + 2 * HOUR, config=AlertSettings(**config)
        )


def notifications(runtime: HubRuntime) -> list[AirNotification]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AirNotification).order_by(AirNotification.id)))


def test_evaluation_notifies_once_per_episode_and_per_user(air_runtime: HubRuntime) -> None:
    ana, bo = add_user(air_runtime, "ana"), add_user(air_runtime, "bo")
    add_follow(air_runtime, ana, level=3)
    add_follow(air_runtime, bo, level=4)
    add_follow(air_runtime, bo, code=AREUM, level=2)
    pm25 = [20.0, 50.0, 90.0, None, 60.0, 10.0, 45.0]
    put_hours(
        air_runtime, DODAM, {h: AreaHour(30.0, v) for h, v in zip(hours(7), pm25, strict=True)}
    )
    put_hours(air_runtime, AREUM, {h: AreaHour(30.0, 12.0) for h in hours(7)})
    # Hour by hour, then once more on the last hour: the same hour never repeats.
    for hour in hours(7):
        assert evaluate(air_runtime, hour).error == ""
    evaluate(air_runtime, H0 + 6 * HOUR)
    got = [(n.user_id, n.hour, n.grade_key, n.value) for n in notifications(air_runtime)]
    assert got == [
        (ana, H0 + HOUR, "unhealthy", 50.0),
        (bo, H0 + 2 * HOUR, "very_unhealthy", 90.0),
        (ana, H0 + 6 * HOUR, "unhealthy", 45.0),
    ]
    with air_runtime.sessions() as session:
        follows = {f.user_id: f for f in session.scalars(select(AirFollow)) if f.area_code == DODAM}
    assert follows[ana].raised
    assert follows[ana].last_hour == H0 + 6 * HOUR
    assert not follows[bo].raised  # 10 µg/m³ at hour 5 re-armed it; 45 is not 매우나쁨


def test_a_late_catch_up_evaluates_missed_hours_in_order(air_runtime: HubRuntime) -> None:
    ana = add_user(air_runtime, "ana")
    add_follow(air_runtime, ana, level=3)
    pm25 = [50.0, 10.0, 50.0, 50.0]
    put_hours(
        air_runtime, DODAM, {h: AreaHour(30.0, v) for h, v in zip(hours(4), pm25, strict=True)}
    )
    report = evaluate(air_runtime, H0 + 3 * HOUR)
    assert report.alerts == 2
    assert [n.hour for n in notifications(air_runtime)] == [H0, H0 + 2 * HOUR]


def test_a_failing_evaluation_keeps_the_callers_transaction(air_runtime: HubRuntime) -> None:
    ana = add_user(air_runtime, "ana")
    add_follow(air_runtime, ana, pollutant="nonsense")
    put_hours(air_runtime, DODAM, {H0: AreaHour(30.0, 50.0)})
    with air_runtime.sessions.begin() as session:
        session.add(
            AirSensor(
                id="s-1", name="s", kind="lowcost", rated_rh_max=90.0, interval_s=60.0,
                area_code=DODAM, lon=127.0, lat=36.5, source="measured",
            )
        )  # fmt: skip
        report = alert_store.evaluate_alerts(session, H0, now=H0 + HOUR, config=AlertSettings())
    assert report.error
    with air_runtime.sessions() as session:
        assert session.get(AirSensor, "s-1") is not None  # the job's own work was committed
        follow = session.scalars(select(AirFollow)).one()
        assert follow.last_hour is None  # and the follow will be evaluated again


# --- delivery ----------------------------------------------------------------------------


class Receiver:
    """A local HTTP server answering webhooks with a scripted list of statuses."""

    def __init__(self, script: list[int | float]) -> None:
        self.script = list(script)  # an int: answer that status; a float: sleep that long
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                action = receiver.script.pop(0) if receiver.script else 200
                if isinstance(action, float):
                    time.sleep(action)
                    action = 200
                self.send_response(action)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    with Receiver(request.param) as running:
        yield running


def deliveries(runtime: HubRuntime) -> list[AirAlertDelivery]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AirAlertDelivery).order_by(AirAlertDelivery.id)))


QUICK = {"retry_base_s": 60.0, "attempts": 3, "webhook_timeout_s": 0.5}


@pytest.mark.parametrize("receiver", [[500, 200]], indirect=True)
def test_webhook_is_retried_then_delivered_signed(
    air_runtime: HubRuntime, settings: Settings, receiver: Receiver
) -> None:
    ana = add_user(air_runtime, "ana")
    follow_id = add_follow(air_runtime, ana, webhook_url=receiver.url)
    put_hours(air_runtime, DODAM, {H0: AreaHour(30.0, 52.4)})
    evaluate(air_runtime, H0)
    now = H0 + 2 * HOUR
    config = AlertSettings(**QUICK)
    first = deliver_due(air_runtime.sessions, settings, now, config)
    [row] = deliveries(air_runtime)
    assert first.retrying == [row.id]
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.last_error.startswith("HTTP 500")
    assert row.last_status == 500
    assert row.due_at == now + dt.timedelta(seconds=60)
    # Not due yet: nothing is sent.
    assert (
        deliver_due(air_runtime.sessions, settings, now + dt.timedelta(seconds=30), config).sent
        == []
    )
    second = deliver_due(air_runtime.sessions, settings, row.due_at, config)
    [row] = deliveries(air_runtime)
    assert second.sent == [row.id]
    assert row.status == "sent"
    assert row.attempts == 2
    assert len(receiver.received) == 2
    headers, body = receiver.received[-1]
    payload = json.loads(body)
    assert payload["area"]["code"] == DODAM
    assert payload["area"]["name_ko"] == "도담동"
    assert payload["grade"]["key"] == "unhealthy"
    assert payload["value"] == 52.4
    assert payload["hour"] == "2026-11-20T00:00:00Z"
    assert payload["link"].startswith("/air")
    with air_runtime.sessions() as session:
        secret = session.get(AirFollow, follow_id).webhook_secret  # type: ignore[union-attr]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()  # type: ignore[union-attr]
    assert headers[SIGNATURE_HEADER.lower()] == f"sha256={expected}"


@pytest.mark.parametrize("receiver", [[503, 2.0]], indirect=True)
def test_webhook_failures_are_recorded_and_given_up(
    air_runtime: HubRuntime, settings: Settings, receiver: Receiver
) -> None:
    ana = add_user(air_runtime, "ana")
    add_follow(air_runtime, ana, webhook_url=receiver.url)
    put_hours(air_runtime, DODAM, {H0: AreaHour(30.0, 52.0)})
    evaluate(air_runtime, H0)
    config = AlertSettings(**{**QUICK, "attempts": 2, "webhook_timeout_s": 0.3})
    now = H0 + 2 * HOUR
    deliver_due(air_runtime.sessions, settings, now, config)
    started = time.monotonic()
    last = deliver_due(air_runtime.sessions, settings, now + HOUR, config)
    assert time.monotonic() - started < 1.5  # the timeout, not the receiver, ended the wait
    [row] = deliveries(air_runtime)
    assert last.failed == [row.id]
    assert row.status == "failed"
    assert row.attempts == 2
    assert "timed out" in row.last_error
    assert deliver_due(air_runtime.sessions, settings, now + 9 * HOUR, config).sent == []


def test_email_file_backend_writes_a_readable_bilingual_message(
    air_runtime: HubRuntime, settings: Settings
) -> None:
    ana = add_user(air_runtime, "ana", email="ana@example.org")
    add_follow(air_runtime, ana, level=2, pollutant="overall", email=True)
    with air_runtime.sessions.begin() as session:
        session.add(
            AirSensor(
                id="s-1", name="s", kind="lowcost", rated_rh_max=90.0, interval_s=60.0,
                area_code=DODAM, lon=127.0, lat=36.5,
                source="replayed from Beijing (UCI data set), not Sejong's readings",
            )
        )  # fmt: skip
    put_hours(air_runtime, DODAM, {H0: AreaHour(85.0, 20.0)})
    evaluate(air_runtime, H0)
    report = deliver_due(air_runtime.sessions, settings, H0 + 2 * HOUR, AlertSettings())
    assert len(report.sent) == 1
    [path] = list((Path(settings.data_dir) / "air-mail").glob("*.eml"))
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert message["To"] == "ana@example.org"
    assert "도담동" in message["Subject"]
    assert "Dodam" in message["Subject"]
    text = message.get_content()
    # PM10 85 µg/m³ is 나쁨 (81-150), worse than PM2.5's 보통: the overall grade is PM10's.
    assert "PM10" in text
    assert "85 µg/m³" in text
    assert "'나쁨'" in text
    assert "'Unhealthy'" in text
    assert "2026-11-20 09:00–10:00 (KST)" in text
    assert "replayed from Beijing" in text


def test_email_needs_an_address_and_old_hours_stay_in_the_inbox(
    air_runtime: HubRuntime, settings: Settings
) -> None:
    ana = add_user(air_runtime, "ana")  # no email address on the account
    bo = add_user(air_runtime, "bo", email="bo@example.org")
    add_follow(air_runtime, ana, email=True)
    add_follow(air_runtime, bo, email=True)
    put_hours(air_runtime, DODAM, {H0: AreaHour(30.0, 50.0)})
    with air_runtime.sessions.begin() as session:
        alert_store.evaluate_alerts(session, H0, now=H0 + 12 * HOUR, config=AlertSettings())
    assert len(notifications(air_runtime)) == 2
    [row] = deliveries(air_runtime)
    assert row.target == "bo@example.org"
    assert row.status == "skipped"
    backend = ConsoleEmailBackend()
    deliver_due(air_runtime.sessions, settings, H0 + 12 * HOUR, AlertSettings(), backend)
    assert backend.sent == []


def test_deleting_a_follow_cancels_its_pending_delivery_but_keeps_the_inbox(
    air_runtime: HubRuntime, settings: Settings
) -> None:
    ana = add_user(air_runtime, "ana")
    follow_id = add_follow(air_runtime, ana, webhook_url="http://127.0.0.1:9/never")
    put_hours(air_runtime, DODAM, {H0: AreaHour(30.0, 50.0)})
    evaluate(air_runtime, H0)
    with air_runtime.sessions.begin() as session:
        assert alert_store.delete_follow(session, ana, follow_id)
    report = deliver_due(air_runtime.sessions, settings, H0 + 2 * HOUR, AlertSettings())
    [row] = deliveries(air_runtime)
    assert report.cancelled == [row.id]
    assert row.status == "cancelled"
    assert row.attempts == 0
    [note] = notifications(air_runtime)
    assert note.follow_id is None
    assert note.user_id == ana


def test_a_users_follows_and_inbox_go_with_the_account(air_runtime: HubRuntime) -> None:
    ana = add_user(air_runtime, "ana")
    add_follow(air_runtime, ana)
    put_hours(air_runtime, DODAM, {H0: AreaHour(30.0, 50.0)})
    evaluate(air_runtime, H0)
    with air_runtime.sessions.begin() as session:
        session.delete(session.get(User, ana))
    with air_runtime.sessions() as session:
        assert session.scalars(select(AirFollow)).all() == []
        assert session.scalars(select(AirNotification)).all() == []
