"""Pages for processes and proposals, and the citizen's dashboard entries.

``/participation`` and the process pages come from process_pages; here are
``/participation/proposals/new`` and ``/participation/proposals/{id}`` with its forms
(support, withdraw, vote, follow, and the operator's decision, milestones and status).
Every form posts without script with the session's CSRF token and answers with a 303
redirect back to the proposal, or the page again with what was wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from citysmart.core import roles
from citysmart.core.audit import record
from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep, check_csrf
from citysmart.core.errors import Problem
from citysmart.core.service import DashboardEntry, DashboardProvider, Job, Page
from citysmart.core.time import utcnow
from citysmart.portal.pages import render
from citysmart.services.participation import follows, guard
from citysmart.services.participation import process_pages as pp
from citysmart.services.participation import process_store as processes
from citysmart.services.participation import proposal_store as store
from citysmart.services.participation import proposals as rules
from citysmart.services.participation import vote_store as votes
from citysmart.services.participation.models_process import Follow, Process
from citysmart.services.participation.models_proposal import Proposal
from citysmart.services.participation.proposal_images import MAX_UPLOAD_BYTES
from citysmart.services.participation.proposal_schemas import MilestoneCreate, ProposalCreate
from citysmart.services.participation.talk_views import thread_view

router = APIRouter(include_in_schema=False)
router.include_router(pp.router)
PROCESSES_PAGE = Page(path=pp.HOME, title="Participation", title_ko="시민 참여")
PAGES: tuple[Page, ...] = (PROCESSES_PAGE,)
JOBS: tuple[Job, ...] = ()
PROPOSAL = pp.HOME + "/proposals/{proposal_id}"


def _thread(session: Session, proposal_id: int, principal: Principal | None) -> Any:
    """Return the proposal's comment thread (talk_views)."""
    return thread_view(session, "proposal", proposal_id, principal)


def _proposal_page(
    request: Request,
    session: Session,
    principal: Principal | None,
    proposal_id: int,
    status: int = 200,
    error: str | None = None,
) -> Response:
    try:
        proposal = store.get_proposal(session, proposal_id, principal)
    except Problem:
        return render(
            request, "participation/process_missing.html", principal, 404, what=proposal_id
        )
    process = store.process_of(session, proposal)
    view = store.proposal_public(session, proposal, process)
    phases = processes.phases_of(session, process.id)
    now_phase = rules.current_phase(phases, pp_now())
    me: dict[str, bool] = {}
    if principal is not None:
        uid = principal.user_id
        me = {
            "supported": votes.has_supported(session, proposal.id, uid),
            "voted": votes.has_voted(session, proposal.id, uid),
            "following": follows.is_following(session, uid, "proposal", proposal.id),
            "author": proposal.author_id == uid,
        }
    phase_kind = now_phase.kind if now_phase else None
    area = {c: (en, ko) for c, en, ko in pp.areas()}.get(proposal.area_code or "")
    return render(
        request,
        "participation/proposal_detail.html",
        principal,
        status,
        proposal=view,
        process=pp.timeline(processes.process_public(session, process)),
        area=area,
        me=me,
        error=error,
        verified=principal is not None and principal.verified and not principal.blocked,
        supports_open=view["status"] == "open" and phase_kind in rules.SUPPORT_PHASES,
        voting_open=view["status"] == "voting" and phase_kind == "voting",
        may_manage=pp.is_operator(principal),
        may_decide=view["status"] == "voting" and rules.voting_over(phases, pp_now()),
        next_status=rules.NEXT_STATUS.get(view["status"], ()),
        status_labels=rules.STATUS_LABELS,
        decided_kst=pp.kst(view["decided_at"]),
        thread=_thread(session, proposal.id, principal),
        rule=rules.DECISION_RULE,
        rule_ko=rules.DECISION_RULE_KO,
    )


def pp_now() -> dt.datetime:
    """Return the current time."""
    return utcnow()


@router.get(pp.HOME + "/proposals/new")
def read_new_proposal_page(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    process: str = "",
) -> Response:
    """Show the form for a new proposal in a process whose proposals phase runs."""
    here = f"{pp.HOME}/proposals/new?process={process}"
    if principal is None:
        return pp.sign_in(here)
    return _new_form(request, session, principal, process, {})


def _open_processes(session: Session) -> list[Process]:
    now = pp_now()
    return [
        p
        for p in processes.list_processes(session)
        if rules.phase_open(processes.phases_of(session, p.id), ("proposals",), now)
    ]


