"""Plain OR-Tools baseline for the static BRP.

The signed demand is one load dimension whose start cumul is free in
[0, Q] (the truck may leave the depot loaded), guided local search improves
the first solution. The benchmark compares our own search against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from citysmart.services.bikes.rebalancing.instance import BrpInstance

Routes = list[list[int]]

MAX_VEHICLES = 300
"""Above this many stations, give OR-Tools fewer vehicles than stations."""


@dataclass(frozen=True)
class OrToolsResult:
    """Routes found by OR-Tools and their cost in instance units."""

    routes: Routes
    cost: float


def _integer_costs(instance: BrpInstance) -> tuple[list[list[int]], float]:
    """Return the cost matrix as integers and the scale applied to it."""
    scale = 1.0 if instance.integral_cost else 1000.0  # km -> m for the large instances
    matrix = np.rint(instance.cost * scale).astype(np.int64)
    return matrix.tolist(), scale


def _vehicle_bound(instance: BrpInstance) -> int:
    """Return enough vehicles for a feasible plan: one per station when it is cheap."""
    stations = instance.n - 1
    if stations <= MAX_VEHICLES:
        return stations
    # cutting the stations in index order into load-feasible routes gives a bound
    pieces = 1
    acc = hi = lo = 0
    for d in instance.demand[1:]:
        nxt = acc + d
        if max(hi, nxt) - min(lo, nxt) > instance.capacity:
            pieces += 1
            acc = hi = lo = 0
            nxt = d
        acc = nxt
        hi, lo = max(hi, acc), min(lo, acc)
    return min(stations, pieces)


def solve_ortools(instance: BrpInstance, time_limit: float) -> OrToolsResult:
    """Solve with the OR-Tools routing solver and guided local search."""
    matrix, _ = _integer_costs(instance)
    vehicles = _vehicle_bound(instance)
    manager = pywrapcp.RoutingIndexManager(instance.n, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)

    def arc_cost(i: int, j: int) -> int:
        return matrix[int(manager.IndexToNode(i))][int(manager.IndexToNode(j))]

    def demand(i: int) -> int:
        return instance.demand[int(manager.IndexToNode(i))]

    transit = routing.RegisterTransitCallback(arc_cost)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    load = routing.RegisterUnaryTransitCallback(demand)
    routing.AddDimension(load, 0, instance.capacity, False, "Load")  # free start load in [0, Q]
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(time_limit * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        raise RuntimeError(f"{instance.name}: OR-Tools found no feasible solution")
    routes: Routes = []
    for vehicle in range(vehicles):
        index = routing.Start(vehicle)
        route: list[int] = []
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    cost = float(
        sum(instance.cost[a, b] for r in routes for a, b in zip([0, *r], [*r, 0], strict=True))
    )
    return OrToolsResult(routes=routes, cost=cost)
