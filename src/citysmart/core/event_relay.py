"""Carry hub events between processes through PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine

from citysmart.core.events import EventBus, ReadingsStored

logger = logging.getLogger(__name__)
CHANNEL = "citysmart_readings"
# NOTIFY payloads are limited to 8000 bytes: an event that lists more attributes than fit
# is announced without them (listeners then treat every attribute as changed).
MAX_PAYLOAD = 7900


def encode(event: ReadingsStored, origin: str) -> str:
    """Serialise an event for NOTIFY."""
    body = {
        "o": origin,
        "e": event.entity_id,
        "a": sorted(event.attributes),
        "t": event.latest.isoformat(),
        "n": event.count,
        "g": event.tenant,
        "r": event.trigger,
    }
    text = json.dumps(body, separators=(",", ":"))
    if len(text.encode()) > MAX_PAYLOAD:
        body["a"] = None
        text = json.dumps(body, separators=(",", ":"))
    return text


def decode(payload: str) -> ReadingsStored:
    """Rebuild an event from a NOTIFY payload."""
    body = json.loads(payload)
    attributes = frozenset(body["a"]) if body["a"] is not None else frozenset()
    latest = dt.datetime.fromisoformat(body["t"])
    return ReadingsStored(
        body["e"],
        attributes,
        latest,
        int(body["n"]),
        origin=body["o"],
        tenant=body.get("g", ""),
        trigger=body.get("r", ""),
    )


class PostgresEventRelay:
    """Forward this process's events to the others, and theirs into this process's bus.

    NOTIFY is not durable: a process that is down misses events. Whatever must not be
    missed (a subscription's notification) is kept in a table, not carried by events.
    """

    def __init__(self, engine: Engine, bus: EventBus) -> None:
        url = engine.url.set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self.bus = bus
        self.origin = uuid.uuid4().hex
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._outbox: queue.Queue[str] = queue.Queue()
        self._sender: psycopg.Connection[tuple[object, ...]] | None = None
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        """Start listening, and forward local events from now on."""
        self._unsubscribe = self.bus.subscribe(self._forward)
        for target, name in ((self._listen, "event-listen"), (self._send_loop, "event-send")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop forwarding and listening."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    def _forward(self, event: ReadingsStored) -> None:
        if event.origin:
            return  # it came from another process: it was announced there already
        # Queued, not sent here: the request or ingest batch that stored the readings
        # should not wait for a round trip to the database for the announcement.
        self._outbox.put(encode(event, self.origin))

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                payloads = [self._outbox.get(timeout=0.5)]
            except queue.Empty:
                continue
            while len(payloads) < 500:
                try:
                    payloads.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            self._send(payloads)

    def _send(self, payloads: list[str]) -> None:
        try:
            if self._sender is None or self._sender.closed:
                self._sender = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            with self._sender.transaction(), self._sender.cursor() as cursor:
                cursor.executemany("SELECT pg_notify(%s, %s)", [(CHANNEL, p) for p in payloads])
        except psycopg.Error as exc:
            # The readings are stored; only the announcement to other processes is lost.
            logger.warning(
                "could not announce %d event(s) to other processes: %s", len(payloads), exc
            )
            if self._sender is not None:
                self._sender.close()
            self._sender = None

    def _listen(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver(note.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                logger.warning("event relay lost its connection, reconnecting: %s", exc)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, 10.0)

    def _deliver(self, payload: str) -> None:
        try:
            event = decode(payload)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed event payload: %.200s", payload)
            return
        if event.origin != self.origin:
            self.bus.publish(event)
