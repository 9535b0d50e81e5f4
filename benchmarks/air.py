"""Fine-dust map benchmark: interpolation accuracy on Beijing's data and surface speed over Sejong.

Accuracy is the leave-one-station-out evaluation of ``citysmart air evaluate`` (hourly
PM2.5 of Beijing's 12 stations, a random sample of hours with a fixed seed): the served
method (tuned kriging, its plan chosen from the other stations' previous 60 days) next
to nearest station, IDW, kriging, the previously served choice of IDW or kriging and the
city mean, and the 1-hour gap fill next to IDW. Speed is one hour of 100 sensors placed
in Sejong drawn on a 1000 x 1000 grid over the city clipped to its boundary: the hour's
fit (variogram, leave-one-out errors, served choice; with and without a plan), the IDW,
kriging and tuned-kriging surfaces and the per-dong statistics, plus the daily choice of
a plan from 60 days of those sensors. Beside them, in the same process and interleaved,
a plain numpy pass over the same cells (each cell's distance to one point) is timed, so
that the machine's noise can be told from the code's.

    python benchmarks/air.py                 # 400 hours, 7 speed rounds (about a minute)
    python benchmarks/air.py --json          # one JSON object on stdout
    python benchmarks/air.py --hours 0       # accuracy over the whole year (a few minutes)

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
from citysmart.services.air.kriging_plan import candidate_losses, choose_plan, network_scale

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
    served = spatial["served"]["rmse"]
    return {
        "data": data.label,
        "pollutant": "PM2.5 (µg/m³)",
        "sample": {"hours": hours, "seed": seed},
        "seconds": round(time.perf_counter() - started, 1),
        **result,
        "anchors_rmse": ANCHORS,
        "goals_met": {
            "served_rmse_at_most_21.4": served <= GOALS["served_rmse_at_most"],
            "served_5_percent_under_kriging": result["served_rmse_relative_to_kriging"]
            <= GOALS["served_rmse_at_most_relative_to_kriging"],
            "gap_fill_under_half_idw": result["gap_fill"].get("rmse_ratio_to_idw", 1.0)
            < GOALS["gap_fill_rmse_ratio_to_idw_below"],
        },
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
    # 60 days of the same sensors for the daily plan: the field drifts, 2 % of values missing.
    days = 60
    drift = rng.normal(0, 1, (days * 24, 1)).cumsum(axis=0)
    history = np.clip(field + 2 * drift + rng.normal(0, 4, (days * 24, sensors)), 1, None)
    history[rng.random(history.shape) < 0.02] = np.nan
    clock = time.perf_counter()
    plan = choose_plan(xy, history)
    plan_seconds = time.perf_counter() - clock
    assert plan is not None
    # The same losses hour by hour, as the hourly job can keep them (then summed daily).
    scale = network_scale(xy)
    clock = time.perf_counter()
    for row in history[-24:]:
        candidate_losses(xy, row, scale)
    hour_losses_seconds = (time.perf_counter() - clock) / 24
    names = (
        "fit_hour",
        "fit_hour_with_plan",
        "numpy_pass",
        "idw_surface",
        "kriging_surface",
        "tuned_surface",
        "area_stats",
    )
    times: dict[str, list[float]] = {name: [] for name in names}
    origin = grid.points[0]
    for _ in range(rounds):
        clock = time.perf_counter()
        fitted = fit_hour(xy, values)
        lap = time.perf_counter()
        times["fit_hour"].append(lap - clock)
        tuned = fit_hour(xy, values, plan=plan)
        clock = time.perf_counter()
        times["fit_hour_with_plan"].append(clock - lap)
        np.hypot(grid.points[:, 0] - origin[0], grid.points[:, 1] - origin[1])
        lap = time.perf_counter()
        times["numpy_pass"].append(lap - clock)
        fitted.predict(grid.points, "idw")
        clock = time.perf_counter()
        times["idw_surface"].append(clock - lap)
        fitted.predict(grid.points, "kriging")
        lap = time.perf_counter()
        times["kriging_surface"].append(lap - clock)
        surface = tuned.predict(grid.points)
        clock = time.perf_counter()
        times["tuned_surface"].append(clock - lap)
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
        "choose_plan_seconds_daily": {
            "seconds": round(plan_seconds, 2),
            "hours": days * 24,
            "distinct_sensor_sets": int(len(np.unique(np.isfinite(history), axis=0))),
            "or_per_hour_in_the_hourly_job": round(hour_losses_seconds, 4),
            "plan": {
                "angle_deg": plan.geometry.angle_deg,
                "ratio": plan.geometry.ratio,
                "nuggets_m": [round(n) for n in plan.nuggets_m],
            },
        },
        "median_seconds": medians,
        "best_seconds": best,
        "surface_seconds_with_fit": {
            "idw": round(medians["fit_hour"] + medians["idw_surface"], 4),
            "kriging": round(medians["fit_hour"] + medians["kriging_surface"], 4),
            "tuned": round(medians["fit_hour_with_plan"] + medians["tuned_surface"], 4),
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
