"""Survey pages: the list, the answer form, the results and the operator's new-survey form.

Forms post with the session's CSRF token and answer with a 303 redirect, or the page again
with what was wrong (the same checks and messages as the API).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep, check_csrf, principal_for
from citysmart.core.errors import Problem
from citysmart.core.models import User
from citysmart.core.service import Page
from citysmart.portal.pages import render
from citysmart.services.participation import survey_api, survey_store
from citysmart.services.participation.budget_access import is_operator
from citysmart.services.participation.models_budget import Survey
from citysmart.services.participation.survey_rules import Given

router = APIRouter(include_in_schema=False)
SURVEYS_PAGE = Page(path="/participation/surveys", title="Surveys", title_ko="설문")
QUESTION_SLOTS = 6  # question blocks on the new-survey form


async def form_data(request: Request) -> FormData:
    """Read a posted form (its field names depend on the survey)."""
    return await request.form()


FormDep = Depends(form_data)


def signed_in_user(request: Request, session: Session) -> Principal | None:
    """Return the session's user for a form POST (the form's CSRF token is checked first)."""
    user_id = request.session.get("user_id")
    user = session.get(User, int(user_id)) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def _local(when: dt.datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _answer_page(
    request: Request,
    session: Session,
    principal: Principal | None,
    survey: Survey,
    status: int = 200,
    error: str | None = None,
    form: dict[str, list[str]] | None = None,
) -> Response:
    rows = survey_store.questions_of(session, survey.id)
    answered = principal is not None and survey_store.has_answered(
        session, survey.id, principal.user_id
    )
    zone = _zone(request)
    return render(
        request,
        "participation/survey.html",
        principal,
        status=status,
        survey=survey_store.survey_public(survey, rows),
        closes_local=_local(survey.closes_at, zone),
        answered=answered,
        may_see_results=survey_api.may_see_results(survey, principal),
        error=error,
        form=form or {},
        thanks=request.query_params.get("answered"),
    )


@router.get("/participation/surveys")
def list_surveys(request: Request, session: SessionDep, principal: OptionalPrincipal) -> Response:
    """List surveys, newest first."""
    surveys = session.scalars(select(Survey).order_by(Survey.id.desc())).all()
    zone = _zone(request)
    return render(
        request,
        "participation/survey_list.html",
        principal,
        surveys=[
            {
                "id": s.id,
                "title": s.title,
                "title_ko": s.title_ko,
                "open": survey_store.is_open(s),
                "closed": survey_store.is_closed(s),
                "closes_local": _local(s.closes_at, zone),
                "respondents": survey_store.count_responses(session, s.id),
            }
            for s in surveys
        ],
        operator=is_operator(principal),
    )


def _new_form(
    request: Request,
    principal: Principal,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "participation/survey_new.html",
        principal,
        status=status,
        error=error,
        form=form or {},
        slots=range(1, QUESTION_SLOTS + 1),
    )


@router.get("/participation/surveys/new")
def new_survey(request: Request, principal: OptionalPrincipal) -> Response:
    """Show the operator's form for a new survey."""
    if principal is None:
        return RedirectResponse("/signin?next=/participation/surveys/new", status_code=303)
    if not is_operator(principal):
        raise Problem(403, "Forbidden", "only operators create surveys")
    return _new_form(request, principal)


def survey_in_of(form: FormData, zone: ZoneInfo) -> dict[str, Any]:
    """Turn the new-survey form into the API's request body."""
    questions: list[dict[str, Any]] = []
    for n in range(1, QUESTION_SLOTS + 1):
        kind = str(form.get(f"q{n}_kind") or "")
        prompt = str(form.get(f"q{n}_prompt") or "").strip()
        if not kind or not prompt:
            continue
        options = [
            {"label": line.strip()}
            for line in str(form.get(f"q{n}_options") or "").splitlines()
            if line.strip()
        ]
        max_choices = str(form.get(f"q{n}_max") or "").strip()
        questions.append(
            {
                "kind": kind,
                "prompt": prompt,
                "required": form.get(f"q{n}_required") == "on",
                "max_choices": int(max_choices) if max_choices.isdigit() else None,
                "options": options,
            }
        )
    closes = str(form.get("closes_at") or "")
    try:
        closes_at: Any = dt.datetime.fromisoformat(closes).replace(tzinfo=zone) if closes else None
    except ValueError:
        closes_at = closes
    process = str(form.get("process_id") or "").strip()
    return {
        "title": str(form.get("title") or ""),
        "title_ko": str(form.get("title_ko") or "") or None,
        "description": str(form.get("description") or ""),
        "audience": str(form.get("audience") or "signed_in"),
        "closes_at": closes_at,
        "process_id": int(process) if process.isdigit() else None,
        "questions": questions,
    }


