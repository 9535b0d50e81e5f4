"""Surveys in the database: create, read, answer once, aggregate and export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citysmart.core.time import isoformat, utcnow
from citysmart.services.participation.models_budget import (
    Survey,
    SurveyAnswer,
    SurveyOption,
    SurveyQuestion,
    SurveyResponse,
)
from citysmart.services.participation.survey_rules import (
    Checked,
    QuestionResult,
    QuestionSpec,
    aggregate,
)


class AlreadyAnswered(Exception):
    """The user has already answered this survey."""


@dataclass(frozen=True, slots=True)
class NewOption:
    """An option of a new question."""

    label: str
    label_ko: str | None = None


@dataclass(frozen=True, slots=True)
class NewQuestion:
    """A question of a new survey."""

    kind: str
    prompt: str
    prompt_ko: str | None = None
    required: bool = False
    max_choices: int | None = None
    options: tuple[NewOption, ...] = ()


def create_survey(session: Session, survey: Survey, questions: Sequence[NewQuestion]) -> Survey:
    """Store a survey with its questions and options (in order)."""
    session.add(survey)
    session.flush()
    for q_pos, new in enumerate(questions, start=1):
        question = SurveyQuestion(
            survey_id=survey.id,
            position=q_pos,
            kind=new.kind,
            prompt=new.prompt,
            prompt_ko=new.prompt_ko,
            required=new.required,
            max_choices=new.max_choices if new.kind == "multiple" else None,
        )
        session.add(question)
        session.flush()
        for o_pos, option in enumerate(new.options, start=1):
            session.add(
                SurveyOption(
                    question_id=question.id,
                    position=o_pos,
                    label=option.label,
                    label_ko=option.label_ko,
                )
            )
    session.flush()
    return survey


def is_open(survey: Survey, now: dt.datetime | None = None) -> bool:
    """Whether the survey takes answers now."""
    now = now or utcnow()
    return survey.opens_at <= now < survey.closes_at


def is_closed(survey: Survey, now: dt.datetime | None = None) -> bool:
    """Whether the survey's answering time is over (its results are then public)."""
    return (now or utcnow()) >= survey.closes_at


def questions_of(
    session: Session, survey_id: int
) -> list[tuple[SurveyQuestion, list[SurveyOption]]]:
    """Return a survey's questions in order, each with its options in order."""
    questions = session.scalars(
        select(SurveyQuestion)
        .where(SurveyQuestion.survey_id == survey_id)
        .order_by(SurveyQuestion.position)
    ).all()
    options: dict[int, list[SurveyOption]] = defaultdict(list)
    if questions:
        for option in session.scalars(
            select(SurveyOption)
            .where(SurveyOption.question_id.in_([q.id for q in questions]))
            .order_by(SurveyOption.question_id, SurveyOption.position)
        ):
            options[option.question_id].append(option)
    return [(q, options[q.id]) for q in questions]


def specs(rows: Sequence[tuple[SurveyQuestion, list[SurveyOption]]]) -> list[QuestionSpec]:
    """Return what each question accepts."""
    return [
        QuestionSpec(
            id=q.id,
            position=q.position,
            kind=q.kind,
            prompt=q.prompt,
            required=q.required,
            max_choices=q.max_choices,
            option_ids=tuple(o.id for o in opts),
        )
        for q, opts in rows
    ]


def survey_public(
    survey: Survey, rows: Sequence[tuple[SurveyQuestion, list[SurveyOption]]]
) -> dict[str, Any]:
    """Return a survey as the API shows it."""
    return {
        "id": survey.id,
        "process_id": survey.process_id,
        "title": survey.title,
        "title_ko": survey.title_ko,
        "description": survey.description,
        "audience": survey.audience,
        "opens_at": isoformat(survey.opens_at),
        "closes_at": isoformat(survey.closes_at),
        "open": is_open(survey),
        "questions": [
            {
                "id": q.id,
                "position": q.position,
                "kind": q.kind,
                "prompt": q.prompt,
                "prompt_ko": q.prompt_ko,
                "required": q.required,
                "max_choices": q.max_choices,
                "options": [{"id": o.id, "label": o.label, "label_ko": o.label_ko} for o in opts],
            }
            for q, opts in rows
        ],
    }


