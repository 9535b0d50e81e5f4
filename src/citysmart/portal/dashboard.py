"""The citizen's dashboard: every service's sections for the user, and their notifications.

Also mounts the notifications page and API and the operator console (app.py includes
this router only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import RedirectResponse, Response

from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep
from citysmart.core.notifications import list_notifications, unread_count
from citysmart.core.service import DashboardEntry, ServiceManifest
from citysmart.portal import console, nav, notification_api, notification_pages
from citysmart.portal.pages import render

logger = logging.getLogger(__name__)
# Pages stay out of the OpenAPI description (their routers say so); the API is in it.
router = APIRouter()
router.include_router(notification_pages.router)
router.include_router(console.router)
router.include_router(notification_api.router)
__all__ = ["nav", "router"]  # nav registers the layout's template globals on import

# Headings of the sections services use; another section is shown under its own name.
SECTION_TITLES = {
    "following": ("Following", "팔로우"),
    "signups": ("Sign-ups", "신청"),
    "requests": ("Requests", "민원·제안"),
    "proposals": ("Your proposals", "나의 제안"),
    "votes": ("Votes", "투표"),
    "surveys": ("Surveys to answer", "참여할 설문"),
    "alerts": ("Alerts", "알림 설정"),
}


@dataclass
class Section:
    """A dashboard section: its entries, from every service that filled it."""

    key: str
    title: str
    title_ko: str | None
    entries: list[tuple[str, DashboardEntry]] = field(default_factory=list)  # (service, entry)


def collect(
    sessions: sessionmaker[Session], manifests: Sequence[ServiceManifest], principal: Principal
) -> tuple[list[Section], list[str]]:
    """Ask every service's providers for the user's entries; return sections and failures.

    Each provider reads in a session of its own, so one that fails (and is named in the
    failures, never hiding the others) leaves no broken transaction behind.
    """
    sections: dict[str, Section] = {}
    failed: list[str] = []
    for manifest in manifests:
        for provider in manifest.dashboard:
            try:
                with sessions() as session:
                    entries = provider(session, principal)
            except Exception:
                logger.exception("dashboard provider of %s failed", manifest.name)
                failed.append(manifest.title)
                continue
            for entry in entries:
                section = sections.get(entry.section)
                if section is None:
                    title, title_ko = SECTION_TITLES.get(
                        entry.section, (entry.section.replace("_", " ").capitalize(), None)
                    )
                    section = sections[entry.section] = Section(entry.section, title, title_ko)
                section.entries.append((manifest.title, entry))
    order = list(SECTION_TITLES)
    ranked = sorted(
        sections.values(),
        key=lambda s: (order.index(s.key) if s.key in order else len(order), s.key),
    )
    return ranked, sorted(set(failed))


@router.get("/dashboard", include_in_schema=False)
def dashboard(request: Request, principal: OptionalPrincipal, db: SessionDep) -> Response:
    """Show the signed-in user's dashboard."""
    if principal is None:
        return RedirectResponse("/signin?next=/dashboard", status_code=303)
    sections, failed = collect(request.app.state.sessions, request.app.state.services, principal)
    return render(
        request,
        "dashboard.html",
        principal,
        sections=sections,
        failed=failed,
        latest=list_notifications(db, principal.user_id, unread_only=True, limit=5),
        unread=unread_count(db, principal.user_id),
        timezone=request.app.state.settings.timezone,
    )
