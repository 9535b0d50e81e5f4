"""Fine-dust map benchmark: interpolation accuracy on Beijing's data and surface speed over Sejong.

Accuracy is the leave-one-station-out evaluation of ``citysmart air evaluate`` (hourly
PM2.5 of Beijing's 12 stations, a random sample of hours with a fixed seed), with the
1-hour gap fill next to IDW. Speed is one hour of 100 sensors placed in Sejong drawn on a
1000 x 1000 grid over the city clipped to its boundary: the hour's fit (variogram, both
leave-one-out errors, served choice), the IDW surface, the kriging surface and the
per-dong statistics. Beside them, in the same process and interleaved, a plain numpy pass
over the same cells (each cell's distance to one point) is timed, so that the machine's
noise can be told from the code's.

    python benchmarks/air.py                 # 400 hours, 7 speed rounds (under a minute)
    python benchmarks/air.py --json          # one JSON object on stdout
    python benchmarks/air.py --hours 0       # accuracy over the whole year (about 2 minutes)

Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

from citysmart.core.paths import data_dir
from citysmart.services.air.beijing import load_beijing
from citysmart.services.air.evaluation import Settings, evaluate, sample_hours
from citysmart.services.air.grid import area_stats, load_areas, load_boundary, make_grid
from citysmart.services.air.interpolation import LocalProjection, fit_hour

# The figures, measured on 400 random hours of the same data (RMSE, µg/m³).
ANCHORS = {"nearest": 26.9, "idw": 23.0, "kriging": 22.5, "city_mean": 30.7}
GOALS = {
    "served_rmse_at_most": 21.4,
    "served_rmse_at_most_relative_to_kriging": 0.95,
    "gap_fill_rmse_ratio_to_idw_below": 0.5,
    "surface_seconds_below": 0.5,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def accuracy(hours: int | None, seed: int) -> dict[str, object]:
    data = load_beijing(data_dir() / "beijing-multisite-air-quality")
    xy = LocalProjection.around(data.lon, data.lat).forward(data.lon, data.lat)
    chosen = sample_hours(len(data.times), hours, seed)
    log(f"accuracy: leave-one-station-out over {len(chosen)} hours of Beijing's data")
    started = time.perf_counter()
    result = evaluate(xy, data.pm25, chosen, Settings()).to_dict()
    spatial = result["spatial"]
    assert isinstance(spatial, dict)
    served, kriging = spatial["served"]["rmse"], spatial["kriging"]["rmse"]
    return {
        "data": data.label,
        "pollutant": "PM2.5 (µg/m³)",
        "sample": {"hours": hours, "seed": seed},
        "seconds": round(time.perf_counter() - started, 1),
        **result,
        "served_rmse_relative_to_kriging": round(served / kriging, 4),
        "anchors_rmse": ANCHORS,
    }


def speed(sensors: int, size: int, rounds: int, seed: int) -> dict[str, object]:
    folder = data_dir() / "sejong-admin-boundaries"
    boundary = load_boundary(folder / "sejong_sigungu_2018.geojson")
    areas = load_areas(folder / "sejong_emd_2018.geojson")
    started = time.perf_counter()
    grid = make_grid(boundary, (size, size), areas=areas)
    grid_seconds = time.perf_counter() - started
    log(f"speed: {sensors} sensors onto a {size} x {size} grid ({len(grid.points)} cells kept)")
    # Sensors at random cells of the city: a smooth field plus local noise.
    rng = np.random.default_rng(seed)
    xy = grid.points[rng.choice(len(grid.points), sensors, replace=False)].astype(np.float64)
    field = 35 + 15 * np.sin(xy[:, 0] / 6_000) + 10 * np.cos(xy[:, 1] / 8_000)
    values = field + rng.normal(0, 4, sensors)
    names = ("fit_hour", "numpy_pass", "idw_surface", "kriging_surface", "area_stats")
    times: dict[str, list[float]] = {name: [] for name in names}
    origin = grid.points[0]
    for _ in range(rounds):
        clock = time.perf_counter()
        fitted = fit_hour(xy, values)
        lap = time.perf_counter()
        times["fit_hour"].append(lap - clock)
        np.hypot(grid.points[:, 0] - origin[0], grid.points[:, 1] - origin[1])
        clock = time.perf_counter()
        times["numpy_pass"].append(clock - lap)
        fitted.predict(grid.points, "idw")
        lap = time.perf_counter()
        times["idw_surface"].append(lap - clock)
        surface = fitted.predict(grid.points, "kriging")
        clock = time.perf_counter()
        times["kriging_surface"].append(clock - lap)
        area_stats(grid, surface)
        times["area_stats"].append(time.perf_counter() - clock)
    medians = {k: round(statistics.median(v), 4) for k, v in times.items()}
    best = {k: round(min(v), 4) for k, v in times.items()}
    baseline = medians["numpy_pass"]
    return {
        "sensors": sensors,
        "grid": [size, size],
        "cells_in_city": len(grid.points),
        "rounds": rounds,
        "make_grid_seconds_once": round(grid_seconds, 3),
        "median_seconds": medians,
        "best_seconds": best,
        "surface_seconds_with_fit": {
            "idw": round(medians["fit_hour"] + medians["idw_surface"], 4),
            "kriging": round(medians["fit_hour"] + medians["kriging_surface"], 4),
        },
        "ratio_to_numpy_pass": {
            k: round(v / baseline, 1) for k, v in medians.items() if k != "numpy_pass"
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--hours", type=int, default=400, help="hours sampled (0: the year)")
    parser.add_argument("--seed", type=int, default=2016, help="seed of the hour sample")
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--grid", type=int, default=1000, help="grid rows and columns")
    parser.add_argument("--rounds", type=int, default=7, help="speed measurements")
    args = parser.parse_args()
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "speed": speed(args.sensors, args.grid, args.rounds, args.seed),
        "accuracy": accuracy(args.hours or None, args.seed),
        "goals": GOALS,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
