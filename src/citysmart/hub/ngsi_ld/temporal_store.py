"""The SQL of the NGSI-LD temporal API, over ``observation`` (the store device ingest writes).

Every reading and every NGSI-LD attribute write is a row of ``observation`` keyed by
(entity, attribute, observedAt, datasetId); this module reads those rows as temporal
instances, aggregates them in SQL, and appends, modifies and deletes them. Rendering and
paging are ``temporal.py``'s; HTTP is ``temporal_routes.py``'s.

Decisions where the specification leaves room:

- ``instanceId`` (clause 4.5.7) is ``urn:ngsi-ld:Instance:`` followed by the unpadded,
  lowercase base32 of: the instance's ``observedAt`` as 8-byte signed microseconds since
  the Unix epoch, the CRC-32 of the stored attribute name (4 bytes), and the UTF-8
  datasetId (nothing for the default instance). It is deterministic (the same on SQLite
  and PostgreSQL, and across restarts) and decodes back to the row's primary key, so
  modifying or deleting one instance is a primary-key lookup; the CRC ties an id to its
  attribute, so an id used under another attribute is not found.
- Instances are read per attribute with ``LIMIT``: at most ``count`` rows in time order
  (oldest first, or newest first for ``lastN``) plus every row sharing the last instant,
  which is all ``temporal.page_instances`` needs to cut a page exactly as it would on the
  whole history, without loading it.
- Aggregation is one ``GROUP BY`` (entity, attribute, datasetId, time bucket) in SQL.
  Buckets are ``[origin + k * period, origin + (k + 1) * period)``: ``date_bin`` on
  PostgreSQL, integer microsecond arithmetic on SQLite (with a floored modulo, so instants
  before the origin fall in the right bucket). The origin is ``timeAt`` when the query has
  one, else the attribute's first instance (a grouped subquery), as in ``temporal.py``.
  Each method is computed in SQL from aggregates filtered by value type: numbers, else
  booleans as 0/1, else (``min``/``max``) strings, as ``temporal.aggregate_values`` does.
  ``stddev`` is ``stddev_pop`` on PostgreSQL; on SQLite it is the population variance
  computed in SQL from the count, sum and sum of squares (the square root is taken in
  Python, as SQLite builds may lack ``sqrt``); that formula loses precision when the
  deviation is tiny next to the mean. ``distinctCount`` compares numbers, booleans and
  strings by value and JSON values by their stored text.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CursorResult,
    Interval,
    and_,
    bindparam,
    delete,
    distinct,
    func,
    join,
    literal,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from citysmart.core.types import UTCDateTime, from_micros, to_micros
from citysmart.hub.models import Attribute, Observation
from citysmart.hub.ngsi_ld.codec import instance_meta, row_instance, stored_name, typed_value
from citysmart.hub.ngsi_ld.model import AttributeInstance, Kind, bad_request
from citysmart.hub.ngsi_ld.temporal import AggregateRow, TemporalInstance, TemporalQuery
from citysmart.hub.store import ensure_month_partition

INSTANCE_PREFIX: Final = "urn:ngsi-ld:Instance:"
_KEY: Final = struct.Struct(">qI")  # observedAt in µs, CRC-32 of the stored attribute name
_MICROSECOND: Final = dt.timedelta(microseconds=1)
_ENTITY_CHUNK: Final = 500


# --- instance ids ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstanceKey:
    """What an instanceId decodes to: the row's datasetId ('' by default) and instant."""

    dataset_id: str
    observed_at: dt.datetime


def instance_id(attribute: str, dataset_id: str, observed_at: dt.datetime) -> str:
    """Return the instanceId of the row (stored attribute name, datasetId, observedAt)."""
    raw = _KEY.pack(to_micros(observed_at), _crc(attribute)) + dataset_id.encode()
    return INSTANCE_PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def parse_instance_id(text: str, attribute: str) -> InstanceKey | None:
    """Decode an instanceId of this attribute; ``None`` when it belongs to another one."""
    encoded = text.removeprefix(INSTANCE_PREFIX) if text.startswith(INSTANCE_PREFIX) else ""
    try:
        raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8), casefold=True)
        micros, crc = _KEY.unpack_from(raw)
        dataset_id = raw[_KEY.size :].decode()
        observed_at = from_micros(micros)
    except (binascii.Error, struct.error, UnicodeDecodeError, OverflowError):
        raise bad_request(f"{text!r} is not an instanceId of this broker") from None
    if not encoded or crc != _crc(attribute):
        return None
    return InstanceKey(dataset_id, observed_at)


