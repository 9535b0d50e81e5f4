"""The operational truck planner: shift length, capacity, start load, dropped stations."""

from __future__ import annotations

import numpy as np
import pytest

from citysmart.services.bikes.rebalancing.solve import (
    PlanningError,
    RebalancingPlan,
    RebalancingProblem,
    Truck,
    plan_truck_routes,
)

SPEED_M_PER_S = 8.0


def _city(n: int, seed: int) -> tuple[list[list[float]], list[list[float]], dict[int, int]]:
    """Location 0 is the depot; stations 1..n-1 on a 6 km square with random demands."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 6000, (n, 2))
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    demand = {i: int(rng.integers(-12, 13)) or 1 for i in range(1, n)}
    return dist.tolist(), (dist / SPEED_M_PER_S).tolist(), demand


def _replay(problem: RebalancingProblem, plan: RebalancingPlan) -> None:
    """Drive every plan again and check load, time and distance against the input."""
    for truck, tp in zip(problem.trucks, plan.trucks, strict=True):
        assert tp.truck == truck.name
        if truck.start_load is not None:
            assert tp.start_load == truck.start_load
        load = tp.start_load
        assert 0 <= load <= truck.capacity
        clock = 0.0
        dist = 0.0
        here = truck.depot
        for job in tp.jobs:
            clock += problem.travel_time_s[here][job.station]
            dist += problem.distance_m[here][job.station]
            assert abs(job.arrival_s - clock) <= len(tp.jobs) + 1  # integer rounding only
            clock += problem.handling_s_per_bike * abs(job.bikes)
            load += job.bikes
            assert 0 <= load <= truck.capacity
            here = job.station
        clock += problem.travel_time_s[here][truck.depot]
        dist += problem.distance_m[here][truck.depot]
        assert tp.duration_s <= problem.shift_s
        assert abs(tp.duration_s - clock) <= len(tp.jobs) + 1
        assert tp.distance_m == pytest.approx(dist)


def _moved(plan: RebalancingPlan) -> dict[int, int]:
    moved: dict[int, int] = {}
    for tp in plan.trucks:
        for job in tp.jobs:
            moved[job.station] = moved.get(job.station, 0) + job.bikes
    return moved


def test_long_shift_serves_every_station() -> None:
    dist, travel, demand = _city(12, seed=1)
    problem = RebalancingProblem(
        trucks=[Truck("t1", 20, 0), Truck("t2", 20, 0)],
        travel_time_s=travel,
        distance_m=dist,
        demand=demand,
        shift_s=8 * 3600,
        handling_s_per_bike=20,
        time_limit_s=1.0,
    )
    plan = plan_truck_routes(problem)
    _replay(problem, plan)
    assert plan.unserved == {}
    assert _moved(plan) == demand
    assert plan.bikes_moved == sum(abs(d) for d in demand.values())


def test_short_shift_drops_stations_and_keeps_the_limit() -> None:
    dist, travel, demand = _city(30, seed=2)
    problem = RebalancingProblem(
        trucks=[Truck("t1", 15, 0), Truck("t2", 15, 0, start_load=10)],
        travel_time_s=travel,
        distance_m=dist,
        demand=demand,
        shift_s=1800,
        handling_s_per_bike=30,
        time_limit_s=1.0,
    )
    plan = plan_truck_routes(problem)
    _replay(problem, plan)
    assert plan.unserved  # half an hour cannot serve 29 stations
    assert plan.bikes_moved > 0
    moved = _moved(plan)
    for station, d in demand.items():
        assert moved.get(station, 0) + plan.unserved.get(station, 0) == d
        assert abs(moved.get(station, 0)) <= abs(d)


def test_large_demand_is_split_and_served_partly_or_by_several_visits() -> None:
    dist, travel, _ = _city(4, seed=3)
    demand = {1: 25, 2: -25, 3: 4}  # more than a 10-bike truck carries at once
    problem = RebalancingProblem(
        trucks=[Truck("t1", 10, 0)],
        travel_time_s=travel,
        distance_m=dist,
        demand=demand,
        shift_s=10 * 3600,
        handling_s_per_bike=10,
        time_limit_s=1.0,
    )
    plan = plan_truck_routes(problem)
    _replay(problem, plan)
    assert _moved(plan) == demand


def test_rejects_bad_input() -> None:
    dist, travel, demand = _city(5, seed=4)

    def problem(trucks: list[Truck], distance: list[list[float]] = dist) -> RebalancingProblem:
        return RebalancingProblem(
            trucks=trucks, travel_time_s=travel, distance_m=distance, demand=demand, shift_s=3600
        )

    with pytest.raises(PlanningError, match="start load"):
        plan_truck_routes(problem([Truck("t", 10, 0, start_load=11)]))
    with pytest.raises(PlanningError, match="both a depot and a station"):
        plan_truck_routes(problem([Truck("t", 10, 1)]))
    bad = [row[:-1] for row in dist]
    with pytest.raises(PlanningError, match="row 0"):
        plan_truck_routes(problem([Truck("t", 10, 0)], bad))


def test_truck_starting_away_from_its_depot_keeps_its_window() -> None:
    dist, travel, demand = _city(10, seed=5)
    # truck 1 is out at location 9 (treated as its start, not a station) with 6 bikes on board
    demand.pop(9)
    problem = RebalancingProblem(
        trucks=[
            Truck("t1", 12, 0, available_s=600, shift_end_s=3 * 3600),
            Truck("t2", 12, 9, end=0, start_load=6, shift_end_s=2 * 3600),
        ],
        travel_time_s=travel,
        distance_m=dist,
        demand=demand,
        shift_s=3 * 3600,
        handling_s_per_bike=20,
        stop_s=60,
        time_limit_s=1.0,
    )
    plan = plan_truck_routes(problem)
    first, second = plan.trucks
    assert second.start_load == 6
    assert all(job.arrival_s >= 600 for job in first.jobs)
    assert first.duration_s + 600 <= 3 * 3600
    assert second.duration_s <= 2 * 3600
    assert 9 not in {job.station for tp in plan.trucks for job in tp.jobs}
