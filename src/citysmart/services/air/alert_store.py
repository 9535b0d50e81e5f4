"""Reading and writing follows, notifications and deliveries; the hourly job's alert hook.

:func:`evaluate_alerts` is called by the hourly job once an hour's map is stored (in the
job's transaction, under a savepoint: a failure here is logged and never loses the map,
and the follows' ``last_hour`` stays put, so the next run evaluates the missed hours).
Every query that serves a citizen filters by their user id.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.orm import Session

from citysmart.core.models import User
from citysmart.core.time import isoformat, utcnow
from citysmart.services.air.alerts import (
    LEVEL_KEYS,
    Alert,
    AlertPollutant,
    AreaHour,
    FollowState,
    run,
)
from citysmart.services.air.areas import areas_by_code
from citysmart.services.air.grades import TABLES
from citysmart.services.air.models import AirAreaHour, AirMapHour, AirSensor
from citysmart.services.air.models_alerts import AirAlertDelivery, AirFollow, AirNotification
from citysmart.services.air.notify import AlertSettings, alert_settings
from citysmart.services.air.types import Pollutant

logger = logging.getLogger(__name__)

# How far back an evaluation looks for hours a follow has not seen (a job down for longer
# resumes from there: older hours are history, not news).
LOOKBACK = dt.timedelta(hours=48)
_HOUR = dt.timedelta(hours=1)
_CHUNK = 1000  # ids per IN (...)
_BANDS = {band.level: band for band in TABLES[("kr", Pollutant.PM25)]}


# --- follows ---------------------------------------------------------------------------


def list_follows(session: Session, user_id: int) -> list[AirFollow]:
    """Return a user's follows, oldest first."""
    return list(
        session.scalars(
            select(AirFollow).where(AirFollow.user_id == user_id).order_by(AirFollow.id)
        )
    )


def count_follows(session: Session, user_id: int) -> int:
    """Return how many follows a user has."""
    return int(
        session.scalar(
            select(func.count()).select_from(AirFollow).where(AirFollow.user_id == user_id)
        )
        or 0
    )


def create_follow(
    session: Session,
    user_id: int,
    area_code: str,
    pollutant: AlertPollutant,
    level: int,
    webhook_url: str | None,
    email: bool,
    now: dt.datetime,
) -> AirFollow:
    """Store a follow (armed); a webhook gets a fresh signing secret."""
    follow = AirFollow(
        user_id=user_id,
        area_code=area_code,
        pollutant=pollutant,
        level=level,
        webhook_url=webhook_url,
        webhook_secret=secrets.token_hex(32) if webhook_url else None,
        email=email,
        raised=False,
        below_hours=0,
        created_at=now,
    )
    session.add(follow)
    session.flush()
    return follow


def get_follow(session: Session, user_id: int, follow_id: int) -> AirFollow | None:
    """Return a user's follow by id; another user's follow is None, as if it did not exist."""
    return session.scalars(
        select(AirFollow).where(AirFollow.id == follow_id, AirFollow.user_id == user_id)
    ).first()


def delete_follow(session: Session, user_id: int, follow_id: int) -> bool:
    """Delete a user's follow (its notifications stay in the inbox); tell whether it existed."""
    follow = get_follow(session, user_id, follow_id)
    if follow is None:
        return False
    session.delete(follow)
    session.flush()
    return True


def user_email(session: Session, user_id: int) -> str | None:
    """Return a user's email address, if their account has one."""
    user = session.get(User, user_id)
    return user.email if user is not None and user.email else None


# --- the inbox -------------------------------------------------------------------------