def _crc(attribute: str) -> int:
    return zlib.crc32(attribute.encode())


# --- reading instances -------------------------------------------------------------------


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def time_window(query: TemporalQuery) -> list[ColumnElement[bool]]:
    """Return the SQL conditions of the query's time filter (see TemporalQuery.selects)."""
    at, when = query.time_at, Observation.observed_at
    if query.timerel is None or at is None:
        return []
    if query.timerel == "before":
        return [when < at]
    if query.timerel == "after":
        return [when > at]
    assert query.end_time_at is not None
    return [when >= at, when < query.end_time_at]


_NAMES_SQL: Final = text(
    "WITH RECURSIVE names(name) AS ("
    " SELECT min(attribute) FROM observation WHERE entity_id = :entity"
    " UNION ALL"
    " SELECT (SELECT min(o.attribute) FROM observation o"
    "  WHERE o.entity_id = :entity AND o.attribute > names.name)"
    " FROM names WHERE names.name IS NOT NULL"
    ") SELECT name FROM names WHERE name IS NOT NULL"
)


def history_attributes(session: Session, entity_id: str) -> list[str]:
    """Return the stored names of the attributes an entity has instances of, sorted.

    A skip scan over the primary key: one index probe per attribute, however long the
    history is.
    """
    return [str(name) for name in session.scalars(_NAMES_SQL, {"entity": entity_id})]


def read_instances(
    session: Session, entity_id: str, attribute: str, query: TemporalQuery, count: int
) -> list[Observation]:
    """Return the first ``count`` rows in the window (newest first with lastN) and ties."""
    o = Observation
    where = [o.entity_id == entity_id, o.attribute == attribute, *time_window(query)]
    first = o.observed_at.desc() if query.last_n is not None else o.observed_at.asc()
    rows = list(session.scalars(select(o).where(*where).order_by(first, o.dataset_id).limit(count)))
    if len(rows) < count:
        return rows
    edge = rows[-1].observed_at
    seen = [r.dataset_id for r in rows if r.observed_at == edge]
    ties = select(o).where(*where, o.observed_at == edge, o.dataset_id.not_in(seen))
    return rows + list(session.scalars(ties.order_by(o.dataset_id)))


def temporal_instance(row: Observation) -> TemporalInstance:
    """Turn an ``observation`` row into a temporal instance (a reading is a Property)."""
    instance = row_instance(row, None)
    return TemporalInstance(
        value=instance.value,
        kind=instance.kind,
        observed_at=row.observed_at,
        dataset_id=instance.dataset_id,
        unit_code=instance.unit_code,
        instance_id=instance_id(row.attribute, row.dataset_id, row.observed_at),
        sub_attributes=instance.sub_attributes,
    )


def find_instance(
    session: Session, entity_id: str, attribute: str, key: InstanceKey
) -> Observation | None:
    """Return the row an instanceId names, if it is stored."""
    return session.get(Observation, (entity_id, attribute, key.observed_at, key.dataset_id))


