"""The daily tuned-kriging plan: chosen from the stored hourly means of the days before.

``air.kriging_plan`` (checked hourly) chooses, once per UTC day, a plan per pollutant
(``kriging_plan``: geometry and nuggets by the sensors' own leave-one-out error) from
the last :data:`PLAN_DAYS` days of stored hourly values, as the evaluation does. With
fewer than :data:`MIN_PLAN_HOURS` usable hours the day is stored without a plan and the
map keeps the per-hour IDW-or-kriging choice. The choice takes seconds to tens of
seconds for 100 sensors, so it runs here and not in the hourly job, which only reads it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from citysmart.core.service import Job
from citysmart.core.time import utcnow
from citysmart.services.air import plan_store, store
from citysmart.services.air.anisotropy import KrigingPlan
from citysmart.services.air.areas import city_grid
from citysmart.services.air.evaluation import MIN_PLAN_HOURS
from citysmart.services.air.grid import Grid
from citysmart.services.air.kriging_plan import (
    MIN_SENSORS,
    AnyFloatArray,
    candidate_losses,
    network_scale,
    plan_from_losses,
)
from citysmart.services.air.types import Pollutant

if TYPE_CHECKING:
    from citysmart.services.air.jobs import JobContext

logger = logging.getLogger(__name__)

PLAN_DAYS = 60
PLAN_EVERY_S = 3600.0


def daily_plan(xy: AnyFloatArray, history: AnyFloatArray) -> tuple[KrigingPlan | None, int]:
    """Choose a plan from (hours, sensors) past values; None under MIN_PLAN_HOURS hours counted.

    Returns the plan and the number of hours that counted.
    """
    points = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(points) < MIN_SENSORS:
        return None, 0
    scale = network_scale(points)
    total, used = candidate_losses(points, history, scale)
    if used < MIN_PLAN_HOURS:
        return None, used
    return plan_from_losses(total, scale), used


@dataclass
class PlanReport:
    """What one run of the plan job did: the day and each pollutant's plan and hours."""

    day: dt.datetime | None = None
    plans: dict[str, tuple[KrigingPlan | None, int]] = field(default_factory=dict)
    seconds: float = 0.0


def run_kriging_plan(
    context: JobContext, now: dt.datetime | None = None, grid: Grid | None = None
) -> PlanReport:
    """Choose and store today's plans unless they are stored already (see the module)."""
    started = time.perf_counter()
    now = now or utcnow()
    day = plan_store.day_start(now)
    report = PlanReport(day=day)
    with context.sessions() as session:
        if plan_store.has_day_plan(session, day):
            return report
        sensors = store.stored_sensors(session)
        ids = [s.id for s in sensors]
        histories = {
            p: plan_store.history(session, ids, p, day - dt.timedelta(days=PLAN_DAYS), day)
            for p in (Pollutant.PM10, Pollutant.PM25)
        }
    grid = grid or city_grid()
    lon = np.array([s.lon for s in sensors], dtype=np.float64)
    lat = np.array([s.lat for s in sensors], dtype=np.float64)
    xy = grid.projection.forward(lon, lat)
    chosen: dict[Pollutant, tuple[KrigingPlan | None, int, float]] = {}
    for pollutant, past in histories.items():
        tic = time.perf_counter()
        plan, hours = daily_plan(xy, past)
        chosen[pollutant] = (plan, hours, time.perf_counter() - tic)
        report.plans[pollutant.value] = (plan, hours)
    with context.sessions.begin() as session:
        for pollutant, (plan, hours, seconds) in chosen.items():
            plan_store.save_day_plan(
                session, day, pollutant, plan,
                hours=hours, sensors=len(sensors), seconds=seconds, chosen_at=utcnow(),
            )  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report


def kriging_plan_job(context: Any) -> None:
    """Run the daily plan choice in a worker."""
    report = run_kriging_plan(context)
    for pollutant, (plan, hours) in report.plans.items():
        logger.info("air plan %s %s: %s from %d hours", report.day, pollutant, plan, hours)


PLAN_JOBS = (Job("air.kriging_plan", kriging_plan_job, PLAN_EVERY_S),)

__all__ = ["PLAN_DAYS", "PLAN_JOBS", "PlanReport", "daily_plan", "run_kriging_plan"]
