"""A simulated day of Sejong's bikes: lost trips with no rebalancing, a plan, replanning.

All three policies face the same riders. The network is the demo's (492 stations, 2,225
bikes, about two docks per bike, drawn inside Sejong's real boundaries); riders follow
demand patterns learned from Seoul's rentals (UCI data set), not Sejong's. Each day starts
from the stations as a day without rebalancing left them (the day before is simulated
first). The planner knows the demand rates the riders are drawn from (a perfect forecast of
the rates, not of the riders). Four trucks of 20 bikes work 06:00-22:00 from a depot near
City Hall.

    python benchmarks/bikes_day.py [--days 3] [--time-limit 10] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from citysmart.services.bikes.day_policy import FleetTruck, planning_policy  # noqa: E402
from citysmart.services.bikes.rebalancing.route_solver import solve_routing_input  # noqa: E402
from citysmart.services.bikes.simulation import (  # noqa: E402
    SimStation,
    draw_trips,
    simulate_day,
)
from citysmart.sim.bikes import demand_rates, sejong_stations  # noqa: E402

SEOUL = ZoneInfo("Asia/Seoul")
DEPOT = (127.2890, 36.4800)
HOUR = 3600.0


def fleet() -> list[FleetTruck]:
    """Four trucks of 20 bikes, two shifts each: 06:00-22:00."""
    return [FleetTruck(f"T{i}", 20, DEPOT, 6 * HOUR, 22 * HOUR) for i in range(1, 5)]


def run_day(day: dt.datetime, seed: int, time_limit: float) -> dict[str, dict[str, float]]:
    """Simulate one day under each policy; return the figures per policy."""
    sites = sejong_stations()
    stations = [SimStation(s.station_id, s.lon, s.lat, s.capacity, s.bikes) for s in sites]
    rng = np.random.default_rng(seed)
    before_p, before_r = demand_rates(sites, day - dt.timedelta(days=1), 24)
    yesterday = simulate_day(stations, draw_trips(stations, before_p, before_r, rng))
    stations = [
        SimStation(s.station_id, s.lon, s.lat, s.capacity, held)
        for s, held in zip(stations, yesterday.final_bikes, strict=True)
    ]
    pickups, returns = demand_rates(sites, day, 24)
    trips = draw_trips(stations, pickups, returns, rng)
    trucks = fleet()
    capacities = [t.capacity for t in trucks]
    results: dict[str, dict[str, float]] = {}
    began = time.perf_counter()
    none = simulate_day(stations, trips)
    results["no rebalancing"] = {**none.as_dict(), "seconds": time.perf_counter() - began}
    policies = {
        "morning plan (06:00, 6 h)": (planning_policy(
            stations, pickups, returns, trucks, solve_routing_input, horizon_h=6,
            time_limit_s=time_limit), [6 * HOUR]),
        "replanning (every 2 h, 06:00-20:00, 4 h)": (planning_policy(
            stations, pickups, returns, trucks, solve_routing_input, horizon_h=4,
            time_limit_s=time_limit), [h * HOUR for h in range(6, 21, 2)]),
    }  # fmt: skip
    for name, (planner, times) in policies.items():
        began = time.perf_counter()
        result = simulate_day(
            stations, trips, planner=planner, plan_times_s=times, truck_capacities=capacities
        )
        results[name] = {**result.as_dict(), "seconds": time.perf_counter() - began}
    return results


def main() -> None:
    """Run the days and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3, help="weekdays to simulate (default 3)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="solver seconds per plan")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    first = dt.datetime(2026, 11, 24, tzinfo=SEOUL)  # a Tuesday
    days = [first + dt.timedelta(days=k) for k in range(args.days)]
    per_day = [run_day(day, 2020 + k, args.time_limit) for k, day in enumerate(days)]
    policies = list(per_day[0])
    summary = {
        name: {
            key: float(np.mean([d[name][key] for d in per_day]))
            for key in (
                "trips",
                "lost_pickups",
                "lost_returns",
                "bikes_moved",
                "truck_stops",
                "seconds",
            )
        }  # fmt: skip
        for name in policies
    }
    if args.json:
        days_iso = [d.date().isoformat() for d in days]
        out = {
            "days": days_iso,
            "mean": summary,
            "per_day": per_day,
            "time_limit_s": args.time_limit,
        }
        print(json.dumps(out, indent=2))
        return
    print(f"Sejong demo network, {args.days} weekday(s); riders follow Seoul's demand patterns")
    print(f"{'policy':44} {'trips':>7} {'lost pick':>9} {'lost ret':>8} {'moved':>6} {'s':>6}")
    for name, row in summary.items():
        print(
            f"{name:44} {row['trips']:7.0f} {row['lost_pickups']:9.1f} {row['lost_returns']:8.1f}"
            f" {row['bikes_moved']:6.0f} {row['seconds']:6.1f}"
        )


if __name__ == "__main__":
    main()
