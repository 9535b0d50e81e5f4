"""The air service's hourly job: how long one hour takes for 100 sensors, and where it goes.

Three measurements, each the median of several rounds (synthetic readings: a smooth field
over Sejong plus noise, one reading a minute, 5 % dropped):

- ``pipeline``: the pure computation of one hour (``pipeline.compute_hours``: QC over the
  hour and the two before it, hourly means with 75 % capture, calibration, grades, both
  interpolators fitted with leave-one-out errors, the served surface and the per-dong
  mean and worst), on the service's map grid (about 40 m cells) and on a 1000 x 1000 grid
  over the city; QC and the means are also timed alone.
- ``interpolation``: 100 sensors onto a 1000 x 1000 grid clipped to the city (the fit and
  the served surface), the issue's second speed figure.
- ``job``: the whole hourly job against a database (SQLite file, or PostgreSQL with
  ``--postgres URL``): reading the hour's raw readings from the hub, computing, storing,
  and publishing each sensor's AirQualityObserved values through the NGSI-LD store; and
  drawing one surface PNG as the API does on a cold cache.

Goals (issue 4): the whole hourly job for 100 sensors under 2 s; the interpolation of 100
sensors onto the 1000 x 1000 clipped grid under 0.5 s.

    python benchmarks/air_job.py            # figures as text (about 20 s)
    python benchmarks/air_job.py --json     # one JSON object on stdout

Functions ``pipeline_speed``, ``interpolation_speed`` and ``job_speed`` return the same
figures as dictionaries, for ``benchmarks/air.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from citysmart.core.config import Settings
from citysmart.hub.registry import register_device, upsert_entity
from citysmart.hub.runtime import HubRuntime
from citysmart.hub.senml import Reading
from citysmart.services.air import store
from citysmart.services.air.areas import boundary, bounds, city_grid, load_areas
from citysmart.services.air.grid import Grid, make_grid
from citysmart.services.air.interpolation import fit_hour
from citysmart.services.air.jobs import floor_hour, publish_entities, run_hourly
from citysmart.services.air.means import hourly_means
from citysmart.services.air.pipeline import (
    QC_HISTORY,
    VARIABLES,
    Readings,
    SensorMeta,
    align_readings,
    compute_hours,
    draw_surface,
)
from citysmart.services.air.qc import flag_readings
from citysmart.services.air.surface_png import render_surface

GOALS = {"job_seconds_below": 2.0, "interpolation_1000x1000_seconds_below": 0.5}
HOUR = dt.timedelta(hours=1)
UNITS = {"pm10": "ug/m3", "pm25": "ug/m3", "temperature": "Cel", "relativeHumidity": "%RH"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median_of(rounds: int, work: Callable[[], object]) -> float:
    """Return the median wall time of ``work`` over ``rounds`` runs (seconds)."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def synthetic_sensors(count: int, seed: int) -> list[SensorMeta]:
    """Place ``count`` sensors at random cells of the city, six of them reference stations."""
    grid = city_grid()
    rng = np.random.default_rng(seed)
    picks = grid.points[rng.choice(len(grid.points), count, replace=False)]
    lon, lat = grid.projection.inverse(picks[:, 0], picks[:, 1])
    return [
        SensorMeta(
            id=f"urn:ngsi-ld:AirQualityObserved:bench-{i:03d}",
            name=f"bench {i}",
            kind="reference" if i < 6 else "lowcost",
            lon=float(lon[i]),
            lat=float(lat[i]),
            interval_s=60.0,
        )
        for i in range(count)
    ]


