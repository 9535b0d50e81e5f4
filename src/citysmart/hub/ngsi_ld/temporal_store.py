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
from sqlalchemy.sql import Subquery

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
    """Return the CRC-32 of a stored attribute name."""
    return zlib.crc32(attribute.encode())


# --- reading instances -------------------------------------------------------------------


def _is_postgresql(session: Session) -> bool:
    """Tell whether the session is on PostgreSQL."""
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
_GroupKey = tuple[str, str, str, Any]  # entity, attribute, datasetId, period start (or None)
_ByType = dict[str, Mapping[Any, Any]]  # value type -> its aggregates in one group


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
        where = [Observation.entity_id.in_(chunk), *time_window(query)]
        if attributes is not None:
            where.append(Observation.attribute.in_(attributes))
        groups = _grouped(session, where, query)
        rows = _aggregate_rows(groups, query, _current_kinds(session, chunk))
        out.update({key: _last_periods(found, query.last_n) for key, found in rows.items()})
    return out


def _grouped(
    session: Session, where: list[ColumnElement[bool]], query: TemporalQuery
) -> dict[_GroupKey, _ByType]:
    """Run the GROUP BY (entity, attribute, datasetId, period, value type)."""
    postgres = _is_postgresql(session)
    src = _instances_in_periods(postgres, where, query)
    keys = [src.c.entity_id, src.c.attribute, src.c.dataset_id]
    if query.aggr_period is not None:
        keys.append(src.c.t)
    times = [func.min(src.c.t).label("first"), func.max(src.c.t).label("last")]
    measures = _measures(src, query.aggr_methods, postgres)
    stmt = select(*keys, src.c.value_type, *times, *measures).group_by(*keys, src.c.value_type)
    groups: dict[_GroupKey, _ByType] = {}
    for row in session.execute(stmt).mappings():
        start = row["t"] if query.aggr_period is not None else None
        key = (row["entity_id"], row["attribute"], row["dataset_id"], start)
        groups.setdefault(key, {})[row["value_type"]] = row
    return groups


def _instances_in_periods(
    postgres: bool, where: list[ColumnElement[bool]], query: TemporalQuery
) -> Subquery:
    """Return the selected rows with ``t``: their period's start, or their observedAt.

    On PostgreSQL the subquery is fenced (``OFFSET 0``): the planner then estimates few
    groups and aggregates by hashing, instead of sorting every row by its period.
    """
    o = Observation
    columns = [o.entity_id, o.attribute, o.dataset_id, o.value_type, o.num_value, o.text_value]
    if query.aggr_period is None:
        stmt = select(*columns, o.observed_at.label("t"))
    else:
        origin, source = _origin(postgres, query, where)
        bucket = _bucket(postgres, origin, query.aggr_period).label("t")
        stmt = select(*columns, bucket).select_from(source)
    stmt = stmt.where(*where)
    return (stmt.offset(0) if postgres else stmt).subquery("instances")


def _measures(src: Subquery, methods: Sequence[str], postgres: bool) -> list[Any]:
    """Return the SQL aggregates the methods need, per value type of a group."""
    num, text_value, wanted = src.c.num_value, src.c.text_value, set(methods)
    cols: dict[str, Any] = {"rows": func.count()}
    if "distinctCount" in wanted:
        cols["distinct_num"] = func.count(distinct(num))
        cols["distinct_text"] = func.count(distinct(text_value))
    if wanted & _NUMERIC:
        cols["total"] = func.sum(num)
    if "sumsq" in wanted or ("stddev" in wanted and not postgres):
        cols["squares"] = func.sum(num * num)
    if "stddev" in wanted and postgres:
        cols["stddev"] = func.stddev_pop(num)
    elif "stddev" in wanted:
        cols["variance"] = (
            func.sum(num * num) - func.sum(num) * func.sum(num) / func.count(num)
        ) / func.count(num)
    for method in wanted & {"min", "max"}:
        extreme = func.min if method == "min" else func.max
        cols[f"{method}_num"] = extreme(num)
        cols[f"{method}_text"] = extreme(text_value)
    return [expr.label(name) for name, expr in cols.items()]


_NUMERIC: Final = frozenset({"sum", "avg", "stddev", "sumsq"})


def _numbers(group: _ByType) -> tuple[str, Mapping[Any, Any]] | None:
    """Return the numbers of a group, else its booleans (as 0 and 1), else None."""
    for value_type in ("n", "b"):
        if value_type in group:
            return value_type, group[value_type]
    return None


def _number(value_type: str, value: Any) -> Any:
    """Return a sum as JSON shows it: a float for numbers, an integer for booleans."""
    return float(value) if value_type == "n" else int(value)


def _sum(group: _ByType) -> Any:
    """Return ``sum``: of the numbers, else of the booleans as 0/1."""
    found = _numbers(group)
    return None if found is None else _number(found[0], found[1]["total"])