def _new_form(
    request: Request,
    session: Session,
    principal: Principal,
    process: str,
    values: dict[str, Any],
    status: int = 200,
    error: str | None = None,
) -> Response:
    return render(
        request,
        "participation/proposal_form.html",
        principal,
        status,
        open_processes=[(p.slug, p.title, p.title_ko) for p in _open_processes(session)],
        chosen=process,
        values=values,
        categories=[(k, en, ko) for k, (en, ko) in rules.CATEGORIES.items()],
        areas=pp.areas(),
        error=error,
    )


def _number(text: str, what: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise rules.RuleError(f"{what} must be a number, not {text!r}") from exc


@router.post(pp.HOME + "/processes/{slug}/proposals")
async def create_proposal_from_form(
    slug: str,
    request: Request,
    session: SessionDep,
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    area_code: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    lat: Annotated[str, Form()] = "",
    image: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Make a proposal from the form (with an optional image)."""
    check_csrf(request, csrf)
    principal = pp.form_user(request, session)
    if principal is None:
        return pp.sign_in(f"{pp.HOME}/proposals/new?process={slug}")
    raw = await image.read(MAX_UPLOAD_BYTES + 1) if image is not None else b""
    values = {"title": title, "body": body, "category": category, "area_code": area_code}
    values |= {"lon": lon, "lat": lat}
    try:
        guard.require_poster(request, principal)
        process = processes.get_process(session, slug, published_only=True)
        data = ProposalCreate.model_validate(
            {
                **values,
                "area_code": area_code or None,
                "lon": _number(lon, "longitude"),
                "lat": _number(lat, "latitude"),
            }
        )
        proposal = store.create_proposal(session, process, data, principal)
        if raw:
            store.add_image(session, proposal, raw, principal)
    except (ValidationError, rules.RuleError, Problem) as exc:
        session.rollback()
        status = exc.status if isinstance(exc, Problem) else 422
        message = pp.form_message(exc)
        return _new_form(request, session, principal, slug, values, status, message)
    ip = request.client.host if request.client else None
    target = f"proposal:{proposal.id}"
    record(session, principal.username, "participation.proposal.create", target, ip)
    return RedirectResponse(PROPOSAL.format(proposal_id=proposal.id), status_code=303)


@router.get(PROPOSAL)
def read_proposal_page(
    proposal_id: int, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Show a proposal: supports and progress, the vote, results, milestones, comments."""
    return _proposal_page(request, session, principal, proposal_id)


def _act(
    request: Request,
    session: Session,
    csrf: str | None,
    proposal_id: int,
    action: str,
    do: Callable[[Principal, Proposal], None],
) -> Response:
    """Run a form's action on a proposal; redirect back, or show the page with the error."""
    check_csrf(request, csrf)
    here = PROPOSAL.format(proposal_id=proposal_id)
    principal = pp.form_user(request, session)
    if principal is None:
        return pp.sign_in(here)
    try:
        proposal = store.get_proposal(session, proposal_id, principal)
        do(principal, proposal)
    except (ValidationError, rules.RuleError, Problem) as exc:
        session.rollback()
        status = exc.status if isinstance(exc, Problem) else 422
        message = pp.form_message(exc)
        return _proposal_page(request, session, principal, proposal_id, status, message)
    if action:
        ip = request.client.host if request.client else None
        target = f"proposal:{proposal_id}"
        record(session, principal.username, f"participation.proposal.{action}", target, ip)
    return RedirectResponse(here, status_code=303)


def _operator(principal: Principal) -> None:
    if not roles.grants(principal.role, roles.OPERATOR):
        raise Problem(403, "Forbidden", f"this needs the operator role; you are {principal.role}")


@router.post(PROPOSAL + "/support")
def support_from_form(
    proposal_id: int,
    request: Request,
    session: SessionDep,
    withdraw: Annotated[str, Form()] = "0",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Support a proposal (or withdraw the support, ``withdraw=1``)."""

    def do(principal: Principal, proposal: Proposal) -> None:
        guard.require_verified(principal)
        if withdraw == "1":
            votes.withdraw_support(session, proposal, principal.user_id)
        else:
            votes.support(session, proposal, principal.user_id)

    action = "unsupport" if withdraw == "1" else "support"
    return _act(request, session, csrf, proposal_id, action, do)


@router.post(PROPOSAL + "/vote")
def vote_from_form(
    proposal_id: int,
    request: Request,
    session: SessionDep,
    choice: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Cast a secret ballot from the page."""

    def do(principal: Principal, proposal: Proposal) -> None:
        guard.require_verified(principal)
        votes.vote(session, proposal, principal.user_id, choice)

    return _act(request, session, csrf, proposal_id, "vote", do)


@router.post(PROPOSAL + "/follow")
def follow_from_form(
    proposal_id: int,
    request: Request,
    session: SessionDep,
    follow: Annotated[str, Form()] = "1",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Follow (``follow=1``) or stop following (``follow=0``) a proposal."""

    def do(principal: Principal, proposal: Proposal) -> None:
        if follow == "1":
            follows.follow(session, principal.user_id, "proposal", proposal.id)
        else:
            follows.unfollow(session, principal.user_id, "proposal", proposal.id)

    return _act(request, session, csrf, proposal_id, "", do)


@router.post(PROPOSAL + "/decision")
def decide_from_form(
    proposal_id: int,
    request: Request,
    session: SessionDep,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Decide a proposal whose voting phase has ended (operators)."""

    def do(principal: Principal, proposal: Proposal) -> None:
        _operator(principal)
        votes.decide_proposal(session, proposal)

    return _act(request, session, csrf, proposal_id, "decide", do)


@router.post(PROPOSAL + "/milestones")
def add_milestone_from_form(
    proposal_id: int,
    request: Request,
    session: SessionDep,
    title: Annotated[str, Form()] = "",
    title_ko: Annotated[str, Form()] = "",
    date: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "planned",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Add a milestone to an accepted proposal (operators)."""

    def do(principal: Principal, proposal: Proposal) -> None:
        _operator(principal)
        data = MilestoneCreate.model_validate(
            {"title": title, "title_ko": title_ko or None, "date": date, "status": status}
            | {"note": note}
        )
        store.add_milestone(session, proposal, data, principal)

    return _act(request, session, csrf, proposal_id, "milestone", do)


@router.post(PROPOSAL + "/status")
def set_status_from_form(
    proposal_id: int,
    request: Request,
    session: SessionDep,
    status: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Move an accepted proposal on (operators)."""

    def do(principal: Principal, proposal: Proposal) -> None:
        _operator(principal)
        store.set_status(session, proposal, status)

    return _act(request, session, csrf, proposal_id, "status", do)


def dashboard_entries(session: Session, principal: Principal) -> list[DashboardEntry]:
    """List the processes and proposals a citizen follows, and their own proposals."""
    entries: list[DashboardEntry] = []
    followed = session.execute(
        select(Follow.target_type, Follow.target_id).where(
            Follow.user_id == principal.user_id,
            Follow.target_type.in_(("process", "proposal")),
        )
    ).all()
    process_ids = [tid for kind, tid in followed if kind == "process"]
    proposal_ids = [tid for kind, tid in followed if kind == "proposal"]
    for process in session.scalars(
        select(Process).where(Process.id.in_(process_ids), Process.published.is_(True))
    ):
        phase = rules.current_phase(processes.phases_of(session, process.id), pp_now())
        en, ko = rules.PHASE_LABELS.get(phase.kind, ("", "")) if phase else ("Closed", "종료")
        entries.append(
            DashboardEntry(
                "following",
                process.title,
                f"{pp.HOME}/processes/{process.slug}",
                en,
                process.title_ko,
                ko,
            )
        )
    mine = select(Proposal).where(Proposal.author_id == principal.user_id)
    own = list(session.scalars(mine.order_by(Proposal.id.desc())))
    own_ids = {p.id for p in own}
    others = session.scalars(
        select(Proposal).where(Proposal.id.in_(proposal_ids), Proposal.hidden_at.is_(None))
    )
    followed_only = [p for p in others if p.id not in own_ids]
    for section, rows in (("following", followed_only), ("proposals", own)):
        for proposal in rows:
            en, ko = rules.STATUS_LABELS.get(proposal.status, (proposal.status, proposal.status))
            status = f"{en} · {proposal.support_count} supports"
            entries.append(
                DashboardEntry(
                    section,
                    proposal.title,
                    store.link(proposal.id),
                    status,
                    None,
                    f"{ko} · 지지 {proposal.support_count}",
                )
            )
    return entries


DASHBOARD: tuple[DashboardProvider, ...] = (dashboard_entries,)
