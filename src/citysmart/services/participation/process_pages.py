"""Process pages: the list (``/participation``), a process with its timeline, the operator form.

Forms post without script with the session's CSRF token and answer with a 303 redirect,
or the form again with what was wrong. Times are entered and shown in KST.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from citysmart.core import roles
from citysmart.core.admin_areas import load_admin_areas
from citysmart.core.audit import record
from citysmart.core.auth import (
    OptionalPrincipal,
    Principal,
    SessionDep,
    check_csrf,
    principal_for,
)
from citysmart.core.errors import Problem
from citysmart.core.models import User
from citysmart.core.time import parse_instant
from citysmart.portal.pages import render
from citysmart.services.participation import follows
from citysmart.services.participation import process_store as processes
from citysmart.services.participation import proposal_store as store
from citysmart.services.participation import proposals as rules
from citysmart.services.participation.models_process import PHASE_KINDS
from citysmart.services.participation.proposal_opendata import publish_process, publish_proposal
from citysmart.services.participation.proposal_schemas import (
    PhaseIn,
    ProcessCreate,
    ProcessUpdate,
)

router = APIRouter(include_in_schema=False)
KST = ZoneInfo("Asia/Seoul")
HOME = "/participation"
FORM_ROWS = 6  # phase rows on the operator's form


def kst(iso: str | dt.datetime | None, with_time: bool = True) -> str:
    """Format an instant in KST: ``YYYY-MM-DD HH:MM``."""
    if iso is None:
        return ""
    when = parse_instant(iso) if isinstance(iso, str) else iso
    return when.astimezone(KST).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def form_user(request: Request, session: SessionDep) -> Principal | None:
    """Return the session's user for a form POST (check the form's CSRF token first)."""
    user_id = request.session.get("user_id")
    user = session.get(User, int(user_id)) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def sign_in(path: str) -> Response:
    """Send an anonymous reader to the sign-in page, and back here after."""
    return RedirectResponse(f"/signin?next={quote(path, safe='/?=&')}", status_code=303)


def is_operator(principal: Principal | None) -> bool:
    """Whether a user may manage processes."""
    return principal is not None and roles.grants(principal.role, roles.OPERATOR)


def areas() -> list[tuple[str, str, str]]:
    """Return Sejong's eup/myeon/dong as (code, English, Korean) for the forms."""
    return [(a.code, a.name_en, a.name_ko) for a in load_admin_areas()]


def timeline(view: dict[str, Any]) -> dict[str, Any]:
    """Add KST times to a process view's phases."""
    for phase in view["phases"]:
        phase["starts_kst"] = kst(phase["starts_at"])
        phase["ends_kst"] = kst(phase["ends_at"])
    return view


