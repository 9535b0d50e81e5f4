"""Write readings to the observation store: idempotent, in bulk, on SQLite or PostgreSQL."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Connection, text

from citysmart.hub.senml import Reading

OBSERVATION_COLUMNS = (
    "entity_id",
    "attribute",
    "observed_at",
    "num_value",
    "text_value",
    "value_type",
    "unit",
    "device_id",
)
# PostgreSQL types of those columns (migration 0001), for binary COPY: the rows go in as
# they are (a time as microseconds, a number as eight bytes), with nothing formatted as text
# by the hub or parsed back by the server.
OBSERVATION_PG_TYPES = (
    "varchar",
    "varchar",
    "timestamptz",
    "float8",
    "text",
    "varchar",
    "varchar",
    "varchar",
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # as in citysmart.core.types.from_micros
Row = tuple[str, str, Any, float | None, str | None, str, str | None, str | None]


@dataclass(slots=True)
class ReadingBatch:
    """Readings for one entity from one device (one pack or one MQTT message)."""

    entity_id: str
    device_id: str | None
    readings: list[Reading]


def _bind_marks(conn: Connection, count: int) -> str:
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    return ", ".join([mark] * count)


def to_rows(conn: Connection, batches: Iterable[ReadingBatch]) -> list[Row]:
    """Flatten batches to driver-level rows (times as TIMESTAMPTZ or epoch µs)."""
    rows: list[Row] = []
    append = rows.append
    if conn.dialect.name != "postgresql":
        for batch in batches:
            entity_id, device_id = batch.entity_id, batch.device_id
            for r in batch.readings:
                append(
                    (
                        entity_id,
                        r.attribute,
                        r.t_us,
                        r.num_value,
                        r.text_value,
                        r.value_type,
                        r.unit,
                        device_id,
                    )
                )
        return rows
    # Readings of one instant (several attributes of one station) come together: convert
    # each time once (the same value from_micros gives, without a call per row).
    epoch, micros = _EPOCH, dt.timedelta
    last_us: int | None = None
    when = epoch
    for batch in batches:
        entity_id, device_id = batch.entity_id, batch.device_id
        for r in batch.readings:
            t_us = r.t_us
            if t_us != last_us:
                when = epoch + micros(0, 0, t_us)
                last_us = t_us
            append(
                (
                    entity_id,
                    r.attribute,
                    when,
                    r.num_value,
                    r.text_value,
                    r.value_type,
                    r.unit,
                    device_id,
                )
            )
    return rows


class PartitionKeeper:
    """Create the monthly partitions of ``observation`` on PostgreSQL as data needs them."""

    def __init__(self) -> None:
        self._known: set[tuple[int, int]] = set()
        self._lock = threading.Lock()

    def ensure(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Make sure a partition exists for every month the rows fall in."""
        if conn.dialect.name != "postgresql" or not rows:
            return
        times = [r[2] for r in rows]
        first, last = min(times), max(times)
        if (first.year, first.month) == (last.year, last.month):
            months = {(first.year, first.month)}  # the common case: one month
        else:
            months = {(t.year, t.month) for t in times}
        missing = months - self._known
        if not missing:
            return
        with self._lock:
            for year, month in sorted(missing):
                ensure_month_partition(conn, year, month)
                self._known.add((year, month))


def partition_name(year: int, month: int) -> str:
    """Return the table name of one month's partition."""
    return f"observation_y{year:04d}m{month:02d}"


