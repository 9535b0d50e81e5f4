"""Target inventories: how many bikes each station should hold for the hours ahead.

A station is a birth-death chain on 0..capacity bikes: returns arrive at the forecast return
rate (lost when the station is full), pickups at the pickup rate (lost when it is empty),
the rates changing hour by hour. For every starting inventory the expected lost pickups and
lost returns over the horizon follow exactly from the chain: per hour one matrix
exponential of the block matrix [[Q, I], [0, 0]] gives both the hour's transition matrix
and the expected time spent in each state (its upper-right block is the integral of
exp(Q s) over the hour), so no time stepping is needed. This is the station inventory
model of Raviv & Kolka (2013) and Schuijbroek, Hampshire & van Hoeve (2017): the target is
the inventory with the fewest expected lost trips, and every inventory within a tolerance
of that minimum is acceptable, so trucks only visit stations outside their range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.linalg  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]
# Expected lost trips a station may keep above its best before a truck is sent: a visit
# costs a truck several minutes, which one fifth of a lost trip over the horizon is not worth.
DEFAULT_TOLERANCE = 0.2


@dataclass(frozen=True, slots=True)
class StationOutlook:
    """A station now and its forecast: expected pickups and returns in each hour ahead."""

    station_id: str
    capacity: int
    bikes: int
    pickups: Sequence[float]
    returns: Sequence[float]

    def __post_init__(self) -> None:
        """Refuse outlooks no station can have."""
        if self.capacity < 1:
            raise ValueError(f"station {self.station_id}: capacity must be at least 1")
        if not 0 <= self.bikes <= self.capacity:
            raise ValueError(
                f"station {self.station_id}: {self.bikes} bikes do not fit "
                f"its capacity of {self.capacity}"
            )
        if len(self.pickups) != len(self.returns):
            raise ValueError(
                f"station {self.station_id}: {len(self.pickups)} hours of pickups but "
                f"{len(self.returns)} of returns"
            )
        rates = [*self.pickups, *self.returns]
        if any(not np.isfinite(r) or r < 0 for r in rates):
            raise ValueError(f"station {self.station_id}: rates must be finite and >= 0")


@dataclass(frozen=True, slots=True)
class ExpectedLosses:
    """Expected lost pickups and lost returns over the horizon, by starting inventory."""

    pickups: FloatArray  # index: bikes at the start, 0..capacity
    returns: FloatArray

    def total(self, return_weight: float = 1.0) -> FloatArray:
        """Weighted expected lost trips by starting inventory."""
        result: FloatArray = self.pickups + return_weight * self.returns
        return result


@dataclass(frozen=True, slots=True)
class InventoryTarget:
    """What a station should hold, the range that is good enough, and what is at stake."""

    station_id: str
    capacity: int
    bikes: int
    target: int
    low: int
    high: int
    lost_now: float  # expected lost trips if nobody touches the station
    lost_at_target: float

    @property
    def signed_demand(self) -> int:
        """Bikes a truck should take away (> 0) or bring (< 0); 0 inside the range."""
        if self.low <= self.bikes <= self.high:
            return 0
        return self.bikes - self.target

    @property
    def saving(self) -> float:
        """Expected lost trips a visit to the target avoids."""
        return self.lost_now - self.lost_at_target


def _generator(capacity: int, pickup_rate: float, return_rate: float) -> FloatArray:
    """Rate matrix of the chain on 0..capacity bikes for one hour's rates."""
    n = capacity + 1
    q = np.zeros((n, n))
    states = np.arange(n)
    q[states[:-1], states[:-1] + 1] = return_rate  # a return docks a bike
    q[states[1:], states[1:] - 1] = pickup_rate  # a pickup takes one
    q[states, states] = -q.sum(axis=1)
    return q


def expected_losses(
    capacity: int, pickups: Sequence[float], returns: Sequence[float]
) -> ExpectedLosses:
    """Compute expected lost pickups and returns over the hours, for every starting inventory."""
    n = capacity + 1
    hours = len(pickups)
    if hours == 0:
        return ExpectedLosses(np.zeros(n), np.zeros(n))
    blocks = np.zeros((hours, 2 * n, 2 * n))
    for h in range(hours):
        blocks[h, :n, :n] = _generator(capacity, float(pickups[h]), float(returns[h]))
        blocks[h, :n, n:] = np.eye(n)
    exponentials = scipy.linalg.expm(blocks)  # batched over the hours
    distribution = np.eye(n)  # row x: where a station that starts with x bikes is
    lost_pickups = np.zeros(n)
    lost_returns = np.zeros(n)
    for h in range(hours):
        transition = exponentials[h, :n, :n]
        time_in_state = distribution @ exponentials[h, :n, n:]  # hours spent in each state
        lost_pickups += float(pickups[h]) * time_in_state[:, 0]
        lost_returns += float(returns[h]) * time_in_state[:, capacity]
        distribution = distribution @ transition
    return ExpectedLosses(lost_pickups, lost_returns)


def target_inventory(
    outlook: StationOutlook,
    return_weight: float = 1.0,
    tolerance: float = DEFAULT_TOLERANCE,
) -> InventoryTarget:
    """Choose a station's target inventory and its acceptable range for the horizon."""
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    losses = expected_losses(outlook.capacity, outlook.pickups, outlook.returns)
    total = losses.total(return_weight)
    best = float(total.min())
    acceptable = np.flatnonzero(total <= best + tolerance)
    low, high = int(acceptable.min()), int(acceptable.max())
    # Among the best inventories, the one nearest what the station holds: fewest bikes moved.
    ties = np.flatnonzero(total <= best + 1e-9)
    target = int(ties[np.argmin(np.abs(ties - outlook.bikes))])
    return InventoryTarget(
        station_id=outlook.station_id,
        capacity=outlook.capacity,
        bikes=outlook.bikes,
        target=target,
        low=low,
        high=high,
        lost_now=float(total[outlook.bikes]),
        lost_at_target=float(total[target]),
    )


def target_inventories(
    outlooks: Sequence[StationOutlook],
    return_weight: float = 1.0,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[InventoryTarget]:
    """Choose the target of every station (see ``target_inventory``)."""
    return [target_inventory(o, return_weight, tolerance) for o in outlooks]
