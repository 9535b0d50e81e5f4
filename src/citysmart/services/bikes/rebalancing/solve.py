"""Operational truck plan: K trucks, one shift, as many bikes moved as possible.

The city's case differs from the static benchmark: a few trucks (4 in Sejong)
with a shift length, travel times and handling time per bike, so not every
station can be served. Each station is an optional OR-Tools node with a drop
penalty proportional to its bikes; the penalty per bike exceeds any detour,
so the solver first maximises the bikes rebalanced, then minimises distance.

A station whose demand exceeds the smallest truck capacity (or ``chunk_bikes``
when set) is split into chunks of nearly equal size, each optional: a station
may then be served partly (some chunks dropped) or by several trucks. Within a
chunk the quantity is all or nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ortools.constraint_solver import pywrapcp, routing_enums_pb2


class PlanningError(ValueError):
    """The rebalancing problem is inconsistent."""


@dataclass(frozen=True)
class Truck:
    """One truck: capacity in bikes, start location (its depot), optional load at the start.

    ``start_load`` None lets the planner choose the load the truck leaves the
    depot with (the depot supplies or absorbs bikes); a number fixes it, e.g.
    when replanning a truck already on the road with bikes on board. ``end``
    is where the truck must finish (its start location by default). The truck
    leaves at ``available_s`` and must be back by ``shift_end_s`` (the
    problem's ``shift_s`` by default), both counted from the plan's start.
    """

    name: str
    capacity: int
    depot: int
    start_load: int | None = None
    end: int | None = None
    available_s: int = 0
    shift_end_s: int | None = None

    @property
    def end_location(self) -> int:
        """Return where the truck finishes."""
        return self.depot if self.end is None else self.end


@dataclass(frozen=True)
class RebalancingProblem:
    """Everything the planner needs; locations are indexes into the matrices.

    ``demand`` maps a station's location to its signed demand: positive = take
    that many bikes away, negative = bring that many.
    """

    trucks: Sequence[Truck]
    travel_time_s: Sequence[Sequence[float]]
    distance_m: Sequence[Sequence[float]]
    demand: Mapping[int, int]
    shift_s: int
    handling_s_per_bike: float = 30.0
    stop_s: float = 0.0
    chunk_bikes: int | None = None
    time_limit_s: float = 5.0


@dataclass(frozen=True)
class Job:
    """One stop: the station, bikes taken (> 0) or brought (< 0), arrival second."""

    station: int
    bikes: int
    arrival_s: int


@dataclass(frozen=True)
class TruckPlan:
    """The ordered jobs of one truck with its start load, distance and duration.

    Arrival seconds count from the plan's start; the duration from the truck's
    departure to its return.
    """

    truck: str
    start_load: int
    jobs: list[Job]
    distance_m: float
    duration_s: int


@dataclass(frozen=True)
class RebalancingPlan:
    """A plan per truck and the signed bikes left unmoved per station."""

    trucks: list[TruckPlan]
    unserved: dict[int, int] = field(default_factory=dict)

    @property
    def bikes_moved(self) -> int:
        """Return the total bikes taken or brought."""
        return sum(abs(j.bikes) for t in self.trucks for j in t.jobs)

    @property
    def distance_m(self) -> float:
        """Return the total distance driven."""
        return sum(t.distance_m for t in self.trucks)


def _check(problem: RebalancingProblem) -> int:
    """Raise PlanningError on inconsistent input; return the number of locations."""
    n = len(problem.distance_m)
    if len(problem.travel_time_s) != n:
        raise PlanningError(
            f"travel-time matrix has {len(problem.travel_time_s)} rows, distance matrix {n}"
        )
    for name, matrix in (
        ("travel_time_s", problem.travel_time_s),
        ("distance_m", problem.distance_m),
    ):
        for i, matrix_row in enumerate(matrix):
            if len(matrix_row) != n:
                raise PlanningError(f"{name} row {i} has {len(matrix_row)} entries, expected {n}")
            if any(x < 0 or not math.isfinite(x) for x in matrix_row):
                raise PlanningError(f"{name} row {i} has a negative or non-finite entry")
    if not problem.trucks:
        raise PlanningError("no truck given")
    if problem.shift_s <= 0:
        raise PlanningError(f"shift length must be positive, got {problem.shift_s} s")
    if problem.handling_s_per_bike < 0 or problem.stop_s < 0:
        raise PlanningError("handling time per bike and stop time must not be negative")
    if problem.chunk_bikes is not None and problem.chunk_bikes <= 0:
        raise PlanningError("chunk_bikes must be positive")
    depots = {t.depot for t in problem.trucks} | {t.end_location for t in problem.trucks}
    for t in problem.trucks:
        if t.capacity <= 0:
            raise PlanningError(f"truck {t.name}: capacity must be positive")
        for where in (t.depot, t.end_location):
            if not 0 <= where < n:
                raise PlanningError(f"truck {t.name}: depot {where} is not a location (0..{n - 1})")
        end = problem.shift_s if t.shift_end_s is None else t.shift_end_s
        if not 0 <= t.available_s <= end:
            raise PlanningError(
                f"truck {t.name}: available at {t.available_s} s, after its shift end {end} s"
            )
        if t.start_load is not None and not 0 <= t.start_load <= t.capacity:
            raise PlanningError(
                f"truck {t.name}: start load {t.start_load} outside [0, {t.capacity}]"
            )
    for station in problem.demand:
        if not 0 <= station < n:
            raise PlanningError(f"station {station} is not a location (0..{n - 1})")
        if station in depots:
            raise PlanningError(f"location {station} is both a depot and a station")
    return n


def _chunks(bikes: int, size: int) -> list[int]:
    """Split a positive number of bikes into nearly equal parts of at most size."""
    parts = -(-bikes // size)
    base, extra = divmod(bikes, parts)
    return [base + 1] * extra + [base] * (parts - extra)


def plan_truck_routes(problem: RebalancingProblem) -> RebalancingPlan:
    """Plan each truck's jobs for one shift, dropping what the shift cannot serve."""
    _check(problem)
    trucks = list(problem.trucks)
    depots = sorted({t.depot for t in trucks} | {t.end_location for t in trucks})
    # node -> (location, signed bikes); depots first
    nodes: list[tuple[int, int]] = [(loc, 0) for loc in depots]
    size = problem.chunk_bikes or min(t.capacity for t in trucks)
    for station, d in sorted(problem.demand.items()):
        if d != 0:
            sign = 1 if d > 0 else -1
            nodes.extend((station, sign * part) for part in _chunks(abs(d), size))
    depot_node = {loc: i for i, loc in enumerate(depots)}
    manager = pywrapcp.RoutingIndexManager(
        len(nodes),
        len(trucks),
        [depot_node[t.depot] for t in trucks],
        [depot_node[t.end_location] for t in trucks],
    )
    routing = pywrapcp.RoutingModel(manager)
    dist = [[round(problem.distance_m[a][b]) for b, _ in nodes] for a, _ in nodes]
    # service at the origin: handling per bike, and the stop once per station
    # (consecutive chunks of one station share the stop)
    travel = [
        [
            round(
                problem.travel_time_s[a][b]
                + problem.handling_s_per_bike * abs(q)
                + (problem.stop_s if q != 0 and a != b else 0.0)
            )
            for b, _ in nodes
        ]
        for a, q in nodes
    ]
    ends = [problem.shift_s if t.shift_end_s is None else t.shift_end_s for t in trucks]

    def distance_cb(i: int, j: int) -> int:
        return dist[int(manager.IndexToNode(i))][int(manager.IndexToNode(j))]

    def time_cb(i: int, j: int) -> int:
        return travel[int(manager.IndexToNode(i))][int(manager.IndexToNode(j))]

    def load_cb(i: int) -> int:
        return nodes[int(manager.IndexToNode(i))][1]

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance_cb))
    routing.AddDimension(routing.RegisterTransitCallback(time_cb), 0, max(ends), False, "Time")
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitCallback(load_cb),
        0,
        [t.capacity for t in trucks],
        False,
        "Load",
    )
    time_dim = routing.GetDimensionOrDie("Time")
    load_dim = routing.GetDimensionOrDie("Load")
    for v, t in enumerate(trucks):
        if t.start_load is not None:
            load_dim.CumulVar(routing.Start(v)).SetValue(t.start_load)
        time_dim.CumulVar(routing.Start(v)).SetValue(t.available_s)
        time_dim.CumulVar(routing.End(v)).SetMax(ends[v])
    # one bike left unmoved must cost more than any detour saved by dropping it
    per_bike = 2 * max((max(r) for r in dist), default=0) + 1
    for node in range(len(depots), len(nodes)):
        routing.AddDisjunction([manager.NodeToIndex(node)], per_bike * abs(nodes[node][1]))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(1, int(problem.time_limit_s * 1000)))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        raise PlanningError("no feasible plan, even with every station dropped")
    plans: list[TruckPlan] = []
    moved: dict[int, int] = {}
    for v, t in enumerate(trucks):
        index = routing.Start(v)
        start_load = int(solution.Value(load_dim.CumulVar(index)))
        jobs: list[Job] = []
        distance = 0.0
        while not routing.IsEnd(index):
            nxt = solution.Value(routing.NextVar(index))
            distance += problem.distance_m[nodes[manager.IndexToNode(index)][0]][
                nodes[manager.IndexToNode(nxt)][0]
            ]
            index = nxt
            if routing.IsEnd(index):
                break
            station, bikes = nodes[manager.IndexToNode(index)]
            arrival = int(solution.Value(time_dim.CumulVar(index)))
            moved[station] = moved.get(station, 0) + bikes
            if jobs and jobs[-1].station == station:  # chunks of one station in a row
                jobs[-1] = Job(station, jobs[-1].bikes + bikes, jobs[-1].arrival_s)
            else:
                jobs.append(Job(station, bikes, arrival))
        duration = int(solution.Value(time_dim.CumulVar(routing.End(v)))) - t.available_s
        plans.append(TruckPlan(t.name, start_load, jobs, distance, duration))
    unserved = {
        s: d - moved.get(s, 0)
        for s, d in sorted(problem.demand.items())
        if d - moved.get(s, 0) != 0
    }
    return RebalancingPlan(trucks=plans, unserved=unserved)
