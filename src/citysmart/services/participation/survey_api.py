"""Surveys API: operators create them, residents answer once, results for everyone after close.

- ``POST /api/v1/participation/surveys`` (operator): a survey with its questions.
- ``GET /api/v1/participation/surveys[/{id}]``: surveys and their questions.
- ``POST /api/v1/participation/surveys/{id}/responses``: answer (once; signed in, or verified
  residents only when the survey says so).
- ``GET /api/v1/participation/surveys/{id}/results``: counts and percentages per option;
  public once the survey has closed, for operators at any time. Free-text answers are
  listed for operators only; others see how many there were.
- ``GET /api/v1/participation/surveys/{id}/responses.csv`` (operator): every response,
  numbered, without identities.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, Field, model_validator
from sqlalchemy import select
from starlette.responses import Response

from citysmart.core.audit import record
from citysmart.core.auth import CurrentPrincipal, OptionalPrincipal, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.time import utcnow
from citysmart.services.participation import survey_store
from citysmart.services.participation.budget_access import (
    OperatorDep,
    answer_problem,
    is_operator,
)
from citysmart.services.participation.models_budget import Survey
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.survey_rules import (
    AnswerInvalid,
    Given,
    check_response,
    clean_text,
)

router = APIRouter(prefix="/api/v1/participation/surveys", tags=["participation"])


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2026-12-01T09:00:00+09:00)")
    return value.astimezone(dt.UTC)


Instant = Annotated[dt.datetime, AfterValidator(_aware)]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]


class OptionCreate(BaseModel):
    """An option of a choice question."""

    label: Text200
    label_ko: Annotated[str, Field(max_length=200)] | None = None


class QuestionCreate(BaseModel):
    """A question of a new survey."""

    kind: Literal["single", "multiple", "text", "scale"]
    prompt: Annotated[str, Field(min_length=1, max_length=500)]
    prompt_ko: Annotated[str, Field(max_length=500)] | None = None
    required: bool = False
    max_choices: Annotated[int, Field(ge=1)] | None = None
    options: Annotated[list[OptionCreate], Field(max_length=30)] = []

    @model_validator(mode="after")
    def _options_fit_the_kind(self) -> QuestionCreate:
        if self.kind in ("single", "multiple") and len(self.options) < 2:
            raise ValueError(f"a {self.kind}-choice question needs at least two options")
        if self.kind not in ("single", "multiple") and self.options:
            raise ValueError(f"a {self.kind} question takes no options")
        if self.max_choices is not None and self.kind != "multiple":
            raise ValueError("max_choices applies to multiple-choice questions only")
        return self


class SurveyCreate(BaseModel):
    """A new survey: in a process, or standalone (process_id null) for a sandbox project."""

    process_id: int | None = None
    title: Text200
    title_ko: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] = ""
    audience: Literal["signed_in", "verified"] = "signed_in"
    opens_at: Instant | None = None  # None: now
    closes_at: Instant
    questions: Annotated[list[QuestionCreate], Field(min_length=1, max_length=50)]


class AnswerIn(BaseModel):
    """An answer to one question: options, a text or a scale value."""

    question_id: int
    option_ids: Annotated[list[int], Field(max_length=50)] = []
    text: Annotated[str, Field(max_length=5000)] | None = None
    value: int | None = None


class ResponseCreate(BaseModel):
    """A respondent's answers."""

    answers: Annotated[list[AnswerIn], Field(max_length=100)]


def given_of(answers: list[AnswerIn]) -> dict[int, Given]:
    """Turn submitted answers into what the rules check (repeated questions merge)."""
    given: dict[int, Given] = {}
    for a in answers:
        before = given.get(a.question_id, Given())
        given[a.question_id] = Given(
            option_ids=before.option_ids + tuple(a.option_ids),
            text=a.text if a.text is not None else before.text,
            value=a.value if a.value is not None else before.value,
        )
    return given


def get_survey(session: SessionDep, survey_id: int) -> Survey:
    """Return a survey or answer 404."""
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise Problem(404, "Not found", f"no survey {survey_id}")
    return survey


