"""Reading the hub back: time series (raw or bucketed in SQL), latest values, entities."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import BigInteger, Connection, func, literal, select, text, type_coerce
from sqlalchemy.orm import Session

from citysmart.core.types import from_micros, to_micros
from citysmart.hub.models import Attribute, DeadLetter, Device, Entity, Observation

Aggregate = Literal["avg", "min", "max", "sum", "count"]
AGGREGATES: tuple[Aggregate, ...] = ("avg", "min", "max", "sum", "count")


@dataclass(frozen=True, slots=True)
class Point:
    """One reading in a series."""

    t: dt.datetime
    value: float | str | bool | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time bucket of an aggregated series."""

    start: dt.datetime
    value: float | None
    count: int


def value_of(value_type: str, num: float | None, text_value: str | None) -> Any:
    """Turn a stored value back into what the device (or NGSI-LD client) sent."""
    if value_type == "b":
        return bool(num)
    if value_type in ("s", "d"):
        return text_value
    if value_type == "j":
        return json.loads(text_value) if text_value is not None else None
    if text_value is not None:  # an integer NGSI-LD wrote (ngsi_ld.codec.typed_value)
        return int(text_value)
    return num


def read_series(
    conn: Connection,
    entity_id: str,
    attribute: str,
    start: dt.datetime,
    end: dt.datetime,
    limit: int,
) -> list[Point]:
    """Return an attribute's readings in [start, end), oldest first, at most ``limit``."""
    o = Observation
    rows = conn.execute(
        select(o.observed_at, o.value_type, o.num_value, o.text_value, o.unit)
        .where(
            o.entity_id == entity_id,
            o.attribute == attribute,
            o.dataset_id == "",
            o.observed_at >= start,
            o.observed_at < end,
        )
        .order_by(o.observed_at)
        .limit(limit)
    )
    return [Point(r[0], value_of(r[1], r[2], r[3]), r[4]) for r in rows]


def aggregate_series(
    conn: Connection,
    entity_id: str,
    attribute: str,
    start: dt.datetime,
    end: dt.datetime,
    every: dt.timedelta,
    agg: Aggregate,
    origin: dt.datetime,
) -> list[Bucket]:
    """Bucket an attribute's numeric readings by ``every`` (aligned on ``origin``) in SQL."""
    o = Observation
    if conn.dialect.name == "postgresql":
        bucket: Any = func.date_bin(text("make_interval(secs => :step)"), o.observed_at, origin)
        params: dict[str, Any] = {"step": every.total_seconds()}
    else:
        step_us = round(every.total_seconds() * 1_000_000)
        origin_us = to_micros(origin)
        micros = type_coerce(o.observed_at, BigInteger)
        # Integer division floors for instants after the origin, which is in 1970.
        bucket = (micros - literal(origin_us)) // literal(step_us) * literal(step_us) + literal(
            origin_us
        )
        params = {}
    measure = {
        "avg": func.avg(o.num_value),
        "min": func.min(o.num_value),
        "max": func.max(o.num_value),
        "sum": func.sum(o.num_value),
        "count": func.count(),
    }[agg]
    b = bucket.label("bucket")
    stmt = (
        select(b, measure, func.count())
        .where(
            o.entity_id == entity_id,
            o.attribute == attribute,
            o.dataset_id == "",
            o.observed_at >= start,
            o.observed_at < end,
        )
        .group_by(b)
        .order_by(b)
    )
    out = []
    for start_value, value, count in conn.execute(stmt, params):
        when = (
            start_value.astimezone(dt.UTC)
            if isinstance(start_value, dt.datetime)
            else from_micros(int(start_value))
        )
        out.append(Bucket(when, None if value is None else float(value), int(count)))
    return out


def latest_values(session: Session, entity_ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Return {entity: {attribute: {value, unit, observedAt}}} for the given entities."""
    if not entity_ids:
        return {}
    out: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in entity_ids}
    rows = session.execute(
        select(Attribute).where(
            Attribute.entity_id.in_(entity_ids),
            Attribute.dataset_id == "",
            Attribute.observed_at.is_not(None),
        )
    )
    for (lv,) in rows:
        out[lv.entity_id][lv.attribute] = {
            "value": value_of(lv.value_type, lv.num_value, lv.text_value),
            "unit": lv.unit,
            "observedAt": lv.observed_at,
            "device": lv.device_id,
        }
    return out


def list_entities(
    session: Session, entity_type: str | None, limit: int, offset: int
) -> tuple[list[Entity], int]:
    """Return a page of entities (by id) and the total."""
    stmt = select(Entity)
    count_stmt = select(func.count()).select_from(Entity)
    if entity_type:
        stmt = stmt.where(Entity.type == entity_type)
        count_stmt = count_stmt.where(Entity.type == entity_type)
    total = int(session.scalar(count_stmt) or 0)
    entities = list(session.scalars(stmt.order_by(Entity.id).limit(limit).offset(offset)))
    return entities, total


def devices_of(session: Session, entity_ids: list[str]) -> dict[str, list[Device]]:
    """Return the devices reporting for each entity."""
    out: dict[str, list[Device]] = {e: [] for e in entity_ids}
    if entity_ids:
        for device in session.scalars(
            select(Device).where(Device.entity_id.in_(entity_ids)).order_by(Device.id)
        ):
            out[device.entity_id].append(device)
    return out


def list_devices(session: Session, limit: int, offset: int) -> list[Device]:
    """Return a page of devices by id."""
    return list(session.scalars(select(Device).order_by(Device.id).limit(limit).offset(offset)))


def list_dead_letters(
    session: Session, device_id: str | None, limit: int, offset: int
) -> list[DeadLetter]:
    """Return the newest dead letters first."""
    stmt = select(DeadLetter)
    if device_id:
        stmt = stmt.where(DeadLetter.device_id == device_id)
    return list(
        session.scalars(
            stmt.order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
