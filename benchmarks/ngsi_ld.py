"""NGSI-LD broker benchmark: creates, reads, queries, updates and temporal aggregation.

Every figure goes through ``/ngsi-ld/v1`` of the real app, run by uvicorn processes in a
subprocess (``citysmart.core.serving``; ``--server-workers 1,2``: one server per worker
count, side by side), from a load generator in a separate process (asyncio, lean HTTP/1.1
keep-alive connections). Beside each read (and the update), the same question is asked
straight to the database with psycopg (``sqlite3`` on SQLite) from the same kind of load
generator, in the same minute:
the ratio API / raw shows what the broker adds, whatever the machine's noise.

    python benchmarks/ngsi_ld.py                  # PostgreSQL, 1k, 10k and 100k entities
    python benchmarks/ngsi_ld.py --quick          # 1k and 10k, short measurements
    python benchmarks/ngsi_ld.py --json           # one JSON object on stdout
    python benchmarks/ngsi_ld.py --databases sqlite,postgresql --server-workers 2

Progress goes to stderr; see benchmarks/README.md for what each figure means. The module's
top level imports the standard library only: ``bench_app`` is the app factory the uvicorn
subprocess imports from here.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

BASE = "/ngsi-ld/v1"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET_KEY = "benchmark-secret-key-not-for-production-0123456789"
_MP = mp.get_context("spawn")

# Sejong's bounding box (lon, lat): where the entities and the geo-query centres fall.
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 127.20, 127.35, 36.45, 36.65
PARKING, AIR = "OffStreetParking", "AirQualityObserved"
POPULATION_MARK = "sejong"  # urn:ngsi-ld:<type>:sejong-000042
CREATE_MARK = "bench-create"  # entities made by the creates figure, deleted afterwards
HISTORY_ID = "urn:ngsi-ld:AirQualityObserved:bench-history"
HISTORY_DEVICE = "bench-history"
HISTORY_ATTRIBUTE = "pm25"
HISTORY_DAYS = 30
HISTORY_CHUNK = 1000
Q_THRESHOLD = 50
Q = f'availableSpotNumber>{Q_THRESHOLD};status=="open"'
NEAR_M = 1000
PAGE = 20
PROBE_REQUESTS = 3
EARTH_RADIUS_M = 6_371_008.8  # as citysmart.core.geo
JSON_TYPE = "application/json"

FIGURES = {
    "create": "create (POST /entities)",
    "get": "GET /entities/{id}",
    "query": "query type + q",
    "geo": "geo near 1 km",
    "patch": "update (PATCH attrs)",
    "temporal": "temporal aggregation",
}
READ_FIGURES = ("get", "query", "geo", "patch")  # the figures with a raw baseline


def log(message: str) -> None:
    """Report progress on stderr (stdout carries only the result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchmarkError(RuntimeError):
    """A run whose figures would mean nothing (a population not stored, a dead server)."""


# -- the app, as the uvicorn subprocess builds it ---------------------------------------------


def bench_app() -> Any:
    """Return the real app for ``uvicorn --factory``, configured by ``CITYSMART_*``.

    No services (as benchmarks/ingest.py), no MQTT, no migration at start (the benchmark
    migrates the throwaway database once, before any worker starts).
    """
    from citysmart.core.config import Settings
    from citysmart.portal.app import create_app

    return create_app(Settings(), services=[], start_mqtt=False, migrate=False)


# -- the entities -------------------------------------------------------------------------------


def entity_type(i: int) -> str:
    """Return the type of population entity ``i``: even ones are car parks."""
    return PARKING if i % 2 == 0 else AIR


def entity_id(i: int, mark: str = POPULATION_MARK) -> str:
    """Return the id of population entity ``i``."""
    return f"urn:ngsi-ld:{entity_type(i)}:{mark}-{i:06d}"


def position(i: int) -> tuple[float, float]:
    """Return where entity ``i`` stands (lon, lat), spread evenly over Sejong."""
    rng = random.Random(i * 7919 + 17)
    return round(rng.uniform(LON_MIN, LON_MAX), 6), round(rng.uniform(LAT_MIN, LAT_MAX), 6)


def entity_body(i: int, observed_at: str, eid: str | None = None) -> dict[str, Any]:
    """Return entity ``i`` in normalized form: 8 attributes of every kind a city uses.

    A car park: name, availableSpotNumber (observedAt), totalSpotNumber, status (open in
    about 60 %), chargeType, address (a JSON object), refParkingGroup (Relationship),
    location. An air-quality station: name, pm10, pm25, no2 (unitCode GQ, observedAt),
    temperature (CEL), relativeHumidity (P1), refDevice (Relationship), location.
    """
    rng = random.Random(i)
    lon, lat = position(i)
    body: dict[str, Any] = {"id": eid or entity_id(i), "type": entity_type(i)}
    location = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}
    if entity_type(i) == PARKING:
        body |= {
            "name": {"type": "Property", "value": f"세종 공영주차장 {i}"},
            "availableSpotNumber": {
                "type": "Property",
                "value": rng.randint(0, 200),
                "observedAt": observed_at,
            },
            "totalSpotNumber": {"type": "Property", "value": 200},
            "status": {
                "type": "Property",
                "value": rng.choice(("open", "open", "open", "closed", "full")),
            },
            "chargeType": {"type": "Property", "value": rng.choice(("free", "flat", "hourly"))},
            "address": {
                "type": "Property",
                "value": {
                    "addressCountry": "KR",
                    "addressLocality": "Sejong",
                    "streetAddress": f"한누리대로 {i % 2000 + 1}",
                },
            },
            "refParkingGroup": {
                "type": "Relationship",
                "object": f"urn:ngsi-ld:ParkingGroup:sejong-{i % 40:02d}",
            },
            "location": location,
        }
    else:
        body |= {
            "name": {"type": "Property", "value": f"세종 대기측정소 {i}"},
            **{
                name: {
                    "type": "Property",
                    "value": round(rng.uniform(low, high), 1),
                    "unitCode": unit,
                    "observedAt": observed_at,
                }
                for name, low, high, unit in (
                    ("pm10", 5, 120, "GQ"),
                    ("pm25", 2, 80, "GQ"),
                    ("no2", 1, 60, "GQ"),
                    ("temperature", -10, 35, "CEL"),
                    ("relativeHumidity", 20, 95, "P1"),
                )
            },
            "refDevice": {
                "type": "Relationship",
                "object": f"urn:ngsi-ld:Device:sejong-aq-{i:06d}",
            },
            "location": location,
        }
    return body


def iso(when: dt.datetime) -> str:
    """Return an instant as NGSI-LD writes it (UTC, milliseconds, ``Z``)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Return the great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def near_box(lon: float, lat: float) -> tuple[float, float, float, float]:
    """Return a lon/lat box holding the circle of NEAR_M around a point (with margin)."""
    dlat = math.degrees(NEAR_M / EARTH_RADIUS_M) * 1.01
    dlon = dlat / math.cos(math.radians(lat))
    return lon - dlon, lon + dlon, lat - dlat, lat + dlat


@dataclass(frozen=True, slots=True)
class History:
    """``values`` readings of one attribute of one entity, evenly over HISTORY_DAYS days."""

    values: int
    end_s: int  # the range is [end_s - HISTORY_DAYS days, end_s)

    @property
    def start_s(self) -> int:
        """Return the start of the range (epoch seconds)."""
        return self.end_s - HISTORY_DAYS * 86_400

    def at_ms(self, j: int) -> int:
        """Return reading ``j``'s time (epoch milliseconds)."""
        return self.start_s * 1000 + j * HISTORY_DAYS * 86_400_000 // self.values

    @staticmethod
    def value(j: int) -> float:
        """Return reading ``j``'s value."""
        return round(5.0 + (j * 37 % 600) / 10, 1)

    def temporal_body(self, first: int, end: int) -> dict[str, Any]:
        """Return readings [first, end) as a temporal entity (POST /temporal/entities)."""
        instances = [
            {
                "type": "Property",
                "value": self.value(j),
                "unitCode": "GQ",
                "observedAt": iso(dt.datetime.fromtimestamp(self.at_ms(j) / 1000, dt.UTC)),
            }
            for j in range(first, end)
        ]
        return {"id": HISTORY_ID, "type": AIR, HISTORY_ATTRIBUTE: instances}

    def senml_pack(self, first: int, end: int) -> bytes:
        """Return readings [first, end) as a SenML pack (POST /api/v1/ingest)."""
        base_ms = self.at_ms(first)
        records: list[dict[str, Any]] = [
            {"n": HISTORY_ATTRIBUTE, "t": (self.at_ms(j) - base_ms) / 1000, "v": self.value(j)}
            for j in range(first, end)
        ]
        records[0] |= {"bn": f"urn:dev:{HISTORY_DEVICE}:", "bt": base_ms / 1000, "bu": "ug/m3"}
        return json.dumps(records, separators=(",", ":")).encode()

    def query(self) -> str:
        """Return the aggregation query: avg and max per hour over the whole month."""
        start = iso(dt.datetime.fromtimestamp(self.start_s, dt.UTC))
        end = iso(dt.datetime.fromtimestamp(self.end_s, dt.UTC))
        return (
            f"{BASE}/temporal/entities/{HISTORY_ID}?attrs={HISTORY_ATTRIBUTE}"
            "&options=aggregatedValues&aggrMethods=avg,max&aggrPeriodDuration=PT1H"
            f"&timerel=between&timeAt={start}&endTimeAt={end}"
        )


