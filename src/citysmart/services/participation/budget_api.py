"""Participatory budgets API (and the surveys and open-data routers it mounts).

- ``POST /api/v1/participation/budgets`` (operator): a budget in a process, with its ballot
  rule (total, optional minimum share, optional maximum of projects) and tally rule.
- ``POST /api/v1/participation/budgets/{id}/projects`` (operator): a project and its cost.
- ``POST /api/v1/participation/budgets/{id}/close`` (operator): end voting now.
- ``GET /api/v1/participation/budgets[/{id}]``: budgets, their rules and projects.
- ``GET|PUT /api/v1/participation/budgets/{id}/ballot`` (verified residents): one's ballot;
  PUT ``{"project_ids": [...]}`` replaces the choice while it is not checked out.
- ``POST /api/v1/participation/budgets/{id}/ballot/checkout``: make the ballot final.
- ``GET /api/v1/participation/budgets/{id}/results``: votes, funded or not, and the rule;
  public once voting has closed, for operators at any time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from citysmart.core.audit import record
from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.service import Job, Page
from citysmart.core.time import utcnow
from citysmart.services.participation import (
    budget_entities,
    budget_opendata,
    budget_rules,
    budget_store,
    survey_api,
)
from citysmart.services.participation.budget_access import OperatorDep, is_operator
from citysmart.services.participation.guard import VerifiedDep
from citysmart.services.participation.models_budget import Budget, BudgetProject
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.survey_api import Instant
from citysmart.services.participation.survey_rules import clean_text

router = APIRouter()
budgets = APIRouter(prefix="/api/v1/participation/budgets", tags=["participation"])
PAGES: tuple[Page, ...] = ()
JOBS: tuple[Job, ...] = budget_entities.JOBS
MAX_KRW = 10**13  # ten trillion won: more than Sejong's whole yearly budget


class BudgetCreate(BaseModel):
    """A new budget in a process."""

    process_id: int
    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_ko: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] = ""
    total_krw: Annotated[int, Field(gt=0, le=MAX_KRW)]
    area_code: Annotated[str, Field(max_length=16)] | None = None
    min_share_pct: Annotated[int, Field(ge=1, le=100)] | None = None
    max_projects: Annotated[int, Field(ge=1, le=1000)] | None = None
    rule: Literal["greedy", "equal_shares"] = "greedy"
    opens_at: Instant | None = None  # None: now
    closes_at: Instant


class ProjectCreate(BaseModel):
    """A new project of a budget."""

    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_ko: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] = ""
    cost_krw: Annotated[int, Field(gt=0, le=MAX_KRW)]
    area_code: Annotated[str, Field(max_length=16)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None

    @model_validator(mode="after")
    def _point_is_whole(self) -> ProjectCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon for a project's point, or neither")
        return self


class BallotIn(BaseModel):
    """The projects a ballot picks."""

    project_ids: Annotated[list[int], Field(max_length=1000)]


def get_budget(session: SessionDep, budget_id: int) -> Budget:
    """Return a budget or answer 404."""
    budget = session.get(Budget, budget_id)
    if budget is None:
        raise Problem(404, "Not found", f"no budget {budget_id}")
    return budget


def _optional(text: str | None, limit: int) -> str | None:
    return clean_text(text, limit) or None if text else None


def ballot_public(session: SessionDep, budget: Budget, user_id: int) -> dict[str, Any]:
    """Return a user's ballot: chosen projects, what they cost, and whether it is final."""
    ballot = budget_store.ballot_of(session, budget.id, user_id)
    chosen = budget_store.chosen_ids(session, ballot.id) if ballot else []
    costs = {p.id: p.cost_krw for p in budget_store.projects_of(session, budget.id)}
    spent = sum(costs[pid] for pid in chosen)
    rule = budget_store.ballot_rule(budget)
    return {
        "budget_id": budget.id,
        "project_ids": chosen,
        "spent_krw": spent,
        "remaining_krw": budget.total_krw - spent,
        "minimum_krw": rule.minimum_krw(),
        "checked_out": bool(ballot and ballot.checked_out_at),
        "problem": budget_rules.checkout_problem(rule, [costs[p] for p in chosen]),
    }