def newest_instance(
    session: Session, entity_id: str, attribute: str, dataset_id: str
) -> Observation | None:
    """Return the newest row of one attribute and datasetId, if any."""
    o = Observation
    stmt = (
        select(o)
        .where(o.entity_id == entity_id, o.attribute == attribute, o.dataset_id == dataset_id)
        .order_by(o.observed_at.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


# --- aggregation -------------------------------------------------------------------------


AggregateKey = tuple[str, str]  # entity id, stored attribute name


def aggregate(
    session: Session,
    entity_ids: Sequence[str],
    attributes: Sequence[str] | None,
    query: TemporalQuery,
) -> dict[AggregateKey, list[AggregateRow]]:
    """Aggregate the entities' instances per attribute, datasetId and period, in SQL."""
    out: dict[AggregateKey, list[AggregateRow]] = {}
    for start in range(0, len(entity_ids), _ENTITY_CHUNK):
        chunk = list(entity_ids[start : start + _ENTITY_CHUNK])
        kinds = _current_kinds(session, chunk)
        where = [Observation.entity_id.in_(chunk), *time_window(query)]
        if attributes is not None:
            where.append(Observation.attribute.in_(attributes))
        if query.aggr_period is None:
            rows = _whole_window_rows(session, where, query, kinds)
        else:
            rows = _period_rows(session, where, query, query.aggr_period, kinds)
        for key, found in rows.items():
            out[key] = _last_periods(found, query.last_n)
    return out


_NUMERIC: Final = frozenset({"sum", "avg", "stddev", "sumsq"})


def _measures(methods: Sequence[str], postgres: bool) -> list[ColumnElement[Any]]:
    """Return the SQL aggregates the methods need, each filtered by value type."""
    o = Observation
    num, kind = o.num_value, o.value_type
    is_n, is_b, is_s = kind == "n", kind == "b", kind == "s"
    wanted = set(methods)
    cols: dict[str, ColumnElement[Any]] = {}
    if "totalCount" in wanted:
        cols["total"] = func.count()
    if "distinctCount" in wanted:
        cols["distinct_n"] = func.count(distinct(num)).filter(is_n)
        cols["distinct_b"] = func.count(distinct(num)).filter(is_b)
        cols["distinct_t"] = func.count(distinct(kind + o.text_value)).filter(
            kind.not_in(("n", "b"))
        )
    if wanted & _NUMERIC:
        cols["n_count"] = func.count(num).filter(is_n)
        cols["n_sum"] = func.sum(num).filter(is_n)
        cols["b_count"] = func.count(num).filter(is_b)
        cols["b_sum"] = func.sum(num).filter(is_b)
    if "sumsq" in wanted:
        cols["n_sumsq"] = func.sum(num * num).filter(is_n)
    if "stddev" in wanted and postgres:
        cols["n_stddev"] = func.stddev_pop(num).filter(is_n)
    elif "stddev" in wanted:
        total, squares, count = (
            func.sum(num).filter(is_n),
            func.sum(num * num).filter(is_n),
            func.count(num).filter(is_n),
        )
        cols["n_variance"] = (squares - total * total / count) / count
    for method in wanted & {"min", "max"}:
        extreme = func.min if method == "min" else func.max
        cols[f"n_{method}"] = extreme(num).filter(is_n)
        cols[f"b_{method}"] = extreme(num).filter(is_b)
        cols[f"s_{method}"] = extreme(o.text_value).filter(is_s)
    return [expr.label(name) for name, expr in cols.items()]


def _has(row: Mapping[Any, Any], prefix: str) -> bool:
    return bool(row.get(f"{prefix}_count"))


def _sum(row: Mapping[Any, Any]) -> Any:
    if _has(row, "n"):
        return float(row["n_sum"])
    return int(row["b_sum"]) if _has(row, "b") else None


def _avg(row: Mapping[Any, Any]) -> Any:
    if _has(row, "n"):
        return float(row["n_sum"]) / int(row["n_count"])
    return float(row["b_sum"]) / int(row["b_count"]) if _has(row, "b") else None


def _sumsq(row: Mapping[Any, Any]) -> Any:
    if _has(row, "n"):
        return float(row["n_sumsq"])
    return int(row["b_sum"]) if _has(row, "b") else None  # 0² and 1² are 0 and 1


def _stddev(row: Mapping[Any, Any]) -> Any:
    if _has(row, "n"):
        if "n_stddev" in row:
            return float(row["n_stddev"])
        return math.sqrt(max(0.0, float(row["n_variance"])))
    if _has(row, "b"):
        share = float(row["b_sum"]) / int(row["b_count"])
        return math.sqrt(share * (1.0 - share))
    return None


def _extreme(method: str) -> Callable[[Mapping[Any, Any]], Any]:
    def pick(row: Mapping[Any, Any]) -> Any:
        if row[f"n_{method}"] is not None:
            return float(row[f"n_{method}"])
        if row[f"b_{method}"] is not None:
            return bool(row[f"b_{method}"])
        return row[f"s_{method}"]

    return pick


_FINISH: Final[Mapping[str, Callable[[Mapping[Any, Any]], Any]]] = {
    "totalCount": lambda row: int(row["total"]),
    "distinctCount": lambda row: sum(int(row[f"distinct_{t}"]) for t in "nbt"),
    "sum": _sum,
    "avg": _avg,
    "stddev": _stddev,
    "sumsq": _sumsq,
    "min": _extreme("min"),
    "max": _extreme("max"),
}


def _values(row: Mapping[Any, Any], methods: Sequence[str]) -> dict[str, Any]:
    """Return each method's value in one group; a method that applies to nothing is left out."""
    out: dict[str, Any] = {}
    for method in methods:
        value = _FINISH[method](row)
        if value is not None:
            out[method] = value
    return out


def _bucket(postgres: bool, origin: ColumnElement[Any], period: dt.timedelta) -> Any:
    """Return the start of the period holding each row's observedAt, aligned on ``origin``."""
    when = Observation.observed_at
    if postgres:
        step = bindparam("aggr_period", period, type_=Interval())
        return type_coerce(func.date_bin(step, when, origin), UTCDateTime)
    micros = type_coerce(when, BigInteger)
    size = literal(period // _MICROSECOND, BigInteger)
    offset = micros - type_coerce(origin, BigInteger)
    return type_coerce(micros - (offset % size + size) % size, UTCDateTime)


def _constant_origin(postgres: bool, origin: dt.datetime) -> ColumnElement[Any]:
    if postgres:
        return literal(origin, UTCDateTime())
    return literal(to_micros(origin), BigInteger)


def _origin(
    postgres: bool, query: TemporalQuery, where: list[ColumnElement[bool]]
) -> tuple[ColumnElement[Any], Any]:
    """Return the periods' origin and the rows to bucket: timeAt, or each first instance."""
    o = Observation
    if query.time_at is not None:
        return _constant_origin(postgres, query.time_at), o
    first = (
        select(o.entity_id, o.attribute, func.min(o.observed_at).label("origin"))
        .where(*where)
        .group_by(o.entity_id, o.attribute)
        .subquery("origins")
    )
    joined = and_(first.c.entity_id == o.entity_id, first.c.attribute == o.attribute)
    return first.c.origin, join(o, first, joined)


def _period_rows(
    session: Session,
    where: list[ColumnElement[bool]],
    query: TemporalQuery,
    period: dt.timedelta,
    kinds: Mapping[tuple[str, str, str], Kind],
) -> dict[AggregateKey, list[AggregateRow]]:
    o, postgres = Observation, _is_postgresql(session)
    keys = (o.entity_id, o.attribute, o.dataset_id)
    measures = _measures(query.aggr_methods, postgres)
    origin, source = _origin(postgres, query, where)
    bucket = _bucket(postgres, origin, period).label("bucket")
    stmt = (
        select(*keys, bucket, *measures)
        .select_from(source)
        .where(*where)
        .group_by(*keys, bucket)
        .order_by(*keys, bucket)
    )
    out: dict[AggregateKey, list[AggregateRow]] = {}
    for row in session.execute(stmt).mappings():
        kind = kinds.get((row["entity_id"], row["attribute"], row["dataset_id"]), Kind.PROPERTY)
        out.setdefault((row["entity_id"], row["attribute"]), []).append(
            AggregateRow(
                start=row["bucket"],
                end=row["bucket"] + period,
                values=_values(row, query.aggr_methods),
                dataset_id=row["dataset_id"] or None,
                kind=kind,
            )
        )
    return out


def _whole_window_rows(
    session: Session,
    where: list[ColumnElement[bool]],
    query: TemporalQuery,
    kinds: Mapping[tuple[str, str, str], Kind],
) -> dict[AggregateKey, list[AggregateRow]]:
    """Aggregate over one period per attribute: the query's window or first to last instance."""
    o = Observation
    keys = (o.entity_id, o.attribute, o.dataset_id)
    first, last = func.min(o.observed_at).label("first"), func.max(o.observed_at).label("last")
    measures = _measures(query.aggr_methods, _is_postgresql(session))
    stmt = select(*keys, first, last, *measures).where(*where).group_by(*keys).order_by(*keys)
    groups: dict[AggregateKey, list[Mapping[Any, Any]]] = {}
    for row in session.execute(stmt).mappings():
        groups.setdefault((row["entity_id"], row["attribute"]), []).append(row)
    out: dict[AggregateKey, list[AggregateRow]] = {}
    for key, rows in groups.items():
        start, end = _window_bounds(
            query, min(r["first"] for r in rows), max(r["last"] for r in rows)
        )
        out[key] = [
            AggregateRow(
                start=start,
                end=end,
                values=_values(r, query.aggr_methods),
                dataset_id=r["dataset_id"] or None,
                kind=kinds.get((key[0], key[1], r["dataset_id"]), Kind.PROPERTY),
            )
            for r in rows
        ]
    return out


def _window_bounds(
    query: TemporalQuery, first: dt.datetime, last: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """Return the single period: from timeAt or the first instance to the window's end."""
    start = query.time_at if query.timerel in ("after", "between") else first
    end = query.end_time_at if query.timerel == "between" else last
    end = query.time_at if query.timerel == "before" else end
    assert start is not None
    assert end is not None
    return start, end


def _last_periods(rows: list[AggregateRow], last_n: int | None) -> list[AggregateRow]:
    """Keep the newest ``last_n`` periods of each datasetId (all without lastN)."""
    if last_n is None:
        return rows
    groups: dict[str | None, list[AggregateRow]] = {}
    for row in rows:
        groups.setdefault(row.dataset_id, []).append(row)
    return [row for group in groups.values() for row in group[-last_n:]]


def _current_kinds(session: Session, entity_ids: Sequence[str]) -> dict[tuple[str, str, str], Kind]:
    """Return the kind of each current attribute instance (aggregates are typed by it)."""
    a = Attribute
    stmt = select(a.entity_id, a.attribute, a.dataset_id, a.kind).where(a.entity_id.in_(entity_ids))
    return {(e, n, d): Kind(k) for e, n, d, k in session.execute(stmt)}


# --- writing -------------------------------------------------------------------------------


def ensure_partitions(session: Session, instants: Iterable[dt.datetime]) -> None:
    """Create the monthly partitions these instants fall in (PostgreSQL only).

    Call it before the transaction touches ``observation``: the partition DDL runs on its
    own connection and waits for locks this session would otherwise hold.
    """
    if not _is_postgresql(session):
        return
    conn = session.connection()
    for year, month in sorted({(t.year, t.month) for t in instants}):
        ensure_month_partition(conn, year, month)


def _row(entity_id: str, instance: AttributeInstance) -> dict[str, Any]:
    """Return the ``observation`` row of an instance, encoded as entity_store writes it."""
    assert instance.observed_at is not None
    value_type, num, text_value = typed_value(instance.value)
    meta = instance_meta(instance) or {}
    meta["kind"] = instance.kind.value
    return {
        "entity_id": entity_id,
        "attribute": stored_name(instance.name),
        "observed_at": instance.observed_at,
        "dataset_id": instance.dataset_id or "",
        "num_value": num,
        "text_value": text_value,
        "value_type": value_type,
        "unit": None,
        "device_id": None,
        "meta": meta,
    }


def write_instances(
    session: Session, entity_id: str, instances: Sequence[AttributeInstance]
) -> None:
    """Store instances (each with observedAt); one at a stored instant replaces that row."""
    if not instances:
        return
    rows = [_row(entity_id, i) for i in instances]
    dialect = postgresql if _is_postgresql(session) else sqlite
    stmt: Any = dialect.insert(Observation)
    keys = ("entity_id", "attribute", "observed_at", "dataset_id")
    updated = {k: stmt.excluded[k] for k in rows[0] if k not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updated), rows)


def delete_history(
    session: Session,
    entity_id: str,
    attribute: str | None = None,
    dataset_id: str | None = None,
) -> int:
    """Delete an entity's instances (of one attribute, of one datasetId); return how many."""
    o = Observation
    stmt = delete(o).where(o.entity_id == entity_id)
    if attribute is not None:
        stmt = stmt.where(o.attribute == attribute)
    if dataset_id is not None:
        stmt = stmt.where(o.dataset_id == dataset_id)
    result = cast(CursorResult[Any], session.execute(stmt))
    return int(result.rowcount)


def delete_instance(session: Session, entity_id: str, attribute: str, key: InstanceKey) -> bool:
    """Delete the row an instanceId names; tell whether it existed."""
    o = Observation
    stmt = delete(o).where(
        o.entity_id == entity_id,
        o.attribute == attribute,
        o.observed_at == key.observed_at,
        o.dataset_id == key.dataset_id,
    )
    return bool(cast(CursorResult[Any], session.execute(stmt)).rowcount)


__all__ = [
    "INSTANCE_PREFIX",
    "InstanceKey",
    "aggregate",
    "delete_history",
    "delete_instance",
    "ensure_partitions",
    "find_instance",
    "history_attributes",
    "instance_id",
    "newest_instance",
    "parse_instance_id",
    "read_instances",
    "temporal_instance",
    "time_window",
    "write_instances",
]
