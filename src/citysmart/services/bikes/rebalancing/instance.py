"""Static bike rebalancing problem (BRP) instances and their parsers.

Two file families are read (see data/brp/SOURCE.md):

* Dell'Amico et al. (2014) ``NN-<City><Q>_RBRP.txt``: signed demands and an
  asymmetric integer cost matrix.
* Parada et al. (2025) large real-city instances: station coordinates, a
  target file and a GBFS ``station_status`` snapshot; the cost is the
  haversine distance in km and the truck capacity is 40 bikes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SLR_CAPACITY = 40
"""Truck capacity the upstream loader hard-codes for the large instances."""

_EARTH_RADIUS_KM = 6371.0


class InstanceError(ValueError):
    """An instance file is malformed or inconsistent."""


@dataclass(frozen=True)
class BrpInstance:
    """One static BRP: vertex 0 is the depot, vertices 1..n-1 are stations.

    ``demand[i] > 0`` means station i has that many bikes too many (pickup),
    ``demand[i] < 0`` that it needs that many more (delivery); ``demand[0]``
    is 0. ``cost[i][j]`` is the travel cost of arc (i, j).
    """

    name: str
    capacity: int
    demand: tuple[int, ...]
    cost: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        n = len(self.demand)
        if n < 2:
            raise InstanceError(
                f"{self.name}: need a depot and at least one station, got {n} vertices"
            )
        if self.cost.shape != (n, n):
            raise InstanceError(
                f"{self.name}: cost matrix is {self.cost.shape}, expected ({n}, {n})"
            )
        if self.capacity <= 0:
            raise InstanceError(f"{self.name}: capacity must be positive, got {self.capacity}")
        if self.demand[0] != 0:
            raise InstanceError(f"{self.name}: depot demand must be 0, got {self.demand[0]}")
        too_big = [i for i, d in enumerate(self.demand) if abs(d) > self.capacity]
        if too_big:
            raise InstanceError(
                f"{self.name}: stations {too_big[:5]} have |demand| above "
                f"the capacity {self.capacity}"
            )

    @property
    def n(self) -> int:
        """Return the number of vertices, depot included."""
        return len(self.demand)

    @property
    def integral_cost(self) -> bool:
        """Return True when every arc cost is an integer."""
        return bool(np.all(self.cost == np.round(self.cost)))


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            current = sections.setdefault(line[1:].strip(), [])
        elif line and current is not None:
            current.append(line)
    return sections


def parse_dellamico(path: Path) -> BrpInstance:
    """Read one Dell'Amico et al. (2014) instance file."""
    sections = _sections(path.read_text(encoding="utf-8"))
    for key in ("name", "numVertices", "capacity", "d/p/q", "distances"):
        if key not in sections:
            raise InstanceError(f"{path.name}: missing section #{key}")
    try:
        name = sections["name"][0]
        n = int(sections["numVertices"][0])
        capacity = int(sections["capacity"][0])
        rows = [[int(x) for x in line.split()] for line in sections["d/p/q"]]
        dist_rows = [[int(x) for x in line.split()] for line in sections["distances"][1:]]
    except (ValueError, IndexError) as exc:
        raise InstanceError(f"{path.name}: not a number where one was expected ({exc})") from exc
    if len(rows) != n or any(len(r) != 4 for r in rows):
        raise InstanceError(f"{path.name}: #d/p/q needs {n} rows of 4 integers")
    if [r[0] for r in rows] != list(range(n)):
        raise InstanceError(f"{path.name}: #d/p/q rows are not indexed 0..{n - 1}")
    if len(dist_rows) != n or any(len(r) != n + 1 for r in dist_rows):
        raise InstanceError(f"{path.name}: #distances needs {n} rows of an index and {n} integers")
    cost = np.array([r[1:] for r in dist_rows], dtype=np.float64)
    np.fill_diagonal(cost, 0.0)
    return BrpInstance(name=name, capacity=capacity, demand=tuple(r[1] for r in rows), cost=cost)


def haversine_km(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Return the matrix of great-circle distances in km between all points."""
    phi = np.radians(lat)
    lam = np.radians(lon)
    dphi = phi[:, None] - phi[None, :]
    dlam = lam[:, None] - lam[None, :]
    a = np.sin(dphi / 2) ** 2 + np.cos(phi[:, None]) * np.cos(phi[None, :]) * np.sin(dlam / 2) ** 2
    result: npt.NDArray[np.float64] = (
        2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    )
    return result


def parse_parada_slr(path: Path, capacity: int = SLR_CAPACITY) -> BrpInstance:
    """Read a Parada et al. (2025) large instance with its targets and GBFS status.

    The signed demand of a station is its bikes in the status snapshot minus
    its target, clipped to the truck capacity so that one visit can serve it.
    A station missing from the snapshot counts as already at its target, and
    stations already at their target are left out (they need no visit).
    """
    city = "".join(ch for ch in path.stem if not ch.isdigit())
    targets_path = path.parent / "targets" / f"targets_{city}.txt"
    status_path = path.parent / "status" / f"{city}_station_status.json"
    lines = [ln.split() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    try:
        n = int(lines[0][0])
        depot = [float(x) for x in lines[2][1:3]]
        stations = [(ln[0], float(ln[2]), float(ln[3])) for ln in lines[3 : 3 + n - 1]]
        targets = [int(x) for x in targets_path.read_text(encoding="utf-8").split()]
    except (ValueError, IndexError) as exc:
        raise InstanceError(f"{path.name}: malformed line ({exc})") from exc
    if len(stations) != n - 1 or len(targets) != n - 1:
        raise InstanceError(
            f"{path.name}: {n - 1} stations announced, {len(stations)} listed, "
            f"{len(targets)} targets"
        )
    status = json.loads(status_path.read_text(encoding="utf-8"))
    bikes = {
        str(s["station_id"]): int(s.get("num_bikes_available", 0))
        for s in status["data"]["stations"]
    }
    demand = [0]
    lat = [depot[0]]
    lon = [depot[1]]
    for (sid, s_lat, s_lon), target in zip(stations, targets, strict=True):
        d = max(-capacity, min(capacity, bikes.get(sid, target) - target))
        if d != 0:  # a balanced station needs no visit
            demand.append(d)
            lat.append(s_lat)
            lon.append(s_lon)
    return BrpInstance(
        name=path.stem,
        capacity=capacity,
        demand=tuple(demand),
        cost=haversine_km(np.array(lat), np.array(lon)),
    )