def _avg(group: _ByType) -> Any:
    """Return ``avg``: of the numbers, else of the booleans as 0/1."""
    found = _numbers(group)
    return None if found is None else float(found[1]["total"]) / int(found[1]["rows"])


def _sumsq(group: _ByType) -> Any:
    """Return ``sumsq``: of the numbers, else of the booleans as 0/1."""
    found = _numbers(group)
    return None if found is None else _number(found[0], found[1]["squares"])


def _stddev(group: _ByType) -> Any:
    """Return the population ``stddev``: of the numbers, else of the booleans as 0/1."""
    found = _numbers(group)
    if found is None:
        return None
    row = found[1]
    if "stddev" in row:
        return float(row["stddev"])
    return math.sqrt(max(0.0, float(row["variance"])))


def _distinct(group: _ByType) -> int:
    """Return ``distinctCount``: values of different types never count as equal."""
    return sum(
        int(row["distinct_num" if value_type in "nb" else "distinct_text"])
        for value_type, row in group.items()
    )


def _extreme(method: str) -> Callable[[_ByType], Any]:
    """Return ``min`` or ``max``: of the numbers, else booleans, else strings."""

    def pick(group: _ByType) -> Any:
        """Return the extreme of the group's preferred value type."""
        if "n" in group:
            return float(group["n"][f"{method}_num"])
        if "b" in group:
            return bool(group["b"][f"{method}_num"])
        return group["s"][f"{method}_text"] if "s" in group else None

    return pick


_FINISH: Final[Mapping[str, Callable[[_ByType], Any]]] = {
    "totalCount": lambda group: sum(int(row["rows"]) for row in group.values()),
    "distinctCount": _distinct,
    "sum": _sum,
    "avg": _avg,
    "stddev": _stddev,
    "sumsq": _sumsq,
    "min": _extreme("min"),
    "max": _extreme("max"),
}


def _values(group: _ByType, methods: Sequence[str]) -> dict[str, Any]:
    """Return each method's value in one group; a method that applies to nothing is left out."""
    out: dict[str, Any] = {}
    for method in methods:
        value = _FINISH[method](group)
        if value is not None:
            out[method] = value
    return out


def _aggregate_rows(
    groups: Mapping[_GroupKey, _ByType],
    query: TemporalQuery,
    kinds: Mapping[tuple[str, str, str], Kind],
) -> dict[AggregateKey, list[AggregateRow]]:
    """Turn SQL groups into AggregateRows, in datasetId and time order."""
    spans = _whole_windows(groups, query) if query.aggr_period is None else {}
    out: dict[AggregateKey, list[AggregateRow]] = {}
    for (entity, attribute, dataset_id, start), group in sorted(groups.items(), key=_order):
        if query.aggr_period is not None:
            bounds = (start, start + query.aggr_period)
        else:
            bounds = spans[(entity, attribute)]
        out.setdefault((entity, attribute), []).append(
            AggregateRow(
                start=bounds[0],
                end=bounds[1],
                values=_values(group, query.aggr_methods),
                dataset_id=dataset_id or None,
                kind=kinds.get((entity, attribute, dataset_id), Kind.PROPERTY),
            )
        )
    return out


def _order(item: tuple[_GroupKey, _ByType]) -> tuple[str, str, str, Any]:
    """Sort groups by entity, attribute, datasetId and period start."""
    entity, attribute, dataset_id, start = item[0]
    return entity, attribute, dataset_id, start or dt.datetime.min.replace(tzinfo=dt.UTC)


def _whole_windows(
    groups: Mapping[_GroupKey, _ByType], query: TemporalQuery
) -> dict[AggregateKey, tuple[dt.datetime, dt.datetime]]:
    """Return each attribute's single period: the window, or its first to last instance."""
    instants: dict[AggregateKey, list[dt.datetime]] = {}
    for (entity, attribute, _, _), group in groups.items():
        found = instants.setdefault((entity, attribute), [])
        found += [when for row in group.values() for when in (row["first"], row["last"])]
    return {key: _window_bounds(query, min(found), max(found)) for key, found in instants.items()}


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


def _origin(
    postgres: bool, query: TemporalQuery, where: list[ColumnElement[bool]]
) -> tuple[ColumnElement[Any], Any]:
    """Return the periods' origin and the rows to bucket: timeAt, or each first instance."""
    o = Observation
    if query.time_at is not None:
        if postgres:
            return literal(query.time_at, UTCDateTime()), o
        return literal(to_micros(query.time_at), BigInteger), o
    first = (
        select(o.entity_id, o.attribute, func.min(o.observed_at).label("origin"))
        .where(*where)
        .group_by(o.entity_id, o.attribute)
        .subquery("origins")
    )
    joined = and_(first.c.entity_id == o.entity_id, first.c.attribute == o.attribute)
    return first.c.origin, join(o, first, joined)


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
