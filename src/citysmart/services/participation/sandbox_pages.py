"""Pages for the opinion channel and the regulatory sandbox; the dashboard's lines for both.

The sandbox pages: the registry (``/sandbox``, filtered by field and stage), a project's page
(conditions, stage history, milestones and reports, its feedback survey, sign-up and
withdrawal for verified residents) and the operators' forms (register, next stage, add a
milestone or report). Forms work without script (CSRF field, 303 or the page with the error).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from citysmart.core import audit, roles
from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep, check_csrf
from citysmart.core.errors import Problem
from citysmart.core.service import DashboardEntry, DashboardProvider, Job, Page
from citysmart.portal.pages import render
from citysmart.services.participation import (
    guard,
    opinion_pages,
    opinion_store,
    sandbox_opendata,
    sandbox_store,
)
from citysmart.services.participation import opinion_rules as orules
from citysmart.services.participation import sandbox_rules as rules
from citysmart.services.participation.follows import follow
from citysmart.services.participation.opinion_pages import is_operator, signed_in, to_sign_in

router = APIRouter(include_in_schema=False)
router.include_router(opinion_pages.router)
REGISTRY_PAGE = Page(path="/sandbox", title="Sandbox trials", title_ko="규제샌드박스 실증")
PAGES: tuple[Page, ...] = (opinion_pages.LIST_PAGE, REGISTRY_PAGE, opinion_pages.QUEUE_PAGE)
JOBS: tuple[Job, ...] = ()


def _labels() -> dict[str, Any]:
    return {
        "fields": rules.FIELDS,
        "tracks": rules.TRACKS,
        "stages": rules.STAGE_LABELS,
        "local": opinion_pages.local,
    }


@router.get(REGISTRY_PAGE.path)
def registry_page(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    field: str | None = None,
    stage: str | None = None,
) -> Response:
    """List the sandbox projects, filtered by field and stage."""
    field = field if field in rules.FIELDS else None
    stage = stage if stage in rules.STAGES else None
    projects = sandbox_store.list_projects(session, field=field, stage=stage)
    return render(
        request,
        "participation/sandbox_list.html",
        principal,
        projects=[sandbox_store.project_view(session, p) for p in projects],
        field=field,
        stage=stage,
        operator=is_operator(principal),
        **_labels(),
    )


def _project_page(
    request: Request,
    session: Session,
    principal: Principal | None,
    project_id: int,
    error: str | None = None,
    code: int = 200,
) -> Response:
    try:
        project = sandbox_store.get_project(session, project_id)
    except opinion_store.NotFound:
        return render(request, "participation/sandbox_missing.html", principal, 404)
    view = sandbox_store.project_view(session, project, detail=True)
    return render(
        request,
        "participation/sandbox_detail.html",
        principal,
        code,
        project=view,
        survey=view["survey"],
        signed_up=principal is not None
        and sandbox_store.is_signed_up(session, project.id, principal.user_id),
        operator=is_operator(principal),
        error=error,
        today=dt.datetime.now(opinion_pages.SEOUL).date().isoformat(),
        **_labels(),
    )


@router.get(REGISTRY_PAGE.path + "/projects/{project_id}")
def project_page(
    request: Request, session: SessionDep, principal: OptionalPrincipal, project_id: int
) -> Response:
    """Show a project: conditions, stage, history, milestones, reports, sign-up and survey."""
    return _project_page(request, session, principal, project_id)


@router.post(REGISTRY_PAGE.path + "/projects/{project_id}/signup")
def sign_up_from_form(
    request: Request,
    session: SessionDep,
    project_id: int,
    action: Annotated[str, Form()] = "signup",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Sign up for a trial, or withdraw (``action=withdraw``), from the project's page."""
    check_csrf(request, csrf)
    here = f"{REGISTRY_PAGE.path}/projects/{project_id}"
    principal = signed_in(request, session)
    if principal is None:
        return to_sign_in(here)
    try:
        project = sandbox_store.get_project(session, project_id)
    except opinion_store.NotFound:
        return render(request, "participation/sandbox_missing.html", principal, 404)
    if action == "withdraw":
        sandbox_store.withdraw(session, project, principal)
    else:
        try:
            guard.require_verified(principal)
            sandbox_store.sign_up(session, project, principal)
        except Problem as problem:
            return _project_page(request, session, principal, project_id, problem.detail, 403)
        except sandbox_store.SignupRefused as exc:
            return _project_page(request, session, principal, project_id, str(exc), 409)
        follow(session, principal.user_id, sandbox_store.TARGET, project.id)
    sandbox_opendata.publish(session, project)
    return RedirectResponse(here, status_code=303)


