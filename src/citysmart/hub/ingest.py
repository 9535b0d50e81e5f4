"""One ingest path for HTTP, MQTT and CSV: validate, store once, record what failed."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from citysmart.core.events import EventBus, ReadingsStored
from citysmart.core.security import digest_secret
from citysmart.core.time import utcnow
from citysmart.core.types import from_micros
from citysmart.hub.models import DeadLetter, Device
from citysmart.hub.senml import PackError, Reading, Rejection, parse_pack, resolve_pack
from citysmart.hub.store import (
    PartitionKeeper,
    ReadingBatch,
    insert_observations,
    to_rows,
    update_latest,
)

logger = logging.getLogger(__name__)
MAX_DEAD_LETTER_PAYLOAD = 64 * 1024


class DeviceRefused(Exception):
    """The sender is not a device allowed to report: the pack is refused as a whole."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What ingest needs to know about a device."""

    id: str
    entity_id: str
    status: str


@dataclass(slots=True)
class IngestResult:
    """What happened to one pack."""

    stored: int = 0
    duplicates: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message: the device its topic names, the topic, the payload."""

    device_id: str
    topic: str
    payload: bytes


class Ingestor:
    """Validate readings and store them, announcing what was stored."""

    def __init__(
        self,
        engine: Engine,
        events: EventBus | None = None,
        max_skew_s: float = 300.0,
        max_pack_bytes: int = 1024 * 1024,
    ) -> None:
        self.engine = engine
        self.events = events or EventBus()
        self.max_skew_s = max_skew_s
        self.max_pack_bytes = max_pack_bytes
        self.partitions = PartitionKeeper()
        # SQLite takes one writer at a time, and a blocked writer sleeps in growing steps
        # (its busy handler) before it tries again: queueing writers on a lock in this
        # process instead keeps the file busy all the time. PostgreSQL needs no such lock.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    # -- HTTP ---------------------------------------------------------------------------
    def device_for_key(self, key: str) -> DeviceInfo:
        """Authenticate a device by its key; raise DeviceRefused when it may not report."""
        with self.engine.connect() as conn:
            return _device_for_key(conn, key)

    def ingest_for_key(self, key: str, body: bytes) -> IngestResult:
        """Authenticate by key and store the pack, on one connection (the HTTP path)."""
        with self.engine.connect() as conn:
            device = _device_for_key(conn, key)
            conn.rollback()  # end the read so the write below starts its own transaction
            return self._store_pack(conn, device, body)

    def ingest_pack(self, device: DeviceInfo, body: bytes) -> IngestResult:
        """Store one SenML pack from an authenticated device (raises PackError as a whole)."""
        with self.engine.connect() as conn:
            return self._store_pack(conn, device, body)

    def _store_pack(self, conn: Connection, device: DeviceInfo, body: bytes) -> IngestResult:
        if len(body) > self.max_pack_bytes:
            raise PackError(
                "Pack too large",
                f"the pack is {len(body)} bytes; the limit is {self.max_pack_bytes}",
            )
        records = parse_pack(body)
        readings, rejections = resolve_pack(records, time.time(), self.max_skew_s)
        result = IngestResult(rejections=rejections)
        batch = ReadingBatch(device.entity_id, device.id, readings)
        rows = to_rows(conn, [batch])
        self.partitions.ensure(conn, rows)
        with self._write_lock, conn.begin():
            result.stored = insert_observations(conn, rows)
            update_latest(conn, rows)
            _touch_devices(conn, {device.id: (len(rejections), _first_reason(rejections))})
        result.duplicates = len(readings) - result.stored
        self._announce([batch])
        return result

    # -- MQTT -----------------------------------------------------------------------------
    def ingest_messages(self, messages: Sequence[Message]) -> None:
        """Store a batch of MQTT messages in one transaction; bad ones become dead letters.

        Raises only when the database fails, so that the caller retries and never
        acknowledges a message whose readings were not committed.
        """
        now = time.time()
        with self.engine.connect() as conn:
            devices = _load_devices(conn, {m.device_id for m in messages})
            batches: list[ReadingBatch] = []
            dead: list[dict[str, object]] = []
            stats: dict[str, tuple[int, str | None]] = {}
            for message in messages:
                batch = self._resolve_message(message, devices, now, dead, stats)
                if batch is not None:
                    batches.append(batch)
            rows = to_rows(conn, batches)
            self.partitions.ensure(conn, rows)
            with self._write_lock, conn.begin():
                insert_observations(conn, rows)
                update_latest(conn, rows)
                if dead:
                    conn.execute(insert(DeadLetter), dead)
                _touch_devices(conn, {d: s for d, s in stats.items() if d in devices})
        self._announce(batches)

    def _resolve_message(
        self,
        message: Message,
        devices: dict[str, DeviceInfo],
        now: float,
        dead: list[dict[str, object]],
        stats: dict[str, tuple[int, str | None]],
    ) -> ReadingBatch | None:
        def dead_letter(reason: str) -> None:
            dead.append(
                dead_letter_row("mqtt", message.device_id, message.topic, message.payload, reason)
            )
            errors, _ = stats.get(message.device_id, (0, None))
            stats[message.device_id] = (errors + 1, reason)

        device = devices.get(message.device_id)
        if device is None:
            dead_letter(f"unknown device {message.device_id!r}")
            return None
        if device.status != "active":
            dead_letter(f"device {device.id} is {device.status}")
            return None
        if len(message.payload) > self.max_pack_bytes:
            dead_letter(f"payload of {len(message.payload)} bytes is over {self.max_pack_bytes}")
            return None
        try:
            records = parse_pack(message.payload)
        except PackError as exc:
            dead_letter(f"{exc.title}: {exc.detail}")
            return None
        readings, rejections = resolve_pack(records, now, self.max_skew_s)
        if rejections:
            dead_letter("; ".join(f"record {r.index}: {r.reason}" for r in rejections[:20]))
        else:
            errors, reason = stats.get(device.id, (0, None))
            stats[device.id] = (errors, reason)
        return ReadingBatch(device.entity_id, device.id, readings) if readings else None

    def keep_dead_letter(self, device_id: str, topic: str, payload: bytes, reason: str) -> None:
        """Keep one message as a dead letter and count it against its device."""
        row = dead_letter_row("mqtt", device_id, topic, payload, reason)
        with self.engine.begin() as conn:
            conn.execute(insert(DeadLetter), [row])
            _touch_devices(conn, {device_id: (1, row["reason"])})

    # -- CSV import and tools -------------------------------------------------------------
    def store_readings(self, entity_id: str, device_id: str | None, readings: list[Reading]) -> int:
        """Store already-validated readings (the CSV importer's path); return how many."""
        batch = ReadingBatch(entity_id, device_id, readings)
        with self.engine.connect() as conn:
            rows = to_rows(conn, [batch])
            self.partitions.ensure(conn, rows)
            with self._write_lock, conn.begin():
                stored = insert_observations(conn, rows)
                update_latest(conn, rows)
        self._announce([batch])
        return stored

    def _announce(self, batches: Sequence[ReadingBatch]) -> None:
        grouped: dict[str, list[Reading]] = defaultdict(list)
        for batch in batches:
            grouped[batch.entity_id].extend(batch.readings)
        for entity_id, readings in grouped.items():
            if readings:
                self.events.publish(
                    ReadingsStored(
                        entity_id,
                        frozenset(r.attribute for r in readings),
                        from_micros(max(r.t_us for r in readings)),
                        len(readings),
                    )
                )


def dead_letter_row(
    source: str, device_id: str, topic: str, payload: bytes, reason: str
) -> dict[str, Any]:
    """Return a dead-letter row, fitted to its columns and free of NUL characters."""
    text = payload[:MAX_DEAD_LETTER_PAYLOAD].decode("utf-8", "replace")
    return {
        "received_at": utcnow(),
        "source": source,
        "device_id": _clip(device_id, 128),
        "topic": _printable(_clip(topic, 256)),
        # PostgreSQL text cannot hold NUL; the payload stays readable for operators.
        "payload": _printable(text),
        "reason": _printable(reason),
    }


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _printable(value: str) -> str:
    return value.replace("\x00", "\ufffd")


_DEVICE_BY_KEY = select(Device.id, Device.entity_id, Device.status).where(
    Device.key_hash == bindparam("key_hash")
)


def _device_for_key(conn: Connection, key: str) -> DeviceInfo:
    row = conn.execute(_DEVICE_BY_KEY, {"key_hash": digest_secret(key)}).first()
    if row is None:
        raise DeviceRefused(401, "Unknown device key", "no device has this key")
    if row.status != "active":
        raise DeviceRefused(403, "Device revoked", f"device {row.id} is {row.status}")
    return DeviceInfo(row.id, row.entity_id, row.status)


def _first_reason(rejections: list[Rejection]) -> str | None:
    return f"record {rejections[0].index}: {rejections[0].reason}" if rejections else None


def _load_devices(conn: Connection, device_ids: set[str]) -> dict[str, DeviceInfo]:
    if not device_ids:
        return {}
    rows = conn.execute(
        select(Device.id, Device.entity_id, Device.status).where(Device.id.in_(device_ids))
    ).all()
    conn.rollback()
    return {r.id: DeviceInfo(r.id, r.entity_id, r.status) for r in rows}


_DEVICE = Device.__table__.c
# Built once: compiling this UPDATE cost about a millisecond per pack.
_TOUCH_DEVICE = (
    update(Device)
    .where(_DEVICE.id == bindparam("b_id"))
    .values(
        last_seen_at=bindparam("b_now"),
        error_count=_DEVICE.error_count + bindparam("b_errors"),
        last_error=func.coalesce(bindparam("b_reason"), _DEVICE.last_error),
    )
)


def _touch_devices(conn: Connection, stats: dict[str, tuple[int, str | None]]) -> None:
    """Record when each device was last heard from and count its errors."""
    if not stats:
        return
    now = utcnow()
    params = [
        {"b_id": device_id, "b_errors": errors, "b_reason": reason, "b_now": now}
        for device_id, (errors, reason) in sorted(stats.items())
    ]
    conn.execute(_TOUCH_DEVICE, params)
