"""Reading and writing the air service's tables, and reading raw readings from the hub.

Plain data in and out (the pipeline's dataclasses, ORM rows for the API); the hourly
job and the routes are the only callers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Float, Row, delete, func, insert, select, type_coerce
from sqlalchemy.orm import Session

from citysmart.hub.models import Device, Entity, Observation
from citysmart.services.air.areas import area_of
from citysmart.services.air.calibration import CalibrationFit
from citysmart.services.air.models import (
    AirAreaHour,
    AirCalibration,
    AirHourly,
    AirMapHour,
    AirSensor,
)
from citysmart.services.air.pipeline import (
    VARIABLES,
    HourResult,
    MapInput,
    Readings,
    SensorKind,
    SensorMeta,
    align_readings,
)

logger = logging.getLogger(__name__)

SENSOR_TYPE = "AirQualityObserved"
DEFAULT_RATED_RH = 90.0
# Nominal reporting intervals when an entity does not say (``reportingIntervalS``):
# a low-cost sensor reports about every minute; a reference station once an hour.
DEFAULT_INTERVAL_S = {"lowcost": 60.0, "reference": 3600.0}
_CHUNK = 500  # ids per IN (...)


def _number(value: Any, default: float) -> float:
    """Return a positive number from an entity property, or the default."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return default
    return float(value)


def sensor_meta(entity: Entity, device_id: str | None) -> SensorMeta | None:
    """Return what the air service needs of a hub entity, or None if it has no point.

    Read from the entity's properties: ``reference`` (true for a reference station),
    ``areaCode`` (else the area holding the point), ``sensorModel``,
    ``ratedHumidityMax`` (%), ``reportingIntervalS`` and ``dataSource`` (a label such
    as a replay's; else "simulated" when ``simulated`` is true, else "measured").
    """
    location = entity.location or {}
    coordinates = location.get("coordinates") if location.get("type") == "Point" else None
    if not coordinates or len(coordinates) < 2:
        return None
    lon, lat = float(coordinates[0]), float(coordinates[1])
    props = entity.properties or {}
    kind: SensorKind = "reference" if props.get("reference") is True else "lowcost"
    area = props.get("areaCode")
    source = props.get("dataSource")
    if not isinstance(source, str) or not source.strip():
        source = "simulated" if props.get("simulated") is True else "measured"
    model = props.get("sensorModel")
    return SensorMeta(
        id=entity.id,
        name=entity.name or entity.id,
        kind=kind,
        lon=lon,
        lat=lat,
        area_code=str(area) if isinstance(area, str) and area else area_of(lon, lat),
        rated_rh_max=_number(props.get("ratedHumidityMax"), DEFAULT_RATED_RH),
        interval_s=_number(props.get("reportingIntervalS"), DEFAULT_INTERVAL_S[kind]),
        device_id=device_id,
        source=source,
        model=str(model) if isinstance(model, str) else None,
    )


def sync_sensors(session: Session, now: dt.datetime) -> list[SensorMeta]:
    """Bring ``air_sensor`` in step with the hub's AirQualityObserved entities; return them."""
    entities = list(
        session.scalars(select(Entity).where(Entity.type == SENSOR_TYPE).order_by(Entity.id))
    )
    devices: dict[str, str] = {}
    ids = [e.id for e in entities]
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(Device.entity_id, Device.id)
            .where(Device.entity_id.in_(ids[start : start + _CHUNK]))
            .order_by(Device.id)
        )
        for entity_id, device_id in rows:
            devices.setdefault(entity_id, device_id)
    metas = []
    for entity in entities:
        meta = sensor_meta(entity, devices.get(entity.id))
        if meta is None:
            logger.debug("%s has no point location: not on the air map", entity.id)
            continue
        metas.append(meta)
    known = {s.id: s for s in session.scalars(select(AirSensor))}
    for meta in metas:
        row = known.get(meta.id)
        if row is None:
            row = AirSensor(id=meta.id)
            session.add(row)
        changed = (
            row.device_id, row.name, row.kind, row.model, row.rated_rh_max, row.interval_s,
            row.area_code, row.lon, row.lat, row.source,
        ) != (
            meta.device_id, meta.name, meta.kind, meta.model, meta.rated_rh_max, meta.interval_s,
            meta.area_code, meta.lon, meta.lat, meta.source,
        )  # fmt: skip
        if changed:
            row.device_id, row.name, row.kind, row.model = (
                meta.device_id, meta.name, meta.kind, meta.model,
            )  # fmt: skip
            row.rated_rh_max, row.interval_s, row.area_code = (
                meta.rated_rh_max, meta.interval_s, meta.area_code,
            )  # fmt: skip
            row.lon, row.lat, row.source, row.updated_at = meta.lon, meta.lat, meta.source, now
    session.flush()
    return metas


