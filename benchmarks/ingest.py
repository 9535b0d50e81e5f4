"""Ingest benchmark: observations stored per second through HTTP and MQTT, beside raw bulk inserts.

Every figure is measured in the same run as its baseline: the raw bulk insert of the same rows
(same entity ids, attributes, times and values) into the same indexed ``observation`` table,
``executemany`` on SQLite and ``COPY ... FROM STDIN`` on PostgreSQL, in transactions of one
pack (1,000 rows). The ratio is path / raw. A second part streams many observations through
``Ingestor.ingest_pack`` in a fresh process and samples its peak RSS, to show that memory stays
flat however much is ingested.

    python benchmarks/ingest.py                    # everything, human-readable table
    python benchmarks/ingest.py --json             # one JSON object on stdout
    python benchmarks/ingest.py --rows 20000 --stream-rows 200000 --mqtt-url spawn

Progress goes to stderr; see benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from citysmart.hub.store import OBSERVATION_COLUMNS, OBSERVATION_PG_TYPES

# The same four attributes a Sejong air-quality station reports, each with its unit.
ATTRIBUTES = (
    ("pm10", "ug/m3"),
    ("pm25", "ug/m3"),
    ("temperature", "Cel"),
    ("relativeHumidity", "%RH"),
)
BASE_UNIT = "ug/m3"
# The raw baseline writes the very columns, with the very types, that the hub's store does.
COLUMNS = OBSERVATION_COLUMNS
PG_TYPES = OBSERVATION_PG_TYPES
PACK_RECORDS = 1000
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
SECRET_KEY = "benchmark-secret-key-not-for-production-0123456789"
TIMEOUT_S = 900.0
_MP = mp.get_context("spawn")


def log(message: str) -> None:
    """Report progress on stderr (stdout carries only the result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchmarkError(RuntimeError):
    """A run that did not store what it should have: its figure would mean nothing."""


# -- the workload -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workload:
    """Readings of ``devices`` stations: four attributes per second, cut into SenML packs.

    Row ``j`` of device ``d`` is attribute ``j % 4`` at ``start_s + j // 4`` seconds; packs
    hold consecutive rows of one device and are sent device after device, pack after pack.
    """

    run_id: str
    devices: int
    rows: int
    pack_records: int
    start_s: int

    @classmethod
    def ending_now(cls, run_id: str, devices: int, rows: int, pack_records: int) -> Workload:
        """Return a workload whose newest reading is ten minutes old (within the skew)."""
        steps = -(-rows // devices) // len(ATTRIBUTES) + 1
        return cls(run_id, devices, rows, pack_records, int(time.time()) - steps - 600)

    def device_id(self, d: int) -> str:
        """Return device ``d``'s id (unique per run, so brokers shared with others are safe)."""
        return f"bench-{self.run_id}-{d:04d}"

    def entity_id(self, d: int) -> str:
        """Return the entity device ``d`` reports for."""
        return f"urn:ngsi-ld:AirQualityObserved:bench-{self.run_id}-{d:04d}"

    def device_rows(self, d: int) -> int:
        """Return how many rows device ``d`` sends."""
        base, extra = divmod(self.rows, self.devices)
        return base + (1 if d < extra else 0)

    def pack_count(self) -> int:
        """Return how many packs (HTTP requests or MQTT messages) the workload is."""
        return sum(-(-self.device_rows(d) // self.pack_records) for d in range(self.devices))

    def slices(self) -> Iterator[tuple[int, int, int]]:
        """Yield (device, first row, end row) of each pack in sending order."""
        most = max(self.device_rows(d) for d in range(self.devices))
        for first in range(0, most, self.pack_records):
            for d in range(self.devices):
                count = self.device_rows(d)
                if first < count:
                    yield d, first, min(first + self.pack_records, count)

    @staticmethod
    def value(d: int, j: int) -> float:
        """Return the value of row ``j`` of device ``d`` (inside every attribute's range)."""
        return round(10.0 + ((j + 7 * d) % 400) * 0.1, 1)

    def pack(self, d: int, first: int, end: int) -> bytes:
        """Return the SenML pack of rows [first, end) of device ``d``."""
        base_step = first // 4
        records: list[dict[str, Any]] = []
        for j in range(first, end):
            attribute, unit = ATTRIBUTES[j % 4]
            record: dict[str, Any] = {
                "n": attribute,
                "t": j // 4 - base_step,
                "v": self.value(d, j),
            }
            if unit != BASE_UNIT:
                record["u"] = unit
            records.append(record)
        records[0] = {
            "bn": f"urn:dev:{self.device_id(d)}:",
            "bt": self.start_s + base_step,
            "bu": BASE_UNIT,
            **records[0],
        }
        return json.dumps(records, separators=(",", ":")).encode()

    def packs(self) -> Iterator[tuple[int, int, bytes]]:
        """Yield (device, records, pack) lazily, in sending order."""
        for d, first, end in self.slices():
            yield d, end - first, self.pack(d, first, end)

    def rows_for(self, postgresql: bool) -> list[tuple[Any, ...]]:
        """Return the driver-level rows the packs resolve to (the raw baseline's input)."""
        from citysmart.core.types import from_micros

        rows: list[tuple[Any, ...]] = []
        for d, first, end in self.slices():
            entity, device = self.entity_id(d), self.device_id(d)
            for j in range(first, end):
                attribute, unit = ATTRIBUTES[j % 4]
                micros = (self.start_s + j // 4) * 1_000_000
                when = from_micros(micros) if postgresql else micros
                rows.append((entity, attribute, when, self.value(d, j), None, "n", unit, device))
        return rows


# -- databases ----------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextlib.contextmanager
def throwaway_database(kind: str, postgres_url: str, workdir: Path) -> Iterator[str]:
    """Create an empty database (SQLite file or PostgreSQL database), drop it afterwards."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    admin_url = _libpq_url(postgres_url)
    name = f"citysmart_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlparse(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, workload: Workload) -> list[str]:
    """Migrate the schema and register the workload's devices; return their keys."""
    from citysmart.core.db import make_engine, make_sessionmaker
    from citysmart.core.migrate import upgrade
    from citysmart.hub.registry import register_device

    engine = make_engine(url)
    try:
        upgrade(engine)
        keys = []
        with make_sessionmaker(engine).begin() as session:
            for d in range(workload.devices):
                issued = register_device(
                    session,
                    workload.device_id(d),
                    workload.entity_id(d),
                    "AirQualityObserved",
                    actor="benchmark",
                    location={"type": "Point", "coordinates": [127.25 + d * 1e-3, 36.5]},
                )
                keys.append(issued.key)
        return keys
    finally:
        engine.dispose()


def reset(url: str) -> None:
    """Empty the observation tables (fresh files, no leftover pages) before a timed run."""
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        try:
            con.execute("DELETE FROM observation")
            con.execute("DELETE FROM latest_value")
            con.execute("DELETE FROM dead_letter")
            con.execute("VACUUM")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
        return
    import psycopg

    with psycopg.connect(_libpq_url(url), autocommit=True) as pg:
        pg.execute("TRUNCATE observation, latest_value, dead_letter")
        pg.execute("VACUUM ANALYZE observation")
        with contextlib.suppress(psycopg.Error):  # needs superuser or pg_checkpoint
            pg.execute("CHECKPOINT")


def count(url: str, table: str = "observation") -> int:
    """Return how many rows a table holds."""
    from sqlalchemy import text

    from citysmart.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def raw_insert(
    url: str, rows: list[tuple[Any, ...]], per_transaction: int, binary: bool = False
) -> float:
    """Bulk-insert rows the plain way (executemany, COPY); return rows per second.

    ``binary`` (PostgreSQL only) sends COPY's binary format, as the hub's store does; the
    baseline of the ratios is the text format, psycopg's ``write_row`` as usually written.
    """
    columns = ", ".join(COLUMNS)
    if url.startswith("sqlite"):
        from citysmart.core.db import make_engine

        engine = make_engine(url)  # the same pragmas (WAL, synchronous=NORMAL) as the hub
        con = engine.raw_connection()
        try:
            cursor = con.cursor()
            sql = f"INSERT INTO observation ({columns}) VALUES ({', '.join('?' * len(COLUMNS))})"
            started = time.perf_counter()
            for i in range(0, len(rows), per_transaction):
                cursor.executemany(sql, rows[i : i + per_transaction])
                con.commit()
            elapsed = time.perf_counter() - started
            cursor.close()
        finally:
            con.close()
            engine.dispose()
    else:
        import psycopg

        with psycopg.connect(_libpq_url(url)) as pg:
            started = time.perf_counter()
            for i in range(0, len(rows), per_transaction):
                with (
                    pg.cursor() as cur,
                    cur.copy(
                        f"COPY observation ({columns}) FROM STDIN"
                        + (" (FORMAT BINARY)" if binary else "")
                    ) as copy,
                ):
                    if binary:
                        copy.set_types(PG_TYPES)
                    for row in rows[i : i + per_transaction]:
                        copy.write_row(row)
                pg.commit()
            elapsed = time.perf_counter() - started
    stored = count(url)
    if stored != len(rows):
        raise BenchmarkError(f"raw insert stored {stored} rows, not {len(rows)}")
    return len(rows) / elapsed


# -- HTTP ---------------------------------------------------------------------------------


def _settings(url: str, workdir: Path, **extra: Any) -> Any:
    from citysmart.core.config import Settings

    return Settings(database_url=url, data_dir=workdir, secret_key=SECRET_KEY, **extra)


@contextlib.contextmanager
def serve_app(url: str, workdir: Path) -> Iterator[str]:
    """Run the real app (``create_app``) under uvicorn in a thread; yield its base URL."""
    import uvicorn

    from citysmart.portal.app import create_app

    app = create_app(_settings(url, workdir, mqtt_ingest=False), services=[], start_mqtt=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise BenchmarkError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _http_clients_main(
    base_url: str, keys: list[str], workload: Workload, clients: int, out: Any
) -> None:
    """Child process: POST every pack from ``clients`` keep-alive connections, time it."""
    import httpx

    jobs: queue.Queue[tuple[int, bytes] | None] = queue.Queue()
    for d, _records, body in workload.packs():
        jobs.put((d, body))
    for _ in range(clients):
        jobs.put(None)
    sessions = [httpx.Client(base_url=base_url, timeout=300) for _ in range(clients)]
    for session in sessions:
        session.get("/healthz")  # open the connection before the clock starts
    totals = {"stored": 0, "duplicates": 0, "errors": 0}
    first_error: list[str] = []
    lock = threading.Lock()

    def post_all(session: httpx.Client) -> None:
        stored = duplicates = errors = 0
        while (job := jobs.get()) is not None:
            d, body = job
            response = session.post(
                "/api/v1/ingest",
                content=body,
                headers={
                    "authorization": f"Bearer {keys[d]}",
                    "content-type": "application/senml+json",
                },
            )
            if response.status_code == 202:
                answer = response.json()
                stored += answer["stored"]
                duplicates += answer["duplicates"]
            else:
                errors += 1
                if not first_error:
                    first_error.append(f"{response.status_code} {response.text[:300]}")
        with lock:
            totals["stored"] += stored
            totals["duplicates"] += duplicates
            totals["errors"] += errors

    threads = [threading.Thread(target=post_all, args=(s,)) for s in sessions]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for session in sessions:
        session.close()
    out.put({"seconds": elapsed, **totals, "first_error": first_error[0] if first_error else None})


def run_http(url: str, workdir: Path, keys: list[str], workload: Workload, clients: int) -> float:
    """Time the HTTP path: first POST to last 202; return rows per second."""
    import httpx

    with serve_app(url, workdir) as base_url:
        out = _MP.Queue()
        child = _MP.Process(
            target=_http_clients_main, args=(base_url, keys, workload, clients, out), daemon=True
        )
        child.start()
        try:
            result: dict[str, Any] = out.get(timeout=TIMEOUT_S)
        finally:
            child.join(timeout=30)
        if result["errors"]:
            raise BenchmarkError(f"{result['errors']} POSTs failed: {result['first_error']}")
        stored = count(url)
        if stored != workload.rows or result["stored"] != workload.rows:
            raise BenchmarkError(
                f"HTTP stored {stored} rows ({result['stored']} reported), not {workload.rows}"
            )
        # Self-check: sending a pack again stores nothing and says so.
        d, first, end = next(workload.slices())
        again = httpx.post(
            f"{base_url}/api/v1/ingest",
            content=workload.pack(d, first, end),
            headers={"authorization": f"Bearer {keys[d]}"},
            timeout=60,
        ).json()
        if again["stored"] != 0 or again["duplicates"] != end - first or count(url) != stored:
            raise BenchmarkError(f"a repeated pack was not recognised as duplicates: {again}")
    return workload.rows / float(result["seconds"])


# -- MQTT ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the benchmark's MQTT traffic goes."""

    url: str  # empty: the hub's embedded amqtt broker on ``embedded_port``
    description: str
    embedded_port: int = 0

    @property
    def address(self) -> tuple[str, int]:
        """Return host and port."""
        if not self.url:
            return "127.0.0.1", self.embedded_port
        parts = urlparse(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 1883


@contextlib.contextmanager
def mqtt_broker(spec: str, workdir: Path) -> Iterator[Broker]:
    """Yield the broker: a URL, ``spawn`` (a private Mosquitto) or ``embedded`` (amqtt)."""
    if spec == "embedded":
        yield Broker("", "embedded amqtt broker, in the hub process (MQTT 3.1.1)", free_port())
        return
    if spec != "spawn":
        yield Broker(spec, f"Mosquitto at {spec} (MQTT 5)")
        return
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\n"
    )
    version = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout.split("\n")[0]
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkError("the private Mosquitto did not start")
            time.sleep(0.05)
        yield Broker(
            f"mqtt://127.0.0.1:{port}", f"private {version.strip() or 'mosquitto'} on port {port}"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mqtt_string(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(2, "big") + data


def _mqtt_packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + _varint(len(body)) + body


class RawPublisher:
    """A minimal MQTT 3.1.1 client that publishes pre-encoded QoS 1 messages, pipelined.

    The devices' side of the benchmark: it spends next to no CPU (the machine has two
    cores), so what is measured is the hub. Each PUBLISH waits for its PUBACK from the
    broker, as with any QoS 1 client; up to ``inflight`` are outstanding at once.
    """

    def __init__(self, host: str, port: int, client_id: str, inflight: int = 500) -> None:
        self.inflight = inflight
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # CONNECT: protocol MQTT level 4 (3.1.1), clean session, a keep-alive of ten minutes
        # (with keep-alive 0, amqtt 0.12 was seen to drop acknowledged QoS 1 messages of a
        # client that disconnects right after its PUBACKs).
        body = _mqtt_string("MQTT") + bytes([4, 0x02]) + (600).to_bytes(2, "big")
        self.sock.sendall(_mqtt_packet(0x10, body + _mqtt_string(client_id)))
        connack = b""
        while len(connack) < 4:
            chunk = self.sock.recv(4 - len(connack))
            if not chunk:
                raise BenchmarkError("the broker closed the connection")
            connack += chunk
        if connack[0] != 0x20 or connack[3] != 0:
            raise BenchmarkError(f"the broker refused the publisher: {connack!r}")
        self.sock.settimeout(None)
        self.acked = 0
        self._reader = threading.Thread(target=self._read_acks, daemon=True)
        self._reader.start()
        self._next_id = 0

    def encode(self, topic: str, payload: bytes) -> bytes:
        """Return a QoS 1 PUBLISH packet (packet ids cycle through 1..65535)."""
        self._next_id = self._next_id % 65535 + 1
        body = _mqtt_string(topic) + self._next_id.to_bytes(2, "big") + payload
        return _mqtt_packet(0x32, body)

    def _read_acks(self) -> None:
        buffer = bytearray()
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while len(buffer) >= 2:
                length, shift, i, complete = 0, 0, 1, False
                while i < len(buffer) and i <= 4:  # the remaining length, a varint
                    byte = buffer[i]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    i += 1
                    if not byte & 0x80:
                        complete = True
                        break
                if not complete or len(buffer) < i + length:
                    break
                if buffer[0] >> 4 == 4:  # PUBACK
                    self.acked += 1
                del buffer[: i + length]

    def publish_all(self, packets: list[bytes], may_send: Any) -> None:
        """Send the packets, as many at a time as ``may_send(n)`` allows; wait for PUBACKs."""
        sent = 0
        while sent < len(packets):
            room = min(self.inflight - (sent - self.acked), len(packets) - sent)
            room = may_send(room)
            if room <= 0:
                time.sleep(0.0005)
                continue
            self.sock.sendall(b"".join(packets[sent : sent + room]))
            sent += room
        deadline = time.monotonic() + TIMEOUT_S
        while self.acked < len(packets) and time.monotonic() < deadline:
            time.sleep(0.001)

    def close(self) -> None:
        """Send DISCONNECT and close."""
        with contextlib.suppress(OSError):
            self.sock.sendall(b"\xe0\x00")
        self.sock.close()


def _publishers_main(
    broker: Broker,
    workload: Workload,
    publishers: int,
    window: int,
    committed: Any,
    go: Any,
    out: Any,
) -> None:
    """Child process: publish every pack at QoS 1 from ``publishers`` clients.

    At most ``window`` messages are published and not yet committed by the hub, so that the
    broker never has to drop messages queued for a slow subscriber (Mosquitto's default
    ``max_queued_messages`` is 1000 beyond the subscriber's in-flight window).
    """
    from citysmart.hub.mqtt import device_topic

    host, port = broker.address
    clients = [
        RawPublisher(host, port, f"bench-pub-{workload.run_id}-{p}") for p in range(publishers)
    ]
    assigned: list[list[bytes]] = [[] for _ in range(publishers)]
    for d, _records, body in workload.packs():
        p = d % publishers  # one device, one connection: its packs arrive in order
        assigned[p].append(clients[p].encode(device_topic(workload.device_id(d)), body))
    published = [0]
    lock = threading.Lock()

    def may_send(wanted: int) -> int:
        with lock:
            allowed = max(0, min(wanted, window - (published[0] - int(committed.value))))
            published[0] += allowed
            return allowed

    out.put({"ready": True})
    go.wait()
    started = time.perf_counter()
    threads = [
        threading.Thread(target=c.publish_all, args=(packets, may_send))
        for c, packets in zip(clients, assigned, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    unacked = sum(len(packets) - c.acked for c, packets in zip(clients, assigned, strict=True))
    for client in clients:
        client.close()
    out.put({"publish_seconds": elapsed, "messages": sum(map(len, assigned)), "unacked": unacked})


def run_mqtt(
    url: str,
    workdir: Path,
    broker: Broker,
    workload: Workload,
    publishers: int,
    window: int,
    label: str,
) -> float:
    """Time the MQTT path: first publish until every row is committed; return rows per second."""
    from citysmart.hub.runtime import HubRuntime

    settings = _settings(
        url,
        workdir,
        mqtt_url=broker.url,
        embedded_mqtt_port=broker.embedded_port or 18830,
        mqtt_client_id=f"bench-hub-{workload.run_id}-{label}",
        mqtt_share_group=f"bench-{workload.run_id}",
        mqtt_session_expiry_s=0,
    )
    runtime = HubRuntime.create(settings)
    try:
        runtime.start_mqtt()
        consumer = runtime.consumer
        assert consumer is not None
        if not consumer.subscribed.wait(30):
            raise BenchmarkError(f"the hub could not subscribe: {consumer.last_error}")
        committed = _MP.Value("q", 0, lock=False)
        go, out = _MP.Event(), _MP.Queue()
        child = _MP.Process(
            target=_publishers_main,
            args=(broker, workload, publishers, window, committed, go, out),
            daemon=True,
        )
        child.start()
        ready = out.get(timeout=120)
        if "error" in ready:
            raise BenchmarkError(ready["error"])
        messages = workload.pack_count()
        started = time.perf_counter()
        go.set()
        deadline = started + TIMEOUT_S
        while consumer.processed < messages:
            committed.value = consumer.processed
            if time.perf_counter() > deadline:
                raise BenchmarkError(f"only {consumer.processed} of {messages} messages stored")
            time.sleep(0.005)
        committed.value = consumer.processed
        stored = count(url)
        while stored < workload.rows and time.perf_counter() < deadline:  # poll the table
            time.sleep(0.01)
            stored = count(url)
        elapsed = time.perf_counter() - started
        published = out.get(timeout=120)
        child.join(timeout=30)
        if stored != workload.rows:
            raise BenchmarkError(f"MQTT stored {stored} rows, not {workload.rows}")
        # Self-check: the same message again is acknowledged and stores nothing.
        d, first, end = next(workload.slices())
        from citysmart.hub.mqtt import device_topic

        before = consumer.processed
        client = RawPublisher(*broker.address, f"bench-dup-{workload.run_id}-{label}")
        packet = client.encode(device_topic(workload.device_id(d)), workload.pack(d, first, end))
        client.publish_all([packet], lambda n: n)
        deadline = time.perf_counter() + 60
        while consumer.processed == before and time.perf_counter() < deadline:
            time.sleep(0.01)
        client.close()
        if consumer.processed == before or count(url) != stored:
            raise BenchmarkError("a repeated MQTT message was not recognised as duplicates")
        dead = count(url, "dead_letter")
        if dead:
            log(f"  note: {dead} dead letters (other traffic on a shared broker?)")
        log(
            f"  publishers finished in {published['publish_seconds']:.2f} s "
            f"({published['unacked']} without PUBACK), hub committed in {elapsed:.2f} s"
        )
    finally:
        runtime.stop()
    return workload.rows / elapsed


# -- memory -------------------------------------------------------------------------------


def _memory_mb() -> dict[str, float]:
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                fields[name] = int(value.split()[0]) / 1024
    return fields


def _stream_main(url: str, workload: Workload, out: Any) -> None:
    """Child process: stream the workload through Ingestor.ingest_pack, sampling peak RSS."""
    from citysmart.hub.ingest import DeviceInfo, Ingestor

    keys = prepare(url, workload)
    del keys
    from citysmart.core.db import make_engine

    engine = make_engine(url)
    ingestor = Ingestor(engine)
    devices = [
        DeviceInfo(workload.device_id(d), workload.entity_id(d), "active")
        for d in range(workload.devices)
    ]
    marks = {10: workload.rows // 10, 50: workload.rows // 2, 100: workload.rows}
    samples: dict[str, float] = {}
    start_memory = _memory_mb()
    done = stored = 0
    started = time.perf_counter()
    next_log = started + 30
    for d, records, body in workload.packs():
        stored += ingestor.ingest_pack(devices[d], body).stored
        done += records
        for pct, mark in list(marks.items()):
            if done >= mark:
                memory = _memory_mb()
                samples[f"stream_peak_rss_mb_at_{pct}pct"] = round(memory["VmHWM"], 1)
                samples[f"stream_rss_mb_at_{pct}pct"] = round(memory["VmRSS"], 1)
                samples[f"stream_seconds_at_{pct}pct"] = round(time.perf_counter() - started, 1)
                del marks[pct]
        if time.perf_counter() > next_log:
            rate = done / (time.perf_counter() - started)
            log(
                f"  streamed {done:,} rows ({rate:,.0f} rows/s), "
                f"peak RSS {_memory_mb()['VmHWM']:.1f} MB"
            )
            next_log += 30
    elapsed = time.perf_counter() - started
    engine.dispose()
    out.put(
        {
            "stream_rows": done,
            "stream_stored": stored,
            "stream_seconds": round(elapsed, 1),
            "stream_rows_per_s": round(done / elapsed),
            **samples,
            "stream_rss_mb_at_start": round(start_memory["VmRSS"], 1),
        }
    )


def run_stream(
    kind: str, postgres_url: str, workdir: Path, rows: int, run_id: str
) -> dict[str, Any]:
    """Stream ``rows`` observations in a fresh process; return its timings and RSS samples."""
    workload = Workload.ending_now(run_id, 100, rows, PACK_RECORDS)
    with throwaway_database(kind, postgres_url, workdir) as url:
        out = _MP.Queue()
        child = _MP.Process(target=_stream_main, args=(url, workload, out), daemon=True)
        child.start()
        try:
            result: dict[str, Any] = out.get(timeout=6 * 3600)
        finally:
            child.join(timeout=60)
        stored = count(url)
    if stored != rows or result["stream_stored"] != rows:
        raise BenchmarkError(f"the stream stored {stored} rows, not {rows}")
    return {"stream_database": kind, **result}


# -- the run ------------------------------------------------------------------------------


def _csv(value: str, allowed: tuple[str, ...]) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    for item in items:
        if item not in allowed:
            raise argparse.ArgumentTypeError(f"{item!r} is not one of {', '.join(allowed)}")
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="Observations stored per second through HTTP and MQTT, on SQLite and "
        "PostgreSQL, beside the raw bulk insert of the same rows; and peak memory while "
        "a long stream is ingested.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rows", type=int, default=200_000, help="rows per path (200000)")
    parser.add_argument(
        "--databases",
        type=lambda v: _csv(v, ("sqlite", "postgresql")),
        default=["sqlite", "postgresql"],
        help="sqlite,postgresql",
    )
    parser.add_argument(
        "--paths",
        type=lambda v: _csv(v, ("http", "mqtt")),
        default=["http", "mqtt"],
        help="http,mqtt",
    )
    parser.add_argument(
        "--stream-rows",
        type=int,
        default=10_000_000,
        help="observations streamed for the memory figure (10000000; 0 skips it)",
    )
    parser.add_argument(
        "--stream-database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where the memory stream goes (sqlite: a temporary file)",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a server where a throwaway database may be created and dropped",
    )
    parser.add_argument(
        "--mqtt-url",
        default=DEFAULT_MQTT_URL,
        help="broker for both databases: a URL, 'spawn' (start a private Mosquitto on a free "
        "port) or 'embedded' (the hub's amqtt broker)",
    )
    parser.add_argument("--http-clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--mqtt-publishers", type=int, default=4, help="MQTT publisher clients")
    parser.add_argument(
        "--small-records",
        type=int,
        default=10,
        help="records per message of the second MQTT figure (0 skips it)",
    )
    parser.add_argument(
        "--mqtt-window",
        type=int,
        default=3000,
        help="most messages published and not yet committed",
    )
    parser.add_argument("--devices", type=int, default=20, help="devices sending the rows")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure each path this many times (each beside its own raw runs); the median "
        "run by ratio is reported",
    )
    return parser.parse_args(argv)


def measure_database(
    kind: str, args: argparse.Namespace, workdir: Path, broker: Broker | None, run_id: str
) -> dict[str, Any]:
    """Measure one database: raw, then each path, with a raw run after each path.

    A path's baseline is the mean of the raw runs just before and just after it, so that a
    change in the load of the (shared) machine does not favour either side.
    """
    workload = Workload.ending_now(run_id, args.devices, args.rows, PACK_RECORDS)
    small = Workload(run_id, args.devices, args.rows, args.small_records or 1, workload.start_s)
    names = []
    if "http" in args.paths:
        names.append("http")
    if "mqtt" in args.paths and broker is not None:
        names += ["mqtt", "mqtt_small"] if args.small_records else ["mqtt"]
    labels = {
        "http": f"HTTP ({PACK_RECORDS}-record packs)",
        "mqtt": f"MQTT ({PACK_RECORDS}-record packs)",
        "mqtt_small": f"MQTT ({args.small_records}-record messages)",
    }
    results: dict[str, Any] = {}
    with throwaway_database(kind, args.postgres_url, workdir) as url:
        keys = prepare(url, workload)
        rows = workload.rows_for(kind == "postgresql")

        def raw() -> float:
            reset(url)
            rate = raw_insert(url, rows, PACK_RECORDS)
            log(f"{kind} raw bulk insert: {rate:,.0f} rows/s")
            return rate

        def run(name: str) -> float:
            if name == "http":
                return run_http(url, workdir, keys, workload, args.http_clients)
            assert broker is not None
            return run_mqtt(
                url,
                workdir,
                broker,
                small if name == "mqtt_small" else workload,
                args.mqtt_publishers,
                args.mqtt_window,
                name,
            )

        raws = [raw()]
        if kind == "postgresql":  # for reference: the format the hub's store uses
            reset(url)
            binary = raw_insert(url, rows, PACK_RECORDS, binary=True)
            log(f"{kind} raw bulk insert, binary COPY: {binary:,.0f} rows/s")
            results["postgresql_raw_binary_copy_rows_per_s"] = round(binary)
        measured: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for _ in range(args.repeat):
            for name in names:
                reset(url)
                rate = run(name)
                raws.append(raw())
                baseline = (raws[-2] + raws[-1]) / 2
                log(f"{kind} {labels[name]}: {rate:,.0f} rows/s, {rate / baseline:.2f} of raw")
                measured[name].append((rate, baseline))
    for name, runs in measured.items():
        # With --repeat, the median run (by ratio) stands for the path.
        runs.sort(key=lambda run: run[0] / run[1])
        rate, baseline = runs[(len(runs) - 1) // 2]
        results[f"{kind}_{name}_rows_per_s"] = round(rate)
        results[f"{kind}_{name}_raw_rows_per_s"] = round(baseline)
        results[f"{kind}_{name}_ratio"] = round(rate / baseline, 3)
        results[f"{kind}_{name}_ratio_runs"] = [round(r / b, 3) for r, b in runs]
    results[f"{kind}_raw_rows_per_s"] = round(sum(raws) / len(raws))
    results[f"{kind}_raw_runs_rows_per_s"] = [round(r) for r in raws]
    return results


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run every requested figure; return them under stable keys."""
    run_id = uuid.uuid4().hex[:6]
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "rows": args.rows,
        "devices": args.devices,
        "pack_records": PACK_RECORDS,
        "raw_transaction_rows": PACK_RECORDS,
        "http_clients": args.http_clients,
        "mqtt_publishers": args.mqtt_publishers,
        "mqtt_small_records": args.small_records,
        "mqtt_window_messages": args.mqtt_window,
        "repeat": args.repeat,
    }
    with tempfile.TemporaryDirectory(prefix="citysmart-bench-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            broker = None
            if "mqtt" in args.paths and args.databases:
                broker = stack.enter_context(mqtt_broker(args.mqtt_url, workdir))
                results["mqtt_broker"] = broker.description
            for kind in args.databases:
                results.update(measure_database(kind, args, workdir, broker, run_id))
        if args.stream_rows:
            log(f"streaming {args.stream_rows:,} rows into {args.stream_database} ...")
            results.update(
                run_stream(
                    args.stream_database, args.postgres_url, workdir, args.stream_rows, run_id
                )
            )
    return results


def render(results: dict[str, Any]) -> str:
    """Format the results as a table."""
    lines = [
        f"citysmart ingest benchmark, {results['date']} on {results['host']}",
        f"{results['rows']:,} rows per path from {results['devices']} devices; "
        f"HTTP: {results['http_clients']} concurrent clients, SenML packs of "
        f"{results['pack_records']} records; MQTT: {results['mqtt_publishers']} publishers, "
        "QoS 1",
    ]
    if "mqtt_broker" in results:
        lines.append(f"MQTT broker: {results['mqtt_broker']}")
    lines += ["", f"{'database':<11}{'path':<30}{'rows/s':>10}{'raw rows/s':>12}{'ratio':>8}"]
    names = {
        "http": f"HTTP, {results['pack_records']}-record packs",
        "mqtt": f"MQTT, {results['pack_records']}-record packs",
        "mqtt_small": f"MQTT, {results['mqtt_small_records']}-record messages",
    }
    for kind in ("sqlite", "postgresql"):
        raw = results.get(f"{kind}_raw_rows_per_s")
        if raw is None:
            continue
        method = "executemany" if kind == "sqlite" else "COPY"
        runs = ", ".join(f"{r:,}" for r in results[f"{kind}_raw_runs_rows_per_s"])
        lines.append(f"{kind:<11}{'raw ' + method + ', mean of runs':<30}{raw:>10,}  ({runs})")
        binary = results.get(f"{kind}_raw_binary_copy_rows_per_s")
        if binary is not None:
            lines.append(f"{kind:<11}{'raw binary COPY (reference)':<30}{binary:>10,}")
        for name, label in names.items():
            rate = results.get(f"{kind}_{name}_rows_per_s")
            if rate is not None:
                base = results[f"{kind}_{name}_raw_rows_per_s"]
                ratio = results[f"{kind}_{name}_ratio"]
                lines.append(f"{kind:<11}{label:<30}{rate:>10,}{base:>12,}{ratio:>8.2f}")
    if "stream_rows" in results:
        lines += [
            "",
            f"Memory: {results['stream_rows']:,} rows streamed into {results['stream_database']} "
            f"through Ingestor.ingest_pack in {results['stream_seconds']:,} s "
            f"({results['stream_rows_per_s']:,} rows/s)",
            f"  RSS at start {results['stream_rss_mb_at_start']} MB; peak RSS (VmHWM) at 10% "
            f"{results.get('stream_peak_rss_mb_at_10pct')} MB, at 50% "
            f"{results.get('stream_peak_rss_mb_at_50pct')} MB, at 100% "
            f"{results.get('stream_peak_rss_mb_at_100pct')} MB",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    args = parse_args(argv)
    try:
        results = measure(args)
    except BenchmarkError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
