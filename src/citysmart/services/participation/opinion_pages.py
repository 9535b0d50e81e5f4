"""Pages of the opinion channel: the public list, filing, an item's page, the operators' queue.

Forms work without script: they POST with the session's CSRF token and answer with a 303
to the item, or the form again with what was wrong.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from citysmart.core import audit, roles
from citysmart.core.admin_areas import load_admin_areas
from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep, check_csrf, principal_for
from citysmart.core.errors import Problem
from citysmart.core.models import User
from citysmart.core.service import Page
from citysmart.core.time import parse_instant
from citysmart.portal.pages import render
from citysmart.services.participation import guard, opinion_opendata, opinion_store
from citysmart.services.participation import opinion_rules as rules
from citysmart.services.participation.follows import follow, is_following, unfollow

router = APIRouter(include_in_schema=False)
LIST_PAGE = Page(path="/participation/opinions", title="Opinions", title_ko="시민 의견")
QUEUE_PAGE = Page(
    path="/participation/opinions/queue",
    title="Opinion queue",
    title_ko="의견 처리",
    role=roles.OPERATOR,
)
SEOUL = ZoneInfo("Asia/Seoul")


def signed_in(request: Request, session: Session) -> Principal | None:
    """Return the session's user (form posts check their CSRF field, not the header)."""
    user_id = request.session.get("user_id")
    if user_id is None:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def to_sign_in(here: str) -> Response:
    """Send an anonymous visitor to sign in, then back here."""
    return RedirectResponse(f"/signin?next={quote(here)}", status_code=303)


def local(iso: str | None) -> str:
    """Format an API instant in Korea's time zone."""
    return parse_instant(iso).astimezone(SEOUL).strftime("%Y-%m-%d %H:%M") if iso else ""


def is_operator(principal: Principal | None) -> bool:
    """Whether a user answers opinions for the city."""
    return principal is not None and roles.grants(principal.role, roles.OPERATOR)


def _labels() -> dict[str, Any]:
    return {
        "kinds": rules.KIND_LABELS,
        "categories": rules.CATEGORIES,
        "statuses": rules.STATUS_LABELS,
        "areas": load_admin_areas(),
        "local": local,
    }


@router.get(LIST_PAGE.path)
def list_opinions_page(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    category: str | None = None,
    status: str | None = None,
) -> Response:
    """List opinions as anyone may read them, and the signed-in user's own."""
    category = category if category in rules.CATEGORIES else None
    status = status if status in rules.STATUSES else None
    found = opinion_store.list_opinions(session, category=category, status=status, limit=200)
    items = [opinion_store.opinion_view(session, o, full=False) for o in found]
    mine = []
    if principal is not None:
        own = opinion_store.list_opinions(session, author_id=principal.user_id, limit=200)
        mine = [opinion_store.opinion_view(session, o, full=True) for o in own]
    return render(
        request,
        "participation/opinion_list.html",
        principal,
        items=items,
        mine=mine,
        category=category,
        status_filter=status,
        operator=is_operator(principal),
        **_labels(),
    )


def _form(
    request: Request, principal: Principal, form: dict[str, Any], error: str | None, code: int
) -> Response:
    return render(
        request,
        "participation/opinion_form.html",
        principal,
        code,
        form=form,
        error=error,
        **_labels(),
    )


@router.get(f"{LIST_PAGE.path}/new")
def new_opinion_page(request: Request, principal: OptionalPrincipal) -> Response:
    """Show the form to file an idea or a complaint."""
    if principal is None:
        return to_sign_in(f"{LIST_PAGE.path}/new")
    return _form(request, principal, {"kind": "complaint"}, None, 200)