def stored_sensors(session: Session) -> list[AirSensor]:
    """Return every sensor the service knows, by id."""
    return list(session.scalars(select(AirSensor).order_by(AirSensor.id)))


def read_readings(
    session: Session, sensors: Sequence[SensorMeta], start: dt.datetime, end: dt.datetime
) -> Readings:
    """Read the sensors' raw numeric readings in ``[start, end)`` from the hub's store."""
    o = Observation
    index = {s.id: i for i, s in enumerate(sensors)}
    variable_index = {name: i for i, name in enumerate(VARIABLES)}
    if session.get_bind().dialect.name == "postgresql":
        seconds: Any = func.extract("epoch", o.observed_at)
        scale = 1.0
    else:  # SQLite keeps epoch microseconds (core.types.UTCDateTime)
        seconds = type_coerce(o.observed_at, BigInteger)
        scale = 1e-6
    parts: list[list[tuple[Any, ...]]] = []
    ids = list(index)
    for first in range(0, len(ids), _CHUNK):
        stmt = select(o.entity_id, o.attribute, type_coerce(seconds, Float), o.num_value).where(
            o.entity_id.in_(ids[first : first + _CHUNK]),
            o.attribute.in_(VARIABLES),
            o.dataset_id == "",
            o.value_type == "n",
            o.observed_at >= start,
            o.observed_at < end,
        )
        parts.append([tuple(r) for r in session.execute(stmt)])
    rows = [r for part in parts for r in part if r[3] is not None]
    sensor_rows = np.fromiter((index[r[0]] for r in rows), dtype=np.int64, count=len(rows))
    variables = np.fromiter((variable_index[r[1]] for r in rows), dtype=np.int64, count=len(rows))
    times = np.fromiter((float(r[2]) for r in rows), dtype=np.float64, count=len(rows)) * scale
    values = np.fromiter((float(r[3]) for r in rows), dtype=np.float64, count=len(rows))
    return align_readings([s.id for s in sensors], sensor_rows, variables, times, values)


def last_processed_hour(session: Session) -> dt.datetime | None:
    """Return the newest hour the job has processed (with or without a map)."""
    latest: dt.datetime | None = session.scalar(select(func.max(AirMapHour.hour)))
    return latest


def save_results(session: Session, results: Sequence[HourResult], computed_at: dt.datetime) -> None:
    """Store the hours' means, maps and area figures (an hour computed again is replaced)."""
    hours = [r.hour for r in results]
    if not hours:
        return
    for model in (AirHourly, AirMapHour, AirAreaHour):
        session.execute(delete(model).where(model.hour.in_(hours)))
    hourly = [
        {
            "sensor_id": row.sensor_id,
            "variable": row.variable,
            "hour": row.hour,
            "raw": row.raw,
            "corrected": row.corrected,
            "value": row.value,
            "count": row.count,
            "readings": row.readings,
            "expected": row.expected,
            "capture": row.capture,
            "sufficient": row.sufficient,
            "flag_out_of_range": row.flags.get("out_of_range", 0),
            "flag_stuck": row.flags.get("stuck", 0),
            "flag_spike": row.flags.get("spike", 0),
            "flag_humidity": row.flags.get("humidity", 0),
            "last_at": row.last_at,
        }
        for result in results
        for row in result.sensors
    ]
    maps: list[dict[str, Any]] = []
    areas: list[dict[str, Any]] = []
    for result in results:
        for pollutant, drawn in result.maps.items():
            maps.append(
                {
                    "hour": result.hour,
                    "pollutant": pollutant.value,
                    "status": drawn.status,
                    "method_served": drawn.served,
                    "loo_rmse_idw": drawn.loo_rmse.get("idw"),
                    "loo_rmse_kriging": drawn.loo_rmse.get("kriging"),
                    "note": drawn.note,
                    "sensors_used": len(drawn.inputs),
                    "inputs": [[i.sensor_id, i.lon, i.lat, i.value] for i in drawn.inputs],
                    "computed_at": computed_at,
                }
            )
            areas.extend(
                {
                    "hour": result.hour,
                    "pollutant": pollutant.value,
                    "area_code": area.code,
                    "method": drawn.served or "",
                    "mean": area.mean,
                    "worst": area.worst,
                    "cells": area.cells,
                }
                for area in drawn.areas
            )
    for model, rows in ((AirHourly, hourly), (AirMapHour, maps), (AirAreaHour, areas)):
        if rows:
            session.execute(insert(model), rows)


def map_inputs(row: AirMapHour) -> list[MapInput]:
    """Return the sensor values an hour's surface was drawn from."""
    return [MapInput(str(s), float(lon), float(lat), float(v)) for s, lon, lat, v in row.inputs]


