"""Pages for participatory budgets (and the survey pages it mounts), and the dashboard entries.

``/participation/budgets/{id}`` lists the projects with their costs and the ballot rule. A
verified resident ticks projects and saves the choice (a server-side ballot, so the page
works without script: ``POST .../ballot`` answers 303 back to the page, or the page again
with what was wrong); static/budget.js adds a live running total while ticking. ``POST
.../checkout`` makes the ballot final. ``/participation/budgets/{id}/results`` shows votes,
funded or not, and the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
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
from citysmart.core.service import DashboardEntry, Job, Page
from citysmart.core.time import utcnow
from citysmart.portal.pages import render
from citysmart.services.participation import (
    budget_admin_pages,
    budget_api,
    budget_store,
    survey_pages,
)
from citysmart.services.participation.budget_access import is_operator
from citysmart.services.participation.guard import require_verified
from citysmart.services.participation.models_budget import Ballot, Budget, Survey, SurveyResponse

router = APIRouter(include_in_schema=False)
# First: its /participation/budgets/new must come before /participation/budgets/{budget_id}.
router.include_router(budget_admin_pages.router)
BUDGETS_PAGE = Page(path="/participation/budgets", title="Budgets", title_ko="주민참여예산")
PAGES: tuple[Page, ...] = (BUDGETS_PAGE, survey_pages.SURVEYS_PAGE)
JOBS: tuple[Job, ...] = ()


def signed_in(request: Request, session: Session) -> Principal | None:
    """Return the session's user for a form POST (the form's CSRF token is checked first)."""
    user_id = request.session.get("user_id")
    user = session.get(User, int(user_id)) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def sign_in(path: str) -> Response:
    """Send an anonymous visitor to sign in, then back."""
    return RedirectResponse(f"/signin?next={quote(path, safe='/?=&')}", status_code=303)


def krw(amount: int) -> str:
    """Format won with thousands separators (``1,500,000``)."""
    return f"{amount:,}"


def budget_page(
    request: Request,
    session: Session,
    principal: Principal | None,
    budget: Budget,
    status: int = 200,
    error: str | None = None,
    chosen: list[int] | None = None,
    project_form: dict[str, str] | None = None,
) -> Response:
    """Render a budget's page: projects, the rule, one's ballot (and operators' forms)."""
    projects = budget_store.projects_of(session, budget.id)
    ballot = budget_api.ballot_public(session, budget, principal.user_id) if principal else None
    picked = set(chosen if chosen is not None else (ballot["project_ids"] if ballot else []))
    return render(
        request,
        "participation/budget.html",
        principal,
        status=status,
        budget=budget_store.budget_public(budget, projects),
        ballot=ballot,
        picked=picked,
        may_vote=principal is not None and principal.verified and not principal.blocked,
        error=error if project_form is None else None,
        saved=request.query_params.get("saved"),
        krw=krw,
        may_see_results=budget_api.may_see_results(budget, principal),
        operator=is_operator(principal),
        project_form=project_form or {},
        project_error=error if project_form is not None else None,
    )


@router.get("/participation/budgets")
def list_budgets(request: Request, session: SessionDep, principal: OptionalPrincipal) -> Response:
    """List the budgets, newest first."""
    budgets = [
        budget_store.budget_public(b, budget_store.projects_of(session, b.id))
        for b in session.scalars(select(Budget).order_by(Budget.id.desc()))
    ]
    return render(
        request,
        "participation/budget_list.html",
        principal,
        budgets=budgets,
        krw=krw,
        operator=is_operator(principal),
    )


@router.get("/participation/budgets/{budget_id}")
def read_budget(
    budget_id: int, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Show a budget's projects and one's ballot."""
    return budget_page(request, session, principal, budget_api.get_budget(session, budget_id))


def _act(
    request: Request,
    session: Session,
    budget_id: int,
    csrf: str | None,
    action: Callable[[Budget, Principal], None],
    chosen: list[int] | None = None,
) -> Response:
    """Run a ballot form's action; answer 303 to the page, or the page with what was wrong."""
    check_csrf(request, csrf)
    principal = signed_in(request, session)
    path = f"/participation/budgets/{budget_id}"
    if principal is None:
        return sign_in(path)
    budget = budget_api.get_budget(session, budget_id)
    try:
        require_verified(principal)
        with session.begin_nested():  # a refused change leaves nothing behind
            action(budget, principal)
    except Problem as problem:
        return budget_page(
            request, session, principal, budget, problem.status, problem.detail, chosen
        )
    return RedirectResponse(f"{path}?saved=1#ballot", status_code=303)


@router.post("/participation/budgets/{budget_id}/ballot")
def save_ballot(
    budget_id: int,
    request: Request,
    session: SessionDep,
    csrf: Annotated[str | None, Form()] = None,
    project: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Save the ticked projects as one's (draft) ballot."""
    chosen = project or []

    def change(budget: Budget, principal: Principal) -> None:
        budget_api.change_ballot(session, budget, principal, chosen)

    return _act(request, session, budget_id, csrf, change, chosen)


@router.post("/participation/budgets/{budget_id}/checkout")
def checkout_ballot(
    budget_id: int,
    request: Request,
    session: SessionDep,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Make one's ballot final."""

    def checkout(budget: Budget, principal: Principal) -> None:
        budget_api.check_out(session, budget, principal)

    return _act(request, session, budget_id, csrf, checkout)


@router.get("/participation/budgets/{budget_id}/results")
def read_results(
    budget_id: int, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Show votes, funded projects and the rule (public after close)."""
    budget = budget_api.get_budget(session, budget_id)
    if not budget_api.may_see_results(budget, principal):
        return render(
            request,
            "participation/budget_results.html",
            principal,
            status=403,
            budget=budget_store.budget_public(budget, []),
            results=None,
            krw=krw,
        )
    return render(
        request,
        "participation/budget_results.html",
        principal,
        budget=budget_store.budget_public(budget, []),
        results=budget_store.results(session, budget),
        krw=krw,
    )


def dashboard_entries(session: Session, principal: Principal) -> list[DashboardEntry]:
    """List the user's open ballots not yet final and the open surveys they may answer."""
    now = utcnow()
    entries: list[DashboardEntry] = []
    if principal.verified and not principal.blocked:
        final = set(
            session.scalars(
                select(Ballot.budget_id).where(
                    Ballot.user_id == principal.user_id, Ballot.checked_out_at.is_not(None)
                )
            )
        )
        for budget in session.scalars(
            select(Budget).where(Budget.opens_at <= now, Budget.closes_at > now)
        ):
            if budget.id in final:
                continue
            entries.append(
                DashboardEntry(
                    section="votes",
                    title=budget.title,
                    title_ko=budget.title_ko,
                    link=f"/participation/budgets/{budget.id}",
                    status="ballot to complete",
                    status_ko="예산 투표 미완료",
                )
            )
    answered = set(
        session.scalars(
            select(SurveyResponse.survey_id).where(SurveyResponse.user_id == principal.user_id)
        )
    )
    for survey in session.scalars(
        select(Survey).where(Survey.opens_at <= now, Survey.closes_at > now)
    ):
        if survey.id in answered or (survey.audience == "verified" and not principal.verified):
            continue
        if principal.blocked:
            break
        entries.append(
            DashboardEntry(
                section="surveys",
                title=survey.title,
                title_ko=survey.title_ko,
                link=f"/participation/surveys/{survey.id}",
                status="survey to answer",
                status_ko="설문 미응답",
            )
        )
    return entries


DASHBOARD: tuple[Callable[[Session, Principal], list[DashboardEntry]], ...] = (dashboard_entries,)
router.include_router(survey_pages.router)
