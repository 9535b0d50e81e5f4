"""The air service's scheduled jobs: the hourly map and the weekly calibration refit.

Both are state-driven and idempotent (``core/jobs.py`` runs each once per period across
workers), so a run that is missed or fails is made up by the next:

- ``air.hourly`` (checked every minute): computes every whole hour that ended at least
  :data:`GRACE` ago and has not been processed yet, at most :data:`MAX_CATCH_UP_HOURS`
  back, from the hub's raw readings (:mod:`pipeline`), stores the results (:mod:`store`)
  and adds each sensor's hourly values to its AirQualityObserved entity through the
  hub's NGSI-LD store (:mod:`opendata` says how), announcing the change so NGSI-LD
  subscriptions hear of it. Each hour is served with tuned kriging when its day has a
  plan (``plan_job`` chooses one daily; ``plan_store.plans_for_hours`` says which), and
  records the plan it used.
- ``air.calibration`` (checked hourly): refits a low-cost sensor against its nearest
  reference station when :func:`calibration.refit_due` says so (no fit yet, a week old,
  or a week of new co-located hours), on the last :data:`CALIBRATION_WINDOW` of hourly
  means; a refusal is stored with its reason and retried a day later.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.events import EventBus, ReadingsStored
from citysmart.core.service import Job
from citysmart.core.time import utcnow
from citysmart.hub.ngsi_ld import entity_ops, entity_store
from citysmart.hub.ngsi_ld.codec import stored_name
from citysmart.hub.ngsi_ld.model import AttributeInstance, EntityFragment
from citysmart.services.air import alert_store, plan_store, store
from citysmart.services.air.areas import city_grid, load_areas
from citysmart.services.air.calibration import (
    MIN_POINTS,
    CalibrationRefused,
    ReferenceStation,
    RefitPolicy,
    fit_calibration,
    nearest_station,
    refit_due,
)
from citysmart.services.air.grid import Grid
from citysmart.services.air.opendata import STATIC_ATTRIBUTES, air_quality_observed
from citysmart.services.air.pipeline import QC_HISTORY, HourResult, SensorMeta, compute_hours
from citysmart.services.air.plan_job import PLAN_JOBS

logger = logging.getLogger(__name__)

HOURLY_EVERY_S = 60.0
CALIBRATION_EVERY_S = 3600.0
MAX_CATCH_UP_HOURS = 48
# Readings may still be on their way just after the hour (MQTT batches, clock skew).
GRACE = dt.timedelta(minutes=2)
# Hours computed per read of raw readings: bounds memory when catching up on fast sensors.
CHUNK_HOURS = 6
CALIBRATION_WINDOW = dt.timedelta(days=14)
REFUSAL_RETRY = dt.timedelta(days=1)
_HOUR = dt.timedelta(hours=1)


class JobContext(Protocol):
    """What the jobs need of the hub's runtime."""

    sessions: sessionmaker[Session]
    events: EventBus


@dataclass
class HourlyReport:
    """What one run of the hourly job did."""

    hours: list[dt.datetime] = field(default_factory=list)
    sensors: int = 0
    entities_written: int = 0
    seconds: float = 0.0


def floor_hour(when: dt.datetime) -> dt.datetime:
    """Return the start of the hour holding ``when`` (UTC)."""
    return when.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def hours_due(
    last: dt.datetime | None, now: dt.datetime, max_hours: int = MAX_CATCH_UP_HOURS
) -> tuple[dt.datetime, dt.datetime]:
    """Return ``[first, end)``: the whole hours to compute now (empty when first >= end)."""
    end = floor_hour(now - GRACE)
    oldest = end - max_hours * _HOUR
    first = oldest if last is None else max(last + _HOUR, oldest)
    return first, end


