"""Open data: budgets, projects, vote totals and survey aggregates (never personal data).

- ``GET /api/v1/participation/opendata/budgets`` (JSON) and ``budgets.csv`` (one row per
  project): every budget's projects and costs; votes and funded only once voting closed.
- ``GET /api/v1/participation/opendata/surveys`` (JSON) and ``surveys.csv`` (one row per
  option or scale value): aggregate results of closed surveys; free texts are never
  published, only how many there were.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from starlette.responses import Response

from citysmart.core.auth import SessionDep
from citysmart.core.time import isoformat, utcnow
from citysmart.services.participation import budget_store, survey_store
from citysmart.services.participation.models_budget import Budget, Survey

router = APIRouter(prefix="/api/v1/participation/opendata", tags=["participation"])
LICENSE = "KOGL Type 1 (공공누리 제1유형): free use with attribution"


def budgets_data(session: SessionDep) -> list[dict[str, Any]]:
    """Return every budget with its projects; tallies only for closed budgets."""
    out: list[dict[str, Any]] = []
    for budget in session.scalars(select(Budget).order_by(Budget.id)):
        public = budget_store.budget_public(budget, budget_store.projects_of(session, budget.id))
        if budget_store.is_closed(budget):
            tally = budget_store.results(session, budget)
            by_id = {p["id"]: p for p in tally["projects"]}
            public["ballots"] = tally["ballots"]
            public["funded_krw"] = tally["funded_krw"]
            public["projects"] = [
                {**p, "votes": by_id[p["id"]]["votes"], "funded": by_id[p["id"]]["funded"]}
                for p in public["projects"]
            ]
        out.append(public)
    return out


def surveys_data(session: SessionDep) -> list[dict[str, Any]]:
    """Return the aggregate results of every closed survey (no free texts)."""
    now = utcnow()
    out: list[dict[str, Any]] = []
    for survey in session.scalars(
        select(Survey).where(Survey.closes_at <= now).order_by(Survey.id)
    ):
        rows = survey_store.questions_of(session, survey.id)
        respondents, _, per_question = survey_store.results(session, survey.id)
        labels = {o.id: o.label for _, opts in rows for o in opts}
        questions = []
        for question, _opts in rows:
            result = per_question[question.id].public(with_texts=False)
            for count in result["counts"]:
                count["label"] = labels.get(count["key"], str(count["key"]))
            questions.append(
                {"position": question.position, "kind": question.kind, "prompt": question.prompt}
                | result
            )
        out.append(
            {
                "id": survey.id,
                "process_id": survey.process_id,
                "title": survey.title,
                "closes_at": isoformat(survey.closes_at),
                "respondents": respondents,
                "questions": questions,
            }
        )
    return out


def _csv(header: list[str], rows: list[list[Any]], name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(
        [[survey_store.safe_cell(str(c)) if c is not None else "" for c in r] for r in rows]
    )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/budgets")
def list_open_budgets(session: SessionDep) -> dict[str, Any]:
    """Publish budgets, projects and (after close) vote totals as JSON."""
    return {"license": LICENSE, "budgets": budgets_data(session)}


@router.get("/budgets.csv")
def export_open_budgets(session: SessionDep) -> Response:
    """Publish one row per project: budget, cost, and (after close) votes and funded."""
    rows = []
    for budget in budgets_data(session):
        for p in budget["projects"]:
            rows.append(
                [
                    budget["id"],
                    budget["title"],
                    budget["total_krw"],
                    budget["rule"],
                    p["id"],
                    p["title"],
                    p["cost_krw"],
                    p["area_code"],
                    p.get("votes"),
                    p.get("funded"),
                ]
            )
    header = [
        "budget_id",
        "budget_title",
        "budget_total_krw",
        "rule",
        "project_id",
        "project_title",
        "cost_krw",
        "area_code",
        "votes",
        "funded",
    ]
    return _csv(header, rows, "participation-budgets.csv")


@router.get("/surveys")
def list_open_surveys(session: SessionDep) -> dict[str, Any]:
    """Publish closed surveys' aggregate results as JSON."""
    return {"license": LICENSE, "surveys": surveys_data(session)}


@router.get("/surveys.csv")
def export_open_surveys(session: SessionDep) -> Response:
    """Publish one row per option (or scale value) of each closed survey's questions."""
    rows = []
    for survey in surveys_data(session):
        for q in survey["questions"]:
            for c in q["counts"]:
                rows.append(
                    [
                        survey["id"],
                        survey["title"],
                        q["position"],
                        q["prompt"],
                        q["kind"],
                        c["label"],
                        c["count"],
                        c["percent"],
                        q["answered"],
                    ]
                )
            if q["kind"] == "text":
                rows.append(
                    [
                        survey["id"],
                        survey["title"],
                        q["position"],
                        q["prompt"],
                        q["kind"],
                        "(free-text answers)",
                        q["text_count"],
                        None,
                        q["answered"],
                    ]
                )
    header = [
        "survey_id",
        "survey_title",
        "question",
        "prompt",
        "kind",
        "option",
        "count",
        "percent",
        "answered",
    ]
    return _csv(header, rows, "participation-surveys.csv")
