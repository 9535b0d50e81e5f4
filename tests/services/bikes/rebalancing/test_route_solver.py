"""The planner's route solver interface, served by the OR-Tools truck planner."""

from __future__ import annotations

from citysmart.services.bikes.rebalancing.planning import PlanStation, PlanTruck, make_plan
from citysmart.services.bikes.rebalancing.route_solver import solve_routing_input

DEPOT = (127.26, 36.49)
# A morning: homes that will empty, an office quarter that will fill, a quiet station.
STATIONS = [
    PlanStation("home", 127.25, 36.50, 20, 2, pickups=[6.0] * 3, returns=[0.5] * 3),
    PlanStation("office", 127.27, 36.50, 20, 18, pickups=[0.5] * 3, returns=[6.0] * 3),
    PlanStation("quiet", 127.26, 36.51, 10, 5, pickups=[0.2] * 3, returns=[0.2] * 3),
]


def test_moves_bikes_from_the_office_to_the_homes() -> None:
    truck = PlanTruck("t1", capacity=20, depot=DEPOT, available_s=0.0, shift_end_s=4 * 3600.0)
    plan = make_plan(STATIONS, [truck], solve_routing_input, time_limit_s=0.5)
    (route,) = plan.routes
    assert route.truck_id == "t1"
    moved = {job.station_code: job.bikes for job in route.jobs}
    assert moved.get("office", 0) > 0  # take bikes away where they will pile up
    assert moved.get("home", 0) < 0  # bring them where riders will leave
    assert 0 < route.duration_s <= 4 * 3600
    assert plan.lost_expected_after < plan.lost_expected_before


def test_a_truck_with_no_time_left_does_nothing() -> None:
    truck = PlanTruck("t1", capacity=20, depot=DEPOT, available_s=3600.0, shift_end_s=3600.0)
    plan = make_plan(STATIONS, [truck], solve_routing_input, time_limit_s=0.2)
    assert all(not r.jobs for r in plan.routes)
    assert plan.bikes_planned == 0
