"""Alert delivery: the settings, the webhook and email adapters, and the delivery job.

The portal inbox is the ``air_notification`` row itself (written by the hourly job, see
``alert_store``). Webhook and email alerts go through an outbox (``air_alert_delivery``)
that the ``air.alert_deliveries`` job sends in a worker, never in a web request:

- Webhook: ``POST`` of a JSON body (event, area, pollutant, level, grade, hour, value,
  unit, link, source) with ``X-Citysmart-Signature: sha256=<HMAC of the body with the
  follow's secret>``; any 2xx is a success, redirects are not followed. Outside
  development the URL must be HTTPS and its host must resolve to public addresses only,
  checked again before each send (a webhook is a request the city's server makes for
  a citizen: it must not reach the city's own network).
- Email: a plain-text message in Korean and English to the account's address, through
  the core's email adapter (``citysmart.core.mail``): ``file`` writes one ``.eml`` per
  message under ``<data dir>/air-mail/`` (the demo's), ``console`` logs it, ``smtp``
  sends it.
- A failed attempt is retried after ``retry_base_s · 2^(attempts-1)`` (at most
  ``retry_max_s``); after ``attempts`` attempts the row is ``failed`` with its last
  error, which operators list (``GET /api/v1/air/alert-deliveries``). An alert whose
  hour ended over ``max_age_h`` ago when it is queued (a catch-up after downtime) is
  ``skipped``: the inbox keeps it, nobody is paged for old air. A delivery of a deleted
  follow is ``cancelled``.

Settings are the air service's own, read from ``CITYSMART_AIR_ALERT_*``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.config import Settings
from citysmart.core.mail import ConsoleEmailBackend, EmailBackend, FileEmailBackend
from citysmart.core.mail import email_backend as core_email_backend
from citysmart.core.service import Job
from citysmart.core.time import parse_instant, utcnow
from citysmart.services.air.models_alerts import AirAlertDelivery, AirFollow, AirNotification

logger = logging.getLogger(__name__)

DELIVERY_EVERY_S = 15.0
MAX_URL_LENGTH = 2000
USER_AGENT = "citysmart-air-alerts/1"
SIGNATURE_HEADER = "X-Citysmart-Signature"
# Host names that only ever mean "this machine" or "this site's network".
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


class AlertSettings(BaseSettings):
    """The air alerts' settings (``CITYSMART_AIR_ALERT_*``)."""

    model_config = SettingsConfigDict(env_prefix="CITYSMART_AIR_ALERT_", extra="ignore")

    # Empty: the core's CITYSMART_EMAIL_BACKEND (see citysmart.core.mail).
    email_backend: Literal["", "file", "console", "smtp"] = ""
    email_from: str = "citysmart Sejong <air-alerts@citysmart.invalid>"
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    attempts: int = Field(default=5, ge=1)
    retry_base_s: float = Field(default=30.0, ge=0)
    retry_max_s: float = Field(default=3600.0, ge=0)
    max_age_h: float = Field(default=6.0, gt=0)
    batch: int = Field(default=100, ge=1)
    # A run stops taking rows after this long (slow receivers wait for the next run).
    run_budget_s: float = Field(default=60.0, gt=0)
    max_follows: int = Field(default=20, ge=1)
    follows_per_hour: int = Field(default=30, ge=1)
    rearm_hours: int = Field(default=1, ge=1)


@lru_cache
def alert_settings() -> AlertSettings:
    """Return the process's alert settings, read once from the environment."""
    return AlertSettings()


# --- webhook URLs ----------------------------------------------------------------------


class WebhookRefused(ValueError):
    """A webhook URL the service will not call; the message says why."""


def _public(address: str) -> bool:
    """Tell whether an IP address is a public (globally routable) one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def check_webhook_url(url: str, environment: str) -> str:
    """Return a webhook URL if it may be used, else raise :class:`WebhookRefused`.

    HTTPS always outside development (HTTP too in development, for local receivers);
    a host, no user name or password, no fragment; outside development no local name
    and no private, loopback or link-local address literal.
    """
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookRefused(f"webhook URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"webhook URL {url!r} cannot be read: {exc}") from exc
    development = environment == "development"
    allowed = ("https", "http") if development else ("https",)
    if parts.scheme not in allowed:
        raise WebhookRefused(
            f"webhook URL must start with https:// (got {parts.scheme or 'no'} scheme)"
            + ("" if development else "; plain http is allowed only in development")
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookRefused("webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("webhook URL must not carry a user name or password")
    if parts.fragment:
        raise WebhookRefused("webhook URL must not have a #fragment")
    if port == 0:
        raise WebhookRefused("webhook URL has port 0")
    if not development:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            if not _public(str(literal)):
                raise WebhookRefused(f"webhook host {host} is not a public address")
        elif host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
            raise WebhookRefused(f"webhook host {host!r} is a local name")
    return url


def check_resolved_host(url: str) -> None:
    """Refuse a webhook whose host resolves to any non-public address (outside development)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookRefused(f"webhook host {host!r} does not resolve: {exc}") from exc
    private = sorted({str(info[4][0]) for info in infos if not _public(str(info[4][0]))})
    if private:
        raise WebhookRefused(f"webhook host {host!r} resolves to non-public {', '.join(private)}")


