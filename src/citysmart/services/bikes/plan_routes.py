"""The rebalancing plan's API: the active plan for operators and drivers, jobs reported done.

``GET /api/v1/bikes/plans/active`` gives each truck's route with its ordered jobs (station,
where it is, take or bring how many, arrival, done or not); ``?truck=`` keeps one truck's
route, as a driver's phone asks. ``POST .../jobs/{id}/done`` records what a driver really
moved. ``POST /api/v1/bikes/plans`` makes a plan now from the live state (operators;
``plan_service``), answering when it is stored (the solver's time limit, 10 s by default).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from citysmart.core import audit, roles
from citysmart.core.auth import CurrentPrincipal, OperatorDep, Principal, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.time import isoformat, utcnow
from citysmart.services.bikes import plan_store
from citysmart.services.bikes.models import Truck
from citysmart.services.bikes.models_plan import PlanJob
from citysmart.services.bikes.plan_service import PlanUnavailable, make_live_plan
from citysmart.services.bikes.stations import read_stations

router = APIRouter(prefix="/api/v1/bikes/plans", tags=["bikes"])
DRIVER: Final = "bike_driver"


def require_driver(principal: CurrentPrincipal) -> Principal:
    """Admit truck drivers and operators (who may act for a driver)."""
    if roles.grants(principal.role, DRIVER) or roles.grants(principal.role, roles.OPERATOR):
        return principal
    raise Problem(
        403, "Forbidden", f"this needs the {DRIVER} or operator role; "
        f"{principal.username} is {principal.role}",
    )  # fmt: skip


DriverDep = Annotated[Principal, Depends(require_driver)]


class JobDone(BaseModel):
    """What a driver reports: the bikes really moved, signed as planned (take > 0)."""

    model_config = ConfigDict(extra="forbid")
    bikes: int


Names = dict[str, tuple[str, float | None, float | None]]


def job_public(job: PlanJob, names: Names) -> dict[str, Any]:
    """Show a job as the API does."""
    name, lon, lat = names.get(job.station_code, (job.station_code, None, None))
    return {
        "id": job.id,
        "seq": job.seq,
        "station": job.station_code,
        "station_name": name,
        "lon": lon,
        "lat": lat,
        "action": "take" if job.bikes > 0 else "bring",
        "bikes": abs(job.bikes),
        "eta": isoformat(job.eta),
        "done": job.done_at is not None,
        "done_at": isoformat(job.done_at) if job.done_at else None,
        "done_bikes": abs(job.done_bikes) if job.done_bikes is not None else None,
        "done_by": job.done_by,
    }


def plan_public(
    session: SessionDep, stored: plan_store.StoredPlan, truck: str | None
) -> dict[str, Any]:
    """Show a stored plan as the API does."""
    names = {s.code: (s.name_ko, s.lon, s.lat) for s in read_stations(session)}
    trucks = {t.id: t for t in session.scalars(select(Truck))}
    plan = stored.plan
    routes = []
    for route, jobs in stored.routes:
        if truck is not None and route.truck_id != truck:
            continue
        known = trucks.get(route.truck_id)
        routes.append(
            {
                "truck": route.truck_id,
                "truck_name": known.name if known else route.truck_id,
                "depot": {"lon": known.depot_lon, "lat": known.depot_lat} if known else None,
                "start_load": route.start_load,
                "distance_m": round(route.distance_m),
                "duration_s": round(route.duration_s),
                "jobs": [job_public(j, names) for j in jobs],
                "jobs_done": sum(j.done_at is not None for j in jobs),
            }
        )
    if truck is not None and not routes:
        raise Problem(404, "Not Found", f"truck {truck!r} has no route in the active plan")
    return {
        "id": plan.id,
        "created_at": isoformat(plan.created_at),
        "horizon_start": isoformat(plan.horizon_start),
        "horizon_end": isoformat(plan.horizon_end),
        "trigger": plan.trigger,
        "demand_source": plan.demand_source,
        "stations_needing_trucks": plan.stations,
        "bikes_wanted": plan.bikes_wanted,
        "bikes_planned": plan.bikes_planned,
        "lost_expected_before": round(plan.lost_expected_before, 1),
        "lost_expected_after": round(plan.lost_expected_after, 1),
        "routes": routes,
    }


@router.get("/active", summary="The active rebalancing plan (drivers and operators)")
def read_active_plan(
    session: SessionDep,
    principal: DriverDep,
    truck: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Return the active plan, or one truck's route of it."""
    stored = plan_store.active_plan(session)
    if stored is None:
        raise Problem(404, "Not Found", "there is no active plan yet")
    return plan_public(session, stored, truck)


@router.post("/jobs/{job_id}/done", summary="Report a job done (drivers and operators)")
def mark_job_done(
    job_id: int, job_in: JobDone, session: SessionDep, principal: DriverDep
) -> dict[str, Any]:
    """Record the bikes a driver really moved at a job's station."""
    current = session.get(PlanJob, job_id)
    sign = 1 if current is None or current.bikes > 0 else -1
    try:
        job = plan_store.mark_job_done(
            session, job_id, sign * job_in.bikes, principal.username, utcnow()
        )
    except plan_store.JobNotFound as exc:
        raise Problem(404, "Not Found", str(exc)) from exc
    except plan_store.PlanError as exc:
        status = 409 if "already" in str(exc) else 400
        raise Problem(status, "Conflict" if status == 409 else "Bad Request", str(exc)) from exc
    audit.record(
        session, principal.username, "bikes.plan.job_done", f"plan_job:{job.id}",
        bikes=job.done_bikes, station=job.station_code,
    )  # fmt: skip
    names = {s.code: (s.name_ko, s.lon, s.lat) for s in read_stations(session)}
    return job_public(job, names)


class PlanCreate(BaseModel):
    """What an operator asks for: how many hours ahead, how long the solver may search."""

    model_config = ConfigDict(extra="forbid")
    horizon_hours: int = Field(6, ge=1, le=24)
    time_limit_s: float = Field(10.0, ge=1.0, le=60.0)


@router.post("", status_code=201, summary="Make a plan now from the live state (operators)")
def create_plan(plan_in: PlanCreate, session: SessionDep, operator: OperatorDep) -> dict[str, Any]:
    """Plan the trucks from the stations' live status and the stored forecasts."""
    try:
        made = make_live_plan(
            session, utcnow(), horizon_h=plan_in.horizon_hours,
            time_limit_s=plan_in.time_limit_s, trigger="manual",
        )  # fmt: skip
    except PlanUnavailable as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
    audit.record(
        session, operator.username, "bikes.plan.created", f"plan:{made.plan.id}",
        bikes=made.plan.bikes_planned, stale_stations=made.stale_stations,
    )  # fmt: skip
    stored = plan_store.active_plan(session)
    assert stored is not None  # just saved
    return plan_public(session, stored, None) | {"stale_stations_left_out": made.stale_stations}
