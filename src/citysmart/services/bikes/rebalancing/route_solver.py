"""The planner's route solver: ``planning.RoutingInput`` in, ``PlannedRoute`` list out.

Adapts ``plan_truck_routes`` (OR-Tools, drop penalty per bike) to the
``RouteSolver`` interface that ``planning.make_plan`` takes.
"""

from __future__ import annotations

from citysmart.services.bikes.rebalancing.planning import PlannedJob, PlannedRoute, RoutingInput
from citysmart.services.bikes.rebalancing.solve import RebalancingProblem, Truck, plan_truck_routes


def solve_routing_input(problem: RoutingInput) -> list[PlannedRoute]:
    """Plan every truck's route for the planner's input."""
    k = problem.truck_count
    ids = problem.truck_ids
    trucks = [
        Truck(
            name=ids[i],
            capacity=problem.capacities[i],
            depot=i,  # node i: where truck i is now
            end=k + i,  # node k + i: the depot it returns to
            start_load=problem.start_loads[i],
            available_s=problem.available_s[i],
            shift_end_s=problem.shift_end_s[i],
        )
        for i in range(k)
    ]
    demand = {problem.station_node(j): int(d) for j, d in enumerate(problem.demands) if int(d) != 0}
    plan = plan_truck_routes(
        RebalancingProblem(
            trucks=trucks,
            travel_time_s=problem.travel_s.tolist(),
            distance_m=problem.distance_m.tolist(),
            demand=demand,
            shift_s=max(problem.shift_end_s),
            handling_s_per_bike=float(problem.handling_s),
            stop_s=float(problem.stop_s),
            time_limit_s=problem.time_limit_s,
        )
    )
    first_station = problem.station_node(0)
    return [
        PlannedRoute(
            truck_id=tp.truck,
            start_load=tp.start_load,
            distance_m=tp.distance_m,
            duration_s=float(tp.duration_s),
            jobs=tuple(
                PlannedJob(
                    problem.station_codes[job.station - first_station],
                    job.bikes,
                    float(job.arrival_s),
                )
                for job in tp.jobs
            ),
        )
        for tp in plan.trucks
    ]