def synthetic_rows(
    sensors: list[SensorMeta], start: dt.datetime, end: dt.datetime, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return flat (sensor, variable, time, value) rows: one reading a minute, 5 % dropped."""
    rng = np.random.default_rng(seed)
    times = np.arange(start.timestamp(), end.timestamp(), 60.0)
    lon = np.array([s.lon for s in sensors])
    lat = np.array([s.lat for s in sensors])
    level = 30 + 12 * np.sin(lon * 40) + 8 * np.cos(lat * 30)
    parts = []
    for v, name in enumerate(VARIABLES):
        base = {"pm10": 2 * level, "pm25": level, "temperature": 5 + 0 * level}.get(
            name, 55 + 0 * level
        )
        values = base[:, None] + rng.normal(0, 2.0, (len(sensors), len(times)))
        keep = rng.random(values.shape) > 0.05
        sensor_index, time_index = np.nonzero(keep)
        parts.append(
            (
                sensor_index,
                np.full(len(sensor_index), v),
                times[time_index],
                np.round(values[keep], 1),
            )
        )
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))  # type: ignore[return-value]


def _hour_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    end = floor_hour(now)
    return end - HOUR, end


def pipeline_speed(sensors: int, rounds: int, seed: int) -> dict[str, object]:
    """Time the pure computation of one hour for ``sensors`` sensors (see the module)."""
    metas = synthetic_sensors(sensors, seed)
    start, end = _hour_window(dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC))
    s, v, t, x = synthetic_rows(metas, start - QC_HISTORY, end, seed)
    readings: Readings = align_readings([m.id for m in metas], s, v, t, x)
    service_grid = city_grid()
    folder_areas = {a.code: a.geometry for a in load_areas()}
    big_grid = make_grid(boundary(), (1000, 1000), areas=folder_areas)
    figures: dict[str, object] = {
        "sensors": sensors,
        "readings_per_sensor_and_variable": int(readings.times.shape[1]),
        "qc_seconds": median_of(
            rounds,
            lambda: flag_readings(
                readings.times,
                pm10=readings.values["pm10"],
                pm25=readings.values["pm25"],
                temperature=readings.values["temperature"],
                humidity=readings.values["relativeHumidity"],
            ),
        ),
        "hourly_means_seconds": median_of(
            rounds,
            lambda: [
                hourly_means(
                    readings.times,
                    readings.values[name],
                    interval=dt.timedelta(minutes=1),
                    start=start,
                    end=end,
                )
                for name in VARIABLES
            ],
        ),
    }
    for label, grid in (("service_grid", service_grid), ("grid_1000x1000", big_grid)):

        def one_hour(chosen: Grid = grid) -> object:
            return compute_hours(readings, metas, start, end, chosen)

        figures[label] = {
            "shape": list(grid.shape),
            "cells_in_city": len(grid.points),
            "compute_hour_seconds": median_of(rounds, one_hour),
        }
    return figures


def interpolation_speed(sensors: int, rounds: int, seed: int) -> dict[str, object]:
    """Time 100 sensors onto a 1000 x 1000 grid clipped to the city: fit and served surface."""
    grid = make_grid(boundary(), (1000, 1000), areas={a.code: a.geometry for a in load_areas()})
    rng = np.random.default_rng(seed)
    xy = grid.points[rng.choice(len(grid.points), sensors, replace=False)].astype(np.float64)
    values = 35 + 15 * np.sin(xy[:, 0] / 6_000) + 10 * np.cos(xy[:, 1] / 8_000)
    values += rng.normal(0, 4, sensors)
    return {
        "sensors": sensors,
        "grid": [1000, 1000],
        "cells_in_city": len(grid.points),
        "fit_and_served_surface_seconds": median_of(
            rounds, lambda: fit_hour(xy, values).predict(grid.points)
        ),
    }


def _seed_database(runtime: HubRuntime, metas: list[SensorMeta], now: dt.datetime) -> None:
    """Register the sensors and store three hours of their readings in the hub."""
    with runtime.sessions.begin() as session:
        for meta in metas:
            device = meta.id.rsplit(":", 1)[1]
            register_device(
                session,
                device,
                meta.id,
                "AirQualityObserved",
                location={"type": "Point", "coordinates": [meta.lon, meta.lat]},
                name=meta.name,
            )
            upsert_entity(
                session,
                meta.id,
                "AirQualityObserved",
                properties={"reference": meta.kind == "reference", "reportingIntervalS": 60},
            )
    start = floor_hour(now) - 3 * HOUR
    s, v, t, x = synthetic_rows(metas, start, floor_hour(now) + HOUR, seed=7)
    for index, meta in enumerate(metas):
        mine = s == index
        readings = [
            Reading(
                VARIABLES[int(var)],
                round(when * 1e6),
                float(val),
                None,
                "n",
                UNITS[VARIABLES[int(var)]],
            )
            for var, when, val in zip(v[mine], t[mine], x[mine], strict=True)
        ]
        runtime.ingestor.store_readings(meta.id, meta.id.rsplit(":", 1)[1], readings)


def job_speed(sensors: int, seed: int, postgres: str | None = None) -> dict[str, object]:
    """Time the whole hourly job against a database, split into its parts (see the module)."""
    with tempfile.TemporaryDirectory() as folder:
        url = postgres or f"sqlite:///{Path(folder) / 'bench.db'}"
        runtime = HubRuntime.create(Settings(database_url=url, data_dir=Path(folder)))
        runtime.migrate()
        metas = synthetic_sensors(sensors, seed)
        if postgres:  # a fresh set of ids, so a shared database needs no cleaning
            tag = uuid.uuid4().hex[:6]
            metas = [dataclasses.replace(m, id=f"{m.id}-{tag}") for m in metas]
        now = dt.datetime.now(dt.UTC).replace(minute=10)
        log(f"job: seeding {sensors} sensors with 4 h of readings a minute ({url.split(':')[0]})")
        _seed_database(runtime, metas, now)
        grid = city_grid()
        # The parts, on the hour before the last, as run_hourly does them.
        start, end = floor_hour(now) - 2 * HOUR, floor_hour(now) - HOUR
        with runtime.sessions.begin() as session:
            synced = store.sync_sensors(session, now)
        clock = time.perf_counter()
        with runtime.sessions() as session:
            readings = store.read_readings(session, synced, start - QC_HISTORY, end)
        read_s = time.perf_counter() - clock
        clock = time.perf_counter()
        results = compute_hours(readings, synced, start, end, grid)
        compute_s = time.perf_counter() - clock
        clock = time.perf_counter()
        with runtime.sessions.begin() as session:
            store.save_results(session, results, now)
        save_s = time.perf_counter() - clock
        clock = time.perf_counter()
        written = publish_entities(runtime, synced, results)
        publish_s = time.perf_counter() - clock
        # The whole job, for the last hour (it syncs sensors, reads, computes, stores, publishes).
        report = run_hourly(runtime, now, grid, max_hours=1)
        with runtime.sessions() as session:
            row = store.read_map(session, end, "pm25")
        assert row is not None
        inputs = store.map_inputs(row)
        (south, _), (north, _) = bounds()
        clock = time.perf_counter()
        png = render_surface(draw_surface(grid, inputs), "pm25", south, north)
        png_s = time.perf_counter() - clock
        runtime.stop()
    return {
        "database": url.split(":")[0],
        "sensors": len(synced),
        "entities_written": written,
        "parts_seconds": {
            "read_readings": round(read_s, 4),
            "compute": round(compute_s, 4),
            "store_results": round(save_s, 4),
            "publish_ngsi_ld": round(publish_s, 4),
        },
        "whole_job_seconds": round(report.seconds, 4),
        "hours_in_whole_job": len(report.hours),
        "surface_png_cold_seconds": round(png_s, 4),
        "surface_png_bytes": len(png),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--postgres", default=None, help="run the job on this PostgreSQL URL")
    args = parser.parse_args()
    log("pipeline: one hour, pure computation")
    pipeline = pipeline_speed(args.sensors, args.rounds, args.seed)
    log("interpolation: 1000 x 1000")
    interpolation = interpolation_speed(args.sensors, args.rounds, args.seed)
    job = job_speed(args.sensors, args.seed, args.postgres)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "pipeline": pipeline,
        "interpolation": interpolation,
        "job": job,
        "goals": GOALS,
        "goals_met": {
            "job_seconds_below": job["whole_job_seconds"] < GOALS["job_seconds_below"],  # type: ignore[operator]
            "interpolation_1000x1000_seconds_below": interpolation[  # type: ignore[operator]
                "fit_and_served_surface_seconds"
            ]
            < GOALS["interpolation_1000x1000_seconds_below"],
        },
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