def _operator(request: Request, session: Session, here: str) -> Principal | Response:
    principal = signed_in(request, session)
    if principal is None:
        return to_sign_in(here)
    if not is_operator(principal):
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    return principal


@router.post(REGISTRY_PAGE.path + "/projects/{project_id}/stage")
def change_stage_from_form(
    request: Request,
    session: SessionDep,
    project_id: int,
    stage: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Move a project to its next stage (operators)."""
    check_csrf(request, csrf)
    here = f"{REGISTRY_PAGE.path}/projects/{project_id}"
    principal = _operator(request, session, here)
    if isinstance(principal, Response):
        return principal
    try:
        project = sandbox_store.get_project(session, project_id)
        before = project.stage
        sandbox_store.change_stage(session, project, principal, stage, note)
    except opinion_store.NotFound:
        return render(request, "participation/sandbox_missing.html", principal, 404)
    except ValueError as exc:
        session.rollback()
        return _project_page(request, session, principal, project_id, str(exc), 409)
    sandbox_opendata.publish(session, project)
    audit.record(
        session,
        principal.username,
        "sandbox.stage",
        f"sandbox:{project.id}",
        before=before,
        after=stage,
    )
    return RedirectResponse(here, status_code=303)


@router.post(REGISTRY_PAGE.path + "/projects/{project_id}/entries")
def add_entry_from_form(
    request: Request,
    session: SessionDep,
    project_id: int,
    kind: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    date: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "planned",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Add a milestone or a report (operators)."""
    check_csrf(request, csrf)
    here = f"{REGISTRY_PAGE.path}/projects/{project_id}"
    principal = _operator(request, session, here)
    if isinstance(principal, Response):
        return principal
    try:
        project = sandbox_store.get_project(session, project_id)
        when = dt.date.fromisoformat(date.strip())
        entry = sandbox_store.add_entry(session, project, kind, title, when, body, status)
    except opinion_store.NotFound:
        return render(request, "participation/sandbox_missing.html", principal, 404)
    except ValueError as exc:
        return _project_page(request, session, principal, project_id, str(exc), 422)
    audit.record(
        session, principal.username, "sandbox.entry", f"sandbox:{project.id}", entry=entry.id
    )
    return RedirectResponse(here, status_code=303)


def _new_form(
    request: Request,
    principal: Principal,
    form: dict[str, Any],
    error: str | None,
    code: int,
    action: str = REGISTRY_PAGE.path + "/new",
) -> Response:
    return render(
        request,
        "participation/sandbox_form.html",
        principal,
        code,
        form=form,
        error=error,
        action=action,
        **_labels(),
    )


@router.get(REGISTRY_PAGE.path + "/new")
def new_project_page(request: Request, session: SessionDep) -> Response:
    """Show the form to register a project (operators)."""
    principal = _operator(request, session, REGISTRY_PAGE.path + "/new")
    if isinstance(principal, Response):
        return principal
    return _new_form(request, principal, {}, None, 200)


FORM_FIELDS = (
    "title",
    "title_ko",
    "summary",
    "field",
    "track",
    "operator_name",
    "place",
    "scale",
    "period_start",
    "period_end",
    "capacity",
    "survey_id",
)


async def project_form(request: Request) -> dict[str, str]:
    """Read the project form's fields (absent ones empty) and its CSRF token."""
    data = await request.form()
    return {name: str(data.get(name) or "") for name in (*FORM_FIELDS, "csrf")}


# Read in an async dependency, so the routes stay sync (their database work runs in a thread).
ProjectForm = Annotated[dict[str, str], Depends(project_form)]


def _project_input(form: dict[str, str]) -> sandbox_store.ProjectInput:
    """Turn the form into a project's input (ValueError says what was wrong)."""

    def number(name: str, label: str) -> int | None:
        text = form[name].strip()
        if not text:
            return None
        if not text.isdigit():
            raise ValueError(f"{label} must be a whole number, not {text!r}")
        return int(text)

    def day(name: str, label: str) -> dt.date | None:
        text = form[name].strip()
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{label} must be a date (YYYY-MM-DD), not {text!r}") from exc

    return sandbox_store.ProjectInput(
        title=form["title"],
        title_ko=form["title_ko"] or None,
        summary=form["summary"],
        field=form["field"],
        track=form["track"],
        operator_name=form["operator_name"],
        place=form["place"],
        scale=form["scale"],
        period_start=day("period_start", "the start"),
        period_end=day("period_end", "the end"),
        capacity=number("capacity", "trial places"),
        survey_id=number("survey_id", "the survey number"),
    )


@router.post(REGISTRY_PAGE.path + "/new")
def create_project_from_form(request: Request, session: SessionDep, form: ProjectForm) -> Response:
    """Register a project from the form (operators)."""
    check_csrf(request, form["csrf"] or None)
    principal = _operator(request, session, REGISTRY_PAGE.path + "/new")
    if isinstance(principal, Response):
        return principal
    try:
        project = sandbox_store.create_project(session, principal, _project_input(form))
    except ValueError as exc:
        return _new_form(request, principal, form, str(exc), 422)
    sandbox_opendata.publish(session, project)
    audit.record(session, principal.username, "sandbox.create", f"sandbox:{project.id}")
    return RedirectResponse(f"{REGISTRY_PAGE.path}/projects/{project.id}", status_code=303)


@router.get(REGISTRY_PAGE.path + "/projects/{project_id}/edit")
def edit_project_page(request: Request, session: SessionDep, project_id: int) -> Response:
    """Show the form to change a project's description and conditions (operators)."""
    here = f"{REGISTRY_PAGE.path}/projects/{project_id}/edit"
    principal = _operator(request, session, here)
    if isinstance(principal, Response):
        return principal
    try:
        project = sandbox_store.get_project(session, project_id)
    except opinion_store.NotFound:
        return render(request, "participation/sandbox_missing.html", principal, 404)
    form = {
        name: "" if getattr(project, name) is None else str(getattr(project, name))
        for name in FORM_FIELDS
    }
    return _new_form(request, principal, form, None, 200, here)


@router.post(REGISTRY_PAGE.path + "/projects/{project_id}/edit")
def update_project_from_form(
    request: Request, session: SessionDep, project_id: int, form: ProjectForm
) -> Response:
    """Change a project from the form (operators)."""
    check_csrf(request, form["csrf"] or None)
    here = f"{REGISTRY_PAGE.path}/projects/{project_id}/edit"
    principal = _operator(request, session, here)
    if isinstance(principal, Response):
        return principal
    try:
        project = sandbox_store.get_project(session, project_id)
        sandbox_store.update_project(session, project, _project_input(form))
    except opinion_store.NotFound:
        return render(request, "participation/sandbox_missing.html", principal, 404)
    except ValueError as exc:
        session.rollback()
        return _new_form(request, principal, form, str(exc), 422, here)
    sandbox_opendata.publish(session, project)
    audit.record(session, principal.username, "sandbox.update", f"sandbox:{project.id}")
    return RedirectResponse(f"{REGISTRY_PAGE.path}/projects/{project.id}", status_code=303)


def dashboard_lines(session: Session, principal: Principal) -> list[DashboardEntry]:
    """Return the user's opinions with their status and their sandbox sign-ups."""
    lines = []
    for opinion in opinion_store.list_opinions(session, author_id=principal.user_id, limit=50):
        en, ko = orules.STATUS_LABELS[opinion.status]
        lines.append(
            DashboardEntry(
                section="requests",
                title=f"{orules.KIND_LABELS[opinion.kind][0]}: {opinion.title}",
                title_ko=f"{orules.KIND_LABELS[opinion.kind][1]}: {opinion.title}",
                link=f"{opinion_pages.LIST_PAGE.path}/{opinion.id}",
                status=en,
                status_ko=ko,
            )
        )
    for project in sandbox_store.my_signups(session, principal.user_id):
        en, ko = rules.STAGE_LABELS[project.stage]
        lines.append(
            DashboardEntry(
                section="signups",
                title=project.title,
                title_ko=project.title_ko,
                link=f"{REGISTRY_PAGE.path}/projects/{project.id}",
                status=en,
                status_ko=ko,
            )
        )
    return lines


DASHBOARD: tuple[DashboardProvider, ...] = (dashboard_lines,)