# --- calibration ---------------------------------------------------------------------------


def _fit_of(row: AirCalibration) -> CalibrationFit:
    """Turn a stored fit back into the calibration module's dataclass."""
    return CalibrationFit(
        sensor_id=row.sensor_id,
        station_id=row.station_id or "",
        distance_m=row.distance_m,
        model="hygroscopic" if row.model == "hygroscopic" else "linear",
        coefficients={k: float(v) for k, v in row.coefficients.items()},
        n=row.n,
        r2=float(row.r2) if row.r2 is not None else float("nan"),
        rmse=float(row.rmse) if row.rmse is not None else float("nan"),
        mae=float(row.mae) if row.mae is not None else float("nan"),
        raw_rmse=float(row.raw_rmse) if row.raw_rmse is not None else float("nan"),
        raw_mae=float(row.raw_mae) if row.raw_mae is not None else float("nan"),
        fitted_at=row.fitted_at,
        window_start=row.window_start or row.fitted_at,
        window_end=row.window_end or row.fitted_at,
    )


def latest_attempts(session: Session) -> list[AirCalibration]:
    """Return the newest calibration attempt (fit or refusal) of each sensor and pollutant."""
    newest = (
        select(
            AirCalibration.sensor_id,
            AirCalibration.pollutant,
            func.max(AirCalibration.id).label("id"),
        )
        .group_by(AirCalibration.sensor_id, AirCalibration.pollutant)
        .subquery()
    )
    stmt = (
        select(AirCalibration)
        .join(newest, AirCalibration.id == newest.c.id)
        .order_by(AirCalibration.sensor_id, AirCalibration.pollutant)
    )
    return list(session.scalars(stmt))


def current_fits(session: Session) -> dict[tuple[str, str], CalibrationFit]:
    """Return the calibration in use per (sensor, pollutant): the newest successful fit."""
    newest = (
        select(func.max(AirCalibration.id))
        .where(AirCalibration.status == "ok")
        .group_by(AirCalibration.sensor_id, AirCalibration.pollutant)
    )
    rows = session.scalars(select(AirCalibration).where(AirCalibration.id.in_(newest)))
    return {(r.sensor_id, r.pollutant): _fit_of(r) for r in rows}


def save_fit(session: Session, fit: CalibrationFit, pollutant: str) -> None:
    """Store a successful fit: it is used from the next computed hour on."""
    session.add(
        AirCalibration(
            sensor_id=fit.sensor_id,
            pollutant=pollutant,
            status="ok",
            reason="",
            station_id=fit.station_id,
            distance_m=fit.distance_m,
            model=fit.model,
            coefficients=dict(fit.coefficients),
            n=fit.n,
            r2=_finite(fit.r2),
            rmse=_finite(fit.rmse),
            mae=_finite(fit.mae),
            raw_rmse=_finite(fit.raw_rmse),
            raw_mae=_finite(fit.raw_mae),
            fitted_at=fit.fitted_at,
            window_start=fit.window_start,
            window_end=fit.window_end,
        )
    )


def save_refusal(
    session: Session,
    sensor_id: str,
    pollutant: str,
    reason: str,
    when: dt.datetime,
    station_id: str | None,
    distance_m: float | None,
) -> None:
    """Store why a sensor could not be calibrated (shown to operators)."""
    session.add(
        AirCalibration(
            sensor_id=sensor_id,
            pollutant=pollutant,
            status="refused",
            reason=reason,
            station_id=station_id,
            distance_m=distance_m,
            model="linear",
            coefficients={},
            n=0,
            fitted_at=when,
        )
    )


def _finite(value: float) -> float | None:
    """Return a finite float, or None (the database keeps no NaN on every engine)."""
    return float(value) if np.isfinite(value) else None


def colocated(
    session: Session,
    sensor_id: str,
    station_id: str,
    pollutant: str,
    start: dt.datetime,
    end: dt.datetime,
) -> tuple[list[dt.datetime], list[float], list[float], list[float]]:
    """Return hours where the sensor has a raw mean and RH and the station a value."""
    raw = _by_hour(session, sensor_id, pollutant, start, end, "raw")
    rh = _by_hour(session, sensor_id, "relativeHumidity", start, end, "raw")
    reference = _by_hour(session, station_id, pollutant, start, end, "value")
    hours = sorted(h for h in raw if h in rh and h in reference)
    return hours, [raw[h] for h in hours], [rh[h] for h in hours], [reference[h] for h in hours]