@router.post("/participation/surveys/new")
def create_survey(request: Request, session: SessionDep, form: FormData = FormDep) -> Response:
    """Create a survey from the operator's form."""
    check_csrf(request, str(form.get("csrf") or ""))
    principal = signed_in_user(request, session)
    if principal is None:
        return RedirectResponse("/signin?next=/participation/surveys/new", status_code=303)
    if not is_operator(principal):
        raise Problem(403, "Forbidden", "only operators create surveys")
    values = {k: str(v) for k, v in form.items()}
    try:
        survey_in = survey_api.SurveyCreate.model_validate(survey_in_of(form, _zone(request)))
        survey = survey_api.create(session, survey_in, principal.username, principal.user_id)
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _new_form(request, principal, 422, why, values)
    except Problem as problem:
        return _new_form(request, principal, problem.status, problem.detail, values)
    return RedirectResponse(f"/participation/surveys/{survey.id}", status_code=303)


@router.get("/participation/surveys/{survey_id}")
def read_survey(
    survey_id: int, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Show a survey's answer form."""
    return _answer_page(request, session, principal, survey_api.get_survey(session, survey_id))


def given_of_form(form: FormData, survey: dict[str, Any]) -> dict[int, Given]:
    """Read each question's field (``q<id>``) from the answer form."""
    given: dict[int, Given] = {}
    for q in survey["questions"]:
        values = [str(v) for v in form.getlist(f"q{q['id']}") if str(v).strip()]
        if not values:
            continue
        if q["kind"] == "text":
            given[q["id"]] = Given(text=values[0])
        elif q["kind"] == "scale":
            given[q["id"]] = Given(value=int(values[0]) if values[0].isdigit() else -1)
        else:
            ids = tuple(int(v) if v.isdigit() else -1 for v in values)
            given[q["id"]] = Given(option_ids=ids)
    return given


@router.post("/participation/surveys/{survey_id}")
def answer_survey(
    survey_id: int, request: Request, session: SessionDep, form: FormData = FormDep
) -> Response:
    """Store a response from the answer form."""
    check_csrf(request, str(form.get("csrf") or ""))
    principal = signed_in_user(request, session)
    path = f"/participation/surveys/{survey_id}"
    if principal is None:
        return RedirectResponse(f"/signin?next={path}", status_code=303)
    survey = survey_api.get_survey(session, survey_id)
    public = survey_store.survey_public(survey, survey_store.questions_of(session, survey.id))
    try:
        with session.begin_nested():
            survey_api.answer(session, survey, principal, given_of_form(form, public))
    except Problem as problem:
        kept = {k: [str(v) for v in form.getlist(k)] for k in form}
        return _answer_page(
            request, session, principal, survey, problem.status, problem.detail, kept
        )
    return RedirectResponse(f"{path}?answered=1", status_code=303)


@router.get("/participation/surveys/{survey_id}/results")
def read_results(
    survey_id: int, request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Show counts and percentages (public after close; free texts for operators)."""
    survey = survey_api.get_survey(session, survey_id)
    rows = survey_store.questions_of(session, survey.id)
    public = survey_store.survey_public(survey, rows)
    if not survey_api.may_see_results(survey, principal):
        return render(
            request,
            "participation/survey_results.html",
            principal,
            status=403,
            survey=public,
            results=None,
        )
    results = survey_api.results_public(session, survey, with_texts=is_operator(principal))
    by_question = {r["question_id"]: r for r in results["questions"]}
    return render(
        request,
        "participation/survey_results.html",
        principal,
        survey=public,
        results=results,
        by_question=by_question,
        operator=is_operator(principal),
    )