def run_hourly(
    context: JobContext,
    now: dt.datetime | None = None,
    grid: Grid | None = None,
    max_hours: int = MAX_CATCH_UP_HOURS,
) -> HourlyReport:
    """Compute, store and publish every hour due (see the module); return what was done."""
    started = time.perf_counter()
    now = now or utcnow()
    report = HourlyReport()
    with context.sessions.begin() as session:
        sensors = store.sync_sensors(session, now)
        last = store.last_processed_hour(session)
        fits = store.current_fits(session)
    report.sensors = len(sensors)
    first, end = hours_due(last, now, max_hours)
    if not sensors or first >= end:
        report.seconds = time.perf_counter() - started
        return report
    grid = grid or city_grid()
    chunk_start = first
    while chunk_start < end:
        chunk_end = min(chunk_start + CHUNK_HOURS * _HOUR, end)
        with context.sessions() as session:
            readings = store.read_readings(session, sensors, chunk_start - QC_HISTORY, chunk_end)
            hours = [chunk_start + k * _HOUR for k in range((chunk_end - chunk_start) // _HOUR)]
            plans = plan_store.plans_for_hours(session, hours)
        results = compute_hours(readings, sensors, chunk_start, chunk_end, grid, fits, plans)
        with context.sessions.begin() as session:
            store.save_results(session, results, computed_at=utcnow())
            plan_store.save_map_plans(session, results)
            alert_store.evaluate_alerts(session, [r.hour for r in results])
        report.entities_written += publish_entities(context, sensors, results)
        report.hours.extend(r.hour for r in results)
        chunk_start = chunk_end
    report.seconds = time.perf_counter() - started
    return report


def _unchanged(before: EntityFragment, instance: AttributeInstance) -> bool:
    """Tell whether a static attribute already holds this value (then it is not rewritten)."""
    return any(
        a.name == instance.name
        and a.dataset_id is None
        and a.value == instance.value
        and a.kind is instance.kind
        for a in before.attributes
    )


def publish_entities(
    context: JobContext, sensors: Sequence[SensorMeta], results: Sequence[HourResult]
) -> int:
    """Add each hour's values to the sensors' entities, an hour per transaction; count writes."""
    names = {a.code: f"{a.name_ko} ({a.name_en})" for a in load_areas()}
    statics = set(STATIC_ATTRIBUTES)
    written_count = 0
    for result in results:
        fragments = {}
        for sensor in sensors:
            fragment = air_quality_observed(sensor, result, names.get(sensor.area_code or ""))
            if fragment is not None:
                fragments[sensor.id] = fragment
        if not fragments:
            continue
        events: list[ReadingsStored] = []
        with context.sessions() as session:
            entity_store.begin_write(session)
            current = entity_store.load_entities(session, fragments, lock=True)
            rules = entity_ops.Rules(now=utcnow())
            writes = []
            for entity_id, fragment in fragments.items():
                before = current.get(entity_id)
                if before is None:
                    continue  # the entity was deleted since the sensors were read
                kept = tuple(
                    a
                    for a in fragment.attributes
                    if not (stored_name(a.name) in statics and _unchanged(before, a))
                )
                trimmed = EntityFragment(id=entity_id, types=fragment.types, attributes=kept)
                written = entity_ops.append(rules, entity_id, before, trimmed)
                if written.stored:
                    writes.append(written)
                    for trigger, changed in written.events():
                        stored = frozenset(stored_name(n) for n in changed)
                        events.append(
                            ReadingsStored(
                                entity_id, stored, rules.now, len(stored), trigger=trigger
                            )
                        )
            entity_ops.save_all(session, writes, rules.now)
            session.commit()
        for event in events:
            context.events.publish(event)
        written_count += len(writes)
    return written_count


@dataclass
class CalibrationReport:
    """What one run of the calibration job did."""

    fitted: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)


def run_calibration(
    context: JobContext,
    now: dt.datetime | None = None,
    policy: RefitPolicy | None = None,
    min_points: int = MIN_POINTS,
) -> CalibrationReport:
    """Refit the low-cost sensors whose calibration is due (see the module)."""
    now = now or utcnow()
    policy = policy or RefitPolicy()
    report = CalibrationReport()
    with context.sessions.begin() as session:
        sensors = store.stored_sensors(session)
        stations = [
            ReferenceStation(s.id, s.lon, s.lat, s.name) for s in sensors if s.kind == "reference"
        ]
        if not stations:
            return report  # nothing to calibrate against: the operators' page says so
        attempts = {(a.sensor_id, a.pollutant): a for a in store.latest_attempts(session)}
        fits = store.current_fits(session)
        for sensor in sensors:
            if sensor.kind != "lowcost":
                continue
            nearest = nearest_station(sensor.lon, sensor.lat, stations)
            station = nearest.station
            for pollutant in ("pm10", "pm25"):
                last = attempts.get((sensor.id, pollutant))
                refused_lately = (
                    last is not None
                    and last.status == "refused"
                    and now - last.fitted_at < REFUSAL_RETRY
                )
                if refused_lately:
                    continue
                fit = fits.get((sensor.id, pollutant))
                since = fit.window_end + _HOUR if fit is not None else now - CALIBRATION_WINDOW
                new_hours = len(
                    store.colocated(session, sensor.id, station.station_id, pollutant, since, now)[
                        0
                    ]
                )
                decision = refit_due(fit, now, new_hours, policy)
                if not decision.due:
                    continue
                hours, raw, rh, reference = store.colocated(
                    session, sensor.id, station.station_id, pollutant, now - CALIBRATION_WINDOW, now
                )
                try:
                    fitted = fit_calibration(
                        hours,
                        raw,
                        rh,
                        reference,
                        sensor_id=sensor.id,
                        station_id=station.station_id,
                        fitted_at=now,
                        distance_m=nearest.distance_m,
                        min_points=min_points,
                    )
                except CalibrationRefused as exc:
                    store.save_refusal(
                        session, sensor.id, pollutant, str(exc), now,
                        station.station_id, nearest.distance_m,
                    )  # fmt: skip
                    report.refused.append((sensor.id, pollutant, str(exc)))
                    continue
                store.save_fit(session, fitted, pollutant)
                report.fitted.append((sensor.id, pollutant))
                logger.info("calibrated %s %s (%s)", sensor.id, pollutant, decision.reason)
    return report


def hourly_job(context: Any) -> None:
    """Run the hourly job in a worker (the runner passes the hub's runtime)."""
    report = run_hourly(context)
    if report.hours:
        logger.info(
            "air: %d hour(s) computed (%s .. %s) for %d sensors, %d entity writes, in %.1f s",
            len(report.hours),
            report.hours[0].isoformat(),
            report.hours[-1].isoformat(),
            report.sensors,
            report.entities_written,
            report.seconds,
        )


def calibration_job(context: Any) -> None:
    """Run the calibration refit in a worker."""
    report = run_calibration(context)
    if report.fitted or report.refused:
        logger.info(
            "air calibration: %d fitted, %d refused", len(report.fitted), len(report.refused)
        )


JOBS = (
    Job("air.hourly", hourly_job, HOURLY_EVERY_S),
    Job("air.calibration", calibration_job, CALIBRATION_EVERY_S),
    *PLAN_JOBS,
)

__all__ = [
    "CALIBRATION_WINDOW",
    "GRACE",
    "JOBS",
    "MAX_CATCH_UP_HOURS",
    "CalibrationReport",
    "HourlyReport",
    "JobContext",
    "calibration_job",
    "floor_hour",
    "hourly_job",
    "hours_due",
    "publish_entities",
    "run_calibration",
    "run_hourly",
]
