"""The citizen's alerts page (``/air/alerts``): inbox, follows, a form to follow an area.

Plain HTML forms (no script): each POST carries the session's CSRF token and answers
with a redirect back to the page (303), or the page again with what was wrong (400).
``/air/report`` opens the report of the last complete month.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from citysmart.core.auth import (
    OptionalPrincipal,
    Principal,
    SessionDep,
    check_csrf,
    principal_for,
)
from citysmart.core.errors import Problem
from citysmart.core.models import User
from citysmart.core.service import Page
from citysmart.core.time import parse_instant, utcnow
from citysmart.portal.pages import render
from citysmart.services.air import alert_store, report_store
from citysmart.services.air.alert_routes import (
    FollowCreate,
    add_follow,
    follow_public,
    notification_public,
)
from citysmart.services.air.alerts import LEVEL_KEYS
from citysmart.services.air.areas import load_areas
from citysmart.services.air.notify import alert_settings
from citysmart.services.air.report import Month

router = APIRouter(include_in_schema=False)
PAGE = Page(path="/air/alerts", title="Air alerts", title_ko="미세먼지 알림")
REPORT_PAGE = Page(path="/air/report", title="Air report", title_ko="미세먼지 보고서")
INBOX_SIZE = 50


def _signed_in(request: Request, session: SessionDep) -> Principal | None:
    """Return the session's user for a form POST (the form's CSRF token is checked first)."""
    user_id = request.session.get("user_id")
    user = session.get(User, int(user_id)) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def _page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    status: int = 200,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    """Render the alerts page for a signed-in user."""
    notes = alert_store.list_notifications(session, principal.user_id, INBOX_SIZE)
    deliveries = alert_store.deliveries_of(session, [n.id for n in notes])
    areas = sorted(load_areas(), key=lambda a: (not a.pilot, a.name_en))
    return render(
        request,
        "air/air_alerts.html",
        principal,
        status,
        notifications=[notification_public(n, deliveries.get(n.id, [])) for n in notes],
        unread=alert_store.unread_count(session, principal.user_id),
        follows=[follow_public(f) for f in alert_store.list_follows(session, principal.user_id)],
        areas=areas,
        levels=[(level, LEVEL_KEYS[level]) for level in sorted(LEVEL_KEYS) if level >= 2],
        email=alert_store.user_email(session, principal.user_id),
        max_follows=alert_settings().max_follows,
        kst=_local_hours(request.app.state.settings.timezone),
        error=error,
        form=form or {},
    )


def _local_hours(timezone: str) -> Any:
    """Return a formatter of ISO hours in the city's zone (``2026-11-25 16:00``)."""
    zone = ZoneInfo(timezone)

    def local(iso: str, plus_hours: int = 0) -> str:
        when = parse_instant(iso) + dt.timedelta(hours=plus_hours)
        return when.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    return local


def _back() -> Response:
    return RedirectResponse(PAGE.path, status_code=303)


def _require(request: Request, session: SessionDep, csrf: str | None) -> Principal | Response:
    """Check a form's CSRF token and find its user; a signed-out visitor goes to sign in."""
    check_csrf(request, csrf)
    principal = _signed_in(request, session)
    if principal is None:
        return RedirectResponse(f"/signin?next={PAGE.path}", status_code=303)
    return principal


@router.get(PAGE.path)
def read_alerts_page(
    request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Show the signed-in user's air alerts and follows."""
    if principal is None:
        return RedirectResponse(f"/signin?next={PAGE.path}", status_code=303)
    return _page(request, session, principal)


@router.post(f"{PAGE.path}/follows")
def create_follow_from_form(
    request: Request,
    session: SessionDep,
    area: Annotated[str, Form()],
    pollutant: Annotated[str, Form()] = "overall",
    level: Annotated[str, Form()] = "3",
    webhook_url: Annotated[str, Form()] = "",
    email: Annotated[str | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Follow an area from the page's form."""
    principal = _require(request, session, csrf)
    if isinstance(principal, Response):
        return principal
    form = {"area": area, "pollutant": pollutant, "level": level, "webhook_url": webhook_url}
    try:
        follow_in = FollowCreate.model_validate(
            {**form, "webhook_url": webhook_url.strip() or None, "email": email is not None}
        )
        add_follow(request, session, principal, follow_in)
    except ValidationError:
        return _page(request, session, principal, 400, "Choose PM2.5, PM10 or overall.", form)
    except Problem as problem:
        return _page(request, session, principal, problem.status, problem.detail, form)
    return _back()


@router.post(f"{PAGE.path}/follows/{{follow_id}}/delete")
def delete_follow_from_form(
    request: Request,
    session: SessionDep,
    follow_id: int,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Stop following, from the page."""
    principal = _require(request, session, csrf)
    if isinstance(principal, Response):
        return principal
    if not alert_store.delete_follow(session, principal.user_id, follow_id):
        return _page(request, session, principal, 404, f"You have no follow {follow_id}.")
    return _back()


@router.post(f"{PAGE.path}/read")
def mark_read_from_form(
    request: Request, session: SessionDep, csrf: Annotated[str | None, Form()] = None
) -> Response:
    """Mark every alert read, from the page."""
    principal = _require(request, session, csrf)
    if isinstance(principal, Response):
        return principal
    alert_store.mark_read(session, principal.user_id, utcnow())
    return _back()


@router.get(REPORT_PAGE.path)
def read_report_page(
    request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Open the report of the last complete month (the month before this one, in KST).

    Before the hourly job has drawn any map of that month, say so on a page (with the hours
    it has drawn) rather than sending people to the API's error.
    """
    tz = ZoneInfo(request.app.state.settings.timezone)
    now = utcnow().astimezone(tz)
    last = Month(now.year, now.month).previous()
    if report_store.mapped_hours(session, last.start(tz), last.next().start(tz)):
        return RedirectResponse(f"/api/v1/air/report?month={last}&format=html", status_code=307)
    first, latest = report_store.computed_range(session)
    return render(
        request,
        "air/air_report_empty.html",
        principal,
        month=str(last),
        first=first.astimezone(tz).strftime("%Y-%m-%d %H:00") if first else None,
        latest=latest.astimezone(tz).strftime("%Y-%m-%d %H:00") if latest else None,
        this_month=str(Month(now.year, now.month)),
    )


__all__ = ["PAGE", "REPORT_PAGE", "router"]
