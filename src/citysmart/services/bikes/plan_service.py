"""Making a plan from the live city: stations' status, stored forecasts, trucks and shifts.

Stations whose status is stale are left out (nobody knows what they hold). Each truck's
shift (Asia/Seoul wall clock) gives when it can start and must be back; a truck whose
shift does not overlap the horizon is not planned. When replanning, a truck that has
reported jobs of the active plan done starts where its last job was, with the bikes
those jobs left on board; otherwise it starts at its depot with whatever load it needs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from citysmart.core.service import Job
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes import plan_store, store
from citysmart.services.bikes.forecast_job import (
    SOURCE,
    floor_hour,
    forecast_now,
    store_forecasts,
    stored_forecasts,
)
from citysmart.services.bikes.gbfs import DEFAULT_STALE_AFTER
from citysmart.services.bikes.models import Truck
from citysmart.services.bikes.models_plan import Plan
from citysmart.services.bikes.rebalancing.planning import (
    PlanStation,
    PlanTruck,
    RouteSolver,
    make_plan,
)
from citysmart.services.bikes.rebalancing.route_solver import solve_routing_input
from citysmart.services.bikes.stations import read_stations

SEOUL = ZoneInfo("Asia/Seoul")
HOUR = dt.timedelta(hours=1)
MAX_HORIZON_H = 24
# Every hour while a truck is on shift: a plan for the next four hours, twenty seconds of search.
REPLAN_EVERY_S = 3600.0
REPLAN_HORIZON_H = 4
REPLAN_LIMIT_S = 20.0
logger = logging.getLogger(__name__)


class PlanUnavailable(ValueError):
    """No plan can be made now, with the reason (no stations, no truck on shift, ...)."""


@dataclass(frozen=True, slots=True)
class LivePlan:
    """A stored plan and what was left out making it."""

    plan: Plan
    stale_stations: int
    trucks: int


def shift_window(truck: Truck, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Return the truck's current shift, or its next one, as aware instants."""
    local = now.astimezone(SEOUL)
    for day in (-1, 0, 1):
        date = local.date() + dt.timedelta(days=day)
        start = dt.datetime.combine(date, truck.shift_start, SEOUL)
        end = dt.datetime.combine(date, truck.shift_end, SEOUL)
        if end <= start:  # a night shift ends the next day
            end += dt.timedelta(days=1)
        if end > now:
            return start, end
    raise AssertionError("a shift repeats daily, so one ends after now")  # pragma: no cover


def _truck_positions(
    session: Session, stations: dict[str, PlanStation]
) -> dict[str, tuple[tuple[float, float], int]]:
    """Where each truck with reported jobs in the active plan is, and what it carries."""
    active = plan_store.active_plan(session)
    if active is None:
        return {}
    positions = {}
    for route, jobs in active.routes:
        done = [j for j in jobs if j.done_at is not None]
        if not done:
            continue
        last = max(done, key=lambda j: j.done_at or j.eta)
        station = stations.get(last.station_code)
        if station is None:
            continue
        load = route.start_load + sum(j.done_bikes or 0 for j in done)
        positions[route.truck_id] = ((station.lon, station.lat), load)
    return positions


def make_live_plan(
    session: Session,
    now: dt.datetime,
    *,
    horizon_h: int = 6,
    time_limit_s: float = 10.0,
    trigger: str = "manual",
    route_solver: RouteSolver = solve_routing_input,
) -> LivePlan:
    """Plan the trucks for the next ``horizon_h`` hours from the live state; store the plan."""
    if not 1 <= horizon_h <= MAX_HORIZON_H:
        raise PlanUnavailable(f"the horizon must be 1 to {MAX_HORIZON_H} hours, not {horizon_h}")
    start = floor_hour(now)
    forecasts = stored_forecasts(session, start, horizon_h)
    if not forecasts:
        store_forecasts(session, forecast_now(session, now), now)
        forecasts = stored_forecasts(session, start, horizon_h)
    # The hour under way counts for what is left of it.
    left = 1.0 - (now - start) / HOUR
    stations: dict[str, PlanStation] = {}
    stale = 0
    for state in read_stations(session):
        usable = (
            state.bikes is not None and state.capacity and state.lon is not None
            and state.lat is not None and state.last_reported is not None
            and now - state.last_reported <= DEFAULT_STALE_AFTER
        )  # fmt: skip
        if not usable:
            stale += 1
            continue
        pickups, returns = forecasts.get(state.code, ([0.0] * horizon_h, [0.0] * horizon_h))
        stations[state.code] = PlanStation(
            state.code, float(state.lon or 0.0), float(state.lat or 0.0), int(state.capacity or 0),
            min(int(state.bikes or 0), int(state.capacity or 0)),
            (pickups[0] * left, *pickups[1:]), (returns[0] * left, *returns[1:]),
        )  # fmt: skip
    if not stations:
        raise PlanUnavailable("no station has reported its status in the last 15 minutes")
    positions = _truck_positions(session, stations)
    horizon_end = start + horizon_h * HOUR
    trucks = []
    for truck in store.list_trucks(session):
        shift_start, shift_end = shift_window(truck, now)
        if shift_start >= horizon_end:
            continue
        where, load = positions.get(truck.id, (None, None))
        trucks.append(
            PlanTruck(
                truck.id, truck.capacity, (truck.depot_lon, truck.depot_lat),
                available_s=max((shift_start - now).total_seconds(), 0.0),
                shift_end_s=(min(shift_end, horizon_end) - now).total_seconds(),
                position=where, load=load,
            )
        )  # fmt: skip
    if not trucks:
        raise PlanUnavailable("no truck is on shift during the next hours")
    ordered = list(stations.values())
    plan = make_plan(ordered, trucks, route_solver, time_limit_s=time_limit_s)
    stored = plan_store.save_plan(session, plan, now, horizon_end, trigger, SOURCE)
    return LivePlan(stored, stale, len(trucks))


def replan(
    runtime: HubRuntime, now: dt.datetime | None = None, time_limit_s: float = REPLAN_LIMIT_S
) -> LivePlan | None:
    """Make the hour's plan when a truck is on shift: the day's first is the morning plan."""
    now = now or utcnow()
    with runtime.sessions.begin() as session:
        on_shift = [t for t in store.list_trucks(session) if shift_window(t, now)[0] <= now]
        if not on_shift:
            return None
        today = dt.datetime.combine(now.astimezone(SEOUL).date(), dt.time(), SEOUL)
        latest = plan_store.active_plan(session)
        trigger = "replan" if latest and latest.plan.created_at >= today else "morning"
        try:
            made = make_live_plan(
                session, now, horizon_h=REPLAN_HORIZON_H, time_limit_s=time_limit_s,
                trigger=trigger,
            )  # fmt: skip
        except PlanUnavailable as exc:
            logger.info("bikes: no plan this hour: %s", exc)
            return None
    logger.info(
        "bikes: %s plan %d: %d bikes planned of %d wanted, %d trucks",
        trigger, made.plan.id, made.plan.bikes_planned, made.plan.bikes_wanted, made.trucks,
    )  # fmt: skip
    return made


def replan_job(context: Any) -> None:
    """Replan from the live state (the runner passes the hub's runtime)."""
    replan(context)


PLAN_JOBS = (Job("bikes.replan", replan_job, REPLAN_EVERY_S),)
