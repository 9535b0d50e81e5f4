"""Operators' budget forms: a new budget, and projects added from the budget's page.

Both post with the session's CSRF token and answer 303, or the form again with what was
wrong (the API's checks and messages).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep, check_csrf
from citysmart.core.errors import Problem
from citysmart.portal.pages import render
from citysmart.services.participation import budget_api
from citysmart.services.participation.budget_access import is_operator
from citysmart.services.participation.survey_pages import FormDep, signed_in_user

router = APIRouter(include_in_schema=False)
NEW_PATH = "/participation/budgets/new"
BUDGET_FIELDS = (
    "process_id",
    "title",
    "title_ko",
    "description",
    "total_krw",
    "area_code",
    "min_share_pct",
    "max_projects",
    "rule",
    "closes_at",
)
PROJECT_FIELDS = ("title", "title_ko", "description", "cost_krw", "area_code", "lat", "lon")


def _operator(principal: Principal | None) -> Principal:
    if principal is None or not is_operator(principal):
        raise Problem(403, "Forbidden", "only operators manage budgets")
    return principal


def values_of(form: FormData, fields: tuple[str, ...]) -> dict[str, Any]:
    """Return the form's non-empty fields (empty ones are left to the model's defaults)."""
    return {f: str(form.get(f)).strip() for f in fields if str(form.get(f) or "").strip()}


def why(exc: ValidationError) -> str:
    """Say what a form got wrong, field by field."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _checked(model: type[BaseModel], values: dict[str, Any]) -> Any:
    return model.model_validate(values)


def _new_form(
    request: Request,
    principal: Principal,
    status: int = 200,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "participation/budget_new.html",
        principal,
        status=status,
        error=error,
        form=form or {},
    )


@router.get(NEW_PATH)
def new_budget(request: Request, principal: OptionalPrincipal) -> Response:
    """Show the operator's form for a new budget."""
    if principal is None:
        return RedirectResponse(f"/signin?next={NEW_PATH}", status_code=303)
    return _new_form(request, _operator(principal))


@router.post(NEW_PATH)
def create_budget(request: Request, session: SessionDep, form: FormData = FormDep) -> Response:
    """Create a budget from the operator's form."""
    check_csrf(request, str(form.get("csrf") or ""))
    principal = signed_in_user(request, session)
    if principal is None:
        return RedirectResponse(f"/signin?next={NEW_PATH}", status_code=303)
    _operator(principal)
    values = values_of(form, BUDGET_FIELDS)
    if "closes_at" in values:
        try:
            zone = ZoneInfo(request.app.state.settings.timezone)
            closes = dt.datetime.fromisoformat(values["closes_at"]).replace(tzinfo=zone)
            values["closes_at"] = closes.isoformat()
        except ValueError:
            pass  # the model says what is wrong with it
    try:
        budget = budget_api.create(session, _checked(budget_api.BudgetCreate, values), principal)
    except ValidationError as exc:
        return _new_form(request, principal, 422, why(exc), values)
    except Problem as problem:
        return _new_form(request, principal, problem.status, problem.detail, values)
    return RedirectResponse(f"/participation/budgets/{budget.id}", status_code=303)


@router.post("/participation/budgets/{budget_id}/projects")
def add_project(
    budget_id: int, request: Request, session: SessionDep, form: FormData = FormDep
) -> Response:
    """Add a project from the form on the budget's page (operators)."""
    # Imported here: budget_pages mounts this module, so it cannot be imported at the top.
    from citysmart.services.participation.budget_pages import budget_page

    check_csrf(request, str(form.get("csrf") or ""))
    principal = signed_in_user(request, session)
    path = f"/participation/budgets/{budget_id}"
    if principal is None:
        return RedirectResponse(f"/signin?next={path}", status_code=303)
    _operator(principal)
    budget = budget_api.get_budget(session, budget_id)
    values = values_of(form, PROJECT_FIELDS)
    try:
        project_in = _checked(budget_api.ProjectCreate, values)
        with session.begin_nested():
            budget_api.add_project(session, budget, project_in, principal)
    except ValidationError as exc:
        return budget_page(request, session, principal, budget, 422, why(exc), project_form=values)
    except Problem as problem:
        return budget_page(
            request,
            session,
            principal,
            budget,
            problem.status,
            problem.detail,
            project_form=values,
        )
    return RedirectResponse(f"{path}#projects", status_code=303)
