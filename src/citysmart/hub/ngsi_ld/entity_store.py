"""Read and write NGSI-LD entities in the hub's tables: one store, two views.

An entity is its ``entity`` row, its ``entity_type`` rows and its ``attribute`` rows (the
current instance of each attribute and datasetId, which device ingest also keeps
current). Every instance an NGSI-LD write creates or changes is also appended to
``observation``, so it is a point of the entity's temporal evolution, as a reading is.
The registry's ``name``, ``location`` and ``properties`` columns are kept in step with the
attributes of the same names, so the hub API and the explorer see NGSI-LD entities too.

Writes start with :func:`begin_write` and load what they change with ``lock=True``, so a
read-modify-write of an entity is not lost to a concurrent one: SQLite takes its write
lock up front (``BEGIN IMMEDIATE``, which also makes savepoints nest inside one
transaction, as pysqlite would otherwise let the first ``RELEASE`` commit), PostgreSQL
locks the entity rows (``FOR UPDATE``, in id order).

An instance goes into the history at its ``observedAt``, or at its ``modifiedAt`` when it
has none or kept the one it had (a merge that does not give ``observedAt``): a write then
adds a point after a device reading instead of overwriting the reading in place.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from citysmart.hub.models import Attribute, Entity, EntityType, Observation
from citysmart.hub.ngsi_ld.codec import (
    bounding_box,
    expanded_type,
    instance_meta,
    row_instance,
    stored_name,
    stored_type,
    typed_value,
)
from citysmart.hub.ngsi_ld.model import AttributeInstance, Change, EntityFragment, Kind
from citysmart.hub.store import ensure_month_partition

CHUNK: Final = 500  # ids per IN (...)
_NAME: Final = "name"
_LOCATION: Final = "location"


def begin_write(session: Session) -> None:
    """Start a write transaction; on SQLite take the write lock now (see the docstring)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw: Any = connection.connection.driver_connection
    if not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def load_entities(
    session: Session, ids: Iterable[str], *, lock: bool = False
) -> dict[str, EntityFragment]:
    """Return the entities with these ids (expanded names), skipping missing ones.

    ``lock`` locks their rows until the transaction ends (PostgreSQL; SQLite writes are
    serialised by :func:`begin_write`).
    """
    wanted = sorted(set(ids))
    out: dict[str, EntityFragment] = {}
    for start in range(0, len(wanted), CHUNK):
        stmt = select(Entity).where(Entity.id.in_(wanted[start : start + CHUNK]))
        if lock:
            stmt = stmt.order_by(Entity.id).with_for_update()
        out.update(_assemble(session, session.scalars(stmt).all()))
    return out


def load_entity_rows(session: Session, rows: Sequence[Entity]) -> list[EntityFragment]:
    """Return the entities of already-loaded ``entity`` rows, in their order."""
    found: dict[str, EntityFragment] = {}
    for start in range(0, len(rows), CHUNK):
        found.update(_assemble(session, rows[start : start + CHUNK]))
    return [found[r.id] for r in rows]


def _assemble(session: Session, rows: Sequence[Entity]) -> dict[str, EntityFragment]:
    ids = [r.id for r in rows]
    if not ids:
        return {}
    types: dict[str, list[str]] = {i: [] for i in ids}
    for entity_id, name in session.execute(
        select(EntityType.entity_id, EntityType.type).where(EntityType.entity_id.in_(ids))
    ):
        types[entity_id].append(name)
    attributes: dict[str, list[Attribute]] = {i: [] for i in ids}
    for attribute in session.scalars(
        select(Attribute)
        .where(Attribute.entity_id.in_(ids))
        .order_by(Attribute.entity_id, Attribute.attribute, Attribute.dataset_id)
    ):
        attributes[attribute.entity_id].append(attribute)
    return {r.id: _fragment(r, types[r.id], attributes[r.id]) for r in rows}


def _fragment(row: Entity, types: list[str], attributes: list[Attribute]) -> EntityFragment:
    ordered = [row.type, *sorted(t for t in types if t != row.type)]
    return EntityFragment(
        id=row.id,
        types=tuple(expanded_type(t) for t in ordered),
        scope=tuple(row.scope) if row.scope else None,
        attributes=tuple(row_instance(a, row.created_at) for a in attributes),
        created_at=row.created_at,
        modified_at=row.modified_at,
    )