def _by_hour(
    session: Session,
    sensor_id: str,
    variable: str,
    start: dt.datetime,
    end: dt.datetime,
    column: str,
) -> dict[dt.datetime, float]:
    """Return one sensor's valid hourly figures of a variable in ``[start, end)``."""
    value = getattr(AirHourly, column)
    rows = session.execute(
        select(AirHourly.hour, value).where(
            AirHourly.sensor_id == sensor_id,
            AirHourly.variable == variable,
            AirHourly.hour >= start,
            AirHourly.hour < end,
            value.is_not(None),
        )
    )
    return {hour: float(v) for hour, v in rows}


# --- what the API reads --------------------------------------------------------------------


def map_hours(session: Session, limit: int) -> list[Row[Any]]:
    """Return (hour, pollutant, computed_at) of the newest ``limit`` hours with a drawn map.

    Oldest first; the maps' inputs are not read (a map is read whole by :func:`read_map`).
    """
    m = AirMapHour
    newest = (
        select(m.hour)
        .where(m.status == "ok")
        .group_by(m.hour)
        .order_by(m.hour.desc())
        .limit(limit)
        .subquery()
    )
    stmt = (
        select(m.hour, m.pollutant, m.computed_at)
        .where(m.hour.in_(select(newest.c.hour)), m.status == "ok")
        .order_by(m.hour, m.pollutant)
    )
    return list(session.execute(stmt))


def read_map(session: Session, hour: dt.datetime, pollutant: str) -> AirMapHour | None:
    """Return one hour's map row of a pollutant, if the hour was processed."""
    return session.get(AirMapHour, (hour, pollutant))


def hourly_at(session: Session, hour: dt.datetime) -> list[AirHourly]:
    """Return every sensor's hourly rows of one hour."""
    return list(session.scalars(select(AirHourly).where(AirHourly.hour == hour)))


def last_seen(session: Session, until: dt.datetime, since: dt.datetime) -> dict[str, dt.datetime]:
    """Return each sensor's last reading time in ``[since, until)`` (from the hourly rows)."""
    rows = session.execute(
        select(AirHourly.sensor_id, func.max(AirHourly.last_at))
        .where(AirHourly.hour >= since, AirHourly.hour < until, AirHourly.last_at.is_not(None))
        .group_by(AirHourly.sensor_id)
    )
    return {sensor_id: when for sensor_id, when in rows if when is not None}


def area_hour(session: Session, hour: dt.datetime, pollutant: str) -> list[AirAreaHour]:
    """Return one hour's per-area figures of a pollutant."""
    return list(
        session.scalars(
            select(AirAreaHour).where(AirAreaHour.hour == hour, AirAreaHour.pollutant == pollutant)
        )
    )


def sensor_series(
    session: Session, sensor_id: str, start: dt.datetime, end: dt.datetime
) -> list[AirHourly]:
    """Return one sensor's hourly PM rows in ``[start, end)``."""
    return list(
        session.scalars(
            select(AirHourly)
            .where(
                AirHourly.sensor_id == sensor_id,
                AirHourly.variable.in_(("pm10", "pm25")),
                AirHourly.hour >= start,
                AirHourly.hour < end,
            )
            .order_by(AirHourly.hour)
        )
    )


def area_series(
    session: Session, area_code: str, start: dt.datetime, end: dt.datetime
) -> list[AirAreaHour]:
    """Return one area's hourly figures in ``[start, end)``."""
    return list(
        session.scalars(
            select(AirAreaHour)
            .where(
                AirAreaHour.area_code == area_code,
                AirAreaHour.hour >= start,
                AirAreaHour.hour < end,
            )
            .order_by(AirAreaHour.hour)
        )
    )


def hourly_between(session: Session, start: dt.datetime, end: dt.datetime) -> list[Row[Any]]:
    """Return every hourly row in ``[start, end)``, by hour and sensor (plain rows: fast)."""
    h = AirHourly.__table__.c
    return list(
        session.execute(
            select(AirHourly.__table__)
            .where(h.hour >= start, h.hour < end)
            .order_by(h.hour, h.sensor_id, h.variable)
        )
    )


def known_hours(session: Session, hours: Iterable[dt.datetime]) -> set[dt.datetime]:
    """Return which of these hours have been processed."""
    wanted = list(hours)
    if not wanted:
        return set()
    return set(session.scalars(select(AirMapHour.hour).where(AirMapHour.hour.in_(wanted))))


__all__ = [
    "SENSOR_TYPE",
    "area_hour",
    "area_series",
    "colocated",
    "current_fits",
    "hourly_at",
    "hourly_between",
    "known_hours",
    "last_processed_hour",
    "last_seen",
    "latest_attempts",
    "map_hours",
    "map_inputs",
    "read_map",
    "read_readings",
    "save_fit",
    "save_refusal",
    "save_results",
    "sensor_meta",
    "sensor_series",
    "stored_sensors",
    "sync_sensors",
]
