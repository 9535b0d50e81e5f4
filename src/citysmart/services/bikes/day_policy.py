"""Rebalancing policies for the day simulator: plan with the trucks, from the live state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from citysmart.services.bikes.rebalancing.planning import (
    PlanStation,
    PlanTruck,
    RouteSolver,
    make_plan,
)
from citysmart.services.bikes.simulation import Planner, SimStation, TruckJob, TruckState

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FleetTruck:
    """A truck of the simulated fleet: capacity, depot, shift (seconds of the day)."""

    truck_id: str
    capacity: int
    depot: tuple[float, float]
    shift_start_s: float
    shift_end_s: float


def planning_policy(
    stations: Sequence[SimStation],
    pickup_rates: FloatArray,
    return_rates: FloatArray,
    fleet: Sequence[FleetTruck],
    route_solver: RouteSolver,
    *,
    horizon_h: int = 6,
    time_limit_s: float = 5.0,
) -> Planner:
    """Make a planner that plans the next ``horizon_h`` hours from the simulated live state.

    The rates are per station and hour of the simulated day, as given to the simulator's
    trip draw: the planner knows the demand rates, not the trips drawn from them.
    """
    index = {s.station_id: i for i, s in enumerate(stations)}
    hours = pickup_rates.shape[1]

    def plan(now_s: float, bikes: Sequence[int], trucks: Sequence[TruckState]) -> list[TruckJob]:
        hour = min(math.floor(now_s / 3600.0), hours - 1)
        until = min(hour + horizon_h, hours)
        # The current hour counts only for what is left of it.
        share = np.ones(until - hour)
        share[0] = 1.0 - (now_s / 3600.0 - hour)
        plan_stations = [
            PlanStation(
                s.station_id, s.lon, s.lat, s.capacity, int(bikes[i]),
                tuple(pickup_rates[i, hour:until] * share),
                tuple(return_rates[i, hour:until] * share),
            )
            for i, s in enumerate(stations)
        ]  # fmt: skip
        plan_trucks = []
        for state, truck in zip(trucks, fleet, strict=True):
            where = None if state.station is None else stations[state.station]
            plan_trucks.append(
                PlanTruck(
                    truck.truck_id,
                    truck.capacity,
                    truck.depot,
                    available_s=max(state.free_at_s, truck.shift_start_s) - now_s,
                    shift_end_s=truck.shift_end_s - now_s,
                    position=None if where is None else (where.lon, where.lat),
                    load=None if where is None else state.load,
                )
            )
        if all(t.shift_end_s <= t.available_s for t in plan_trucks):
            return []  # every shift is over
        result = make_plan(plan_stations, plan_trucks, route_solver, time_limit_s=time_limit_s)
        truck_number = {t.truck_id: n for n, t in enumerate(fleet)}
        return [
            TruckJob(truck_number[route.truck_id], index[job.station_code],
                     now_s + job.eta_s, job.bikes)
            for route in result.routes
            for job in route.jobs
        ]  # fmt: skip

    return plan
