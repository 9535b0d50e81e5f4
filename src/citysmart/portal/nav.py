"""What the layout shows each user: the pages they may use and their unread count.

Registered as Jinja globals of the portal's templates, so every page (a service's too)
gets them without passing them in.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

from citysmart.core.notifications import unread_count
from citysmart.core.service import ServiceManifest
from citysmart.portal.console import console_groups, may_use
from citysmart.portal.pages import templates

logger = logging.getLogger(__name__)


def _role(user: Any) -> str | None:
    return getattr(user, "role", None) if user else None


def visible(page: Any, user: Any) -> bool:
    """Whether the page belongs in this user's navigation."""
    return may_use(page, _role(user))


def has_console(request: Request, user: Any) -> bool:
    """Whether the user's role grants any console page (the console link is shown)."""
    role = _role(user)
    if role is None:
        return False
    services: list[ServiceManifest] = request.app.state.services
    return bool(console_groups(services, role))


def unread_notifications(request: Request, user: Any) -> int | None:
    """Count the user's unread notifications once per request (None when unknown)."""
    user_id = getattr(user, "user_id", None)
    if user_id is None:
        return None
    cached = getattr(request.state, "unread_notifications", None)
    if cached is not None:
        return int(cached)
    try:
        with request.app.state.sessions() as session:
            count = unread_count(session, int(user_id))
    except Exception:  # the header's badge must never break a page
        logger.warning("could not count unread notifications", exc_info=True)
        return None
    request.state.unread_notifications = count
    return count


def local_time(when: dt.datetime, timezone: str) -> str:
    """Format an instant in the city's zone (``2026-11-25 16:00``)."""
    return when.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


templates.env.filters["local_time"] = local_time
templates.env.globals.update(
    page_visible=visible,
    has_console=has_console,
    unread_notifications=unread_notifications,
)