def change_ballot(
    session: SessionDep, budget: Budget, principal: Principal, project_ids: list[int]
) -> None:
    """Replace a ballot's projects, refusing what breaks the rule (shared with the pages)."""
    if not budget_store.is_open(budget):
        raise Problem(409, "Voting not open", "this budget does not take ballots now")
    costs = {p.id: p.cost_krw for p in budget_store.projects_of(session, budget.id)}
    unknown = [pid for pid in project_ids if pid not in costs]
    if unknown:
        raise Problem(422, "Unknown project", f"project {unknown[0]} is not in this budget")
    chosen = sorted(set(project_ids))
    problem = budget_rules.draft_problem(
        budget_store.ballot_rule(budget), [costs[p] for p in chosen]
    )
    if problem is not None:
        raise Problem(422, "Ballot refused", problem)
    ballot = budget_store.open_ballot(session, budget.id, principal.user_id)
    if ballot.checked_out_at is not None:
        raise Problem(409, "Ballot final", "this ballot was checked out and can no longer change")
    budget_store.set_lines(session, ballot, chosen)


def check_out(session: SessionDep, budget: Budget, principal: Principal) -> None:
    """Make a ballot final if it meets the rule (shared with the pages)."""
    if not budget_store.is_open(budget):
        raise Problem(409, "Voting not open", "this budget does not take ballots now")
    ballot = budget_store.open_ballot(session, budget.id, principal.user_id)
    if ballot.checked_out_at is not None:
        raise Problem(409, "Ballot final", "this ballot was already checked out")
    costs = {p.id: p.cost_krw for p in budget_store.projects_of(session, budget.id)}
    chosen = budget_store.chosen_ids(session, ballot.id)
    problem = budget_rules.checkout_problem(
        budget_store.ballot_rule(budget), [costs[p] for p in chosen]
    )
    if problem is not None:
        raise Problem(422, "Ballot refused", problem)
    if not budget_store.check_out(session, ballot):
        raise Problem(409, "Ballot final", "this ballot was already checked out")
    record(session, principal.username, "participation.ballot.checkout", f"budget:{budget.id}")


def may_see_results(budget: Budget, principal: Principal | None) -> bool:
    """Whether results are shown: to everyone after close, to operators at any time."""
    return budget_store.is_closed(budget) or is_operator(principal)


def create(session: SessionDep, budget_in: BudgetCreate, principal: Principal) -> Budget:
    """Check and store a new budget (shared by the API and the operator's form)."""
    if session.get(Process, budget_in.process_id) is None:
        raise Problem(422, "Unknown process", f"no process {budget_in.process_id}")
    opens_at = budget_in.opens_at or utcnow()
    if budget_in.closes_at <= opens_at:
        raise Problem(422, "Invalid dates", "closes_at must be after opens_at")
    budget = Budget(
        process_id=budget_in.process_id,
        title=clean_text(budget_in.title, 200),
        title_ko=_optional(budget_in.title_ko, 200),
        description=clean_text(budget_in.description, 5000),
        total_krw=budget_in.total_krw,
        area_code=budget_in.area_code,
        min_share_pct=budget_in.min_share_pct,
        max_projects=budget_in.max_projects,
        rule=budget_in.rule,
        opens_at=opens_at,
        closes_at=budget_in.closes_at,
        created_by=principal.user_id,
        created_at=utcnow(),
    )
    session.add(budget)
    session.flush()
    record(session, principal.username, "participation.budget.create", f"budget:{budget.id}")
    budget_entities.publish_budget(session, budget)
    return budget


