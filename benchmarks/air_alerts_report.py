"""Air alerts and the monthly report: how long they take at a city's scale.

Synthetic data (no real readings: this measures speed, not air), on a fresh SQLite file or
a throwaway PostgreSQL database (``--postgres URL`` of a server where the user may create
databases):

- ``report``: a month of hourly area figures for Sejong's 17 areas and the month before
  (both pollutants), 100 sensors with their hourly PM rows; the time to read and compute
  the report (``report_routes.build_report``) and to write its CSV and its HTML charts.
- ``alerts``: ``--follows`` follows (10 per user) spread over the areas, levels and
  pollutants; the time of ``alert_store.evaluate_alerts`` for an hour in which about half
  the areas reach 나쁨 (alerts raised) and for the next hour (no repeat).
- ``delivery``: ``--webhooks`` pending webhooks sent by ``notify.deliver_due`` to a local
  receiver that answers 204 (the outbox's own cost, not a network's).

    python benchmarks/air_alerts_report.py                 # figures as text
    python benchmarks/air_alerts_report.py --json          # one JSON object on stdout
    python benchmarks/air_alerts_report.py --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from sqlalchemy import insert

from citysmart.core.config import Settings
from citysmart.core.models import User
from citysmart.hub.runtime import HubRuntime
from citysmart.services.air import alert_store
from citysmart.services.air.areas import load_areas
from citysmart.services.air.models import AirAreaHour, AirHourly, AirMapHour, AirSensor
from citysmart.services.air.models_alerts import AirAlertDelivery, AirFollow, AirNotification
from citysmart.services.air.notify import AlertSettings, deliver_due
from citysmart.services.air.report import Month
from citysmart.services.air.report_render import page_context, report_csv
from citysmart.services.air.report_routes import build_report

HOUR = dt.timedelta(hours=1)
KST = ZoneInfo("Asia/Seoul")
MONTH = Month(2026, 10)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median_time(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        clock = time.perf_counter()
        work()
        times.append(time.perf_counter() - clock)
    return statistics.median(times)


@contextmanager
def database(postgres: str | None, folder: Path) -> Iterator[str]:
    """Yield a fresh database URL: a SQLite file, or a new PostgreSQL database (dropped after)."""
    if not postgres:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin = postgres.replace("postgresql+psycopg://", "postgresql://")
    name = f"citysmart_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlparse(admin)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_month(runtime: HubRuntime, rng: np.random.Generator, sensors: int) -> int:
    """Store two months of area hours and a month of sensors' hourly PM rows; count rows."""
    start = MONTH.previous().start(KST)
    hours = int((MONTH.next().start(KST) - start) / HOUR)
    codes = [a.code for a in load_areas()]
    maps, areas = [], []
    for k in range(hours):
        hour = start + k * HOUR
        level = 25 + 20 * np.sin(k / 40) + rng.gamma(2, 6)
        for pollutant, scale in (("pm25", 1.0), ("pm10", 1.8)):
            maps.append(
                {"hour": hour, "pollutant": pollutant, "status": "ok", "method_served": "idw",
                 "note": "", "sensors_used": sensors, "inputs": [], "computed_at": hour + HOUR}
            )  # fmt: skip
            for i, code in enumerate(codes):
                mean = None if rng.random() < 0.03 else float(level * scale * (0.7 + 0.04 * i))
                areas.append(
                    {"hour": hour, "pollutant": pollutant, "area_code": code, "method": "idw",
                     "mean": mean, "worst": None if mean is None else mean * 1.2, "cells": 100}
                )  # fmt: skip
    month_start = MONTH.start(KST)
    hourly = [
        {"sensor_id": f"s-{s}", "variable": variable, "hour": month_start + k * HOUR,
         "raw": 1.0, "value": 1.0, "count": 60, "readings": 60, "expected": 60, "capture": 1.0,
         "sufficient": bool(rng.random() > 0.1), "flag_out_of_range": 0, "flag_stuck": 0,
         "flag_spike": 0, "flag_humidity": 0}
        for s in range(sensors)
        for k in range(hours - int((month_start - start) / HOUR))
        for variable in ("pm10", "pm25")
    ]  # fmt: skip
    with runtime.sessions.begin() as session:
        session.add_all(
            AirSensor(
                id=f"s-{s}", name=f"sensor {s}", kind="lowcost", rated_rh_max=90.0,
                interval_s=60.0, area_code=codes[s % 9], lon=127.25, lat=36.5,
                source="synthetic (benchmark)", updated_at=month_start,
            )
            for s in range(sensors)
        )  # fmt: skip
        for model, rows in ((AirMapHour, maps), (AirAreaHour, areas), (AirHourly, hourly)):
            for first in range(0, len(rows), 5000):
                session.execute(insert(model), rows[first : first + 5000])
    return len(maps) + len(areas) + len(hourly)


def report_speed(runtime: HubRuntime, rounds: int) -> dict[str, Any]:
    """Time the report: reading and computing, CSV, HTML charts."""
    now = MONTH.next().next().start(KST)
    holder: dict[str, Any] = {}

    def build() -> None:
        with runtime.sessions() as session:
            holder["report"] = build_report(session, MONTH, "Asia/Seoul", now)

    build_s = median_time(build, rounds)
    report = holder["report"]
    csv_s = median_time(lambda: report_csv(report, "summary"), rounds)
    charts_s = median_time(lambda: page_context(report), rounds)
    return {
        "areas": len(report.areas),
        "hours": report.hours,
        "read_and_compute_seconds": round(build_s, 4),
        "csv_summary_seconds": round(csv_s, 4),
        "charts_seconds": round(charts_s, 4),
    }


