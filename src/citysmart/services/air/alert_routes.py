"""Alert routes under ``/api/v1/air``: a citizen's follows and inbox; delivery failures.

Signed-in users only; each sees and changes only their own follows and notifications (an
id of someone else's answers 404, as if it did not exist). Operators list deliveries.
Creating follows is capped per user (``CITYSMART_AIR_ALERT_MAX_FOLLOWS``) and rate-limited
per process (``..._FOLLOWS_PER_HOUR``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from citysmart.core import audit
from citysmart.core.auth import CurrentPrincipal, OperatorDep, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.ratelimit import RateLimiter
from citysmart.core.time import isoformat, utcnow
from citysmart.services.air import alert_store
from citysmart.services.air.alerts import LEVEL_KEYS, level_of
from citysmart.services.air.areas import areas_by_code
from citysmart.services.air.grades import TABLES
from citysmart.services.air.models_alerts import AirFollow, AirNotification
from citysmart.services.air.notify import (
    WebhookRefused,
    alert_settings,
    check_webhook_url,
    mask_target,
)
from citysmart.services.air.types import Pollutant

router = APIRouter(prefix="/api/v1/air", tags=["air alerts"])
MAX_LIST = 200
DELIVERY_STATUSES = ("pending", "sent", "failed", "skipped", "cancelled")
_BANDS = {band.level: band for band in TABLES[("kr", Pollutant.PM25)]}


class FollowCreate(BaseModel):
    """A new follow: an area, a grade level of a pollutant (or overall), and deliveries."""

    area: str = Field(description="The area's (dong/eup/myeon) code, e.g. 2901053")
    pollutant: Literal["pm25", "pm10", "overall"] = "overall"
    level: int | str = Field(
        3, description="Grade level 2..4 or key: moderate, unhealthy, very_unhealthy"
    )
    webhook_url: str | None = Field(None, description="HTTPS URL that gets a JSON POST")
    email: bool = Field(False, description="Also email the account's address")


def _level_public(level: int) -> dict[str, Any]:
    band = _BANDS[level]
    return {"level": level, "key": band.key, "label_ko": band.label_ko, "label_en": band.label_en}


def _area_public(code: str) -> dict[str, str]:
    area = areas_by_code().get(code)
    return {
        "code": code,
        "name_ko": area.name_ko if area else code,
        "name_en": area.name_en if area else code,
    }


def follow_public(follow: AirFollow) -> dict[str, Any]:
    """Return a follow as its owner sees it (the webhook secret only when created)."""
    return {
        "id": follow.id,
        "area": _area_public(follow.area_code),
        "pollutant": follow.pollutant,
        "level": _level_public(follow.level),
        "webhook_url": follow.webhook_url,
        "email": follow.email,
        "raised": follow.raised,
        "raised_hour": isoformat(follow.raised_hour) if follow.raised_hour else None,
        "last_hour": isoformat(follow.last_hour) if follow.last_hour else None,
        "created_at": isoformat(follow.created_at),
    }


def notification_public(
    note: AirNotification, deliveries: list[tuple[str, str, int]]
) -> dict[str, Any]:
    """Return a notification as its owner sees it, with how its deliveries went."""
    band = TABLES[("kr", Pollutant(note.grade_pollutant))][note.grade_level - 1]
    return {
        "id": note.id,
        "follow_id": note.follow_id,
        "area": _area_public(note.area_code),
        "pollutant": note.pollutant,
        "level": _level_public(note.level),
        "hour": isoformat(note.hour),
        "value": round(note.value, 1),
        "grade": {
            "pollutant": note.grade_pollutant,
            "level": band.level,
            "key": band.key,
            "label_ko": band.label_ko,
            "label_en": band.label_en,
            "colour": band.colour,
        },
        "created_at": isoformat(note.created_at),
        "read": note.read_at is not None,
        "read_at": isoformat(note.read_at) if note.read_at else None,
        "deliveries": [{"channel": c, "status": s, "attempts": a} for c, s, a in deliveries],
    }


def _limiter(request: Request, limit: int) -> RateLimiter:
    """Return this app's limiter of new follows (one per app, so tests and apps share none)."""
    state = request.app.state
    found: RateLimiter | None = getattr(state, "air_follow_limiter", None)
    if found is None or found.limit != limit:
        found = RateLimiter(limit, 3600.0)
        state.air_follow_limiter = found
    return found


def add_follow(
    request: Request, session: SessionDep, principal: CurrentPrincipal, follow_in: FollowCreate
) -> AirFollow:
    """Check a new follow and store it (shared by the API and the alerts page)."""
    config = alert_settings()
    if follow_in.area not in areas_by_code():
        raise Problem(400, "Unknown area", f"no area with code {follow_in.area!r}")
    try:
        level = level_of(follow_in.level)
    except ValueError as exc:
        raise Problem(400, "Invalid level", str(exc)) from exc
    webhook = None
    if follow_in.webhook_url:
        try:
            webhook = check_webhook_url(
                follow_in.webhook_url, request.app.state.settings.environment
            )
        except WebhookRefused as exc:
            raise Problem(400, "Invalid webhook URL", str(exc)) from exc
    if follow_in.email and alert_store.user_email(session, principal.user_id) is None:
        raise Problem(
            400, "No email address", f"the account {principal.username!r} has no email address"
        )
    if alert_store.count_follows(session, principal.user_id) >= config.max_follows:
        raise Problem(
            409,
            "Too many follows",
            f"at most {config.max_follows} follows per account: delete one first",
        )
    if not _limiter(request, config.follows_per_hour).hit(str(principal.user_id)):
        raise Problem(
            429,
            "Too many requests",
            f"at most {config.follows_per_hour} new follows per hour; try again later",
        )
    follow = alert_store.create_follow(
        session,
        principal.user_id,
        follow_in.area,
        follow_in.pollutant,
        level,
        webhook,
        follow_in.email,
        utcnow(),
    )
    audit.record(
        session,
        principal.username,
        "air.follow.created",
        str(follow.id),
        request.client.host if request.client else None,
        area=follow.area_code,
        level=level,
        webhook=webhook is not None,
        email=follow.email,
    )
    return follow