# --- what an alert says ----------------------------------------------------------------


def absolute_link(path: str, public_url: str) -> str:
    """Return the link a citizen follows: under the site's public URL when it is known."""
    return public_url.rstrip("/") + path if public_url else path


def webhook_body(payload: Mapping[str, Any], public_url: str) -> bytes:
    """Return the webhook's JSON body (UTF-8), with the link made absolute where possible."""
    body = dict(payload)
    body["link"] = absolute_link(str(payload.get("link", "/air")), public_url)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """Return the signature header's value: ``sha256=`` and the body's HMAC-SHA256 hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_POLLUTANT_NAMES = {"pm25": "PM2.5", "pm10": "PM10", "overall": "PM2.5/PM10"}


def compose_email(
    payload: Mapping[str, Any],
    to: str,
    sender: str,
    public_url: str,
    timezone: str,
    now: dt.datetime,
) -> EmailMessage:
    """Write an alert's email: subject and plain text in Korean, then English."""
    area = payload["area"]
    grade = payload["grade"]
    pollutant = _POLLUTANT_NAMES.get(str(grade["pollutant"]), str(grade["pollutant"]))
    hour = parse_instant(str(payload["hour"])).astimezone(ZoneInfo(timezone))
    until = hour + dt.timedelta(hours=1)
    when_ko = f"{hour:%Y-%m-%d %H:%M}–{until:%H:%M} (KST)"
    value = f"{float(payload['value']):.0f} µg/m³"
    link = absolute_link(str(payload.get("link", "/air")), public_url)
    followed = payload.get("followed", {})
    message = EmailMessage()
    message["Subject"] = (
        f"[세종 미세먼지] {area['name_ko']} {grade['label_ko']} · "
        f"{area['name_en']}: {grade['label_en'].lower()} air"
    )
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = make_msgid(domain="citysmart.invalid")
    source = str(payload.get("source") or "")
    lines = [
        f"{area['name_ko']}의 {pollutant} 농도가 {when_ko}에 {value}로 "
        f"'{grade['label_ko']}' 등급입니다.",
        f"구독하신 기준: {followed.get('label_ko', '')} 이상. 농도가 이 기준 아래로 내려갔다가 "
        "다시 오를 때까지 같은 알림을 다시 보내지 않습니다.",
        f"지도: {link}",
        "",
        f"{area['name_en']}: {pollutant} was {value} in the hour {when_ko}, "
        f"graded '{grade['label_en']}' on Korea's scale.",
        f"You follow this area at '{followed.get('label_en', '')}' or worse. You will not hear "
        "again until the air falls back below that grade and reaches it anew.",
        f"Map: {link}",
    ]
    if source:
        lines += ["", f"데이터 출처 / Data source: {source}"]
    lines += ["", "알림 관리 / Manage your alerts: " + absolute_link("/air/alerts", public_url)]
    message.set_content("\n".join(lines) + "\n")
    return message


# --- adapters --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: ok, or the error (and HTTP status) that stopped it."""

    ok: bool
    error: str = ""
    status: int | None = None


def send_webhook(
    client: httpx.Client,
    url: str,
    body: bytes,
    secret: str | None,
    environment: str,
) -> Outcome:
    """POST a webhook body once; never raises (the outcome says what went wrong)."""
    try:
        check_webhook_url(url, environment)
        if environment != "development":
            check_resolved_host(url)
    except WebhookRefused as exc:
        return Outcome(False, f"refused: {exc}")
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    headers["X-Citysmart-Event"] = "air.alert"
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return Outcome(False, f"timed out after {client.timeout.read} s")
    except httpx.HTTPError as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return Outcome(True, status=response.status_code)
    reason = response.reason_phrase or ""
    if 300 <= response.status_code < 400:
        reason += " (redirects are not followed)"
    return Outcome(False, f"HTTP {response.status_code} {reason}".strip(), response.status_code)


def email_backend(settings: Settings, config: AlertSettings) -> EmailBackend:
    """Return the email backend: the core's (``CITYSMART_EMAIL_*``) unless air overrides it.

    The file backend writes into ``CITYSMART_EMAIL_DIR`` when it is set, else into
    ``<data dir>/air-mail/`` (the demo's air mailbox).
    """
    if config.email_backend:
        settings = settings.model_copy(update={"email_backend": config.email_backend})
    return core_email_backend(settings, settings.email_dir or Path(settings.data_dir) / "air-mail")


# --- the delivery job ------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one run of the delivery job did, by outcome (delivery ids)."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Due:
    """A delivery to attempt, read before any sending (no transaction is held while sending)."""

    id: int
    channel: str
    target: str
    payload: dict[str, Any]
    attempts: int
    secret: str | None
    follow_gone: bool