def _number(text: str, name: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, not {text.strip()!r}") from exc


@router.post(f"{LIST_PAGE.path}/new")
def create_opinion_from_form(
    request: Request,
    session: SessionDep,
    kind: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    area_code: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    lat: Annotated[str, Form()] = "",
    public: Annotated[str | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """File an opinion from the form; go to its page."""
    check_csrf(request, csrf)
    principal = signed_in(request, session)
    if principal is None:
        return to_sign_in(f"{LIST_PAGE.path}/new")
    form = {
        "kind": kind,
        "category": category,
        "title": title,
        "description": description,
        "area_code": area_code,
        "lon": lon,
        "lat": lat,
        "public": bool(public),
    }
    try:
        guard.require_poster(request, principal)
    except Problem as problem:
        return _form(request, principal, form, problem.detail, problem.status)
    try:
        data = opinion_store.OpinionInput(
            kind=kind,
            category=category,
            title=title,
            description=description,
            area_code=area_code or None,
            lon=_number(lon, "longitude"),
            lat=_number(lat, "latitude"),
            public=bool(public),
        )
        opinion = opinion_store.file_opinion(session, principal, data)
    except ValueError as exc:
        return _form(request, principal, form, str(exc), 422)
    opinion_opendata.publish(session, opinion)
    return RedirectResponse(f"{LIST_PAGE.path}/{opinion.id}", status_code=303)


@router.get(QUEUE_PAGE.path)
def queue_page(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    status: str | None = None,
    category: str | None = None,
    department: str | None = None,
) -> Response:
    """Show operators the opinions to handle, filtered by status, department and category."""
    if principal is None:
        return to_sign_in(QUEUE_PAGE.path)
    if not is_operator(principal):
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    depts = opinion_store.departments(session)
    status = status if status in rules.STATUSES else None
    category = category if category in rules.CATEGORIES else None
    department = department if department in {d.code for d in depts} else None
    found = opinion_store.list_opinions(
        session, status=status, category=category, department=department, limit=500
    )
    return render(
        request,
        "participation/opinion_queue.html",
        principal,
        items=[opinion_store.opinion_view(session, o, full=True) for o in found],
        departments=depts,
        status_filter=status,
        category=category,
        department=department,
        **_labels(),
    )


def _detail(
    request: Request,
    session: Session,
    principal: Principal | None,
    opinion_id: int,
    error: str | None = None,
    code: int = 200,
) -> Response:
    try:
        opinion = opinion_store.get_opinion(session, opinion_id)
    except opinion_store.NotFound:
        return render(request, "participation/opinion_missing.html", principal, 404)
    operator = is_operator(principal)
    full = opinion_store.may_see_all(opinion, principal, operator)
    return render(
        request,
        "participation/opinion_detail.html",
        principal,
        code,
        item=opinion_store.opinion_view(session, opinion, full=full, with_history=True),
        operator=operator,
        next_statuses=rules.TRANSITIONS[opinion.status],
        departments=opinion_store.departments(session) if operator else [],
        following=principal is not None
        and is_following(session, principal.user_id, opinion_store.TARGET, opinion.id),
        error=error,
        **_labels(),
    )


@router.get(LIST_PAGE.path + "/{opinion_id}")
def opinion_page(
    request: Request, session: SessionDep, principal: OptionalPrincipal, opinion_id: int
) -> Response:
    """Show an opinion, its history and the answer (operators also get the action form)."""
    return _detail(request, session, principal, opinion_id)


@router.post(LIST_PAGE.path + "/{opinion_id}/status")
def change_status_from_form(
    request: Request,
    session: SessionDep,
    opinion_id: int,
    status: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Move an opinion on from its page (operators)."""
    check_csrf(request, csrf)
    principal = signed_in(request, session)
    here = f"{LIST_PAGE.path}/{opinion_id}"
    if principal is None:
        return to_sign_in(here)
    if not is_operator(principal):
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    try:
        opinion = opinion_store.get_opinion(session, opinion_id)
    except opinion_store.NotFound:
        return render(request, "participation/opinion_missing.html", principal, 404)
    before = opinion.status
    try:
        if status == "reassign":
            opinion_store.reassign(session, opinion, principal, department)
        else:
            opinion_store.change_status(
                session,
                opinion,
                principal,
                status,
                department_code=department or None,
                answer=answer,
                note=note,
            )
    except rules.TransitionError as exc:
        session.rollback()
        return _detail(request, session, principal, opinion_id, str(exc), 409)
    except ValueError as exc:
        session.rollback()
        return _detail(request, session, principal, opinion_id, str(exc), 422)
    opinion_opendata.publish(session, opinion)
    audit.record(
        session,
        principal.username,
        "opinion.status",
        f"opinion:{opinion.id}",
        before=before,
        after=opinion.status,
        department=department or None,
    )
    return RedirectResponse(here, status_code=303)


@router.post(LIST_PAGE.path + "/{opinion_id}/follow")
def follow_from_form(
    request: Request,
    session: SessionDep,
    opinion_id: int,
    action: Annotated[str, Form()] = "follow",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Follow an opinion (or stop, ``action=unfollow``) to hear of its changes."""
    check_csrf(request, csrf)
    here = f"{LIST_PAGE.path}/{opinion_id}"
    principal = signed_in(request, session)
    if principal is None:
        return to_sign_in(here)
    try:
        opinion_store.get_opinion(session, opinion_id)
    except opinion_store.NotFound:
        return render(request, "participation/opinion_missing.html", principal, 404)
    if action == "unfollow":
        unfollow(session, principal.user_id, opinion_store.TARGET, opinion_id)
    else:
        follow(session, principal.user_id, opinion_store.TARGET, opinion_id)
    return RedirectResponse(here, status_code=303)
