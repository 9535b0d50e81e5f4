"""A rebalancing plan: from stations and forecasts to each truck's ordered jobs.

Each station's target range comes from the inventory model over the planning horizon;
the stations outside their range get a signed demand (bikes to take away or to bring);
a route solver turns the demands and the trucks (capacity, where they are, what they
carry, how long their shift still runs) into routes. Travel is estimated from
straight-line distance with a road detour factor at a town truck speed, plus a fixed time
to park at each stop and a handling time per bike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from citysmart.services.bikes.rebalancing.inventory import (
    DEFAULT_TOLERANCE,
    InventoryTarget,
    StationOutlook,
    expected_losses,
    target_inventory,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ROAD_DETOUR = 1.3
TRUCK_SPEED_M_S = 6.9  # 25 km/h through town, lights and traffic included
STOP_S = 120.0  # parking the truck and walking to the docks
HANDLING_S = 30.0  # per bike loaded or unloaded
_EARTH_R = 6_371_008.8


@dataclass(frozen=True, slots=True)
class PlanStation:
    """A station as planning sees it: where, how big, what it holds, what is coming."""

    code: str
    lon: float
    lat: float
    capacity: int
    bikes: int
    pickups: Sequence[float]  # expected per hour over the horizon
    returns: Sequence[float]


@dataclass(frozen=True, slots=True)
class PlanTruck:
    """A truck for the plan: capacity, where it starts and ends, load, time it has."""

    truck_id: str
    capacity: int
    depot: tuple[float, float]  # lon, lat
    available_s: float  # from the plan's start until the truck can leave
    shift_end_s: float  # from the plan's start
    position: tuple[float, float] | None = None  # None: at the depot
    load: int | None = None  # None: loads what it needs at the depot


@dataclass(frozen=True, slots=True)
class RoutingInput:
    """What the route solver gets: node 0.. are the trucks' starts, then the depot(s)."""

    truck_count: int
    truck_ids: tuple[str, ...]
    # Node i < truck_count: truck i's start; next truck_count nodes: its end (depot);
    # then one node per station to visit, in ``station_codes`` order.
    station_codes: tuple[str, ...]
    demands: IntArray  # per station node: > 0 take away, < 0 bring
    distance_m: IntArray  # square, over all nodes
    travel_s: IntArray
    capacities: tuple[int, ...]
    start_loads: tuple[int | None, ...]
    available_s: tuple[int, ...]
    shift_end_s: tuple[int, ...]
    stop_s: int
    handling_s: int
    time_limit_s: float

    def station_node(self, index: int) -> int:
        """Node number of the ``index``-th station to visit."""
        return 2 * self.truck_count + index


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """A stop on a route: take (> 0) or bring (< 0) bikes, arriving ``eta_s`` after start."""

    station_code: str
    bikes: int
    eta_s: float


@dataclass(frozen=True, slots=True)
class PlannedRoute:
    """One truck's route."""

    truck_id: str
    start_load: int
    distance_m: float
    duration_s: float
    jobs: tuple[PlannedJob, ...]


RouteSolver = Callable[[RoutingInput], list[PlannedRoute]]


@dataclass(frozen=True, slots=True)
class RebalancingPlan:
    """The plan: routes, every station's target, what is left undone, what it should gain."""

    routes: tuple[PlannedRoute, ...]
    targets: tuple[InventoryTarget, ...]
    unserved: tuple[str, ...]  # stations with a demand no route reaches
    bikes_wanted: int
    bikes_planned: int
    lost_expected_before: float
    lost_expected_after: float


def _distances_m(points: Sequence[tuple[float, float]]) -> FloatArray:
    """Straight-line distances between points (haversine), metres."""
    lon = np.radians([p[0] for p in points])
    lat = np.radians([p[1] for p in points])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    result: FloatArray = 2 * _EARTH_R * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return result


def routing_input(
    stations: Sequence[PlanStation],
    targets: Sequence[InventoryTarget],
    trucks: Sequence[PlanTruck],
    time_limit_s: float,
) -> RoutingInput:
    """Build the solver's input from the stations that need a truck."""
    if not trucks:
        raise ValueError("a plan needs at least one truck")
    chosen = [(s, t) for s, t in zip(stations, targets, strict=True) if t.signed_demand != 0]
    points = [t.position or t.depot for t in trucks] + [t.depot for t in trucks]
    points += [(s.lon, s.lat) for s, _ in chosen]
    road = _distances_m(points) * ROAD_DETOUR
    travel = road / TRUCK_SPEED_M_S
    return RoutingInput(
        truck_count=len(trucks),
        truck_ids=tuple(t.truck_id for t in trucks),
        station_codes=tuple(s.code for s, _ in chosen),
        demands=np.array([t.signed_demand for _, t in chosen], dtype=np.int64),
        distance_m=np.rint(road).astype(np.int64),
        travel_s=np.rint(travel).astype(np.int64),
        capacities=tuple(t.capacity for t in trucks),
        start_loads=tuple(t.load for t in trucks),
        available_s=tuple(math.ceil(t.available_s) for t in trucks),
        shift_end_s=tuple(math.floor(t.shift_end_s) for t in trucks),
        stop_s=round(STOP_S),
        handling_s=round(HANDLING_S),
        time_limit_s=time_limit_s,
    )


def make_plan(
    stations: Sequence[PlanStation],
    trucks: Sequence[PlanTruck],
    route_solver: RouteSolver,
    *,
    time_limit_s: float = 10.0,
    tolerance: float = DEFAULT_TOLERANCE,
) -> RebalancingPlan:
    """Plan the trucks' work for the horizon the forecasts cover."""
    outlooks = [StationOutlook(s.code, s.capacity, s.bikes, s.pickups, s.returns) for s in stations]
    targets = [target_inventory(o, tolerance=tolerance) for o in outlooks]
    problem = routing_input(stations, targets, trucks, time_limit_s)
    routes = route_solver(problem) if problem.station_codes else []
    moved: dict[str, int] = {}
    for route in routes:
        for job in route.jobs:
            moved[job.station_code] = moved.get(job.station_code, 0) + job.bikes
    after = 0.0
    for station, target, outlook in zip(stations, targets, outlooks, strict=True):
        held = station.bikes - moved.get(station.code, 0)
        if not 0 <= held <= station.capacity:
            raise ValueError(f"the routes leave station {station.code} with {held} bikes")
        if station.code in moved:
            losses = expected_losses(outlook.capacity, outlook.pickups, outlook.returns)
            after += float(losses.total()[held])
        else:
            after += target.lost_now
    return RebalancingPlan(
        routes=tuple(routes),
        targets=tuple(targets),
        unserved=tuple(code for code in problem.station_codes if code not in moved),
        bikes_wanted=int(np.abs(problem.demands).sum()),
        bikes_planned=sum(abs(b) for b in moved.values()),
        lost_expected_before=sum(t.lost_now for t in targets),
        lost_expected_after=after,
    )
