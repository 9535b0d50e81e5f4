"""A day of the bike network, simulated: trips, empty and full stations, truck work.

Trips are drawn once from the demand rates (Poisson pickups per station and hour, each
trip's destination drawn from the hour's return weights with a distance decay) and then
replayed under each rebalancing policy, so the policies face the same riders (common random
numbers) and the difference in lost trips is the policy's. A rider who finds a station
empty is a lost pickup; one who finds it full is a lost return and docks at the nearest
station with a free dock. Trucks carry out the planner's jobs at the planned times, moving
what is possible when they get there (never more bikes than the station or the truck
holds). A planner is called at the given times with the live state and its jobs replace
the jobs not yet done.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BIKE_SPEED_M_S = 4.2  # 15 km/h on the road network
DETOUR = 1.3  # road distance over straight-line distance
DESTINATION_DECAY_M = 2500.0  # trips get rarer with distance: weight exp(-d / this)
_EARTH_R = 6_371_008.8


@dataclass(frozen=True, slots=True)
class SimStation:
    """A station as the simulation starts."""

    station_id: str
    lon: float
    lat: float
    capacity: int
    bikes: int


@dataclass(frozen=True, slots=True)
class Trip:
    """A rider who wants to ride from one station to another at a given time."""

    time_s: float
    origin: int
    destination: int
    duration_s: float


@dataclass(frozen=True, slots=True)
class TruckJob:
    """A planned stop: at ``time_s`` truck ``truck`` takes (> 0) or brings (< 0) bikes."""

    truck: int
    station: int
    time_s: float
    bikes: int


@dataclass(frozen=True, slots=True)
class TruckState:
    """Where a truck is when a plan is made: station index (None: depot), load, free from."""

    truck: int
    station: int | None
    load: int
    free_at_s: float


Planner = Callable[[float, Sequence[int], Sequence[TruckState]], Sequence[TruckJob]]


@dataclass(slots=True)
class SimulationResult:
    """What a simulated day gave."""

    trips: int = 0
    served: int = 0
    lost_pickups: int = 0
    lost_returns: int = 0
    bikes_moved: int = 0
    truck_stops: int = 0
    plans: int = 0
    lost_by_hour: dict[int, int] = field(default_factory=dict)
    lost_by_station: dict[int, int] = field(default_factory=dict)
    final_bikes: list[int] = field(default_factory=list)
    lost_trips: list[Trip] = field(default_factory=list)  # the riders who found no bike

    @property
    def lost(self) -> int:
        """Lost pickups and lost returns together."""
        return self.lost_pickups + self.lost_returns

    def as_dict(self) -> dict[str, int]:
        """Return the headline figures."""
        return {
            "trips": self.trips,
            "served": self.served,
            "lost_pickups": self.lost_pickups,
            "lost_returns": self.lost_returns,
            "bikes_moved": self.bikes_moved,
            "truck_stops": self.truck_stops,
            "plans": self.plans,
        }


def distance_matrix_m(stations: Sequence[SimStation]) -> FloatArray:
    """Straight-line distances between stations, in metres (haversine)."""
    lon = np.radians([s.lon for s in stations])
    lat = np.radians([s.lat for s in stations])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    result: FloatArray = 2 * _EARTH_R * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return result


def draw_trips(
    stations: Sequence[SimStation],
    pickup_rates: FloatArray,
    return_weights: FloatArray,
    rng: np.random.Generator,
    start_s: float = 0.0,
    distances_m: FloatArray | None = None,
) -> list[Trip]:
    """Draw a day's trips: ``pickup_rates[s, h]`` riders per hour at station s in hour h.

    ``return_weights[s, h]`` is how strongly station s attracts returns in hour h (for
    example its forecast returns); destinations also fall off with distance.
    """
    count, hours = pickup_rates.shape
    if return_weights.shape != pickup_rates.shape or count != len(stations):
        raise ValueError(
            f"rates are {pickup_rates.shape} and weights {return_weights.shape} "
            f"for {len(stations)} stations"
        )
    if np.any(~np.isfinite(pickup_rates)) or np.any(pickup_rates < 0):
        raise ValueError("pickup rates must be finite and >= 0")
    if np.any(~np.isfinite(return_weights)) or np.any(return_weights < 0):
        raise ValueError("return weights must be finite and >= 0")
    d = distance_matrix_m(stations) if distances_m is None else distances_m
    decay = np.exp(-d / DESTINATION_DECAY_M)
    trips: list[Trip] = []
    for h in range(hours):
        counts = rng.poisson(pickup_rates[:, h])
        weights = decay * (return_weights[:, h][None, :] + 1e-9)
        cumulative = np.cumsum(weights, axis=1)
        for origin in np.flatnonzero(counts):
            n = int(counts[origin])
            row = cumulative[origin]
            destinations = np.searchsorted(row, rng.random(n) * row[-1], side="right")
            destinations = np.minimum(destinations, count - 1)
            times = start_s + (h + rng.random(n)) * 3600.0
            for t, dest in zip(times, destinations, strict=True):
                ride = d[origin, dest] * DETOUR / BIKE_SPEED_M_S
                # A round trip to the same station still takes a while.
                duration = max(ride, 300.0) + 120.0
                trips.append(Trip(float(t), int(origin), int(dest), float(duration)))
    trips.sort(key=lambda trip: trip.time_s)
    return trips


_PICKUP, _RETURN, _TRUCK, _PLAN = 0, 1, 2, 3


def simulate_day(
    stations: Sequence[SimStation],
    trips: Sequence[Trip],
    *,
    planner: Planner | None = None,
    plan_times_s: Sequence[float] = (),
    truck_capacities: Sequence[int] = (),
    distances_m: FloatArray | None = None,
) -> SimulationResult:
    """Replay the trips on the network; call the planner at the given times."""
    bikes = [s.bikes for s in stations]
    capacity = [s.capacity for s in stations]
    d = distance_matrix_m(stations) if distances_m is None else distances_m
    nearest = np.argsort(d, axis=1)
    result = SimulationResult(trips=len(trips))
    trucks = len(truck_capacities)
    loads = [0] * trucks
    last_stop: list[int | None] = [None] * trucks
    busy_until = [0.0] * trucks
    plan_version = 0
    events: list[tuple[float, int, int, tuple[int, ...]]] = []
    seq = 0

    def push(time_s: float, kind: int, data: tuple[int, ...]) -> None:
        nonlocal seq
        heapq.heappush(events, (time_s, seq, kind, data))
        seq += 1

    for index, trip in enumerate(trips):
        push(trip.time_s, _PICKUP, (index,))
    if planner is not None:
        for when in plan_times_s:
            push(when, _PLAN, ())

    def lose(station: int, time_s: float) -> None:
        hour = math.floor(time_s / 3600.0)
        result.lost_by_hour[hour] = result.lost_by_hour.get(hour, 0) + 1
        result.lost_by_station[station] = result.lost_by_station.get(station, 0) + 1

    while events:
        now, _, kind, data = heapq.heappop(events)
        if kind == _PICKUP:
            trip = trips[data[0]]
            if bikes[trip.origin] > 0:
                bikes[trip.origin] -= 1
                push(now + trip.duration_s, _RETURN, (trip.destination,))
            else:
                result.lost_pickups += 1
                result.lost_trips.append(trip)
                lose(trip.origin, now)
        elif kind == _RETURN:
            station = data[0]
            if bikes[station] < capacity[station]:
                bikes[station] += 1
                result.served += 1
                continue
            result.lost_returns += 1
            result.served += 1  # the ride happened; the rider docks elsewhere
            lose(station, now)
            for other in nearest[station]:
                if bikes[other] < capacity[other]:
                    bikes[other] += 1
                    break
        elif kind == _PLAN and planner is not None:
            plan_version += 1
            result.plans += 1
            states = [
                TruckState(t, last_stop[t], loads[t], max(now, busy_until[t]))
                for t in range(trucks)
            ]
            for job in planner(now, list(bikes), states):
                if not 0 <= job.truck < trucks:
                    raise ValueError(f"the plan uses truck {job.truck} of {trucks}")
                push(
                    max(job.time_s, now), _TRUCK, (plan_version, job.truck, job.station, job.bikes)
                )
        elif kind == _TRUCK:
            version, truck, station, wanted = data
            if version != plan_version:
                continue  # a newer plan replaced this job
            if wanted > 0:
                moved = min(wanted, bikes[station], truck_capacities[truck] - loads[truck])
                bikes[station] -= moved
                loads[truck] += moved
            else:
                moved = min(-wanted, loads[truck], capacity[station] - bikes[station])
                bikes[station] += moved
                loads[truck] -= moved
            result.bikes_moved += moved
            result.truck_stops += 1
            last_stop[truck] = station
            busy_until[truck] = now
    result.final_bikes = bikes
    return result