@router.get(HOME)
def read_processes_page(
    request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """List the published processes (operators also see drafts)."""
    rows = processes.list_processes(session, published_only=not is_operator(principal))
    views = [timeline(processes.process_public(session, p)) for p in rows]
    return render(
        request,
        "participation/process_list.html",
        principal,
        processes=views,
        may_manage=is_operator(principal),
        phase_labels=rules.PHASE_LABELS,
    )


@router.get(HOME + "/processes/new")
def read_new_process_page(request: Request, principal: OptionalPrincipal) -> Response:
    """Show the operator's form for a new process."""
    if principal is None:
        return sign_in(HOME + "/processes/new")
    if not is_operator(principal):
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    return _process_form(request, principal, None, {})


def _process_form(
    request: Request,
    principal: Principal,
    slug: str | None,
    values: dict[str, Any],
    status: int = 200,
    error: str | None = None,
) -> Response:
    rows = list(values.get("phases", []))
    rows += [{}] * max(0, FORM_ROWS - len(rows))
    return render(
        request,
        "participation/process_form.html",
        principal,
        status,
        slug=slug,
        values=values,
        rows=rows,
        kinds=[(k, *rules.PHASE_LABELS[k]) for k in PHASE_KINDS],
        areas=areas(),
        error=error,
    )


def _local(text: str, what: str) -> dt.datetime:
    try:
        naive = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise rules.RuleError(f"{what}: enter a date and time, not {text!r}") from exc
    return naive.replace(tzinfo=KST).astimezone(dt.UTC) if naive.tzinfo is None else naive


def _at(values: list[str], i: int) -> str:
    return values[i] if i < len(values) else ""


def _phases_from_form(rows: list[dict[str, str]]) -> list[PhaseIn]:
    phases = []
    for i, row in enumerate(rows):
        kind, start, end = row["kind"], row["start"], row["end"]
        if not kind or not (start or end):
            continue  # a blank row
        if kind not in rules.PHASE_LABELS:
            raise rules.RuleError(f"phase {i + 1}: unknown kind {kind!r}")
        title = row["title"] or rules.PHASE_LABELS[kind][0]
        title_ko = row["title_ko"] or rules.PHASE_LABELS[kind][1]
        phases.append(
            PhaseIn.model_validate(
                {
                    "kind": kind,
                    "title": title,
                    "title_ko": title_ko,
                    "starts_at": _local(start, f"phase {i + 1}'s start"),
                    "ends_at": _local(end, f"phase {i + 1}'s end"),
                }
            )
        )
    return phases


def _form_values(view: dict[str, Any]) -> dict[str, Any]:
    return {
        **view,
        "phases": [
            {
                "kind": p["kind"],
                "title": p["title"],
                "title_ko": p["title_ko"],
                "start": kst(p["starts_at"]).replace(" ", "T"),
                "end": kst(p["ends_at"]).replace(" ", "T"),
            }
            for p in view["phases"]
        ],
    }


@router.post(HOME + "/processes")
def create_process_from_form(
    request: Request,
    session: SessionDep,
    slug: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    title_ko: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    area_code: Annotated[str, Form()] = "",
    support_threshold: Annotated[str, Form()] = "100",
    quorum: Annotated[str, Form()] = "0",
    published: Annotated[str | None, Form()] = None,
    phase_kind: Annotated[list[str] | None, Form()] = None,
    phase_title: Annotated[list[str] | None, Form()] = None,
    phase_title_ko: Annotated[list[str] | None, Form()] = None,
    phase_start: Annotated[list[str] | None, Form()] = None,
    phase_end: Annotated[list[str] | None, Form()] = None,
    edit: Annotated[str | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Create (or, with ``edit``, change) a process from the operator's form."""
    check_csrf(request, csrf)
    principal = form_user(request, session)
    if principal is None:
        return sign_in(HOME + "/processes/new")
    if not is_operator(principal):
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    raw = {
        "slug": edit or slug.strip(),
        "title": title,
        "title_ko": title_ko or None,
        "description": description,
        "area_code": area_code or None,
        "support_threshold": support_threshold,
        "quorum": quorum,
        "published": published is not None,
    }
    columns = {
        "kind": phase_kind or [],
        "title": phase_title or [],
        "title_ko": phase_title_ko or [],
        "start": phase_start or [],
        "end": phase_end or [],
    }
    form_rows = [
        {key: _at(column, i) for key, column in columns.items()}
        for i in range(len(columns["kind"]))
    ]
    values = {**raw, "phases": form_rows}
    try:
        phase_list = _phases_from_form(form_rows)
        if edit:
            process = processes.get_process(session, edit, published_only=False)
            update = ProcessUpdate.model_validate({**raw, "phases": phase_list})
            processes.update_process(session, process, update)
            action = "process.update"
        else:
            data = ProcessCreate.model_validate({**raw, "phases": phase_list})
            process = processes.create_process(session, data, principal.user_id)
            action = "process.create"
    except (ValidationError, rules.RuleError, Problem) as exc:
        session.rollback()
        message = form_message(exc)
        return _process_form(request, principal, edit, values, 422, message)
    ip = request.client.host if request.client else None
    record(session, principal.username, f"participation.{action}", process.slug, ip)
    view = processes.process_public(session, process)
    publish_process(session, process, view["phases"])
    for proposal in store.list_proposals(session, process.id):
        publish_proposal(session, proposal, process)
    return RedirectResponse(f"{HOME}/processes/{process.slug}", status_code=303)


def form_message(exc: Exception) -> str:
    """Return what a form shows for refused input."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()
        )
    if isinstance(exc, Problem):
        return exc.detail
    return str(exc)


@router.get(HOME + "/processes/{slug}/edit")
def read_edit_process_page(
    slug: str, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Show the operator's form for an existing process."""
    if principal is None:
        return sign_in(f"{HOME}/processes/{slug}/edit")
    if not is_operator(principal):
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    process = processes.get_process(session, slug, published_only=False)
    view = processes.process_public(session, process)
    return _process_form(request, principal, process.slug, _form_values(view))


@router.get(HOME + "/processes/{slug}")
def read_process_page(
    slug: str, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Show a process: its phases in KST with the current one marked, its proposals."""
    try:
        process = processes.get_process(session, slug, published_only=not is_operator(principal))
    except Problem:
        return render(request, "participation/process_missing.html", principal, 404, what=slug)
    view = timeline(processes.process_public(session, process))
    items = [
        store.proposal_public(session, p, process)
        for p in store.list_proposals(session, process.id)
    ]
    following = principal is not None and follows.is_following(
        session, principal.user_id, "process", process.id
    )
    return render(
        request,
        "participation/process_detail.html",
        principal,
        process=view,
        proposals=items,
        following=following,
        may_manage=is_operator(principal),
        may_propose=view["current_phase"] == "proposals",
    )


@router.post(HOME + "/processes/{slug}/follow")
def follow_process_from_form(
    slug: str,
    request: Request,
    session: SessionDep,
    follow: Annotated[str, Form()] = "1",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Follow (``follow=1``) or stop following (``follow=0``) a process."""
    check_csrf(request, csrf)
    here = f"{HOME}/processes/{slug}"
    principal = form_user(request, session)
    if principal is None:
        return sign_in(here)
    process = processes.get_process(session, slug, published_only=True)
    if follow == "1":
        follows.follow(session, principal.user_id, "process", process.id)
    else:
        follows.unfollow(session, principal.user_id, "process", process.id)
    return RedirectResponse(here, status_code=303)