def entity_exists(session: Session, entity_id: str) -> bool:
    """Tell whether an entity with this id is stored."""
    return session.scalar(select(Entity.id).where(Entity.id == entity_id)) is not None


def existing_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """Return which of these ids are stored."""
    wanted = list(dict.fromkeys(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        found.update(session.scalars(select(Entity.id).where(Entity.id.in_(chunk))))
    return found


def insert_entity(session: Session, entity: EntityFragment, now: dt.datetime) -> None:
    """Store a new entity; its attributes become their first temporal instances too."""
    assert entity.id is not None
    assert entity.types
    row = Entity(
        id=entity.id,
        type=stored_type(entity.types[0]),
        properties={},
        scope=list(entity.scope) if entity.scope else None,
        created_at=now,
        modified_at=now,
    )
    changes = [Change(a.name, a.dataset_id, None, a) for a in entity.attributes]
    _sync_registry_columns(row, changes)  # before the INSERT: no UPDATE to bump modified_at
    session.add(row)
    session.flush()
    _write_types(session, entity.id, entity.types)
    _apply(session, row.id, changes, now)


def update_entity(
    session: Session,
    before: EntityFragment,
    after: EntityFragment,
    changes: Sequence[Change],
    now: dt.datetime,
) -> None:
    """Store an entity's new types, scope and changed attribute instances."""
    assert before.id is not None
    row = session.get(Entity, before.id)
    if row is None:
        raise LookupError(before.id)
    if after.types != before.types:
        session.execute(delete(EntityType).where(EntityType.entity_id == before.id))
        _write_types(session, before.id, after.types)
        row.type = stored_type(after.types[0])
    row.scope = list(after.scope) if after.scope else None
    row.modified_at = now
    _sync_registry_columns(row, changes)
    _apply(session, row.id, changes, now)


def delete_entity(session: Session, entity_id: str) -> bool:
    """Delete an entity and its current attributes (its history stays); say if it existed."""
    row = session.get(Entity, entity_id)
    if row is None:
        return False
    session.execute(delete(Attribute).where(Attribute.entity_id == entity_id))
    session.execute(delete(EntityType).where(EntityType.entity_id == entity_id))
    session.delete(row)
    return True


def _write_types(session: Session, entity_id: str, types: Sequence[str]) -> None:
    stored = list(dict.fromkeys(stored_type(t) for t in types))
    session.execute(insert(EntityType), [{"entity_id": entity_id, "type": t} for t in stored])


def _apply(session: Session, entity_id: str, changes: Sequence[Change], now: dt.datetime) -> None:
    """Delete, upsert and record in the history the instances that changed."""
    gone = [c for c in changes if c.after is None]
    for change in gone:
        session.execute(
            delete(Attribute).where(
                Attribute.entity_id == entity_id,
                Attribute.attribute == stored_name(change.name),
                Attribute.dataset_id == (change.dataset_id or ""),
            )
        )
    kept = [c for c in changes if c.after is not None]
    if kept:
        values = [_attribute_values(entity_id, c.after, now) for c in kept if c.after]
        _upsert_attributes(session, values)
        _append_history(session, entity_id, kept, now)


def _attribute_values(entity_id: str, a: AttributeInstance, now: dt.datetime) -> dict[str, Any]:
    value_type, num, text = typed_value(a.value)
    box = bounding_box(a.value) if a.kind is Kind.GEO_PROPERTY else None
    return {
        "entity_id": entity_id,
        "attribute": stored_name(a.name),
        "dataset_id": a.dataset_id or "",
        "kind": a.kind.value,
        "observed_at": a.observed_at,
        "num_value": num,
        "text_value": text,
        "value_type": value_type,
        "unit": None,
        "device_id": None,
        "meta": instance_meta(a),
        "min_lon": box[0] if box else None,
        "min_lat": box[1] if box else None,
        "max_lon": box[2] if box else None,
        "max_lat": box[3] if box else None,
        "created_at": a.created_at or now,
        "modified_at": a.modified_at or now,
    }


def _upsert_attributes(session: Session, values: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    stmt: Any = (postgresql if dialect == "postgresql" else sqlite).insert(Attribute)
    keys = ("entity_id", "attribute", "dataset_id")
    updated = {k: stmt.excluded[k] for k in values[0] if k not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updated), values)


def _history_time(change: Change, now: dt.datetime) -> dt.datetime:
    """Return when an instance enters the history (see the module docstring)."""
    after = change.after
    assert after is not None
    before = change.before
    kept = before is not None and before.observed_at == after.observed_at
    if after.observed_at is not None and not kept:
        return after.observed_at
    return after.modified_at or now


def _append_history(
    session: Session, entity_id: str, changes: Sequence[Change], now: dt.datetime
) -> None:
    """Record each new instance in ``observation`` (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    for change in changes:
        a = change.after
        assert a is not None
        value_type, num, text = typed_value(a.value)
        meta = instance_meta(a) or {}
        meta["kind"] = a.kind.value
        rows.append(
            {
                "entity_id": entity_id,
                "attribute": stored_name(a.name),
                "observed_at": _history_time(change, now),
                "dataset_id": a.dataset_id or "",
                "num_value": num,
                "text_value": text,
                "value_type": value_type,
                "unit": None,
                "device_id": None,
                "meta": meta,
            }
        )
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        _ensure_partitions(session, {(r["observed_at"].year, r["observed_at"].month) for r in rows})
    stmt: Any = (postgresql if dialect == "postgresql" else sqlite).insert(Observation)
    keys = ("entity_id", "attribute", "observed_at", "dataset_id")
    updated = {k: stmt.excluded[k] for k in rows[0] if k not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updated), rows)


_PARTITIONS: Final[weakref.WeakKeyDictionary[Engine, set[tuple[int, int]]]] = (
    weakref.WeakKeyDictionary()
)
_PARTITIONS_LOCK: Final = threading.Lock()


def _ensure_partitions(session: Session, months: set[tuple[int, int]]) -> None:
    """Create the monthly ``observation`` partitions not yet known to exist (per engine)."""
    conn = session.connection()
    with _PARTITIONS_LOCK:
        known = _PARTITIONS.setdefault(conn.engine, set())
        missing = sorted(months - known)
    for year, month in missing:
        ensure_month_partition(conn, year, month)
        with _PARTITIONS_LOCK:
            known.add((year, month))


def _sync_registry_columns(row: Entity, changes: Sequence[Change]) -> None:
    """Keep the registry's name, location and properties equal to the attributes."""
    properties = dict(row.properties or {})
    for change in changes:
        if change.dataset_id is not None:
            continue
        name = stored_name(change.name)
        after = change.after
        if name == _NAME:
            is_text = after is not None and isinstance(after.value, str)
            row.name = after.value if is_text and after is not None else None
        elif name == _LOCATION:
            is_geo = after is not None and after.kind is Kind.GEO_PROPERTY
            row.location = after.value if is_geo and after is not None else None
        elif after is None or after.kind is not Kind.PROPERTY or after.observed_at is not None:
            properties.pop(name, None)
        else:
            properties[name] = after.value
    row.properties = properties


def registry_attributes(entity: Entity) -> list[AttributeInstance]:
    """Return the registry's name, location and properties of an entity as attributes."""
    statics: dict[str, Any] = dict(entity.properties or {})
    if entity.name is not None:
        statics[_NAME] = entity.name
    if entity.location is not None:
        statics[_LOCATION] = entity.location
    out = []
    for name, value in statics.items():
        if value is None:
            continue
        kind = Kind.GEO_PROPERTY if name == _LOCATION else Kind.PROPERTY
        out.append(AttributeInstance(name=name, kind=kind, value=value))
    return out


def sync_registry_entity(session: Session, entity: Entity, now: dt.datetime) -> None:
    """Write a registry entity's types and static attributes as NGSI-LD rows."""
    session.flush()
    if session.get(EntityType, (entity.id, entity.type)) is None:
        session.add(EntityType(entity_id=entity.id, type=entity.type))
    statics = registry_attributes(entity)
    if statics:
        values = [_attribute_values(entity.id, a, now) for a in statics]
        existing = {
            name: created
            for name, created in session.execute(
                select(Attribute.attribute, Attribute.created_at).where(
                    Attribute.entity_id == entity.id, Attribute.dataset_id == ""
                )
            )
        }
        for v in values:
            v["created_at"] = existing.get(v["attribute"]) or now
        _upsert_attributes(session, values)


__all__ = [
    "begin_write",
    "delete_entity",
    "entity_exists",
    "existing_ids",
    "insert_entity",
    "load_entities",
    "load_entity_rows",
    "registry_attributes",
    "sync_registry_entity",
    "update_entity",
]
