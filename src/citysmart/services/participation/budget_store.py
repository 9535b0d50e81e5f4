"""Participatory budgets in the database: budgets, projects, ballots and the tally."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citysmart.core.time import isoformat, utcnow
from citysmart.services.participation import budget_rules
from citysmart.services.participation.models_budget import (
    Ballot,
    BallotLine,
    Budget,
    BudgetProject,
)


def is_open(budget: Budget, now: dt.datetime | None = None) -> bool:
    """Whether ballots may be filled in and checked out now."""
    now = now or utcnow()
    return budget.opens_at <= now < budget.closes_at


def is_closed(budget: Budget, now: dt.datetime | None = None) -> bool:
    """Whether voting is over (its results are then public)."""
    return (now or utcnow()) >= budget.closes_at


def ballot_rule(budget: Budget) -> budget_rules.BallotRule:
    """Return what the budget asks of a ballot."""
    return budget_rules.BallotRule(budget.total_krw, budget.min_share_pct, budget.max_projects)


def projects_of(session: Session, budget_id: int) -> list[BudgetProject]:
    """Return a budget's projects in the order they were entered."""
    return list(
        session.scalars(
            select(BudgetProject)
            .where(BudgetProject.budget_id == budget_id)
            .order_by(BudgetProject.id)
        )
    )


def project_public(project: BudgetProject) -> dict[str, Any]:
    """Return a project as the API shows it."""
    return {
        "id": project.id,
        "budget_id": project.budget_id,
        "title": project.title,
        "title_ko": project.title_ko,
        "description": project.description,
        "cost_krw": project.cost_krw,
        "area_code": project.area_code,
        "location": (
            {"type": "Point", "coordinates": [project.lon, project.lat]}
            if project.lat is not None and project.lon is not None
            else None
        ),
    }


def budget_public(budget: Budget, projects: list[BudgetProject]) -> dict[str, Any]:
    """Return a budget, its ballot rule and its projects as the API shows them."""
    rule = ballot_rule(budget)
    names = budget_rules.RULE_NAMES[budget.rule]
    return {
        "id": budget.id,
        "process_id": budget.process_id,
        "title": budget.title,
        "title_ko": budget.title_ko,
        "description": budget.description,
        "total_krw": budget.total_krw,
        "area_code": budget.area_code,
        "min_share_pct": budget.min_share_pct,
        "minimum_krw": rule.minimum_krw(),
        "max_projects": budget.max_projects,
        "ballot_rule": rule.describe(),
        "ballot_rule_ko": rule.describe_ko(),
        "rule": budget.rule,
        "rule_name": names[0],
        "rule_name_ko": names[1],
        "opens_at": isoformat(budget.opens_at),
        "closes_at": isoformat(budget.closes_at),
        "open": is_open(budget),
        "closed": is_closed(budget),
        "projects": [project_public(p) for p in projects],
    }


def ballot_of(session: Session, budget_id: int, user_id: int, lock: bool = False) -> Ballot | None:
    """Return a user's ballot for a budget (locked for update when asked), or None."""
    query = select(Ballot).where(Ballot.budget_id == budget_id, Ballot.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def open_ballot(session: Session, budget_id: int, user_id: int) -> Ballot:
    """Return a user's ballot, locked, creating it on first use (one per person and budget)."""
    ballot = ballot_of(session, budget_id, user_id, lock=True)
    if ballot is not None:
        return ballot
    try:
        # A savepoint: if a concurrent request created it first, the unique constraint
        # refuses this one and we read theirs.
        with session.begin_nested():
            ballot = Ballot(budget_id=budget_id, user_id=user_id, created_at=utcnow())
            session.add(ballot)
            session.flush()
    except IntegrityError:
        ballot = ballot_of(session, budget_id, user_id, lock=True)
        if ballot is None:
            raise
    return ballot


def chosen_ids(session: Session, ballot_id: int) -> list[int]:
    """Return the project ids on a ballot."""
    return list(
        session.scalars(
            select(BallotLine.project_id)
            .where(BallotLine.ballot_id == ballot_id)
            .order_by(BallotLine.project_id)
        )
    )


def set_lines(session: Session, ballot: Ballot, project_ids: list[int]) -> None:
    """Replace the projects on a (not checked-out) ballot."""
    wanted = set(project_ids)
    current = set(chosen_ids(session, ballot.id))
    for pid in current - wanted:
        session.delete(session.get_one(BallotLine, (ballot.id, pid)))
    for pid in sorted(wanted - current):
        session.add(BallotLine(ballot_id=ballot.id, project_id=pid))
    session.flush()


def check_out(session: Session, ballot: Ballot) -> bool:
    """Make a ballot final; False when it already was (the update is atomic)."""
    now = utcnow()
    done = session.execute(
        update(Ballot)
        .where(Ballot.id == ballot.id, Ballot.checked_out_at.is_(None))
        .values(checked_out_at=now)
    )
    session.refresh(ballot)
    return bool(getattr(done, "rowcount", 0))


def final_ballots(session: Session, budget_id: int) -> list[set[int]]:
    """Return each checked-out ballot's project ids."""
    lines: dict[int, set[int]] = defaultdict(set)
    ballot_ids = list(
        session.scalars(
            select(Ballot.id).where(
                Ballot.budget_id == budget_id, Ballot.checked_out_at.is_not(None)
            )
        )
    )
    if ballot_ids:
        for ballot_id, project_id in session.execute(
            select(BallotLine.ballot_id, BallotLine.project_id).where(
                BallotLine.ballot_id.in_(ballot_ids)
            )
        ):
            lines[ballot_id].add(project_id)
    return [lines[b] for b in ballot_ids]


def count_final(session: Session, budget_id: int) -> int:
    """Return how many ballots were checked out."""
    return (
        session.scalar(
            select(func.count()).where(
                Ballot.budget_id == budget_id, Ballot.checked_out_at.is_not(None)
            )
        )
        or 0
    )


def results(session: Session, budget: Budget) -> dict[str, Any]:
    """Tally the checked-out ballots by the budget's rule: votes and funded per project."""
    projects = projects_of(session, budget.id)
    ballots = final_ballots(session, budget.id)
    costs = {p.id: p.cost_krw for p in projects}
    votes, funded = budget_rules.tally(budget.rule, budget.total_krw, costs, ballots)
    order = {pid: rank for rank, pid in enumerate(funded, start=1)}
    rows = [
        {
            **project_public(p),
            "votes": votes[p.id],
            "funded": p.id in order,
            "funded_rank": order.get(p.id),
        }
        for p in projects
    ]
    rows.sort(key=lambda r: (-r["votes"], r["cost_krw"], r["id"]))
    names = budget_rules.RULE_NAMES[budget.rule]
    return {
        "budget_id": budget.id,
        "title": budget.title,
        "title_ko": budget.title_ko,
        "total_krw": budget.total_krw,
        "rule": budget.rule,
        "rule_name": names[0],
        "rule_name_ko": names[1],
        "ballots": len(ballots),
        "funded_krw": sum(costs[pid] for pid in funded),
        "closed": is_closed(budget),
        "projects": rows,
    }