def create(session: SessionDep, survey_in: SurveyCreate, actor: str, user_id: int) -> Survey:
    """Check and store a new survey (shared by the API and the operator's form)."""
    if survey_in.process_id is not None and session.get(Process, survey_in.process_id) is None:
        raise Problem(422, "Unknown process", f"no process {survey_in.process_id}")
    opens_at = survey_in.opens_at or utcnow()
    if survey_in.closes_at <= opens_at:
        raise Problem(422, "Invalid dates", "closes_at must be after opens_at")
    survey = Survey(
        process_id=survey_in.process_id,
        title=clean_text(survey_in.title, 200),
        title_ko=clean_text(survey_in.title_ko, 200) if survey_in.title_ko else None,
        description=clean_text(survey_in.description, 5000),
        audience=survey_in.audience,
        opens_at=opens_at,
        closes_at=survey_in.closes_at,
        created_by=user_id,
        created_at=utcnow(),
    )
    questions = [
        survey_store.NewQuestion(
            kind=q.kind,
            prompt=clean_text(q.prompt, 500),
            prompt_ko=clean_text(q.prompt_ko, 500) if q.prompt_ko else None,
            required=q.required,
            max_choices=q.max_choices,
            options=tuple(
                survey_store.NewOption(
                    clean_text(o.label, 200), clean_text(o.label_ko, 200) if o.label_ko else None
                )
                for o in q.options
            ),
        )
        for q in survey_in.questions
    ]
    survey_store.create_survey(session, survey, questions)
    record(session, actor, "participation.survey.create", f"survey:{survey.id}")
    return survey


def answer(session: SessionDep, survey: Survey, principal: Any, given: dict[int, Given]) -> None:
    """Check and store a response (shared by the API and the answer form)."""
    problem = answer_problem(principal, survey.audience)
    if problem is not None:
        raise Problem(403, "May not answer", problem)
    if not survey_store.is_open(survey):
        raise Problem(409, "Survey not open", "this survey does not take answers now")
    try:
        checked = check_response(
            survey_store.specs(survey_store.questions_of(session, survey.id)), given
        )
    except AnswerInvalid as exc:
        raise Problem(422, "Invalid answer", str(exc)) from exc
    try:
        survey_store.add_response(session, survey.id, principal.user_id, checked)
    except survey_store.AlreadyAnswered as exc:
        raise Problem(409, "Already answered", "you have already answered this survey") from exc
    record(session, principal.username, "participation.survey.answer", f"survey:{survey.id}")


def results_public(session: SessionDep, survey: Survey, with_texts: bool) -> dict[str, Any]:
    """Return a survey's aggregate results as JSON."""
    respondents, _, per_question = survey_store.results(session, survey.id)
    return {
        "survey_id": survey.id,
        "respondents": respondents,
        "closed": survey_store.is_closed(survey),
        "questions": [r.public(with_texts) for r in per_question.values()],
    }


def may_see_results(survey: Survey, principal: Any) -> bool:
    """Whether results are shown: to everyone after close, to operators at any time."""
    return survey_store.is_closed(survey) or is_operator(principal)


@router.post("", status_code=201)
def create_survey(
    survey_in: SurveyCreate, session: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Create a survey with its questions (operators)."""
    survey = create(session, survey_in, principal.username, principal.user_id)
    return survey_store.survey_public(survey, survey_store.questions_of(session, survey.id))


@router.get("")
def list_surveys(session: SessionDep, process_id: int | None = None) -> list[dict[str, Any]]:
    """List surveys (newest first), optionally those of one process."""
    query = select(Survey).order_by(Survey.id.desc())
    if process_id is not None:
        query = query.where(Survey.process_id == process_id)
    return [
        survey_store.survey_public(s, survey_store.questions_of(session, s.id))
        for s in session.scalars(query)
    ]


@router.get("/{survey_id}")
def read_survey(survey_id: int, session: SessionDep) -> dict[str, Any]:
    """Return a survey and its questions."""
    survey = get_survey(session, survey_id)
    return survey_store.survey_public(survey, survey_store.questions_of(session, survey.id))


@router.post("/{survey_id}/responses", status_code=201)
def create_response(
    survey_id: int, response_in: ResponseCreate, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Answer a survey (once)."""
    survey = get_survey(session, survey_id)
    answer(session, survey, principal, given_of(response_in.answers))
    return {"survey_id": survey.id, "answered": True}


@router.get("/{survey_id}/results")
def read_results(
    survey_id: int, session: SessionDep, principal: OptionalPrincipal
) -> dict[str, Any]:
    """Return aggregate results (public after close; free texts for operators only)."""
    survey = get_survey(session, survey_id)
    if not may_see_results(survey, principal):
        raise Problem(403, "Results not yet public", "results are published when the survey closes")
    return results_public(session, survey, with_texts=is_operator(principal))


@router.get("/{survey_id}/responses.csv")
def export_responses(survey_id: int, session: SessionDep, principal: OperatorDep) -> Response:
    """Download every response as CSV (operators; respondents numbered, not named)."""
    survey = get_survey(session, survey_id)
    record(session, principal.username, "participation.survey.export", f"survey:{survey.id}")
    return Response(
        survey_store.export_csv(session, survey.id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="survey-{survey.id}.csv"'},
    )
