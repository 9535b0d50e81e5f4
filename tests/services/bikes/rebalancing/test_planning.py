"""From stations and forecasts to the route solver's input and back to a plan."""

from __future__ import annotations

import pytest

from citysmart.services.bikes.rebalancing.planning import (
    PlannedJob,
    PlannedRoute,
    PlanStation,
    PlanTruck,
    RoutingInput,
    make_plan,
)

DEPOT = (127.26, 36.49)
# A morning: homes that will empty, an office quarter that will fill, a quiet station.
STATIONS = [
    PlanStation("home", 127.25, 36.50, 20, 2, pickups=[6.0] * 3, returns=[0.5] * 3),
    PlanStation("office", 127.27, 36.50, 20, 18, pickups=[0.5] * 3, returns=[6.0] * 3),
    PlanStation("quiet", 127.26, 36.51, 10, 5, pickups=[0.2] * 3, returns=[0.2] * 3),
]
TRUCK = PlanTruck("t1", capacity=20, depot=DEPOT, available_s=0.0, shift_end_s=4 * 3600.0)


def visit_all(problem: RoutingInput) -> list[PlannedRoute]:
    """Take what must be taken first, then bring: one truck, every station, in that order."""
    order = sorted(range(len(problem.station_codes)), key=lambda i: -problem.demands[i])
    jobs = tuple(
        PlannedJob(problem.station_codes[i], int(problem.demands[i]), 600.0 * k)
        for k, i in enumerate(order, start=1)
    )
    return [PlannedRoute("t1", 0, 1000.0, 600.0 * (len(jobs) + 1), jobs)]


def test_only_stations_outside_their_range_reach_the_solver() -> None:
    seen: list[RoutingInput] = []

    def solver(problem: RoutingInput) -> list[PlannedRoute]:
        seen.append(problem)
        return visit_all(problem)

    plan = make_plan(STATIONS, [TRUCK], solver)
    (problem,) = seen
    assert problem.station_codes == ("home", "office")
    home, office, quiet = plan.targets
    assert list(problem.demands) == [home.signed_demand, office.signed_demand]
    assert problem.demands[0] < 0 < problem.demands[1]
    assert quiet.signed_demand == 0
    # Nodes: the truck's start, its depot, then the two stations.
    assert problem.distance_m.shape == problem.travel_s.shape == (4, 4)
    assert problem.distance_m[0, 1] == 0  # it starts at its depot
    assert problem.distance_m[2, 3] > 1500  # 1.8 km apart in a straight line, more by road
    assert problem.travel_s[2, 3] > problem.distance_m[2, 3] / 10  # metres per second
    assert problem.capacities == (20,)
    assert problem.start_loads == (None,)
    assert problem.shift_end_s == (14400,)


def test_the_plan_says_what_it_moves_and_what_it_should_save() -> None:
    plan = make_plan(STATIONS, [TRUCK], visit_all)
    assert plan.unserved == ()
    assert (
        plan.bikes_planned == plan.bikes_wanted == sum(abs(t.signed_demand) for t in plan.targets)
    )
    assert plan.lost_expected_after < plan.lost_expected_before - 3


def test_stations_no_route_reaches_are_listed() -> None:
    def nothing(problem: RoutingInput) -> list[PlannedRoute]:
        return []

    plan = make_plan(STATIONS, [TRUCK], nothing)
    assert set(plan.unserved) == {"home", "office"}
    assert plan.bikes_planned == 0
    assert plan.lost_expected_after == pytest.approx(plan.lost_expected_before)


def test_a_route_that_overfills_a_station_is_refused() -> None:
    def overfill(problem: RoutingInput) -> list[PlannedRoute]:
        return [PlannedRoute("t1", 20, 10.0, 10.0, (PlannedJob("home", -19, 60.0),))]

    with pytest.raises(ValueError, match="home with 21 bikes"):
        make_plan(STATIONS, [TRUCK], overfill)


def test_a_plan_needs_a_truck() -> None:
    with pytest.raises(ValueError, match="at least one truck"):
        make_plan(STATIONS, [], visit_all)
