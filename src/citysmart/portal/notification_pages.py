"""The notifications page: unread first, mark one or all read, choose the email digest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
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
from citysmart.core.notifications import (
    DIGESTS,
    digest_preference,
    list_notifications,
    mark_all_read,
    mark_read,
    set_digest_preference,
    unread_count,
)
from citysmart.portal.pages import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
DIGEST_LABELS = {
    "daily": ("Daily", "매일"),
    "weekly": ("Weekly", "매주"),
    "none": ("Never", "받지 않음"),
}


def form_user(request: Request, db: SessionDep, csrf: str | None) -> Principal | None:
    """Check a form's CSRF token, then return the session's user (None: signed out).

    Forms carry the token as a field, so they cannot use OptionalPrincipal, which wants
    it in a header for writes.
    """
    check_csrf(request, csrf)
    user_id = request.session.get("user_id")
    user = db.get(User, int(user_id)) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def _back(next_path: str | None) -> str:
    # Only the portal's own pages: a form must not send people elsewhere.
    if next_path in ("/dashboard", "/notifications"):
        return next_path
    return "/notifications"


@router.get("/notifications")
def notifications_page(
    request: Request,
    principal: OptionalPrincipal,
    db: SessionDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """List the user's notifications, unread first."""
    if principal is None:
        return RedirectResponse("/signin?next=/notifications", status_code=303)
    notes = list_notifications(
        db, principal.user_id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "notifications.html",
        principal,
        notes=notes[:PAGE_SIZE],
        unread=unread_count(db, principal.user_id),
        page=page,
        more=len(notes) > PAGE_SIZE,
        digest=digest_preference(db, principal.user_id),
        digest_labels=DIGEST_LABELS,
        timezone=request.app.state.settings.timezone,
    )


@router.post("/notifications/{note_id}/read")
def read_one(
    request: Request,
    db: SessionDep,
    note_id: int,
    csrf: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,  # noqa: A002
) -> Response:
    """Mark one of the user's notifications read (404 if it is not theirs)."""
    principal = form_user(request, db, csrf)
    if principal is None:
        return RedirectResponse("/signin?next=/notifications", status_code=303)
    if mark_read(db, principal.user_id, [note_id]) is None:
        raise Problem(404, "Not found", f"you have no notification {note_id}")
    return RedirectResponse(_back(next), status_code=303)


@router.post("/notifications/read-all")
def read_all(
    request: Request,
    db: SessionDep,
    csrf: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,  # noqa: A002
) -> Response:
    """Mark every unread notification of the user read."""
    principal = form_user(request, db, csrf)
    if principal is None:
        return RedirectResponse("/signin?next=/notifications", status_code=303)
    mark_all_read(db, principal.user_id)
    return RedirectResponse(_back(next), status_code=303)


@router.post("/notifications/digest")
def choose_digest(
    request: Request,
    db: SessionDep,
    digest: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Store how often the user wants their unread notifications emailed."""
    principal = form_user(request, db, csrf)
    if principal is None:
        return RedirectResponse("/signin?next=/notifications", status_code=303)
    if digest not in DIGESTS:
        raise Problem(422, "Unknown digest", f"digest must be one of {', '.join(DIGESTS)}")
    set_digest_preference(db, principal.user_id, digest)
    return RedirectResponse("/notifications?saved=digest", status_code=303)