# -- raw SQL: the same questions asked straight to the database ----------------------------------

_ATTRIBUTE_COLUMNS = (
    "a.attribute, a.dataset_id, a.kind, a.observed_at, a.num_value, a.text_value, "
    "a.value_type, a.unit, a.meta, a.created_at, a.modified_at"
)
_ENTITY_COLUMNS = "e.id, e.type, e.scope, e.created_at, e.modified_at, ({types}) AS types"
_TYPES = "SELECT {agg}(t.type, ',') FROM entity_type t WHERE t.entity_id = e.id"
# type + q, written to walk the type's ids in order and stop at the page's end: an
# attribute is unique per (entity, name, datasetId), so scalar subqueries are exact, and the
# planner cannot turn them into joins over every match (as it does with EXISTS).
_Q_WHERE = (
    "t.type = %s"
    " AND (SELECT a.num_value FROM attribute a WHERE a.entity_id = t.entity_id"
    " AND a.attribute = %s AND a.dataset_id = '') > %s"
    " AND (SELECT a.text_value FROM attribute a WHERE a.entity_id = t.entity_id"
    " AND a.attribute = %s AND a.dataset_id = '') = %s"
)
_GEO_WHERE = (
    "e.id IN (SELECT t.entity_id FROM entity_type t WHERE t.type = %s)"
    " AND g.attribute = %s AND g.dataset_id = ''"
    " AND g.min_lon BETWEEN %s AND %s AND g.min_lat BETWEEN %s AND %s"
    " AND 2 * 6371008.8 * asin(sqrt(power(sin(radians(g.min_lat - %s) / 2), 2)"
    " + cos(radians(%s)) * cos(radians(g.min_lat)) * power(sin(radians(g.min_lon - %s) / 2), 2)))"
    " <= %s"
)


def raw_sql(kind: str, name: str) -> str:
    """Return the hand-written SQL of one question, with the database's placeholders."""
    agg = "string_agg" if kind == "postgresql" else "group_concat"
    entity = _ENTITY_COLUMNS.format(types=_TYPES.format(agg=agg))
    page = (
        f"SELECT {entity}, {_ATTRIBUTE_COLUMNS} FROM page JOIN entity e ON e.id = page.id"
        " LEFT JOIN attribute a ON a.entity_id = e.id ORDER BY e.id, a.attribute, a.dataset_id"
    )
    geo_from = "entity e JOIN attribute g ON g.entity_id = e.id"
    json_cast = "::json" if kind == "postgresql" else ""
    sql = {
        # GET by id: the entity, its types and its attributes, one round trip.
        "get": f"SELECT {entity}, {_ATTRIBUTE_COLUMNS} FROM entity e"
        " LEFT JOIN attribute a ON a.entity_id = e.id WHERE e.id = %s"
        " ORDER BY a.attribute, a.dataset_id",
        # type + q: the first page of matching ids, then those entities whole.
        "query": f"WITH page AS (SELECT t.entity_id AS id FROM entity_type t WHERE {_Q_WHERE}"
        f" ORDER BY t.entity_id LIMIT {PAGE}) {page}",
        "query_count": f"SELECT count(*) FROM entity_type t WHERE {_Q_WHERE}",
        # near: a bounding-box pre-filter on the indexed columns, then the haversine.
        "geo": f"WITH page AS (SELECT e.id FROM {geo_from} WHERE {_GEO_WHERE}"
        f" ORDER BY e.id LIMIT {PAGE}) {page}",
        "geo_ids": f"SELECT e.id FROM {geo_from} WHERE {_GEO_WHERE} ORDER BY e.id",
        # update: the current value, its history row and the entity's modifiedAt.
        # An integer keeps its digits in text_value, as the store writes it (codec.typed_value).
        "patch_attribute": "UPDATE attribute SET num_value = %s, text_value = %s,"
        " observed_at = %s, modified_at = %s"
        " WHERE entity_id = %s AND attribute = %s AND dataset_id = ''",
        "patch_history": "INSERT INTO observation (entity_id, attribute, observed_at,"
        " dataset_id, num_value, text_value, value_type, meta) VALUES (%s, %s, %s, '', %s,"
        f" %s, 'n', %s{json_cast}) ON CONFLICT (entity_id, attribute, observed_at, dataset_id)"
        " DO UPDATE SET num_value = excluded.num_value, text_value = excluded.text_value",
        "patch_entity": "UPDATE entity SET modified_at = %s WHERE id = %s",
        # temporal: avg and max per hour of one attribute over the range.
        "temporal": (
            "SELECT date_bin('1 hour', observed_at, %s) AS period,"
            " avg(num_value), max(num_value), count(*)"
            if kind == "postgresql"
            else "SELECT (observed_at - %s) / 3600000000 AS period,"
            " avg(num_value), max(num_value), count(*)"
        )
        + " FROM observation WHERE entity_id = %s AND attribute = %s AND dataset_id = ''"
        " AND observed_at >= %s AND observed_at < %s GROUP BY period ORDER BY period",
    }[name]
    return sql if kind == "postgresql" else sql.replace("%s", "?")


def q_params(names: dict[str, str]) -> tuple[Any, ...]:
    """Return the parameters of the raw type + q question."""
    return (names["parking"], names["spots"], Q_THRESHOLD, names["status"], "open")


def geo_params(names: dict[str, str], lon: float, lat: float) -> tuple[Any, ...]:
    """Return the parameters of the raw near question around (lon, lat)."""
    lon0, lon1, lat0, lat1 = near_box(lon, lat)
    return (names["parking"], names["location"], lon0, lon1, lat0, lat1, lat, lat, lon, NEAR_M)