@router.get("/follows", summary="Your follows")
def list_follows(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """List the signed-in user's follows."""
    follows = alert_store.list_follows(session, principal.user_id)
    return {
        "follows": [follow_public(f) for f in follows],
        "levels": [_level_public(level) for level in sorted(LEVEL_KEYS) if level >= 2],
        "max_follows": alert_settings().max_follows,
    }


@router.post("/follows", status_code=201, summary="Follow an area at a grade")
def create_follow(
    request: Request, session: SessionDep, principal: CurrentPrincipal, follow_in: FollowCreate
) -> dict[str, Any]:
    """Follow an area: alert when its grade reaches the level, again only after it falls below."""
    follow = add_follow(request, session, principal, follow_in)
    public = follow_public(follow)
    # Shown once: the receiver checks X-Citysmart-Signature with it.
    public["webhook_secret"] = follow.webhook_secret
    return public


@router.delete("/follows/{follow_id}", status_code=204, summary="Stop following")
def delete_follow(
    request: Request, session: SessionDep, principal: CurrentPrincipal, follow_id: int
) -> Response:
    """Delete one of your follows (its notifications stay in your inbox)."""
    if not alert_store.delete_follow(session, principal.user_id, follow_id):
        raise Problem(404, "Unknown follow", f"you have no follow {follow_id}")
    audit.record(
        session,
        principal.username,
        "air.follow.deleted",
        str(follow_id),
        request.client.host if request.client else None,
    )
    return Response(status_code=204)


@router.get("/notifications", summary="Your air alerts (portal inbox)")
def list_notifications(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: int = Query(50, ge=1, le=MAX_LIST),
    unread: bool = Query(False, description="Only unread ones"),
) -> dict[str, Any]:
    """Return your notifications, newest first, and how many are unread."""
    notes = alert_store.list_notifications(session, principal.user_id, limit, unread)
    deliveries = alert_store.deliveries_of(session, [n.id for n in notes])
    return {
        "notifications": [notification_public(n, deliveries.get(n.id, [])) for n in notes],
        "unread": alert_store.unread_count(session, principal.user_id),
    }


@router.post("/notifications/{notification_id}/read", summary="Mark an alert read")
def mark_notification_read(
    session: SessionDep, principal: CurrentPrincipal, notification_id: int
) -> dict[str, Any]:
    """Mark one of your notifications read; answer the unread count."""
    if not alert_store.notification_exists(session, principal.user_id, notification_id):
        raise Problem(404, "Unknown notification", f"you have no notification {notification_id}")
    alert_store.mark_read(session, principal.user_id, utcnow(), notification_id)
    return {"unread": alert_store.unread_count(session, principal.user_id)}


@router.post("/notifications/read", summary="Mark every alert read")
def mark_all_read(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Mark all your notifications read; answer how many changed."""
    marked = alert_store.mark_read(session, principal.user_id, utcnow())
    return {"marked": marked, "unread": 0}


@router.get("/alert-deliveries", summary="Alert deliveries and their failures (operators)")
def list_deliveries(
    session: SessionDep,
    principal: OperatorDep,
    status: str | None = Query("failed", description=f"One of {', '.join(DELIVERY_STATUSES)}"),
    limit: int = Query(100, ge=1, le=MAX_LIST),
) -> dict[str, Any]:
    """List webhook and email deliveries (failed ones by default), newest first."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise Problem(
            400, "Unknown status", f"status {status!r}: use {', '.join(DELIVERY_STATUSES)}"
        )
    rows = alert_store.list_deliveries(session, status, limit)

    def public(row: Any) -> dict[str, Any]:
        delivery, username, area_code, hour = row
        return {
            "id": delivery.id,
            "notification_id": delivery.notification_id,
            "user": username,
            "area": area_code,
            "hour": isoformat(hour),
            "channel": delivery.channel,
            "target": mask_target(delivery.channel, delivery.target),
            "status": delivery.status,
            "attempts": delivery.attempts,
            "last_error": delivery.last_error,
            "last_status": delivery.last_status,
            "due_at": isoformat(delivery.due_at),
            "sent_at": isoformat(delivery.sent_at) if delivery.sent_at else None,
            "created_at": isoformat(delivery.created_at),
        }

    return {
        "status": status,
        "counts": alert_store.delivery_counts(session),
        "deliveries": [public(r) for r in rows],
        "checked_at": isoformat(utcnow()),
    }


__all__ = ["FollowCreate", "add_follow", "follow_public", "notification_public", "router"]