def backoff_s(attempts: int, config: AlertSettings) -> float:
    """Return the wait before the next attempt after ``attempts`` failed ones."""
    return float(min(config.retry_base_s * 2 ** max(attempts - 1, 0), config.retry_max_s))


def _due(session: Session, now: dt.datetime, limit: int) -> list[_Due]:
    """Read the pending deliveries that are due, oldest first, with their follow's secret."""
    rows = session.execute(
        select(AirAlertDelivery, AirNotification.follow_id, AirFollow.webhook_secret)
        .join(AirNotification, AirNotification.id == AirAlertDelivery.notification_id)
        .outerjoin(AirFollow, AirFollow.id == AirNotification.follow_id)
        .where(AirAlertDelivery.status == "pending", AirAlertDelivery.due_at <= now)
        .order_by(AirAlertDelivery.due_at, AirAlertDelivery.id)
        .limit(limit)
    )
    return [
        _Due(d.id, d.channel, d.target, dict(d.payload), d.attempts, secret, follow_id is None)
        for d, follow_id, secret in rows
    ]


def deliver_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    now: dt.datetime | None = None,
    config: AlertSettings | None = None,
    mail: EmailBackend | None = None,
) -> DeliveryReport:
    """Send the deliveries that are due, booking each attempt (see the module)."""
    config = config or alert_settings()
    now = now or utcnow()
    mail = mail or email_backend(settings, config)
    report = DeliveryReport()
    with sessions() as session:
        due = _due(session, now, config.batch)
    if not due:
        return report
    timeout = httpx.Timeout(config.webhook_timeout_s)
    started = time.monotonic()
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for item in due:
            if time.monotonic() - started > config.run_budget_s:
                break
            if item.follow_gone:
                outcome = None
            elif item.channel == "webhook":
                body = webhook_body(item.payload, settings.public_url)
                outcome = send_webhook(client, item.target, body, item.secret, settings.environment)
            else:
                outcome = _send_email(item, mail, settings, config, now)
            _book(sessions, item, outcome, now, config, report)
    return report


def _send_email(
    item: _Due, mail: EmailBackend, settings: Settings, config: AlertSettings, now: dt.datetime
) -> Outcome:
    """Compose and send one email; never raises."""
    try:
        message = compose_email(
            item.payload, item.target, config.email_from, settings.public_url,
            settings.timezone, now,
        )  # fmt: skip
        mail.send(message)
    except Exception as exc:  # any backend failure is booked, not raised
        return Outcome(False, f"{type(exc).__name__}: {exc}")
    return Outcome(True)


def _book(
    sessions: sessionmaker[Session],
    item: _Due,
    outcome: Outcome | None,
    now: dt.datetime,
    config: AlertSettings,
    report: DeliveryReport,
) -> None:
    """Store one attempt's result (``None``: the follow is gone, the delivery is cancelled)."""
    with sessions.begin() as session:
        row = session.get(AirAlertDelivery, item.id)
        if row is None or row.status != "pending":
            return
        if outcome is None:
            row.status, row.last_error = "cancelled", "the follow was deleted before sending"
            report.cancelled.append(item.id)
            return
        row.attempts += 1
        row.last_status = outcome.status
        if outcome.ok:
            row.status, row.sent_at, row.last_error = "sent", now, ""
            report.sent.append(item.id)
            return
        row.last_error = outcome.error[:2000]
        if row.attempts >= config.attempts:
            row.status = "failed"
            report.failed.append(item.id)
            logger.warning(
                "air alert %s to %s failed after %d attempts: %s",
                item.channel, mask_target(item.channel, item.target), row.attempts, outcome.error,
            )  # fmt: skip
        else:
            row.due_at = now + dt.timedelta(seconds=backoff_s(row.attempts, config))
            report.retrying.append(item.id)


def mask_target(channel: str, target: str) -> str:
    """Return a target operators may see: a webhook's origin, an email's first letter and domain."""
    if channel == "email":
        local, _, domain = target.partition("@")
        return f"{local[:1]}***@{domain}"
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else target


def delivery_job(context: Any) -> None:
    """Run the delivery job in a worker (the runner passes the hub's runtime)."""
    report = deliver_due(context.sessions, context.settings)
    if report.sent or report.failed or report.retrying:
        logger.info(
            "air alerts: %d sent, %d to retry, %d failed",
            len(report.sent), len(report.retrying), len(report.failed),
        )  # fmt: skip


ALERT_JOBS = (Job("air.alert_deliveries", delivery_job, DELIVERY_EVERY_S),)

__all__ = [
    "ALERT_JOBS",
    "AlertSettings",
    "ConsoleEmailBackend",
    "DeliveryReport",
    "EmailBackend",
    "FileEmailBackend",
    "Outcome",
    "WebhookRefused",
    "absolute_link",
    "alert_settings",
    "backoff_s",
    "check_resolved_host",
    "check_webhook_url",
    "compose_email",
    "deliver_due",
    "delivery_job",
    "email_backend",
    "mask_target",
    "send_webhook",
    "sign",
    "webhook_body",
]