@budgets.post("", status_code=201)
def create_budget(
    budget_in: BudgetCreate, session: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Create a budget in a process (operators)."""
    return budget_store.budget_public(create(session, budget_in, principal), [])


@budgets.get("")
def list_budgets(session: SessionDep, process_id: int | None = None) -> list[dict[str, Any]]:
    """List budgets (newest first) with their projects, optionally those of one process."""
    query = select(Budget).order_by(Budget.id.desc())
    if process_id is not None:
        query = query.where(Budget.process_id == process_id)
    return [
        budget_store.budget_public(b, budget_store.projects_of(session, b.id))
        for b in session.scalars(query)
    ]


@budgets.get("/{budget_id}")
def read_budget(budget_id: int, session: SessionDep) -> dict[str, Any]:
    """Return a budget, its rule and its projects."""
    budget = get_budget(session, budget_id)
    return budget_store.budget_public(budget, budget_store.projects_of(session, budget.id))


def add_project(
    session: SessionDep, budget: Budget, project_in: ProjectCreate, principal: Principal
) -> BudgetProject:
    """Check and store a new project (shared by the API and the operator's form)."""
    if budget_store.count_final(session, budget.id):
        raise Problem(409, "Voting under way", "ballots were checked out; projects are fixed")
    if project_in.cost_krw > budget.total_krw:
        raise Problem(
            422,
            "Project over budget",
            f"the project costs {project_in.cost_krw:,} KRW, more than the whole budget",
        )
    project = BudgetProject(
        budget_id=budget.id,
        title=clean_text(project_in.title, 200),
        title_ko=_optional(project_in.title_ko, 200),
        description=clean_text(project_in.description, 5000),
        cost_krw=project_in.cost_krw,
        area_code=project_in.area_code,
        lat=project_in.lat,
        lon=project_in.lon,
        created_at=utcnow(),
    )
    session.add(project)
    session.flush()
    record(
        session,
        principal.username,
        "participation.budget.project",
        f"budget:{budget.id}",
        project_id=project.id,
    )
    budget_entities.publish_budget(session, budget)
    return project


@budgets.post("/{budget_id}/projects", status_code=201)
def create_project(
    budget_id: int, project_in: ProjectCreate, session: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Add a project to a budget (operators; before any ballot is final)."""
    budget = get_budget(session, budget_id)
    return budget_store.project_public(add_project(session, budget, project_in, principal))


@budgets.post("/{budget_id}/close")
def close_budget(budget_id: int, session: SessionDep, principal: OperatorDep) -> dict[str, Any]:
    """End voting now (operators); the results become public."""
    budget = get_budget(session, budget_id)
    now = utcnow()
    if budget.closes_at > now:
        budget.closes_at = max(now, budget.opens_at)
    record(session, principal.username, "participation.budget.close", f"budget:{budget.id}")
    budget_entities.publish_budget(session, budget)
    return budget_store.budget_public(budget, budget_store.projects_of(session, budget.id))


@budgets.get("/{budget_id}/ballot")
def read_ballot(budget_id: int, session: SessionDep, principal: VerifiedDep) -> dict[str, Any]:
    """Return one's ballot for a budget."""
    return ballot_public(session, get_budget(session, budget_id), principal.user_id)


@budgets.put("/{budget_id}/ballot")
def update_ballot(
    budget_id: int, ballot_in: BallotIn, session: SessionDep, principal: VerifiedDep
) -> dict[str, Any]:
    """Replace the projects on one's ballot (until it is checked out)."""
    budget = get_budget(session, budget_id)
    change_ballot(session, budget, principal, ballot_in.project_ids)
    return ballot_public(session, budget, principal.user_id)


@budgets.post("/{budget_id}/ballot/checkout")
def checkout_ballot(budget_id: int, session: SessionDep, principal: VerifiedDep) -> dict[str, Any]:
    """Make one's ballot final."""
    budget = get_budget(session, budget_id)
    check_out(session, budget, principal)
    return ballot_public(session, budget, principal.user_id)


@budgets.get("/{budget_id}/results")
def read_results(
    budget_id: int, session: SessionDep, principal: OptionalPrincipal
) -> dict[str, Any]:
    """Return votes and funded projects by the budget's rule (public after close)."""
    budget = get_budget(session, budget_id)
    if not may_see_results(budget, principal):
        raise Problem(403, "Results not yet public", "results are published when voting closes")
    return budget_store.results(session, budget)


for _part in (budgets, survey_api.router, budget_opendata.router):
    router.include_router(_part)