def has_answered(session: Session, survey_id: int, user_id: int) -> bool:
    """Whether a user has answered a survey."""
    found = session.scalar(
        select(SurveyResponse.id).where(
            SurveyResponse.survey_id == survey_id, SurveyResponse.user_id == user_id
        )
    )
    return found is not None


def add_response(
    session: Session, survey_id: int, user_id: int, answers: Sequence[Checked]
) -> SurveyResponse:
    """Store a user's answers; raise :class:`AlreadyAnswered` for a second response."""
    if has_answered(session, survey_id, user_id):
        raise AlreadyAnswered
    response = SurveyResponse(survey_id=survey_id, user_id=user_id, created_at=utcnow())
    try:
        # A savepoint: a concurrent first response loses on the unique constraint alone.
        with session.begin_nested():
            session.add(response)
            session.flush()
    except IntegrityError as exc:
        raise AlreadyAnswered from exc
    for answer in answers:
        session.add(
            SurveyAnswer(
                response_id=response.id,
                question_id=answer.question_id,
                option_id=answer.option_id,
                text=answer.text,
                value=answer.value,
            )
        )
    session.flush()
    return response


def _responses(session: Session, survey_id: int) -> list[tuple[SurveyResponse, list[Checked]]]:
    """Return every response (oldest first) with its answers."""
    responses = session.scalars(
        select(SurveyResponse)
        .where(SurveyResponse.survey_id == survey_id)
        .order_by(SurveyResponse.created_at, SurveyResponse.id)
    ).all()
    answers: dict[int, list[Checked]] = defaultdict(list)
    for row in session.scalars(
        select(SurveyAnswer)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.survey_id == survey_id)
        .order_by(SurveyAnswer.id)
    ):
        answers[row.response_id].append(
            Checked(row.question_id, row.option_id, row.text, row.value)
        )
    return [(r, answers[r.id]) for r in responses]


def count_responses(session: Session, survey_id: int) -> int:
    """Return how many people answered a survey."""
    return session.scalar(select(func.count()).where(SurveyResponse.survey_id == survey_id)) or 0


def results(
    session: Session, survey_id: int
) -> tuple[int, list[QuestionSpec], dict[int, QuestionResult]]:
    """Return how many answered, the questions and each question's aggregate results."""
    rows = questions_of(session, survey_id)
    question_specs = specs(rows)
    responses = [answers for _, answers in _responses(session, survey_id)]
    return len(responses), question_specs, aggregate(question_specs, responses)


def safe_cell(text: str) -> str:
    """Keep a spreadsheet from reading user text as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(session: Session, survey_id: int) -> str:
    """Return every response as CSV: a respondent number (no identity), one column a question."""
    rows = questions_of(session, survey_id)
    labels = {o.id: o.label for _, opts in rows for o in opts}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["respondent", "answered_at", *(safe_cell(f"Q{q.position} {q.prompt}") for q, _ in rows)]
    )
    for number, (response, answers) in enumerate(_responses(session, survey_id), start=1):
        cells: dict[int, list[str]] = defaultdict(list)
        for a in answers:
            if a.option_id is not None:
                cells[a.question_id].append(labels.get(a.option_id, str(a.option_id)))
            elif a.value is not None:
                cells[a.question_id].append(str(a.value))
            elif a.text is not None:
                cells[a.question_id].append(a.text)
        writer.writerow(
            [
                number,
                isoformat(response.created_at),
                *(safe_cell("; ".join(cells[q.id])) for q, _ in rows),
            ]
        )
    return out.getvalue()