def list_notifications(
    session: Session, user_id: int, limit: int, unread_only: bool = False
) -> list[AirNotification]:
    """Return a user's notifications, newest first."""
    stmt = select(AirNotification).where(AirNotification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(AirNotification.read_at.is_(None))
    return list(session.scalars(stmt.order_by(AirNotification.id.desc()).limit(limit)))


def unread_count(session: Session, user_id: int) -> int:
    """Return how many of a user's notifications are unread."""
    stmt = (
        select(func.count())
        .select_from(AirNotification)
        .where(AirNotification.user_id == user_id, AirNotification.read_at.is_(None))
    )
    return int(session.scalar(stmt) or 0)


def mark_read(
    session: Session, user_id: int, now: dt.datetime, notification_id: int | None = None
) -> int:
    """Mark one of a user's notifications read, or all of them; return how many changed."""
    stmt = update(AirNotification).where(
        AirNotification.user_id == user_id, AirNotification.read_at.is_(None)
    )
    if notification_id is not None:
        stmt = stmt.where(AirNotification.id == notification_id)
    result = session.execute(stmt.values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def notification_exists(session: Session, user_id: int, notification_id: int) -> bool:
    """Tell whether a notification is the user's."""
    found = session.scalar(
        select(AirNotification.id).where(
            AirNotification.id == notification_id, AirNotification.user_id == user_id
        )
    )
    return found is not None


def deliveries_of(session: Session, notification_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Return the deliveries of some notifications: (channel, status, attempts) by id."""
    if not notification_ids:
        return {}
    rows = session.execute(
        select(
            AirAlertDelivery.notification_id,
            AirAlertDelivery.channel,
            AirAlertDelivery.status,
            AirAlertDelivery.attempts,
        )
        .where(AirAlertDelivery.notification_id.in_(list(notification_ids)))
        .order_by(AirAlertDelivery.id)
    )
    found: dict[int, list[Any]] = {}
    for notification_id, channel, status, attempts in rows:
        found.setdefault(notification_id, []).append((channel, status, attempts))
    return found


# --- operators -------------------------------------------------------------------------


def list_deliveries(session: Session, status: str | None, limit: int) -> list[Row[Any]]:
    """Return deliveries (newest first) with their user's name and notification's area."""
    stmt = (
        select(AirAlertDelivery, User.username, AirNotification.area_code, AirNotification.hour)
        .join(AirNotification, AirNotification.id == AirAlertDelivery.notification_id)
        .join(User, User.id == AirNotification.user_id)
    )
    if status is not None:
        stmt = stmt.where(AirAlertDelivery.status == status)
    return list(session.execute(stmt.order_by(AirAlertDelivery.id.desc()).limit(limit)))


def delivery_counts(session: Session) -> dict[str, int]:
    """Return how many deliveries are in each status."""
    rows = session.execute(
        select(AirAlertDelivery.status, func.count()).group_by(AirAlertDelivery.status)
    )
    return {status: int(n) for status, n in rows}


# --- the hourly hook -------------------------------------------------------------------


@dataclass
class AlertsReport:
    """What one evaluation did."""

    follows: int = 0
    alerts: int = 0
    deliveries: int = 0
    error: str = ""
    notifications: list[int] = field(default_factory=list)


def _grade_public(level: int) -> dict[str, Any]:
    """Return a followed level's key and labels."""
    band = _BANDS[level]
    return {"level": level, "key": band.key, "label_ko": band.label_ko, "label_en": band.label_en}


def data_source(session: Session) -> str:
    """Return what the air data is: empty for measured, else the sources' labels.

    Replayed data (the demo replays Beijing's measurements onto Sejong's sensors) must
    say so wherever it appears, alerts included.
    """
    sources = sorted(set(session.scalars(select(AirSensor.source).distinct())))
    labelled = [s for s in sources if s and s != "measured"]
    return "; ".join(labelled)


def _area_hours(
    session: Session, codes: set[str], start: dt.datetime, end: dt.datetime
) -> dict[str, dict[dt.datetime, AreaHour]]:
    """Return the areas' hourly means in ``[start, end]``: every processed hour, by area."""
    processed = set(
        session.scalars(
            select(AirMapHour.hour).where(AirMapHour.hour >= start, AirMapHour.hour <= end)
        )
    )
    values: dict[str, dict[dt.datetime, dict[str, float | None]]] = {c: {} for c in codes}
    rows = session.execute(
        select(
            AirAreaHour.area_code, AirAreaHour.hour, AirAreaHour.pollutant, AirAreaHour.mean
        ).where(
            AirAreaHour.area_code.in_(sorted(codes)),
            AirAreaHour.hour >= start,
            AirAreaHour.hour <= end,
        )
    )
    for code, hour, pollutant, mean in rows:
        values[code].setdefault(hour, {})[pollutant] = mean
    return {
        code: {
            hour: AreaHour(pm10=by.get(hour, {}).get("pm10"), pm25=by.get(hour, {}).get("pm25"))
            for hour in processed
        }
        for code, by in values.items()
    }


def evaluate_alerts(
    session: Session,
    hour: dt.datetime | Sequence[dt.datetime],
    now: dt.datetime | None = None,
    config: AlertSettings | None = None,
) -> AlertsReport:
    """Apply every stored hour up to ``hour`` (or the newest of some hours) to every follow.

    Each follow sees each hour once, in order (see ``alerts``); an alert stores a portal
    notification and queues its webhook and email deliveries. Runs under a savepoint
    of the caller's transaction; a failure is logged and returned, never raised.
    """
    hours = [hour] if isinstance(hour, dt.datetime) else list(hour)
    report = AlertsReport()
    if not hours:
        return report
    newest = max(hours)
    try:
        with session.begin_nested():
            _evaluate(session, newest, now or utcnow(), config or alert_settings(), report)
    except Exception as exc:  # alerts must never cost the city its map
        logger.exception("air alerts: evaluation up to %s failed", isoformat(newest))
        report.error = f"{type(exc).__name__}: {exc}"
    return report


@dataclass(frozen=True)
class _Follow:
    """What the evaluation reads of a follow (plain rows: thousands are read each hour)."""

    id: int
    user_id: int
    area_code: str
    pollutant: str
    level: int
    webhook_url: str | None
    email: bool
    state: FollowState
    created_at: dt.datetime


def _due_follows(session: Session, newest: dt.datetime) -> list[_Follow]:
    """Read the follows that have yet to see ``newest``."""
    f = AirFollow
    rows = session.execute(
        select(
            f.id, f.user_id, f.area_code, f.pollutant, f.level, f.webhook_url, f.email,
            f.raised, f.raised_hour, f.below_hours, f.last_hour, f.created_at,
        )
        .where(f.last_hour.is_(None) | (f.last_hour < newest))
        .order_by(f.id)
    )  # fmt: skip
    return [
        _Follow(
            r.id,
            r.user_id,
            r.area_code,
            r.pollutant,
            r.level,
            r.webhook_url,
            bool(r.email),
            FollowState(bool(r.raised), r.raised_hour, r.below_hours, r.last_hour),
            r.created_at,
        )  # fmt: skip
        for r in rows
    ]


def _first_hour(follow: _Follow, oldest: dt.datetime) -> dt.datetime:
    """Return the first hour a follow has yet to see (a new one starts at its creation's hour)."""
    if follow.state.last_hour is not None:
        first = follow.state.last_hour + _HOUR
    else:
        first = follow.created_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return max(first, oldest)


def _evaluate(
    session: Session,
    newest: dt.datetime,
    now: dt.datetime,
    config: AlertSettings,
    report: AlertsReport,
) -> None:
    """Evaluate every follow up to ``newest`` (see :func:`evaluate_alerts`)."""
    follows = _due_follows(session, newest)
    report.follows = len(follows)
    if not follows:
        return
    oldest = newest - LOOKBACK
    starts = {f.id: _first_hour(f, oldest) for f in follows}
    hours = _area_hours(session, {f.area_code for f in follows}, min(starts.values()), newest)
    # Follows whose state moved, grouped by their new state: one UPDATE per group (an hour
    # moves thousands of follows to a handful of states).
    changed: dict[tuple[bool, dt.datetime | None, int], list[int]] = {}
    raised: list[tuple[_Follow, Alert]] = []
    for follow in follows:
        seen = [(h, a) for h, a in hours[follow.area_code].items() if starts[follow.id] <= h]
        pollutant: AlertPollutant = follow.pollutant  # type: ignore[assignment]
        state, alerts = run(follow.state, seen, pollutant, follow.level, config.rearm_hours)
        before = follow.state
        if (state.raised, state.raised_hour, state.below_hours) != (
            before.raised, before.raised_hour, before.below_hours,
        ):  # fmt: skip
            key = (state.raised, state.raised_hour, state.below_hours)
            changed.setdefault(key, []).append(follow.id)
        raised.extend((follow, alert) for alert in alerts)
    for (is_raised, raised_hour, below_hours), ids in changed.items():
        for first in range(0, len(ids), _CHUNK):
            session.execute(
                update(AirFollow)
                .where(AirFollow.id.in_(ids[first : first + _CHUNK]))
                .values(raised=is_raised, raised_hour=raised_hour, below_hours=below_hours)
                .execution_options(synchronize_session=False)
            )
    session.execute(
        update(AirFollow)
        .where(
            AirFollow.id <= follows[-1].id,
            AirFollow.last_hour.is_(None) | (AirFollow.last_hour < newest),
        )
        .values(last_hour=newest)
        .execution_options(synchronize_session=False)
    )
    if raised:
        _raise_all(session, raised, now, config, report)


def _payload(follow: _Follow, alert: Alert, area: dict[str, str], source: str) -> dict[str, Any]:
    """Return what a webhook posts and an email is written from."""
    graded = alert.grade
    return {
        "event": "air.alert",
        "area": area,
        "pollutant": follow.pollutant,
        "followed": _grade_public(follow.level),
        "grade": {
            "pollutant": graded.pollutant.value,
            "level": graded.level,
            "key": graded.key,
            "label_ko": graded.label_ko,
            "label_en": graded.label_en,
            "index": graded.index,
        },
        "hour": isoformat(alert.hour),
        "value": round(float(alert.value), 1),
        "unit": "µg/m³",
        "scheme": "kr",
        "link": f"/air?area={area['code']}",
        "source": source or "measured",
    }


def _raise_all(
    session: Session,
    raised: list[tuple[_Follow, Alert]],
    now: dt.datetime,
    config: AlertSettings,
    report: AlertsReport,
) -> None:
    """Store the alerts' notifications and queue their deliveries (bulk inserts)."""
    names = areas_by_code()
    source = data_source(session)
    wanting_email = sorted({f.user_id for f, _ in raised if f.email})
    emails: dict[int, str] = {}
    if wanting_email:
        rows = session.execute(
            select(User.id, User.email).where(User.id.in_(wanting_email), User.email.is_not(None))
        )
        emails = {uid: email for uid, email in rows if email}
    notes = [
        {
            "user_id": follow.user_id,
            "follow_id": follow.id,
            "area_code": follow.area_code,
            "pollutant": follow.pollutant,
            "level": follow.level,
            "grade_pollutant": alert.grade.pollutant.value,
            "grade_level": alert.grade.level,
            "grade_key": alert.grade.key,
            "value": float(alert.value),
            "hour": alert.hour,
            "created_at": now,
        }
        for follow, alert in raised
    ]
    ids = list(
        session.scalars(
            insert(AirNotification).returning(AirNotification.id, sort_by_parameter_order=True),
            notes,
        )
    )
    report.alerts += len(ids)
    report.notifications.extend(ids)
    deliveries: list[dict[str, Any]] = []
    for notification_id, (follow, alert) in zip(ids, raised, strict=True):
        targets: list[tuple[str, str]] = []
        if follow.webhook_url:
            targets.append(("webhook", follow.webhook_url))
        if follow.email and follow.user_id in emails:
            targets.append(("email", emails[follow.user_id]))
        if not targets:
            continue
        area = names.get(follow.area_code)
        area_public = {
            "code": follow.area_code,
            "name_ko": area.name_ko if area else follow.area_code,
            "name_en": area.name_en if area else follow.area_code,
        }
        payload = {
            "notification_id": notification_id,
            **_payload(follow, alert, area_public, source),
        }
        # An hour that ended long ago (a catch-up after downtime) stays in the inbox only.
        stale = alert.hour + _HOUR < now - dt.timedelta(hours=config.max_age_h)
        deliveries.extend(
            {
                "notification_id": notification_id,
                "channel": channel,
                "target": target,
                "payload": payload,
                "status": "skipped" if stale else "pending",
                "attempts": 0,
                "due_at": now,
                "last_error": "the hour is too old to send (inbox only)" if stale else "",
                "created_at": now,
            }
            for channel, target in targets
        )
    if deliveries:
        session.execute(insert(AirAlertDelivery), deliveries)
    report.deliveries += len(deliveries)


__all__ = [
    "LEVEL_KEYS",
    "LOOKBACK",
    "AlertsReport",
    "count_follows",
    "create_follow",
    "data_source",
    "deliveries_of",
    "delete_follow",
    "delivery_counts",
    "evaluate_alerts",
    "get_follow",
    "list_deliveries",
    "list_follows",
    "list_notifications",
    "mark_read",
    "notification_exists",
    "unread_count",
    "user_email",
]
