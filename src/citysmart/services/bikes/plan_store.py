"""Storing rebalancing plans and the drivers' reports of jobs done.

One plan is active at a time: saving a new one supersedes it (its jobs done stay on
record; the others are dropped with it). A driver reports a job of the active plan done
with the bikes really moved, which may be fewer than planned (the station or the truck had
fewer) but never more, nor the other way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citysmart.services.bikes.models_plan import Plan, PlanJob, PlanRoute
from citysmart.services.bikes.rebalancing.planning import RebalancingPlan


class PlanError(ValueError):
    """A plan write refused, with a message saying why."""


class JobNotFound(PlanError):
    """No job with that id in the active plan."""


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """A plan with its routes and each route's jobs in order."""

    plan: Plan
    routes: list[tuple[PlanRoute, list[PlanJob]]]


def save_plan(
    session: Session,
    plan: RebalancingPlan,
    start: dt.datetime,
    horizon_end: dt.datetime,
    trigger: str,
    demand_source: str,
) -> Plan:
    """Store a plan as the active one (the previous active plan is superseded)."""
    if trigger not in {"morning", "replan", "manual"}:
        raise PlanError(f"unknown plan trigger {trigger!r}")
    if start.tzinfo is None or horizon_end <= start:
        raise PlanError("a plan's horizon needs an aware start before its end")
    session.execute(update(Plan).where(Plan.status == "active").values(status="superseded"))
    row = Plan(
        horizon_start=start,
        horizon_end=horizon_end,
        status="active",
        trigger=trigger,
        demand_source=demand_source,
        stations=sum(1 for t in plan.targets if t.signed_demand != 0),
        bikes_wanted=plan.bikes_wanted,
        bikes_planned=plan.bikes_planned,
        lost_expected_before=plan.lost_expected_before,
        lost_expected_after=plan.lost_expected_after,
    )
    session.add(row)
    session.flush()
    for route in plan.routes:
        stored = PlanRoute(
            plan_id=row.id,
            truck_id=route.truck_id,
            start_load=route.start_load,
            distance_m=route.distance_m,
            duration_s=route.duration_s,
        )
        session.add(stored)
        session.flush()
        for seq, job in enumerate(route.jobs):
            session.add(
                PlanJob(
                    plan_id=row.id,
                    route_id=stored.id,
                    seq=seq,
                    station_code=job.station_code,
                    bikes=job.bikes,
                    eta=start + dt.timedelta(seconds=job.eta_s),
                )
            )
    session.flush()
    return row


def active_plan(session: Session) -> StoredPlan | None:
    """Return the active plan with its routes and jobs, or None."""
    plan = session.scalars(
        select(Plan).where(Plan.status == "active").order_by(Plan.id.desc()).limit(1)
    ).first()
    if plan is None:
        return None
    routes = session.scalars(
        select(PlanRoute).where(PlanRoute.plan_id == plan.id).order_by(PlanRoute.truck_id)
    ).all()
    jobs = session.scalars(
        select(PlanJob).where(PlanJob.plan_id == plan.id).order_by(PlanJob.route_id, PlanJob.seq)
    ).all()
    by_route: dict[int, list[PlanJob]] = {}
    for job in jobs:
        by_route.setdefault(job.route_id, []).append(job)
    return StoredPlan(plan, [(r, by_route.get(r.id, [])) for r in routes])


def mark_job_done(session: Session, job_id: int, bikes: int, by: str, at: dt.datetime) -> PlanJob:
    """Record that a job of the active plan was done, moving ``bikes`` (signed as planned)."""
    job = session.get(PlanJob, job_id)
    plan = session.get(Plan, job.plan_id) if job is not None else None
    if job is None or plan is None or plan.status != "active":
        raise JobNotFound(f"job {job_id} is not in the active plan")
    if job.done_at is not None:
        raise PlanError(f"job {job_id} was already reported done at {job.done_at.isoformat()}")
    if isinstance(bikes, bool) or not isinstance(bikes, int):
        raise PlanError("bikes must be a whole number")
    if bikes * job.bikes < 0 or abs(bikes) > abs(job.bikes):
        verb = "take" if job.bikes > 0 else "bring"
        raise PlanError(
            f"job {job_id} is to {verb} {abs(job.bikes)} bikes: report {0}..{job.bikes} "
            f"(signed as planned), not {bikes}"
        )
    job.done_at = at
    job.done_bikes = bikes
    job.done_by = by
    session.flush()
    return job