def ensure_month_partition(conn: Connection, year: int, month: int) -> None:
    """Create one month's partition if it does not exist (safe to race: a lock serialises)."""
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    name = partition_name(year, month)
    # Usually it exists (the migration makes the months around today): ask on the caller's
    # connection, as asking on another would take a second pooled connection per request,
    # and a burst of requests each holding one and waiting for another drains the pool.
    began = not conn.in_transaction()
    exists = conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar()
    if began:
        conn.rollback()  # end the transaction the check began: the caller begins its own
    if exists:
        return
    # A separate, short transaction: partition DDL locks the parent, so it must not wait
    # behind (or hold up) the ingest transaction. The advisory lock serialises hub workers.
    with conn.engine.connect() as ddl:
        ddl.execute(text("SELECT pg_advisory_xact_lock(hashtext('citysmart.partitions'))"))
        exists = ddl.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar()
        if not exists:
            ddl.exec_driver_sql(
                f"CREATE TABLE {name} PARTITION OF observation "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        ddl.commit()


def insert_observations(conn: Connection, rows: Sequence[Row]) -> int:
    """Insert rows, skipping any (entity, attribute, time) already stored; return how many."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return _insert_postgresql(conn, rows)
    return _execute_sqlite_rows(
        conn,
        f"INSERT INTO observation ({', '.join(OBSERVATION_COLUMNS)}) VALUES ",
        " ON CONFLICT DO NOTHING",
        rows,
    )


# SQLite gets one multi-row INSERT per (up to) this many rows instead of executemany's one
# statement per row. Each statement releases and retakes the GIL once: per row, that hands
# the GIL back and forth with every other busy thread (HTTP requests being parsed and
# validated), which slows ingest down severalfold as soon as requests overlap.
_SQLITE_CHUNK_ROWS = 1024


@functools.lru_cache(maxsize=64)
def _sqlite_values_sql(head: str, tail: str, rows: int) -> str:
    row = "(" + ", ".join("?" * len(OBSERVATION_COLUMNS)) + ")"
    return head + ", ".join([row] * rows) + tail


def _execute_sqlite_rows(conn: Connection, head: str, tail: str, rows: Sequence[Row]) -> int:
    """Run ``head (...), (...) tail`` over the rows; return how many rows it changed.

    Statements of few distinct sizes stay in the driver's statement cache (preparing one of
    a thousand rows costs as much as running it): full chunks, and a last chunk padded to a
    power of two with copies of its own last row. The ON CONFLICT clause makes each copy a
    no-op: it meets the row just written, which it neither replaces nor counts (an
    observation is skipped; a latest value is not newer than itself, so not updated).
    """
    dbapi = conn.connection.driver_connection
    limit = dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # type: ignore[union-attr]
    most = max(1, limit // len(OBSERVATION_COLUMNS))  # rows a statement may bind
    chunk = min(_SQLITE_CHUNK_ROWS, 1 << (most.bit_length() - 1))
    flatten = itertools.chain.from_iterable
    changed = 0
    cursor = dbapi.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            size = len(part) if len(part) == chunk else 1 << (len(part) - 1).bit_length()
            params = list(flatten(part))
            if size > len(part):
                params.extend(itertools.chain.from_iterable([part[-1]] * (size - len(part))))
            cursor.execute(_sqlite_values_sql(head, tail, size), params)
            changed += cursor.rowcount
        return changed
    finally:
        cursor.close()


def _insert_postgresql(conn: Connection, rows: Sequence[Row]) -> int:
    # Readings are nearly always new, so COPY them straight into the table, the fastest way
    # in; a savepoint makes that attempt free to fail. Only when some row is already stored
    # (a device or the broker sending again) does COPY meet a unique violation: then the
    # rows go through a staging table and one INSERT ... ON CONFLICT DO NOTHING, which keeps
    # ingest idempotent. Both ways store the same rows and count the same.
    raw = conn.connection.driver_connection
    if raw.autocommit:  # type: ignore[union-attr]  # no transaction block: no savepoint
        return _insert_postgresql_staged(conn, rows)
    columns = ", ".join(OBSERVATION_COLUMNS)
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute("SAVEPOINT observation_copy")
        try:
            with cursor.copy(f"COPY observation ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(OBSERVATION_PG_TYPES)
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT observation_copy")
            cursor.execute("RELEASE SAVEPOINT observation_copy")
            return _insert_postgresql_staged(conn, rows)
        cursor.execute("RELEASE SAVEPOINT observation_copy")
        return len(rows)


def _insert_postgresql_staged(conn: Connection, rows: Sequence[Row]) -> int:
    # COPY into a per-connection staging table, then one INSERT ... ON CONFLICT DO NOTHING,
    # which skips rows already stored (or repeated among these rows) and counts the rest.
    raw = conn.connection.driver_connection
    columns = ", ".join(OBSERVATION_COLUMNS)
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS observation_stage "
            "(LIKE observation INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY observation_stage ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(OBSERVATION_PG_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO observation ({columns}) SELECT {columns} FROM observation_stage "
            "ON CONFLICT DO NOTHING"
        )
        inserted = int(cursor.rowcount)
        cursor.execute("TRUNCATE observation_stage")
        return inserted


def update_latest(conn: Connection, rows: Sequence[Row]) -> None:
    """Make the newest reading of each (entity, attribute) the attribute's current instance.

    A reading replaces the value, unit and observedAt of the default instance and keeps its
    sub-attributes (``meta``), as an NGSI-LD partial update would; an instance without
    observedAt (written over NGSI-LD) is always older than a reading.
    """
    newest: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row[0], row[1])
        current = newest.get(key)
        if current is None or row[2] > current[2]:
            newest[key] = row
    if not newest:
        return
    latest = sorted(newest.values(), key=lambda r: (r[0], r[1]))
    columns = ", ".join(OBSERVATION_COLUMNS)
    upsert = (
        " ON CONFLICT (entity_id, attribute, dataset_id) DO UPDATE SET "
        "observed_at = excluded.observed_at, num_value = excluded.num_value, "
        "text_value = excluded.text_value, value_type = excluded.value_type, "
        "unit = excluded.unit, device_id = excluded.device_id, kind = 'Property', "
        "modified_at = NULL, min_lon = NULL, min_lat = NULL, max_lon = NULL, max_lat = NULL "
        "WHERE attribute.observed_at IS NULL OR excluded.observed_at > attribute.observed_at"
    )
    if conn.dialect.name != "postgresql":
        # Rows of distinct keys, so one multi-row statement does what one per row would.
        _execute_sqlite_rows(conn, f"INSERT INTO attribute ({columns}) VALUES ", upsert, latest)
        return
    marks = _bind_marks(conn, len(OBSERVATION_COLUMNS))
    sql = f"INSERT INTO attribute ({columns}) VALUES ({marks})" + upsert
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, latest)
    finally:
        cursor.close()
