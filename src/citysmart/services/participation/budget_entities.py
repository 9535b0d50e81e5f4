"""Open data through the hub: budgets, their projects and closed surveys as NGSI-LD entities.

Three entity types, holding only what anyone may read (never a voter or a respondent):

- ``ParticipatoryBudget`` (``urn:ngsi-ld:ParticipatoryBudget:sejong-budget-<id>``):
  ``name``, ``totalAmount`` and ``priceCurrency`` (KRW), ``areaServed`` (a dong's code),
  ``ballotRule`` (the sentence shown to voters), ``minimumSharePercent``,
  ``maximumProjects``, ``selectionRule`` (greedy or equal_shares), ``status`` (planned,
  open, closed), ``dateStart``, ``dateEnd``, ``refProcess``; after close also ``ballots``
  and ``fundedAmount``.
- ``BudgetProject`` (``urn:ngsi-ld:BudgetProject:sejong-budget-project-<id>``): ``name``,
  ``description``, ``cost``, ``priceCurrency``, ``areaServed``, ``refBudget``, a
  ``location`` when the project has a point; after close also ``votes`` and ``funded``.
- ``SurveyResult`` (``urn:ngsi-ld:SurveyResult:sejong-survey-<id>``), for closed surveys
  only: ``name``, ``respondents``, ``dateEnd``, ``refProcess`` and ``questions`` (each
  question's counts and percentages; free texts only counted).

The budget API publishes on each change; :data:`JOBS` republishes every ten minutes, so a
budget or survey that closed by the clock gets its tallies.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.core.service import Job
from citysmart.core.time import isoformat, utcnow
from citysmart.hub.registry import upsert_entity
from citysmart.services.participation import budget_store
from citysmart.services.participation.budget_opendata import surveys_data
from citysmart.services.participation.models_budget import Budget

logger = logging.getLogger(__name__)

BUDGET_TYPE: Final = "ParticipatoryBudget"
PROJECT_TYPE: Final = "BudgetProject"
SURVEY_TYPE: Final = "SurveyResult"
ENTITY_TYPES: Final = (BUDGET_TYPE, PROJECT_TYPE, SURVEY_TYPE)
DATA_PROVIDER: Final = "citysmart participation service (participatory budgets and surveys)"
EVERY_S: Final = 600.0


def budget_entity_id(budget_id: int) -> str:
    """Return the NGSI-LD id of a budget's entity."""
    return f"urn:ngsi-ld:{BUDGET_TYPE}:sejong-budget-{budget_id}"


def project_entity_id(project_id: int) -> str:
    """Return the NGSI-LD id of a project's entity."""
    return f"urn:ngsi-ld:{PROJECT_TYPE}:sejong-budget-project-{project_id}"


def survey_entity_id(survey_id: int) -> str:
    """Return the NGSI-LD id of a closed survey's results entity."""
    return f"urn:ngsi-ld:{SURVEY_TYPE}:sejong-survey-{survey_id}"


def _status(budget: Budget) -> str:
    if budget_store.is_closed(budget):
        return "closed"
    return "open" if budget_store.is_open(budget) else "planned"


def publish_budget(session: Session, budget: Budget) -> int:
    """Write a budget's entity and its projects' entities; return how many were written."""
    projects = budget_store.projects_of(session, budget.id)
    rule = budget_store.ballot_rule(budget)
    props: dict[str, Any] = {
        "name": budget.title,
        "totalAmount": budget.total_krw,
        "priceCurrency": "KRW",
        "areaServed": budget.area_code,
        "ballotRule": rule.describe(),
        "minimumSharePercent": budget.min_share_pct,
        "maximumProjects": budget.max_projects,
        "selectionRule": budget.rule,
        "status": _status(budget),
        "dateStart": isoformat(budget.opens_at),
        "dateEnd": isoformat(budget.closes_at),
        "refProcess": budget.process_id,
        "dataProvider": DATA_PROVIDER,
    }
    tallied: dict[int, dict[str, Any]] = {}
    if budget_store.is_closed(budget):
        results = budget_store.results(session, budget)
        props["ballots"] = results["ballots"]
        props["fundedAmount"] = results["funded_krw"]
        tallied = {p["id"]: p for p in results["projects"]}
    upsert_entity(session, budget_entity_id(budget.id), BUDGET_TYPE, budget.title, props)
    for project in projects:
        project_props: dict[str, Any] = {
            "name": project.title,
            "description": project.description,
            "cost": project.cost_krw,
            "priceCurrency": "KRW",
            "areaServed": project.area_code,
            "refBudget": budget_entity_id(budget.id),
            "dataProvider": DATA_PROVIDER,
        }
        if project.id in tallied:
            project_props["votes"] = tallied[project.id]["votes"]
            project_props["funded"] = tallied[project.id]["funded"]
        location = None
        if project.lat is not None and project.lon is not None:
            location = {"type": "Point", "coordinates": [project.lon, project.lat]}
        upsert_entity(
            session,
            project_entity_id(project.id),
            PROJECT_TYPE,
            project.title,
            project_props,
            location=location,
        )
    return 1 + len(projects)


def publish_surveys(session: Session) -> int:
    """Write the results entity of every closed survey; return how many were written."""
    written = 0
    for survey in surveys_data(session):
        upsert_entity(
            session,
            survey_entity_id(survey["id"]),
            SURVEY_TYPE,
            survey["title"],
            {
                "name": survey["title"],
                "respondents": survey["respondents"],
                "dateEnd": survey["closes_at"],
                "refProcess": survey["process_id"],
                "questions": survey["questions"],
                "dataProvider": DATA_PROVIDER,
            },
        )
        written += 1
    return written


def publish_all(session: Session) -> int:
    """Write every budget, project and closed survey entity; return how many were written."""
    written = sum(publish_budget(session, budget) for budget in session.scalars(select(Budget)))
    return written + publish_surveys(session)


def publish_job(context: Any) -> None:
    """Republish the open data (the runner passes the hub's runtime)."""
    started = utcnow()
    with context.sessions.begin() as session:
        written = publish_all(session)
    logger.info(
        "participation: %d budget and survey entities published in %s", written, utcnow() - started
    )


JOBS: tuple[Job, ...] = (Job("participation.budget_opendata", publish_job, EVERY_S),)
