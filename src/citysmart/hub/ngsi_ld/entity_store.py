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
from typing import Any, Final, cast

from sqlalchemy import Engine, Table, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from citysmart.core.db import Base
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


def _table(model: type[Base]) -> Table:
    """Return a model's table, for Core statements (no ORM bulk-insert overhead)."""
    return cast(Table, model.__table__)


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


EntityWrite = tuple[EntityFragment | None, EntityFragment | None, Sequence[Change]]
"""One entity's change: (before or None when created, after or None when deleted, changes)."""


def insert_entity(session: Session, entity: EntityFragment, now: dt.datetime) -> None:
    """Store a new entity; its attributes become their first temporal instances too."""
    changes = [Change(a.name, a.dataset_id, None, a) for a in entity.attributes]
    write_entities(session, [(None, entity, changes)], now)


def update_entity(
    session: Session,
    before: EntityFragment,
    after: EntityFragment,
    changes: Sequence[Change],
    now: dt.datetime,
) -> None:
    """Store an entity's new types, scope and changed attribute instances."""
    write_entities(session, [(before, after, changes)], now)


def delete_entity(session: Session, entity_id: str) -> bool:
    """Delete an entity and its current attributes (its history stays); say if it existed."""
    if session.get(Entity, entity_id) is None:
        return False
    _delete_rows(session, [entity_id])
    return True


def write_entities(session: Session, writes: Sequence[EntityWrite], now: dt.datetime) -> None:
    """Store the changes of many entities in a few statements, whatever the number.

    An entity is written at most once per call: its attribute rows are upserted together.
    """
    gone = [b.id for b, a, _ in writes if a is None and b is not None and b.id is not None]
    if gone:
        _delete_rows(session, gone)
    kept = [(b, a, c) for b, a, c in writes if a is not None]
    rows = _entity_rows(session, [str(a.id) for b, a, _ in kept if b is not None])
    with session.no_autoflush:
        for before, after, changes in kept:
            _entity_row(session, rows, before, after, changes, now)
    session.flush()  # entity rows first (batched): types and attributes refer to them
    _write_types(session, [(b, a) for b, a, _ in kept if b is None or b.types != a.types])
    _apply(session, [(str(a.id), c) for _, a, c in kept], now)


def _entity_rows(session: Session, ids: Sequence[str]) -> dict[str, Entity]:
    """Return the ``entity`` rows of these ids, read in one query per chunk."""
    rows: dict[str, Entity] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        rows.update((r.id, r) for r in session.scalars(select(Entity).where(Entity.id.in_(chunk))))
    return rows


def _entity_row(
    session: Session,
    rows: dict[str, Entity],
    before: EntityFragment | None,
    after: EntityFragment,
    changes: Sequence[Change],
    now: dt.datetime,
) -> None:
    """Add or change an ``entity`` row, its registry columns included."""
    assert after.id is not None
    assert after.types
    if before is None:
        row = Entity(id=after.id, properties={}, created_at=now)
        session.add(row)
    elif after.id in rows:
        row = rows[after.id]
    else:
        raise LookupError(after.id)
    row.type = stored_type(after.types[0])
    row.scope = list(after.scope) if after.scope else None
    row.modified_at = now
    _sync_registry_columns(row, changes)


def _delete_rows(session: Session, ids: Sequence[str]) -> None:
    """Delete entities with their types and current attributes."""
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        session.execute(delete(_table(Attribute)).where(Attribute.entity_id.in_(chunk)))
        session.execute(delete(_table(EntityType)).where(EntityType.entity_id.in_(chunk)))
        session.execute(delete(Entity).where(Entity.id.in_(chunk)))  # also leaves the session


def _write_types(
    session: Session, typed: Sequence[tuple[EntityFragment | None, EntityFragment]]
) -> None:
    """Store the types of new entities and of entities whose types changed."""
    changed = [str(b.id) for b, _ in typed if b is not None]
    for start in range(0, len(changed), CHUNK):
        chunk = changed[start : start + CHUNK]
        session.execute(delete(_table(EntityType)).where(EntityType.entity_id.in_(chunk)))
    rows = [
        {"entity_id": a.id, "type": t}
        for _, a in typed
        for t in dict.fromkeys(stored_type(t) for t in a.types)
    ]
    if rows:
        session.execute(insert(_table(EntityType)), rows)


def _apply(
    session: Session, changed: Sequence[tuple[str, Sequence[Change]]], now: dt.datetime
) -> None:
    """Delete, upsert and record in the history the instances that changed."""
    gone = [
        {"e": entity_id, "a": stored_name(c.name), "d": c.dataset_id or ""}
        for entity_id, changes in changed
        for c in changes
        if c.after is None
    ]
    if gone:
        session.execute(_DELETE_ATTRIBUTE, gone)
    kept = [(entity_id, c) for entity_id, changes in changed for c in changes if c.after]
    if kept:
        values = [_attribute_values(entity_id, c.after, now) for entity_id, c in kept if c.after]
        _upsert_attributes(session, values)
        _append_history(session, kept, now)


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


_ATTRIBUTE_KEY: Final = ("entity_id", "attribute", "dataset_id")
_DELETE_ATTRIBUTE: Final = delete(_table(Attribute)).where(
    Attribute.entity_id == bindparam("e"),
    Attribute.attribute == bindparam("a"),
    Attribute.dataset_id == bindparam("d"),
)
_OBSERVATION_KEY: Final = ("entity_id", "attribute", "observed_at", "dataset_id")
_UPSERTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def _upsert(session: Session, table: Table, key: tuple[str, ...], columns: Iterable[str]) -> Any:
    """Return an INSERT ... ON CONFLICT (key) DO UPDATE of the other columns, built once."""
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, table.name, tuple(columns))
    stmt = _UPSERTS.get(cache_key)
    if stmt is None:
        base: Any = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        updated = {c: base.excluded[c] for c in cache_key[2] if c not in key}
        stmt = _UPSERTS[cache_key] = base.on_conflict_do_update(index_elements=key, set_=updated)
    return stmt


def _upsert_attributes(session: Session, values: list[dict[str, Any]]) -> None:
    stmt = _upsert(session, _table(Attribute), _ATTRIBUTE_KEY, values[0])
    session.execute(stmt, values)


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
    session: Session, changes: Sequence[tuple[str, Change]], now: dt.datetime
) -> None:
    """Record each new instance in ``observation`` (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    for entity_id, change in changes:
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
    session.execute(_upsert(session, _table(Observation), _OBSERVATION_KEY, rows[0]), rows)


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
    "EntityWrite",
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
    "write_entities",
]
