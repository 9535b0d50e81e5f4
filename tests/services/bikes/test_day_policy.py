"""The planning policy drives the simulated trucks from the live state."""

from __future__ import annotations

import numpy as np

from citysmart.services.bikes.day_policy import FleetTruck, planning_policy
from citysmart.services.bikes.rebalancing.planning import PlannedJob, PlannedRoute, RoutingInput
from citysmart.services.bikes.simulation import SimStation, TruckState, draw_trips, simulate_day

STATIONS = [
    SimStation("home", 127.25, 36.50, 20, 3),
    SimStation("office", 127.27, 36.50, 20, 17),
    SimStation("park", 127.26, 36.51, 10, 5),
]
FLEET = [FleetTruck("t1", 20, (127.26, 36.49), shift_start_s=3600.0, shift_end_s=12 * 3600.0)]
# Riders leave home for the office all morning.
PICKUPS = np.array([[8.0] * 6, [0.3] * 6, [0.3] * 6])
RETURNS = np.array([[0.3] * 6, [8.0] * 6, [0.3] * 6])


def in_order(problem: RoutingInput) -> list[PlannedRoute]:
    """Take first, then bring, ten minutes per stop, from when the truck is free."""
    order = sorted(range(len(problem.station_codes)), key=lambda i: -problem.demands[i])
    start = problem.available_s[0]
    jobs = tuple(
        PlannedJob(problem.station_codes[i], int(problem.demands[i]), start + 600.0 * k)
        for k, i in enumerate(order, start=1)
    )
    return [PlannedRoute("t1", 0, 1000.0, 600.0 * len(jobs), jobs)]


def test_the_policy_plans_from_the_live_state_in_the_days_clock() -> None:
    planner = planning_policy(STATIONS, PICKUPS, RETURNS, FLEET, in_order, horizon_h=3)
    jobs = planner(1800.0, [3, 17, 5], [TruckState(0, None, 0, 1800.0)])
    assert [(j.station, j.bikes > 0) for j in jobs] == [(1, True), (0, False)]
    # The truck's shift starts at 01:00, so the first stop is ten minutes after that.
    assert jobs[0].time_s == 3600.0 + 600.0
    assert {j.truck for j in jobs} == {0}


def test_no_jobs_once_every_shift_is_over() -> None:
    planner = planning_policy(STATIONS, PICKUPS, RETURNS, FLEET, in_order)
    assert planner(5.5 * 3600, [0, 20, 5], [TruckState(0, 1, 4, 13 * 3600.0)]) == []


def test_planning_saves_lost_trips_in_a_simulated_morning() -> None:
    trips = draw_trips(STATIONS, PICKUPS, RETURNS, np.random.default_rng(3))
    alone = simulate_day(STATIONS, trips)
    planner = planning_policy(STATIONS, PICKUPS, RETURNS, FLEET, in_order, horizon_h=2)
    helped = simulate_day(
        STATIONS, trips, planner=planner, plan_times_s=[3600.0 * h for h in range(1, 6)],
        truck_capacities=[20],
    )  # fmt: skip
    assert helped.plans == 5
    assert helped.bikes_moved > 10
    assert helped.lost < alone.lost - 10
