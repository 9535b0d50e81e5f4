"""The hot read on PostgreSQL: retrieve an entity in one statement on the event loop.

``GET /entities/{id}`` is the broker's most frequent request. The general path (a thread
hop, an ORM session, two queries) spends several times the database's own work on
Python; this one asks a single statement on a pooled asynchronous psycopg connection in
autocommit mode (one statement is one consistent snapshot, so no transaction is needed)
and renders with the same functions as every other read, so both paths answer alike.

It serves the default tenant with the core @context only: a tenant's schema or a client's
remote @context may need a blocking step (finding the tenant, fetching the context), which
belongs in a thread, not on the event loop. The pool belongs to the event loop that opened
it (the app's lifespan); a request running on another loop takes the general path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any, Final

import psycopg
from psycopg.rows import dict_row

from citysmart.hub.ngsi_ld.model import EntityFragment
from citysmart.hub.ngsi_ld.query import fragment_from_rows

logger = logging.getLogger(__name__)

_ENTITY_SQL: Final = """
SELECT e.id, e.type, e.scope, e.created_at AS e_created, e.modified_at AS e_modified,
       ARRAY(SELECT t.type FROM entity_type t WHERE t.entity_id = e.id) AS types,
       a.attribute, a.dataset_id, a.kind, a.observed_at, a.num_value, a.text_value,
       a.value_type, a.unit, a.meta, a.created_at, a.modified_at
FROM entity e
LEFT JOIN attribute a
  ON a.entity_id = e.id AND (%(names)s::text[] IS NULL OR a.attribute = ANY(%(names)s::text[]))
WHERE e.id = %(id)s
ORDER BY a.attribute, a.dataset_id
"""
_HEAD: Final = ("id", "type", "scope")
_ATTRIBUTE: Final = (
    "attribute",
    "dataset_id",
    "kind",
    "observed_at",
    "num_value",
    "text_value",
    "value_type",
    "unit",
    "meta",
    "created_at",
    "modified_at",
)


class AsyncEntityReader:
    """A small pool of asynchronous connections that retrieves entities by id."""

    def __init__(self, dsn: str, size: int = 8) -> None:
        self.dsn = dsn
        self.size = size
        self._idle: list[psycopg.AsyncConnection[dict[str, Any]]] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        """Bind the pool to the running event loop (connections open on first use)."""
        self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.size)

    async def close(self) -> None:
        """Close every idle connection; the pool serves no more."""
        self._loop, idle, self._idle = None, self._idle, []
        for conn in idle:
            await conn.close()

    def usable(self) -> bool:
        """Tell whether this pool can serve a request on the running loop."""
        try:
            return self._loop is asyncio.get_running_loop()
        except RuntimeError:
            return False

    async def entity(self, entity_id: str, names: Sequence[str] | None) -> EntityFragment | None:
        """Return an entity (only the stored attribute ``names`` when given), or None."""
        params = {"id": entity_id, "names": list(names) if names is not None else None}
        rows = await self._fetch(params)
        if not rows:
            return None
        first = rows[0]
        head = SimpleNamespace(
            **{k: first[k] for k in _HEAD},
            created_at=_utc(first["e_created"]),
            modified_at=_utc(first["e_modified"]),
        )
        attributes = [
            SimpleNamespace(
                **{k: row[k] for k in _ATTRIBUTE},
            )
            for row in rows
            if row["attribute"] is not None
        ]
        for attribute in attributes:
            for key in ("observed_at", "created_at", "modified_at"):
                setattr(attribute, key, _utc(getattr(attribute, key)))
        return fragment_from_rows(head, list(first["types"]), attributes)

    async def _fetch(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the statement; a connection broken since its last use is replaced once."""
        for attempt in (1, 2):
            async with self._connection() as conn:
                try:
                    cursor = await conn.execute(_ENTITY_SQL, params)
                    return await cursor.fetchall()
                except psycopg.OperationalError:
                    if attempt == 2 or not conn.broken:
                        raise
                    logger.info("a pooled connection was broken; retrying on a new one")
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        """Lend an idle connection (or a new one); keep it afterwards unless it broke."""
        assert self._slots is not None, "open() the reader first"
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            finally:
                if conn.broken or conn.closed or self._loop is None:
                    await conn.close()
                else:
                    self._idle.append(conn)

    async def _connect(self) -> psycopg.AsyncConnection[dict[str, Any]]:
        """Open a connection that answers times in UTC."""
        return await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, row_factory=dict_row, options="-c TimeZone=UTC"
        )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """Return an aware time in UTC, as the store's UTCDateTime type does."""
    return value.astimezone(dt.UTC) if value is not None else None


__all__ = ["AsyncEntityReader"]