def alerts_speed(runtime: HubRuntime, follows: int, rng: np.random.Generator) -> dict[str, Any]:
    """Time the hourly evaluation over many follows, an hour that alerts and one that repeats."""
    codes = [a.code for a in load_areas()]
    users = max(1, follows // 10)
    hour = MONTH.next().start(KST)  # after the report's data: these hours are the alerts' own
    with runtime.sessions.begin() as session:
        session.execute(
            insert(User),
            [{"username": f"u{u}", "role": "citizen", "is_active": True, "created_at": hour}
             for u in range(users)],
        )  # fmt: skip
        ids = [u.id for u in session.query(User).order_by(User.id)]
        session.execute(
            insert(AirFollow),
            [{"user_id": ids[f % users], "area_code": codes[f % len(codes)],
              "pollutant": ("pm25", "pm10", "overall")[f % 3], "level": 2 + f % 3,
              "email": False, "raised": False, "below_hours": 0, "created_at": hour - HOUR}
             for f in range(follows)],
        )  # fmt: skip
        for k in range(2):
            for pollutant in ("pm25", "pm10"):
                session.add(
                    AirMapHour(hour=hour + k * HOUR, pollutant=pollutant, status="ok",
                               method_served="idw", note="", sensors_used=1, inputs=[],
                               computed_at=hour)
                )  # fmt: skip
                for i, code in enumerate(codes):
                    dirty = i % 2 == 0
                    value = (60.0 if dirty else 20.0) * (1.8 if pollutant == "pm10" else 1.0)
                    session.add(
                        AirAreaHour(hour=hour + k * HOUR, pollutant=pollutant, area_code=code,
                                    method="idw", mean=value + rng.random(), worst=value, cells=1)
                    )  # fmt: skip
    timings, alerts = [], []
    for k in range(2):
        clock = time.perf_counter()
        with runtime.sessions.begin() as session:
            report = alert_store.evaluate_alerts(session, hour + k * HOUR, now=hour + 2 * HOUR)
        timings.append(time.perf_counter() - clock)
        alerts.append(report.alerts)
        assert not report.error, report.error
    return {
        "follows": follows,
        "users": users,
        "alerting_hour_seconds": round(timings[0], 4),
        "alerts_raised": alerts[0],
        "next_hour_seconds": round(timings[1], 4),
        "alerts_repeated": alerts[1],
    }


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def delivery_speed(runtime: HubRuntime, settings: Settings, webhooks: int) -> dict[str, Any]:
    """Time sending pending webhooks to a local receiver."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    now = MONTH.next().start(KST) + 2 * HOUR
    with runtime.sessions.begin() as session:
        user = session.query(User).order_by(User.id).first()
        assert user is not None
        follow = AirFollow(user_id=user.id, area_code="2901053", pollutant="pm25", level=3,
                           webhook_url=url, webhook_secret="s" * 64, email=False, raised=True,
                           below_hours=0, created_at=now)  # fmt: skip
        session.add(follow)
        session.flush()
        for _ in range(webhooks):
            note = AirNotification(user_id=user.id, follow_id=follow.id, area_code="2901053",
                                   pollutant="pm25", level=3, grade_pollutant="pm25",
                                   grade_level=3, grade_key="unhealthy", value=50.0, hour=now,
                                   created_at=now)  # fmt: skip
            session.add(note)
            session.flush()
            session.add(AirAlertDelivery(notification_id=note.id, channel="webhook", target=url,
                                         payload={"event": "air.alert", "value": 50.0},
                                         status="pending", attempts=0, due_at=now,
                                         last_error="", created_at=now))  # fmt: skip
    clock = time.perf_counter()
    report = deliver_due(runtime.sessions, settings, now, AlertSettings(batch=webhooks))
    seconds = time.perf_counter() - clock
    server.shutdown()
    server.server_close()
    return {
        "webhooks": webhooks,
        "sent": len(report.sent),
        "seconds": round(seconds, 4),
        "per_second": round(len(report.sent) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL")
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--follows", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as folder, database(args.postgres, Path(folder)) as url:
        settings = Settings(database_url=url, data_dir=Path(folder), mqtt_ingest=False)
        runtime = HubRuntime.create(settings)
        runtime.migrate()
        log(f"seeding two months of 17 areas and {args.sensors} sensors ({url.split(':')[0]})")
        rows = seed_month(runtime, rng, args.sensors)
        log("report")
        report = report_speed(runtime, args.rounds)
        log(f"alerts: {args.follows} follows")
        alerts = alerts_speed(runtime, args.follows, rng)
        log(f"delivery: {args.webhooks} webhooks")
        delivery = delivery_speed(runtime, settings, args.webhooks)
        runtime.stop()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": url.split(":")[0],
        "rows_seeded": rows,
        "report": report,
        "alerts": alerts,
        "delivery": delivery,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"database: {result['database']}, {rows} rows seeded")
    print(
        f"report {MONTH}: {report['areas']} areas x {report['hours']} h: read and compute "
        f"{report['read_and_compute_seconds']} s, CSV {report['csv_summary_seconds']} s, "
        f"charts {report['charts_seconds']} s"
    )
    print(
        f"alerts: {alerts['follows']} follows: alerting hour {alerts['alerting_hour_seconds']} s "
        f"({alerts['alerts_raised']} alerts), next hour {alerts['next_hour_seconds']} s "
        f"({alerts['alerts_repeated']} repeats)"
    )
    print(
        f"delivery: {delivery['sent']}/{delivery['webhooks']} webhooks in {delivery['seconds']} s "
        f"({delivery['per_second']}/s)"
    )


if __name__ == "__main__":
    main()