def db_time(kind: str, when: dt.datetime) -> Any:
    """Return an instant as the database column holds it (SQLite: epoch microseconds)."""
    if kind == "postgresql":
        return when
    return int(when.timestamp() * 1_000_000)


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def sql_rows(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement in its own transaction; return its rows."""
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.split("///", 1)[1], timeout=60)
        try:
            with con:
                return list(con.execute(sql.replace("%s", "?"), tuple(params)).fetchall())
        finally:
            con.close()
    import psycopg

    with psycopg.connect(_libpq_url(url)) as pg:
        cur = pg.execute(sql, tuple(params) if params else None)
        return list(cur.fetchall()) if cur.description else []


# -- the load generator (a separate process) -----------------------------------------------------


def _percentile(ordered: Sequence[float], p: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def _loadgen_main(jobs: Any, results: Any) -> None:
    """Child process: run each job it is given, answer with its figures."""
    import uvloop

    results.put({"ready": True})
    while (job := jobs.get()) is not None:
        try:
            results.put(uvloop.run(_run_job(job)))
        except Exception as exc:  # reported to the parent, which stops the run
            import traceback

            results.put({"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})


async def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``concurrency`` workers, for a duration or until the job's items are done."""
    import asyncio

    opener, op, closer = await _make_op(job)
    concurrency = int(job["concurrency"])
    states = [await opener(k) for k in range(concurrency)]
    latencies: list[float] = []
    failures: list[str] = []
    ends: list[float] = []
    answered_ok = [0]  # warm-up included: what the server did, for the self-checks
    items: list[Any] | None = job.get("items")
    queue = list(reversed(items)) if items is not None else None
    cpu0 = time.process_time()
    started = time.perf_counter()
    t0 = started + float(job.get("warmup", 0.0)) if queue is None else started
    t_end = t0 + float(job.get("duration", 0.0))

    async def worker(k: int) -> None:
        rng = random.Random(int(job.get("seed", 0)) * 1000 + k)
        while True:
            if queue is not None:
                if not queue:
                    return
                item = queue.pop()
            else:
                item = None
            begin = time.perf_counter()
            if queue is None and begin >= t_end:
                return
            try:
                failure = await op(states[k], rng, item)
            except Exception as exc:
                failure = f"{type(exc).__name__}: {exc}"
            done = time.perf_counter()
            if failure is None:
                answered_ok[0] += 1
            if begin >= t0:
                if failure is None:
                    latencies.append(done - begin)
                else:
                    failures.append(failure)
                ends.append(done)

    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    last = max(ends) if ends else time.perf_counter()
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - started
    for state in states:
        await closer(state)
    latencies.sort()
    seconds = max(last - t0, 1e-9)
    return {
        "requests": len(latencies),
        "answered_ok": answered_ok[0],
        "failures": len(failures),
        "first_failure": failures[0][:400] if failures else None,
        "seconds": round(seconds, 3),
        "rps": len(latencies) / seconds,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p95_ms": _percentile(latencies, 0.95) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "client_cores": cpu / wall if wall else 0.0,
    }


_Op = Callable[[Any, random.Random, Any], Any]


async def _make_op(job: dict[str, Any]) -> tuple[Any, _Op, Any]:
    """Return (open a worker's state, one request, close a state) for the job's ``op``."""
    op = job["op"]
    if op.startswith("api_") or op == "ingest_history":
        return await _api_op(job)
    return await _raw_op(job)


class _Answer:
    """A response as the load generator sees it: status and body."""

    __slots__ = ("content", "status_code")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Connection:
    """One keep-alive HTTP/1.1 connection, as lean as a C load generator allows in Python.

    httpx spends more CPU per request than the broker's fast path: on a 2-core machine
    the client would measure itself. This writes a request and reads one response
    (Content-Length or chunked), nothing else.
    """

    def __init__(self, target: str, headers: dict[str, str]) -> None:
        url = urlparse(target)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"host": url.netloc, **headers}.items())
        self.reader: Any = None
        self.writer: Any = None

    async def open(self) -> None:
        import asyncio

        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> _Answer:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        length = f"content-length: {len(body)}\r\n" if body or method != "GET" else ""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}{extra}{length}\r\n".encode() + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if b"content-length" in fields:
            content = await self.reader.readexactly(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")
            content = b"".join(parts)
        else:
            content = b""
        return _Answer(status, content)

    async def get(self, path: str) -> _Answer:
        return await self.request("GET", path)

    async def post(self, path: str, content: str | bytes, headers: dict[str, str]) -> _Answer:
        body = content.encode() if isinstance(content, str) else content
        return await self.request("POST", path, body, headers)

    async def patch(self, path: str, content: str, headers: dict[str, str]) -> _Answer:
        return await self.request("PATCH", path, content.encode(), headers)


async def _api_op(job: dict[str, Any]) -> tuple[Any, _Op, Any]:
    import itertools

    op, population = job["op"], int(job.get("population", 0))
    observed_at = job.get("observed_at", "")
    headers = {"authorization": f"Bearer {job['token']}"} if job.get("token") else {}
    connections = [_Connection(job["target"], headers) for _ in range(int(job["concurrency"]))]
    counter = itertools.count()
    history = History(int(job.get("history_values", 0)), int(job.get("history_end_s", 0)))
    query_url = f"{BASE}/entities?type={PARKING}&q={quote(Q, safe='')}&limit={PAGE}"
    json_headers = {"content-type": JSON_TYPE}

    def check(response: _Answer, expected: int, starts: bytes = b"") -> str | None:
        if response.status_code != expected:
            return f"{response.status_code} {response.text[:300]}"
        if starts and not response.content.startswith(starts):
            return f"{response.status_code} unexpected body {response.text[:200]}"
        return None

    async def get(c: _Connection, rng: random.Random, _: Any) -> str | None:
        eid = entity_id(rng.randrange(population))
        response = await c.get(f"{BASE}/entities/{eid}")
        failure = check(response, 200, b"{")
        if failure is None and eid.encode() not in response.content:
            failure = f"the body is not {eid}: {response.text[:200]}"
        return failure

    async def query(c: _Connection, rng: random.Random, _: Any) -> str | None:
        response = await c.get(query_url)
        failure = check(response, 200, b"[")
        if failure is None and response.content.startswith(b"[]"):
            failure = "no entity matched"
        return failure

    async def geo(c: _Connection, rng: random.Random, _: Any) -> str | None:
        lon, lat = rng.uniform(LON_MIN, LON_MAX), rng.uniform(LAT_MIN, LAT_MAX)
        georel = quote(f"near;maxDistance=={NEAR_M}", safe="")
        coordinates = quote(f"[{lon:.6f},{lat:.6f}]", safe="")
        response = await c.get(
            f"{BASE}/entities?type={PARKING}&georel={georel}&geometry=Point"
            f"&coordinates={coordinates}&limit={PAGE}"
        )
        return check(response, 200, b"[")

    async def patch(c: _Connection, rng: random.Random, _: Any) -> str | None:
        eid = entity_id(2 * rng.randrange(max(1, population // 2)))  # a car park
        body = {
            "availableSpotNumber": {
                "type": "Property",
                "value": rng.randint(0, 200),
                "observedAt": iso(dt.datetime.now(dt.UTC)),
            }
        }
        response = await c.patch(
            f"{BASE}/entities/{eid}/attrs", content=json.dumps(body), headers=json_headers
        )
        return check(response, 204)

    async def create(c: _Connection, rng: random.Random, _: Any) -> str | None:
        n = next(counter)
        body = entity_body(n, observed_at, entity_id(n, f"{CREATE_MARK}-{job['tag']}"))
        response = await c.post(f"{BASE}/entities", content=json.dumps(body), headers=json_headers)
        return check(response, 201)

    async def batch(c: _Connection, rng: random.Random, item: Any) -> str | None:
        first, end = item
        body = [entity_body(i, observed_at) for i in range(first, end)]
        response = await c.post(
            f"{BASE}/entityOperations/create", content=json.dumps(body), headers=json_headers
        )
        return check(response, 201)

    async def temporal_load(c: _Connection, rng: random.Random, item: Any) -> str | None:
        body = history.temporal_body(*item)
        response = await c.post(
            f"{BASE}/temporal/entities", content=json.dumps(body), headers=json_headers
        )
        if response.status_code in (201, 204):
            return None
        return f"{response.status_code} {response.text[:300]}"

    async def ingest_load(c: _Connection, rng: random.Random, item: Any) -> str | None:
        response = await c.post(
            "/api/v1/ingest",
            content=history.senml_pack(*item),
            headers={"content-type": "application/senml+json"},
        )
        failure = check(response, 202)
        if failure is None and response.json().get("stored") != item[1] - item[0]:
            failure = f"stored {response.json()} of {item[1] - item[0]} readings"
        return failure

    temporal_url = history.query() if history.values else ""

    async def temporal(c: _Connection, rng: random.Random, _: Any) -> str | None:
        response = await c.get(temporal_url)
        failure = check(response, 200, b"{")
        if failure is None and b'"avg"' not in response.content:
            failure = f"no avg in the answer: {response.text[:200]}"
        return failure

    ops: dict[str, _Op] = {
        "api_get": get,
        "api_query": query,
        "api_geo": geo,
        "api_patch": patch,
        "api_create": create,
        "api_batch": batch,
        "api_history": temporal_load,
        "ingest_history": ingest_load,
        "api_temporal": temporal,
    }

    async def opener(k: int) -> _Connection:
        return connections[k]

    async def closer(c: _Connection) -> None:
        await c.close()

    # Open the connections before the clock starts.
    for connection in connections:
        await connection.open()
    return opener, ops[op], closer


async def _raw_op(job: dict[str, Any]) -> tuple[Any, _Op, Any]:
    """Return the raw baseline of a figure: psycopg (async) or sqlite3 (in threads)."""
    import asyncio

    kind, url, names = job["kind"], job["target"], job["names"]
    population = int(job.get("population", 0))
    name = job["op"].removeprefix("raw_")
    history = History(int(job.get("history_values", 0)), int(job.get("history_end_s", 0)))
    meta = json.dumps({"kind": "Property"})

    def statements(rng: random.Random) -> list[tuple[str, tuple[Any, ...]]]:
        """Return the statements of one request (several: one transaction)."""
        if name == "get":
            return [(raw_sql(kind, "get"), (entity_id(rng.randrange(population)),))]
        if name == "query":
            return [(raw_sql(kind, "query"), q_params(names))]
        if name == "geo":
            lon, lat = rng.uniform(LON_MIN, LON_MAX), rng.uniform(LAT_MIN, LAT_MAX)
            return [(raw_sql(kind, "geo"), geo_params(names, lon, lat))]
        if name == "patch":
            eid = entity_id(2 * rng.randrange(max(1, population // 2)))
            now = db_time(kind, dt.datetime.now(dt.UTC))
            spots = rng.randint(0, 200)
            value, digits = float(spots), str(spots)
            return [
                (
                    raw_sql(kind, "patch_attribute"),
                    (value, digits, now, now, eid, names["spots"]),
                ),
                (raw_sql(kind, "patch_history"), (eid, names["spots"], now, value, digits, meta)),
                (raw_sql(kind, "patch_entity"), (now, eid)),
            ]
        if name == "temporal":
            start = dt.datetime.fromtimestamp(history.start_s, dt.UTC)
            end = dt.datetime.fromtimestamp(history.end_s, dt.UTC)
            t0, t1 = db_time(kind, start), db_time(kind, end)
            return [(raw_sql(kind, "temporal"), (t0, HISTORY_ID, names["pm25"], t0, t1))]
        raise ValueError(name)

    def verdict(rows: list[Any]) -> str | None:
        if name in ("get", "query", "temporal") and not rows:
            return "no rows"
        return None

    if kind == "postgresql":
        import psycopg

        async def pg_open(k: int) -> Any:
            conn = await psycopg.AsyncConnection.connect(_libpq_url(url), autocommit=True)
            # At 100k entities the planner's estimates cross jit_above_cost, and compiling
            # takes longer than these queries run: an OLTP session turns JIT off.
            await conn.execute("SET jit = off")
            return conn

        async def pg_op(conn: Any, rng: random.Random, _: Any) -> str | None:
            todo = statements(rng)
            if len(todo) == 1:
                cur = await conn.execute(*todo[0])
                return verdict(await cur.fetchall())
            async with conn.transaction():
                for sql, params in todo:
                    await conn.execute(sql, params)
            return None

        async def pg_close(conn: Any) -> None:
            await conn.close()

        return pg_open, pg_op, pg_close

    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=int(job["concurrency"]))
    path = url.split("///", 1)[1]

    async def lite_open(k: int) -> Any:
        def connect() -> sqlite3.Connection:
            con = sqlite3.connect(path, timeout=60, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            return con

        return await asyncio.get_running_loop().run_in_executor(pool, connect)

    def lite_run(con: sqlite3.Connection, todo: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        if len(todo) == 1:
            return list(con.execute(*todo[0]).fetchall())
        with con:
            for sql, params in todo:
                con.execute(sql, params)
        return []

    async def lite_op(con: Any, rng: random.Random, _: Any) -> str | None:
        rows = await asyncio.get_running_loop().run_in_executor(
            pool, lite_run, con, statements(rng)
        )
        return verdict(rows) if name != "patch" else None

    async def lite_close(con: Any) -> None:
        con.close()

    return lite_open, lite_op, lite_close


class LoadGenerator:
    """The separate load-generating process, kept for the whole run (one spawn)."""

    def __enter__(self) -> LoadGenerator:
        self.jobs: Any = _MP.Queue()
        self.results: Any = _MP.Queue()
        self.process = _MP.Process(
            target=_loadgen_main, args=(self.jobs, self.results), daemon=True
        )
        self.process.start()
        self._answer(120)
        return self

    def _answer(self, timeout: float) -> dict[str, Any]:
        import queue

        deadline = time.monotonic() + timeout
        while True:
            try:
                answer: dict[str, Any] = self.results.get(timeout=1)
                return answer
            except queue.Empty:
                if not self.process.is_alive():
                    raise BenchmarkError("the load generator died") from None
                if time.monotonic() > deadline:
                    raise BenchmarkError("the load generator did not answer in time") from None

    def run(self, job: dict[str, Any], timeout: float = 1800.0) -> dict[str, Any]:
        """Run one job; return its figures (raise if the generator itself failed)."""
        self.jobs.put(job)
        result = self._answer(timeout)
        if "error" in result:
            raise BenchmarkError(f"load generator: {result['error']}\n{result.get('trace', '')}")
        return result

    def __exit__(self, *exc: object) -> None:
        self.jobs.put(None)
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)


# -- CPU accounting (from /proc: who used the two cores) ------------------------------------------


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """Return (parent pid, CPU seconds) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def tree_cpu_s(root: int) -> float:
    """Return the CPU seconds used so far by a process and its descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            stats[int(entry)] = stat
    members, total = {root}, 0.0
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    for pid in members:
        if pid in stats:
            total += stats[pid][1]
    return total


def database_cpu_s(url: str) -> dict[int, float]:
    """Return the CPU seconds of each PostgreSQL backend connected to the database now."""
    if not url.startswith("postgresql"):
        return {}
    rows = sql_rows(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()",
    )
    out = {}
    for (pid,) in rows:
        if (stat := _proc_stat(int(pid))) is not None:
            out[int(pid)] = stat[1]
    return out


def machine_busy_s() -> float:
    """Return the CPU seconds all cores have spent busy since boot."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# -- databases and servers ------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def prepare(url: str) -> tuple[str, str]:
    """Migrate the schema; create an operator and a device; return their token and key."""
    from citysmart.core import roles
    from citysmart.core.accounts import create_user, issue_token
    from citysmart.core.db import make_engine, make_sessionmaker
    from citysmart.core.migrate import upgrade
    from citysmart.hub.registry import register_device

    engine = make_engine(url)
    try:
        upgrade(engine)
        with make_sessionmaker(engine).begin() as session:
            create_user(session, "bench-operator", roles.OPERATOR, actor="benchmark")
            token, _ = issue_token(session, "bench-operator", 1, actor="benchmark")
        with make_sessionmaker(engine).begin() as session:
            key = register_device(session, HISTORY_DEVICE, HISTORY_ID, AIR, actor="benchmark").key
        return token, key
    finally:
        engine.dispose()


def stored_names() -> dict[str, str]:
    """Return the names the store keeps for the benchmark's types and attributes."""
    from citysmart.hub.ngsi_ld.codec import stored_name, stored_type
    from citysmart.hub.ngsi_ld.context import core_context

    core = core_context()
    return {
        "parking": stored_type(core.expand_type(PARKING)),
        "spots": stored_name(core.expand_term("availableSpotNumber")),
        "status": stored_name(core.expand_term("status")),
        "location": stored_name(core.expand_term("location")),
        "pm25": stored_name(core.expand_term(HISTORY_ATTRIBUTE)),
    }


@dataclass(frozen=True, slots=True)
class Server:
    """A uvicorn subprocess serving the app."""

    url: str
    pid: int
    workers: int


@contextlib.contextmanager
def serve(url: str, workdir: Path, workers: int) -> Iterator[Server]:
    """Run the app factory in ``workers`` processes on a free port; stop it after."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "CITYSMART_DATABASE_URL": url,
        "CITYSMART_DATA_DIR": str(workdir),
        "CITYSMART_SECRET_KEY": SECRET_KEY,
        "CITYSMART_MQTT_INGEST": "false",
        "CITYSMART_NGSI_LD_REMOTE_CONTEXTS": "false",
    }
    here = Path(__file__).resolve()
    # citysmart's own launcher: one SO_REUSEPORT socket per worker, so the kernel spreads
    # the keep-alive connections (uvicorn --workers can leave one worker with most of them).
    command = [
        sys.executable,
        "-m",
        "citysmart.core.serving",
        f"{here.stem}:bench_app",
        "--app-dir",
        str(here.parent),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log_path = workdir / f"uvicorn-{workers}-{port}.log"
    with open(log_path, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        ready = 0
        while ready < 2 * workers + 2:  # several answers: every worker has started
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BenchmarkError(f"uvicorn ({workers} workers) did not start:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=5, trust_env=False).status_code == 200:
                    ready += 1
                    continue
            time.sleep(0.1)
        yield Server(base, process.pid, workers)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        tail = log_path.read_text(errors="replace").strip()
        if "Traceback" in tail:
            log(f"  uvicorn ({workers} workers) logged errors; last lines:\n{tail[-1500:]}")


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Run:
    """What a database's run needs: where things are, and what was found."""

    kind: str
    url: str
    args: argparse.Namespace
    gen: LoadGenerator
    servers: dict[int, Server]
    token: str
    device_key: str
    names: dict[str, str]
    observed_at: str
    figures: list[dict[str, Any]]
    loads: list[dict[str, Any]]
    checks: list[str]

    def job(self, op: str, **extra: Any) -> dict[str, Any]:
        """Return a job with the run's common fields."""
        return {
            "op": op,
            "kind": self.kind,
            "names": self.names,
            "token": self.token,
            "observed_at": self.observed_at,
            "concurrency": self.args.concurrency,
            "warmup": self.args.warmup,
            "duration": self.args.duration,
            "seed": random.randrange(1 << 30),
            **extra,
        }

    def timed(self, job: dict[str, Any], server: Server | None) -> dict[str, Any]:
        """Run a job; add the CPU the server, the client and the machine used meanwhile."""
        db0 = database_cpu_s(self.url) if server else {}
        wall0, busy0 = time.perf_counter(), machine_busy_s()
        server0 = tree_cpu_s(server.pid) if server else 0.0
        result = self.gen.run(job)
        wall = time.perf_counter() - wall0
        result["machine_cores"] = (machine_busy_s() - busy0) / wall
        if server:  # the server's pooled backends outlive the job; the raw ones do not
            result["server_cores"] = (tree_cpu_s(server.pid) - server0) / wall
            db1 = database_cpu_s(self.url)
            result["db_cores"] = sum(cpu - db0.get(pid, 0.0) for pid, cpu in db1.items()) / wall
            result["other_cores"] = max(
                0.0,
                result["machine_cores"]
                - result["server_cores"]
                - result["db_cores"]
                - result["client_cores"],
            )
        return result

    def check(self, ok: bool, message: str) -> None:
        """Record a failed self-check (the run goes on: the figures say what they measure)."""
        if not ok:
            self.checks.append(f"{self.kind}: {message}")
            log(f"  CHECK FAILED: {message}")


def count_population(url: str) -> int:
    """Return how many population entities are stored."""
    rows = sql_rows(url, f"SELECT count(*) FROM entity WHERE id LIKE '%:{POPULATION_MARK}-%'")
    return int(rows[0][0])


def delete_created(url: str) -> int:
    """Delete the creates figure's entities (rows in every table); return how many."""
    pattern = f"urn:ngsi-ld:%:{CREATE_MARK}-%"
    before = int(sql_rows(url, "SELECT count(*) FROM entity WHERE id LIKE %s", (pattern,))[0][0])
    for table, column in (
        ("attribute", "entity_id"),
        ("entity_type", "entity_id"),
        ("observation", "entity_id"),
        ("entity", "id"),
    ):
        sql_rows(url, f"DELETE FROM {table} WHERE {column} LIKE %s", (pattern,))
    return before


def analyze(url: str) -> None:
    """Refresh the planner's statistics after a bulk load (autovacuum would, later)."""
    sql_rows(url, "ANALYZE")


def grow(run: Run, current: int, size: int) -> None:
    """Bring the population from ``current`` to ``size`` entities with batch creates.

    The batches go in groups (a progress line each); when the batch endpoint fails outright
    or ``--load-path store`` says so, the entities go through the store's own functions.
    """
    if size <= current:
        return
    batch = run.args.batch_size
    items = [(i, min(i + batch, size)) for i in range(current, size, batch)]
    server = run.servers[max(run.servers)]
    path = f"POST {BASE}/entityOperations/create, {batch} per batch, "
    path += f"{run.args.batch_concurrency} concurrent"
    seconds, server_cpu, done = 0.0, 0.0, current
    if run.args.load_path == "api":
        log(f"{run.kind}: batch-creating entities {current:,}..{size - 1:,} ({len(items)} batches)")
    group = max(run.args.batch_concurrency, 20)
    for start in range(0, len(items) if run.args.load_path == "api" else 0, group):
        todo = items[start : start + group]
        result = run.timed(
            run.job(
                "api_batch",
                target=server.url,
                items=todo,
                concurrency=run.args.batch_concurrency,
                warmup=0,
                duration=0,
            ),
            server,
        )
        if result["failures"] and not result["requests"] and done == current:
            log(f"  batch create failed: {result['first_failure']}")
            path = f"store (the batch endpoint failed: {result['first_failure'][:120]})"
            break
        if result["failures"]:
            raise BenchmarkError(
                f"{result['failures']} batch creates failed: {result['first_failure']}"
            )
        seconds += result["seconds"]
        server_cpu += result["server_cores"] * result["seconds"]
        done = todo[-1][1]
        rate = (done - current) / seconds
        log(
            f"  {done:,} entities stored, {rate:,.0f} entities/s; about "
            f"{(size - done) / rate:,.0f} s to go"
        )
    else:
        if done == size:
            run.loads.append(
                {
                    "database": run.kind,
                    "what": f"population {current:,}..{size:,}",
                    "path": path,
                    "entities_per_s": round((size - current) / seconds, 1),
                    "server_cores": round(server_cpu / seconds, 2),
                }
            )
    if done < size:
        if run.args.load_path == "store":
            path = "store (--load-path store)"
        log(f"  storing entities {done:,}..{size - 1:,} with entity_store.insert_entity")
        rate = direct_load(run, count_population(run.url), size)
        run.loads.append(
            {
                "database": run.kind,
                "what": f"population {done:,}..{size:,}",
                "path": f"entity_store.insert_entity in the benchmark's process, {path}",
                "entities_per_s": round(rate, 1),
            }
        )
    stored = count_population(run.url)
    if stored != size:
        raise BenchmarkError(f"{stored:,} population entities stored, not {size:,}")


def direct_load(run: Run, current: int, size: int) -> float:
    """Store entities with the store's own functions (when the API cannot); return rate."""
    from citysmart.core.db import make_engine, make_sessionmaker
    from citysmart.hub.ngsi_ld.context import core_context, expand_entity
    from citysmart.hub.ngsi_ld.entity_store import insert_entity
    from citysmart.hub.ngsi_ld.model import parse_entity

    ctx = core_context()
    engine = make_engine(run.url)
    started = time.perf_counter()
    try:
        sessions = make_sessionmaker(engine)
        for first in range(current, size, 1000):
            now = dt.datetime.now(dt.UTC)
            with sessions.begin() as session:
                for i in range(first, min(first + 1000, size)):
                    body = entity_body(i, run.observed_at)
                    insert_entity(session, parse_entity(expand_entity(body, ctx)), now)
    finally:
        engine.dispose()
    return (size - current) / (time.perf_counter() - started)


def self_check(run: Run, size: int) -> None:
    """Check a few answers of the API against the database (outside the timed runs)."""
    import httpx

    server = run.servers[min(run.servers)]
    client = httpx.Client(base_url=server.url, timeout=60, trust_env=False)
    try:
        eid = entity_id(size - 1)
        response = client.get(f"{BASE}/entities/{eid}")
        run.check(
            response.status_code == 200 and response.json().get("id") == eid,
            f"GET {eid}: {response.status_code} {response.text[:200]}",
        )
        if response.status_code == 200:
            wanted = set(entity_body(size - 1, run.observed_at)) - {"id", "type"}
            missing = wanted - set(response.json())
            run.check(not missing, f"GET {eid} lacks {sorted(missing)}")
        response = client.get(
            f"{BASE}/entities", params={"type": PARKING, "q": Q, "limit": PAGE, "count": "true"}
        )
        expected = int(
            sql_rows(run.url, raw_sql(run.kind, "query_count"), q_params(run.names))[0][0]
        )
        got = response.headers.get("NGSILD-Results-Count")
        run.check(
            response.status_code == 200 and got == str(expected),
            f"query at {size:,}: {response.status_code}, count {got}, SQL says {expected} "
            f"({response.text[:200]})",
        )
        if response.status_code == 200:
            for entity in response.json():
                spots = entity.get("availableSpotNumber", {}).get("value", -1)
                status = entity.get("status", {}).get("value")
                run.check(
                    spots > Q_THRESHOLD and status == "open",
                    f"query returned {entity.get('id')} with {spots} spots, {status}",
                )
        rng = random.Random(size)
        for _ in range(3):
            lon, lat = rng.uniform(LON_MIN, LON_MAX), rng.uniform(LAT_MIN, LAT_MAX)
            response = client.get(
                f"{BASE}/entities",
                params={
                    "type": PARKING,
                    "georel": f"near;maxDistance=={NEAR_M}",
                    "geometry": "Point",
                    "coordinates": f"[{lon},{lat}]",
                    "limit": 1000,
                    "count": "true",
                },
            )
            expected_ids = [
                r[0]
                for r in sql_rows(
                    run.url, raw_sql(run.kind, "geo_ids"), geo_params(run.names, lon, lat)
                )
            ]
            if response.status_code != 200:
                run.check(False, f"near at {size:,}: {response.status_code} {response.text[:200]}")
                continue
            got_ids = sorted(e["id"] for e in response.json())
            run.check(
                got_ids == expected_ids,
                f"near ({lon:.4f}, {lat:.4f}) at {size:,}: API {len(got_ids)} entities, "
                f"SQL haversine {len(expected_ids)} (differ: "
                f"{sorted(set(got_ids) ^ set(expected_ids))[:3]})",
            )
    finally:
        client.close()


def record(
    run: Run,
    size: int | None,
    figure: str,
    workers: int | None,
    api: dict[str, Any],
    raw: dict[str, Any] | None,
) -> dict[str, Any]:
    """Keep one figure: the API's result beside its raw baseline."""
    concurrency = api["concurrency"]
    out: dict[str, Any] = {
        "database": run.kind,
        "entities": size,
        "figure": figure,
        "server_workers": workers,
        "concurrency": concurrency,
        "mode": api.get("mode", "load"),
    }
    out |= {
        "rps": round(api["rps"], 1),
        "p50_ms": round(api["p50_ms"], 2),
        "p95_ms": round(api["p95_ms"], 2),
        "p99_ms": round(api["p99_ms"], 2),
        "requests": api["requests"],
        "failures": api["failures"],
        "first_failure": api["first_failure"],
        "server_cores": round(api.get("server_cores", 0.0), 2),
        "db_cores": round(api.get("db_cores", 0.0), 2),
        "client_cores": round(api["client_cores"], 2),
        "other_cores": round(api.get("other_cores", 0.0), 2),
        "machine_cores": round(api["machine_cores"], 2),
    }
    if raw is not None:
        out |= {
            "raw_rps": round(raw["rps"], 1),
            "raw_p50_ms": round(raw["p50_ms"], 2),
            "raw_p95_ms": round(raw["p95_ms"], 2),
            "raw_failures": raw["failures"],
            "raw_first_failure": raw["first_failure"],
        }
        if out["mode"] == "load" and raw["rps"]:  # same clients, same question
            out["ratio"] = round(api["rps"] / raw["rps"], 3)
    run.figures.append(out)
    failed = f", {api['failures']} FAILED: {api['first_failure']}" if api["failures"] else ""
    base = (
        f"; raw {raw['rps']:,.0f} req/s p95 {raw['p95_ms']:.1f} ms"
        + (f", ratio {out['ratio']:.2f}" if "ratio" in out else "")
        if raw is not None
        else ""
    )
    mode = "" if out["mode"] == "load" else f" [{out['mode']}: too slow for the load]"
    log(
        f"  {FIGURES[figure]}, {workers} worker(s), {concurrency} clients: "
        f"{api['rps']:,.1f} req/s, p50 {api['p50_ms']:.1f} ms, p95 {api['p95_ms']:.1f} ms "
        f"(cores: server {api.get('server_cores', 0):.2f}, database "
        f"{api.get('db_cores', 0):.2f}, client {api['client_cores']:.2f}, others "
        f"{api.get('other_cores', 0):.2f}){base}{mode}{failed}"
    )
    return out


def api_figure(
    run: Run,
    figure: str,
    server: Server,
    concurrency: int,
    **extra: Any,
) -> dict[str, Any]:
    """Measure one API figure; a figure too slow for the load gets a few sequential requests.

    A probe of PROBE_REQUESTS sequential requests comes first (warm-up too). When its
    median is above ``--slow-ms``, ``concurrency`` clients for ``--duration`` seconds would
    keep the server busy for minutes (and past the end of the measurement), so the probe
    stands for the figure, marked ``sequential``.
    """
    probe = run.timed(
        run.job(
            f"api_{figure}",
            target=server.url,
            items=[None] * PROBE_REQUESTS,
            concurrency=1,
            warmup=0,
            duration=0,
            **extra,
        ),
        server,
    )
    if probe["failures"] == PROBE_REQUESTS or probe["p50_ms"] > run.args.slow_ms:
        probe["mode"] = "sequential" if probe["requests"] else "failed"
        probe["concurrency"] = 1
        return probe
    api = run.timed(
        run.job(f"api_{figure}", target=server.url, concurrency=concurrency, **extra), server
    )
    api["answered_ok"] += probe["answered_ok"]
    api["concurrency"] = concurrency
    return api


def measure_size(run: Run, size: int) -> None:
    """Measure the chosen per-size figures on a population of ``size`` entities."""
    for figure in (f for f in ("create", *READ_FIGURES) if f in run.args.figures):
        raw = None
        if figure in READ_FIGURES:
            raw = run.timed(run.job(f"raw_{figure}", target=run.url, population=size), None)
            if raw["failures"]:
                run.check(False, f"raw {figure}: {raw['failures']} failed: {raw['first_failure']}")
        for workers, server in sorted(run.servers.items()):
            extra: dict[str, Any] = {"population": size}
            if figure == "create":
                extra["tag"] = f"{size}-w{workers}"
            api = api_figure(run, figure, server, run.args.concurrency, **extra)
            record(run, size, figure, workers, api, raw)
            if figure == "create":
                deleted = delete_created(run.url)
                if deleted != api["answered_ok"]:
                    run.check(
                        False,
                        f"creates: {api['answered_ok']} answered 201 (warm-up included), "
                        f"{deleted} entities stored",
                    )
    if count_population(run.url) != size:
        raise BenchmarkError("the population changed during the measurements")


def load_history(run: Run, history: History) -> None:
    """Store the temporal history: POST /temporal/entities, or the hub's ingest path."""
    server = run.servers[max(run.servers)]
    items = [
        (j, min(j + HISTORY_CHUNK, history.values)) for j in range(0, history.values, HISTORY_CHUNK)
    ]
    common = {
        "target": server.url,
        "warmup": 0,
        "duration": 0,
        "history_values": history.values,
        "history_end_s": history.end_s,
    }
    path = run.args.history_path
    result: dict[str, Any] | None = None
    if path in ("auto", "temporal"):
        log(f"{run.kind}: loading {history.values:,} values with POST {BASE}/temporal/entities")
        first = run.timed(run.job("api_history", items=items[:1], concurrency=1, **common), None)
        if first["failures"]:
            log(f"  POST /temporal/entities failed: {first['first_failure']}")
            if path == "temporal":
                raise BenchmarkError("the temporal history could not be stored")
        else:
            rest = run.timed(
                run.job("api_history", items=items[1:], concurrency=2, **common), server
            )
            if rest["failures"]:
                raise BenchmarkError(f"temporal load: {rest['first_failure']}")
            result = {
                "path": f"POST {BASE}/temporal/entities, {HISTORY_CHUNK} instances per request",
                "seconds": first["seconds"] + rest["seconds"],
            }
    if result is None:
        sql_rows(run.url, "DELETE FROM observation WHERE entity_id = %s", (HISTORY_ID,))
        log(f"{run.kind}: loading {history.values:,} values with POST /api/v1/ingest (SenML)")
        done = run.timed(
            run.job(
                "ingest_history", items=items, concurrency=2, **(common | {"token": run.device_key})
            ),
            server,
        )
        if done["failures"]:
            raise BenchmarkError(f"ingest of the history failed: {done['first_failure']}")
        result = {
            "path": f"POST /api/v1/ingest (device key, SenML packs of {HISTORY_CHUNK})",
            "seconds": done["seconds"],
        }
    stored = int(
        sql_rows(
            run.url,
            "SELECT count(*) FROM observation WHERE entity_id = %s AND attribute = %s",
            (HISTORY_ID, run.names["pm25"]),
        )[0][0]
    )
    if stored != history.values:
        raise BenchmarkError(f"{stored:,} history values stored, not {history.values:,}")
    rate = history.values / result["seconds"]
    log(f"  {history.values:,} values in {result['seconds']:.1f} s ({rate:,.0f} values/s)")
    run.loads.append(
        {
            "database": run.kind,
            "what": f"temporal history, {history.values:,} values of {HISTORY_ATTRIBUTE}",
            "path": result["path"],
            "values_per_s": round(rate, 1),
        }
    )


def check_temporal(run: Run, server: Server, history: History) -> None:
    """Compare the API's hourly avg/max with SQL's (outside the timed runs)."""
    import httpx

    response = httpx.get(server.url + history.query(), timeout=120, trust_env=False)
    if response.status_code != 200:
        run.check(False, f"temporal aggregation: {response.status_code} {response.text[:300]}")
        return
    start = dt.datetime.fromtimestamp(history.start_s, dt.UTC)
    end = dt.datetime.fromtimestamp(history.end_s, dt.UTC)
    t0, t1 = db_time(run.kind, start), db_time(run.kind, end)
    rows = sql_rows(
        run.url, raw_sql(run.kind, "temporal"), (t0, HISTORY_ID, run.names["pm25"], t0, t1)
    )
    attribute = response.json().get(HISTORY_ATTRIBUTE)
    if isinstance(attribute, list):
        attribute = attribute[0] if attribute else None
    avg = attribute.get("avg") if isinstance(attribute, dict) else None
    biggest = attribute.get("max") if isinstance(attribute, dict) else None
    if not isinstance(avg, list) or not isinstance(biggest, list):
        run.check(False, f"temporal aggregation: no avg/max lists in {response.text[:300]}")
        return
    run.check(
        len(avg) == len(rows) and len(biggest) == len(rows),
        f"temporal aggregation: {len(avg)} avg and {len(biggest)} max periods, SQL {len(rows)}",
    )
    if avg and rows:
        api_first = (float(avg[0][0]), float(biggest[0][0]))
        sql_first = (float(rows[0][1]), float(rows[0][2]))
        run.check(
            all(
                abs(a - b) < 1e-6 * max(1.0, abs(b))
                for a, b in zip(api_first, sql_first, strict=True)
            ),
            f"temporal aggregation: first period avg/max {api_first}, SQL {sql_first}",
        )


def measure_temporal(run: Run, history: History) -> None:
    """Measure the temporal aggregation at each --temporal-clients, beside raw SQL."""
    check_temporal(run, run.servers[min(run.servers)], history)
    fields = {"history_values": history.values, "history_end_s": history.end_s}
    for clients in run.args.temporal_clients:
        raw = run.timed(
            run.job("raw_temporal", target=run.url, concurrency=clients, **fields), None
        )
        for workers, server in sorted(run.servers.items()):
            api = api_figure(run, "temporal", server, clients, **fields)
            record(run, None, "temporal", workers, api, raw)["values"] = history.values


def measure_database(kind: str, args: argparse.Namespace, workdir: Path) -> Run:
    """Measure every figure on one database."""
    with throwaway_database(kind, args.postgres_url, workdir) as url:
        log(f"{kind}: migrating a throwaway database")
        token, device_key = prepare(url)
        with contextlib.ExitStack() as stack:
            servers = {w: stack.enter_context(serve(url, workdir, w)) for w in args.server_workers}
            gen = stack.enter_context(LoadGenerator())
            run = Run(
                kind=kind,
                url=url,
                args=args,
                gen=gen,
                servers=servers,
                token=token,
                device_key=device_key,
                names=stored_names(),
                observed_at=iso(dt.datetime.now(dt.UTC).replace(microsecond=0)),
                figures=[],
                loads=[],
                checks=[],
            )
            population = 0
            for size in args.sizes:
                grow(run, population, size)
                population = size
                analyze(url)
                self_check(run, size)
                log(f"{kind}: measuring at {size:,} entities")
                measure_size(run, size)
            if args.temporal_values and "temporal" in args.figures:
                end_s = (int(time.time()) // 3600 - 1) * 3600
                history = History(args.temporal_values, end_s)
                load_history(run, history)
                analyze(url)
                measure_temporal(run, history)
        return run


# -- anchors and the report ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Anchor:
    """A published figure to compare with; ``goal`` marks the issue's targets."""

    figure: str
    entities: int | None  # None: any size
    metric: str  # rps or p95_ms
    value: float
    source: str
    goal: bool


ANCHORS = (
    Anchor("create", None, "rps", 163, "Stellio, 8 vCPU", True),
    Anchor("get", None, "rps", 4200, "Orion-LD tiny (1-CPU broker with a 4-8 CPU MongoDB)", True),
    Anchor("query", 10_000, "rps", 39, "Stellio, 8 vCPU, 10k entities", True),
    Anchor("query", 10_000, "p95_ms", 311, "Stellio, 8 vCPU, 10k entities", True),
    Anchor("query", 100_000, "rps", 11, "Stellio, 8 vCPU, 100k entities", True),
    Anchor("query", 100_000, "p95_ms", 1350, "Stellio, 8 vCPU, 100k entities", True),
    Anchor("query", None, "rps", 2500, "Orion-LD tiny, queries", True),
    Anchor("geo", None, "rps", 2500, "Orion-LD tiny, queries (kind not stated)", False),
    Anchor("patch", None, "rps", 1800, "Orion-LD tiny, updates", False),
    Anchor("temporal", None, "p95_ms", 321, "Stellio, 8 vCPU, 100k values", True),
)


def anchor_text(figure: str, entities: int | None) -> str:
    """Return the anchors that apply to a figure, short."""
    parts = []
    for a in ANCHORS:
        if a.figure == figure and (a.entities is None or a.entities == entities):
            unit = "req/s" if a.metric == "rps" else "ms p95"
            parts.append(f"{a.value:,.0f} {unit} ({a.source.split(',')[0].split(' (')[0]})")
    return "; ".join(parts)


def verdicts(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Compare the best measured figure (of the worker counts) with each anchor."""
    out = []
    for a in ANCHORS:
        candidates = [
            f
            for f in figures
            if f["figure"] == a.figure
            and "rps" in f
            and not f["failures"]
            and (a.entities is None or f["entities"] == a.entities)
            and (a.figure != "temporal" or (f["concurrency"] == 1 and f["values"] == 100_000))
        ]
        for entities in sorted({f["entities"] or 0 for f in candidates}):
            at = [f for f in candidates if (f["entities"] or 0) == entities]
            if a.metric == "rps":
                best = max(at, key=lambda f: f["rps"])
                met = best["rps"] >= a.value
            else:
                best = min(at, key=lambda f: f[a.metric])
                met = best[a.metric] <= a.value
            out.append(
                {
                    "anchor": a.source,
                    "figure": a.figure,
                    "entities": best["entities"],
                    "metric": a.metric,
                    "anchor_value": a.value,
                    "measured": best[a.metric],
                    "server_workers": best["server_workers"],
                    "database": best["database"],
                    "mode": best["mode"],
                    "goal": a.goal,
                    "met": met,
                }
            )
    return out


def render(results: dict[str, Any]) -> str:
    """Format the results as a table."""
    lines = [
        f"citysmart NGSI-LD benchmark, {results['date']} on {results['host']}",
        f"{results['concurrency']} concurrent clients (keep-alive) in a separate process; "
        f"{results['duration_s']} s per figure after {results['warmup_s']} s of warm-up; "
        f"uvicorn with {', '.join(map(str, results['server_workers']))} worker(s)",
        f"code: {results['code']}",
        "",
        f"{'db':<11}{'entities':>9}  {'figure':<26}{'w':>2}{'c':>4}{'req/s':>9}{'p50 ms':>9}"
        f"{'p95 ms':>9}{'fail':>6}{'raw req/s':>11}{'raw p95':>9}{'ratio':>7}"
        f"  {'cores s/d/o':<13}anchor",
    ]
    for f in results["figures"]:
        entities = f"{f['entities']:,}" if f["entities"] else f"{f.get('values', 0):,} v"
        if f["mode"] != "load":
            measured = (
                f"{f['server_workers']:>2}{f['concurrency']:>4}{f['rps']:>9,.1f}"
                f"{f['p50_ms']:>9.0f}{f['p95_ms']:>9.0f}{f['failures']:>6}"
            )
        elif "rps" in f:
            measured = (
                f"{f['server_workers']:>2}{f['concurrency']:>4}{f['rps']:>9,.0f}"
                f"{f['p50_ms']:>9.1f}{f['p95_ms']:>9.1f}{f['failures']:>6}"
            )
        else:
            measured = f"{'':>2}{f['concurrency']:>4}{'':>9}{'':>9}{'':>9}{'':>6}"
        raw = (
            f"{f['raw_rps']:>11,.0f}{f['raw_p95_ms']:>9.1f}"
            if "raw_rps" in f
            else f"{'':>11}{'':>9}"
        )
        ratio = f"{f['ratio']:>7.2f}" if "ratio" in f else f"{'':>7}"
        if f["mode"] != "load":
            ratio = f"{f['mode'][:3] + '*':>7}"
        cores = f"{f['server_cores']:.1f}/{f['db_cores']:.1f}/{f['other_cores']:.1f}"
        lines.append(
            f"{f['database']:<11}{entities:>9}  {FIGURES[f['figure']]:<26}{measured}{raw}{ratio}"
            f"  {cores:<13}{anchor_text(f['figure'], f['entities'])}"
        )
    lines += [
        "",
        "w: uvicorn workers; c: concurrent clients; ratio: req/s through the API / req/s of the "
        "raw SQL; cores s/d/o: CPU cores used meanwhile by the server, its database backends "
        "and everything else on the machine but the load generator.",
    ]
    if any(f["mode"] != "load" for f in results["figures"]):
        lines += [
            "",
            f"* seq: single requests took over {results['slow_ms']:,.0f} ms, so the figure comes "
            f"from {PROBE_REQUESTS} sequential requests, not from a load run (no ratio).",
        ]
    failed = [f for f in results["figures"] if f.get("failures")]
    if failed:
        lines += ["", "Failures (first answer of each):"]
        lines += [
            f"  {f['database']} {f['entities']} {f['figure']} w={f['server_workers']}: "
            f"{f['failures']} failed: {f['first_failure']}"
            for f in failed
        ]
    lines += ["", "Loading:"]
    for load in results["loads"]:
        rate = load.get("entities_per_s") or load.get("values_per_s")
        unit = "entities/s" if "entities_per_s" in load else "values/s"
        lines.append(f"  {load['database']} {load['what']}: {rate:,.0f} {unit} via {load['path']}")
    lines += ["", "Against the published anchors (best worker count):"]
    for v in results["verdicts"]:
        unit = "req/s" if v["metric"] == "rps" else "ms p95"
        at = f" at {v['entities']:,}" if v["entities"] else ""
        note = "" if v["goal"] else " (reference, not a goal)"
        if v["mode"] != "load":
            note += f" [{v['mode']}*]"
        lines.append(
            f"  {'MET    ' if v['met'] else 'NOT MET'} {FIGURES[v['figure']]}"
            f"{at}: {v['measured']:,.1f} "
            f"{unit} ({v['database']}, {v['server_workers']} worker(s)) "
            f"vs {v['anchor_value']:,.0f} {unit}, {v['anchor']}{note}"
        )
    if results["checks"]:
        lines += ["", "Self-checks that failed:"] + [f"  {c}" for c in results["checks"]]
    return "\n".join(lines)


def _figures(text: str) -> list[str]:
    chosen = [f.strip() for f in text.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(FIGURES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown figures {unknown}; choose from {list(FIGURES)}")
    return chosen


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def _databases(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    for item in items:
        if item not in ("sqlite", "postgresql"):
            raise argparse.ArgumentTypeError(f"{item!r} is not sqlite or postgresql")
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="NGSI-LD creates, reads, queries, updates and temporal aggregation "
        "through /ngsi-ld/v1, each beside the same question asked straight to the database.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quick", action="store_true", help="sizes 1000,10000, 2 s per figure, 0.5 s warm-up"
    )
    parser.add_argument(
        "--databases", type=_databases, default=["postgresql"], help="sqlite,postgresql"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a server where a throwaway database may be created and dropped",
    )
    parser.add_argument("--sizes", type=_ints, default=None, help="1000,10000,100000")
    parser.add_argument(
        "--figures",
        type=_figures,
        default=list(FIGURES),
        help=f"a subset of {','.join(FIGURES)} (all)",
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per figure (5)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds not counted (1)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument(
        "--server-workers", type=_ints, default=[1, 2], help="uvicorn worker counts (1,2)"
    )
    parser.add_argument("--batch-size", type=int, default=500, help="entities per batch (500)")
    parser.add_argument(
        "--batch-concurrency", type=int, default=2, help="concurrent batch requests (2)"
    )
    parser.add_argument(
        "--temporal-values",
        type=int,
        default=100_000,
        help="stored values of the temporal figure (100000; 0 skips it)",
    )
    parser.add_argument(
        "--temporal-clients",
        type=_ints,
        default=[1, 4],
        help="concurrent clients of the temporal figure (1,4)",
    )
    parser.add_argument(
        "--slow-ms",
        type=float,
        default=1000.0,
        help="a figure whose single requests take longer (median of 3) is reported from "
        "those sequential requests instead of a load run (1000)",
    )
    parser.add_argument(
        "--load-path",
        choices=("api", "store"),
        default="api",
        help="how the population is loaded: batch create through the API (api) or the "
        "store's functions in the benchmark's process (store, when the API is too slow)",
    )
    parser.add_argument(
        "--history-path",
        choices=("auto", "temporal", "ingest"),
        default="auto",
        help="how the history is stored: POST /temporal/entities, /api/v1/ingest, or the "
        "first that works (auto)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = sorted(args.sizes or ([1000, 10_000] if quick else [1000, 10_000, 100_000]))
    args.duration = args.duration if args.duration is not None else (2.0 if quick else 5.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if quick else 1.0)
    return args


def server_version(url: str) -> str:
    """Return the PostgreSQL server's version, shortly."""
    import psycopg

    with psycopg.connect(_libpq_url(url), connect_timeout=10) as pg:
        row = pg.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def code_state() -> str:
    """Return the commit measured, and the NGSI-LD files changed since (a shared tree)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h %cs"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return f"{head}" + (
        f" + uncommitted changes to {len(changed)} files under src" if changed else ""
    )


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run every requested figure; return them in one object."""
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "databases": args.databases,
        "sizes": args.sizes,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "concurrency": args.concurrency,
        "server_workers": args.server_workers,
        "batch_size": args.batch_size,
        "temporal_values": args.temporal_values,
        "slow_ms": args.slow_ms,
        "load_path": args.load_path,
        "query": f"type={PARKING}&q={Q}&limit={PAGE}",
        "geo_query": f"type={PARKING}&georel=near;maxDistance=={NEAR_M}&geometry=Point"
        f"&coordinates=[random point in Sejong]&limit={PAGE}",
        "figures": [],
        "loads": [],
        "checks": [],
    }
    if "postgresql" in args.databases:
        results["postgresql_version"] = server_version(args.postgres_url)
    results["code"] = code_state()
    with tempfile.TemporaryDirectory(prefix="citysmart-bench-") as tmp:
        for kind in args.databases:
            run = measure_database(kind, args, Path(tmp))
            results["figures"] += run.figures
            results["loads"] += run.loads
            results["checks"] += run.checks
    results["verdicts"] = verdicts(results["figures"])
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    args = parse_args(argv)
    try:
        results = measure(args)
    except BenchmarkError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    print(json.dumps(results, indent=2, ensure_ascii=False) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
