"""Read and write the tuned-kriging plans: per day (``air_kriging_plan``), per map hour."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from citysmart.services.air.anisotropy import Geometry, KrigingPlan
from citysmart.services.air.models import AirHourly
from citysmart.services.air.models_plan import AirKrigingPlan, AirMapPlan
from citysmart.services.air.pipeline import HourResult
from citysmart.services.air.types import FloatArray, Pollutant

# A day's plan also serves the next day's hours until that day's plan is chosen: the
# plan job and the hourly job run independently, and a one-day-old plan still fits.
PLAN_SERVES = dt.timedelta(days=2)
_DAY = dt.timedelta(days=1)


def day_start(when: dt.datetime) -> dt.datetime:
    """Return the start (UTC midnight) of the UTC day holding ``when``."""
    return when.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _plan(angle_deg: float | None, ratio: float | None, nuggets: Any) -> KrigingPlan | None:
    """Build a plan from stored columns (None when the row holds no plan)."""
    if angle_deg is None or ratio is None or not nuggets:
        return None
    return KrigingPlan(Geometry(float(angle_deg), float(ratio)), tuple(float(n) for n in nuggets))


def history(
    session: Session,
    sensor_ids: Sequence[str],
    pollutant: Pollutant,
    start: dt.datetime,
    end: dt.datetime,
) -> FloatArray:
    """Return the stored hourly values in ``[start, end)`` as (hours, sensors), NaN if none."""
    hours = round((end - start).total_seconds() / 3600)
    table = np.full((max(hours, 0), len(sensor_ids)), np.nan)
    column = {sensor_id: k for k, sensor_id in enumerate(sensor_ids)}
    h = AirHourly.__table__.c
    rows = session.execute(
        select(h.sensor_id, h.hour, h.value).where(
            h.variable == pollutant.value, h.hour >= start, h.hour < end, h.value.is_not(None)
        )
    )
    for sensor_id, hour, value in rows:
        k = column.get(sensor_id)
        if k is not None:
            table[round((hour - start).total_seconds() / 3600), k] = value
    return table


def has_day_plan(session: Session, day: dt.datetime) -> bool:
    """Tell whether the day's plans (or their refusal) are stored."""
    found = session.scalar(select(AirKrigingPlan.day).where(AirKrigingPlan.day == day).limit(1))
    return found is not None


def save_day_plan(
    session: Session,
    day: dt.datetime,
    pollutant: Pollutant,
    plan: KrigingPlan | None,
    *,
    hours: int,
    sensors: int,
    seconds: float,
    chosen_at: dt.datetime,
) -> None:
    """Store (or replace) a day's plan of one pollutant; None keeps the day without one."""
    session.execute(
        delete(AirKrigingPlan).where(
            AirKrigingPlan.day == day, AirKrigingPlan.pollutant == pollutant.value
        )
    )
    session.add(
        AirKrigingPlan(
            day=day,
            pollutant=pollutant.value,
            angle_deg=plan.geometry.angle_deg if plan else None,
            ratio=plan.geometry.ratio if plan else None,
            nuggets_m=list(plan.nuggets_m) if plan else [],
            hours=hours,
            sensors=sensors,
            seconds=seconds,
            chosen_at=chosen_at,
        )
    )


def plans_for_hours(
    session: Session, hours: Iterable[dt.datetime]
) -> dict[tuple[dt.datetime, Pollutant], KrigingPlan]:
    """Return each hour's plan per pollutant: its day's, else the newest within PLAN_SERVES.

    A day stored without a plan (too few hours) gives its hours none.
    """
    wanted = sorted(set(hours))
    if not wanted:
        return {}
    first = day_start(wanted[0]) - PLAN_SERVES + _DAY
    rows = session.scalars(
        select(AirKrigingPlan)
        .where(AirKrigingPlan.day >= first, AirKrigingPlan.day <= day_start(wanted[-1]))
        .order_by(AirKrigingPlan.day)
    ).all()
    out: dict[tuple[dt.datetime, Pollutant], KrigingPlan] = {}
    for hour in wanted:
        for pollutant in (Pollutant.PM10, Pollutant.PM25):
            mine = [
                r
                for r in rows
                if r.pollutant == pollutant.value and day_start(hour) - PLAN_SERVES < r.day <= hour
            ]
            if mine:
                plan = _plan(mine[-1].angle_deg, mine[-1].ratio, mine[-1].nuggets_m)
                if plan is not None:
                    out[(hour, pollutant)] = plan
    return out


def save_map_plans(session: Session, results: Sequence[HourResult]) -> None:
    """Record the plan each map hour was served with (an hour computed again is replaced)."""
    hours = [r.hour for r in results]
    if not hours:
        return
    session.execute(delete(AirMapPlan).where(AirMapPlan.hour.in_(hours)))
    rows = [
        {
            "hour": result.hour,
            "pollutant": pollutant.value,
            "angle_deg": drawn.plan.geometry.angle_deg,
            "ratio": drawn.plan.geometry.ratio,
            "nuggets_m": list(drawn.plan.nuggets_m),
            "loo_rmse_tuned": drawn.loo_rmse.get("tuned"),
        }
        for result in results
        for pollutant, drawn in result.maps.items()
        if drawn.plan is not None
    ]
    if rows:
        session.execute(insert(AirMapPlan), rows)


def map_plan(session: Session, hour: dt.datetime, pollutant: str) -> KrigingPlan | None:
    """Return the plan a map hour was served with (None: it served without one)."""
    row = session.get(AirMapPlan, (hour, pollutant))
    return None if row is None else _plan(row.angle_deg, row.ratio, row.nuggets_m)
