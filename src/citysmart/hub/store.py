"""Write readings to the observation store: idempotent, in bulk, on SQLite or PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from citysmart.core.types import from_micros
from citysmart.hub.senml import Reading

OBSERVATION_COLUMNS = (
    "entity_id", "attribute", "observed_at", "num_value", "text_value", "value_type", "unit",
    "device_id",
)
Row = tuple[str, str, Any, float | None, str | None, str, str | None, str | None]


@dataclass(slots=True)
class ReadingBatch:
    """Readings for one entity from one device (one pack or one MQTT message)."""

    entity_id: str
    device_id: str | None
    readings: list[Reading]


def _placeholders(conn: Connection, count: int) -> str:
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    return ", ".join([mark] * count)


def to_rows(conn: Connection, batches: Iterable[ReadingBatch]) -> list[Row]:
    """Flatten batches to driver-level rows (times as TIMESTAMPTZ or epoch µs)."""
    native = conn.dialect.name == "postgresql"
    rows: list[Row] = []
    append = rows.append
    for batch in batches:
        entity_id, device_id = batch.entity_id, batch.device_id
        for r in batch.readings:
            when: Any = from_micros(r.t_us) if native else r.t_us
            append(
                (entity_id, r.attribute, when, r.num_value, r.text_value, r.value_type, r.unit,
                 device_id)
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
        months = {(r[2].year, r[2].month) for r in rows}
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
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            f"INSERT INTO observation ({', '.join(OBSERVATION_COLUMNS)}) "
            f"VALUES ({_placeholders(conn, len(OBSERVATION_COLUMNS))}) ON CONFLICT DO NOTHING",
            rows,
        )
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _insert_postgresql(conn: Connection, rows: Sequence[Row]) -> int:
    # COPY into a per-connection staging table, then one INSERT ... ON CONFLICT DO NOTHING:
    # COPY is the fastest way in, and the INSERT keeps ingest idempotent.
    raw = conn.connection.driver_connection
    columns = ", ".join(OBSERVATION_COLUMNS)
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS observation_stage "
            "(LIKE observation INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY observation_stage ({columns}) FROM STDIN") as copy:
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
    """Keep ``latest_value`` at the newest reading of each (entity, attribute)."""
    newest: dict[tuple[str, str], Row] = {}
    for row in rows:
        key = (row[0], row[1])
        current = newest.get(key)
        if current is None or row[2] > current[2]:
            newest[key] = row
    if not newest:
        return
    marks = _placeholders(conn, len(OBSERVATION_COLUMNS))
    sql = (
        f"INSERT INTO latest_value ({', '.join(OBSERVATION_COLUMNS)}) VALUES ({marks}) "
        "ON CONFLICT (entity_id, attribute) DO UPDATE SET observed_at = excluded.observed_at, "
        "num_value = excluded.num_value, text_value = excluded.text_value, "
        "value_type = excluded.value_type, unit = excluded.unit, device_id = excluded.device_id "
        "WHERE excluded.observed_at > latest_value.observed_at"
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, sorted(newest.values(), key=lambda r: (r[0], r[1])))
    finally:
        cursor.close()
