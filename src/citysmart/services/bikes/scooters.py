"""E-scooter scenario: what N shared dockless e-scooters would add to the bike network.

Two questions, answered separately. **Lost trips**: replaying a simulated day's riders who
found their station empty, a rider takes a free scooter within walking distance of the
station (the nearest), rides it to the destination and leaves it there; a scooter rides
until its battery's range is used up (the operator swaps batteries at night). Scooters
start the day where the bike demand is, as operators place them. **Coverage**: the city
is cut into cells; a cell farther than ``far_m`` from every station has no bike service;
with scooters placed in proportion to the people (or, without population figures, to the
area), a cell is covered when it can expect a scooter within walking distance (Poisson
placement: P = 1 - exp(-expected scooters within reach)). Cells are weighted by the
population of their eup/myeon/dong spread evenly over it, which is crude for the large
rural myeon and is said so in the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree  # type: ignore[import-untyped]

from citysmart.core.admin_areas import AdminArea
from citysmart.services.bikes.simulation import DETOUR, SimStation, Trip

FloatArray = npt.NDArray[np.float64]
LAT0 = 36.5  # Sejong: the local plane's reference latitude
M_PER_DEG_LAT = 110_540.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
WALK_M = 300.0  # how far a rider walks to a scooter
FAR_M = 500.0  # farther than this from every station: no bike service
SCOOTER_RANGE_M = 30_000.0  # a battery's range in city riding
CELL_M = 250.0


def to_plane(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Project lon/lat to metres on a local plane (good to metres across the city)."""
    return np.column_stack([np.asarray(lon) * M_PER_DEG_LON, np.asarray(lat) * M_PER_DEG_LAT])


@dataclass(frozen=True, slots=True)
class LostTripOutcome:
    """How many of the riders who found no bike a scooter fleet would have carried."""

    scooters: int
    lost_pickups: int
    served: int
    rides_per_scooter: float
    scooters_run_flat: int
    final_positions: tuple[tuple[float, float], ...] = ()  # lon, lat at the day's end
    final_charge: tuple[float, ...] = ()  # share of the battery's range left, 0..1

    @property
    def served_share(self) -> float:
        """Share of the lost pickups served."""
        return self.served / self.lost_pickups if self.lost_pickups else 0.0


def serve_lost_trips(
    stations: Sequence[SimStation],
    lost: Sequence[Trip],
    scooters: int,
    placement: FloatArray,
    rng: np.random.Generator,
    walk_m: float = WALK_M,
) -> LostTripOutcome:
    """Replay the lost pickups with ``scooters`` placed around stations by ``placement``."""
    if scooters < 0:
        raise ValueError("the number of scooters must be >= 0")
    if len(placement) != len(stations) or np.any(placement < 0) or placement.sum() <= 0:
        raise ValueError("placement needs one non-negative weight per station, not all zero")
    points = to_plane(np.array([s.lon for s in stations]), np.array([s.lat for s in stations]))
    homes = rng.choice(len(stations), size=scooters, p=placement / placement.sum())
    # Scatter each scooter around its station, as riders leave them on the pavement nearby.
    where = points[homes] + rng.normal(0.0, 80.0, size=(scooters, 2))
    free_at = np.zeros(scooters)
    range_left = np.full(scooters, SCOOTER_RANGE_M)
    served = 0
    for trip in sorted(lost, key=lambda t: t.time_s):
        if scooters == 0:
            break
        gap = np.hypot(*(where - points[trip.origin]).T)
        ride = float(np.hypot(*(points[trip.destination] - points[trip.origin]))) * DETOUR
        usable = (gap <= walk_m) & (free_at <= trip.time_s) & (range_left >= ride)
        if not usable.any():
            continue
        chosen = int(np.flatnonzero(usable)[np.argmin(gap[usable])])
        served += 1
        free_at[chosen] = trip.time_s + trip.duration_s
        range_left[chosen] -= ride
        where[chosen] = points[trip.destination] + rng.normal(0.0, 80.0, size=2)
    return LostTripOutcome(
        scooters=scooters,
        lost_pickups=len(lost),
        served=served,
        rides_per_scooter=served / scooters if scooters else 0.0,
        scooters_run_flat=int(np.sum(range_left < 2_000.0)),
        final_positions=tuple(
            (float(x / M_PER_DEG_LON), float(y / M_PER_DEG_LAT)) for x, y in where
        ),
        final_charge=tuple(float(r / SCOOTER_RANGE_M) for r in range_left),
    )


@dataclass(frozen=True, slots=True)
class CityCells:
    """The city cut into square cells: centres (lon/lat), their area code and weight."""

    lon: FloatArray
    lat: FloatArray
    area_codes: tuple[str, ...]
    weight: FloatArray  # people (or area) per cell, summing to the city's total
    weighted_by: str  # "population" or "area"


def city_cells(
    areas: Sequence[AdminArea],
    population: Mapping[str, float] | None = None,
    cell_m: float = CELL_M,
) -> CityCells:
    """Cut the city into cells and weight each by its area's population spread evenly."""
    if population is not None:
        missing = sorted(a.code for a in areas if a.code not in population)
        if missing:
            raise ValueError(f"no population for areas {', '.join(missing)}")
        if any(not math.isfinite(v) or v < 0 for v in population.values()):
            raise ValueError("population figures must be finite and >= 0")
    lons, lats, codes, weights = [], [], [], []
    for area in areas:
        west, south, east, north = area.geometry.bounds
        xs = np.arange(west, east, cell_m / M_PER_DEG_LON) + cell_m / M_PER_DEG_LON / 2
        ys = np.arange(south, north, cell_m / M_PER_DEG_LAT) + cell_m / M_PER_DEG_LAT / 2
        gx, gy = np.meshgrid(xs, ys)
        inside = shapely.contains_xy(area.geometry, gx.ravel(), gy.ravel())
        count = int(inside.sum())
        if count == 0:
            continue
        total = population[area.code] if population is not None else count * cell_m**2 / 1e6
        lons.append(gx.ravel()[inside])
        lats.append(gy.ravel()[inside])
        codes.extend([area.code] * count)
        weights.append(np.full(count, total / count))
    return CityCells(
        np.concatenate(lons),
        np.concatenate(lats),
        tuple(codes),
        np.concatenate(weights),
        "population" if population is not None else "area",
    )


@dataclass(frozen=True, slots=True)
class CoverageOutcome:
    """Who is far from any station, and how many of them scooters would reach."""

    scooters: int
    weighted_by: str
    far_share: float  # share of the weight farther than far_m from every station
    covered_share_of_far: float  # of that, the share with a scooter expected within reach
    far_by_area: dict[str, float]  # weight far from stations, per area
    covered_by_area: dict[str, float]  # of which covered
    far_cells: npt.NDArray[np.bool_]
    cover_probability: FloatArray


def coverage(
    cells: CityCells,
    stations: Sequence[SimStation],
    scooters: int,
    walk_m: float = WALK_M,
    far_m: float = FAR_M,
) -> CoverageOutcome:
    """Estimate how scooters placed like the people would cover cells far from stations."""
    if scooters < 0:
        raise ValueError("the number of scooters must be >= 0")
    centres = to_plane(cells.lon, cells.lat)
    station_points = to_plane(
        np.array([s.lon for s in stations]), np.array([s.lat for s in stations])
    )
    nearest, _ = cKDTree(station_points).query(centres)
    far = nearest > far_m
    expected = scooters * cells.weight / cells.weight.sum()  # scooters per cell
    tree = cKDTree(centres)
    reach = tree.query_ball_point(centres, r=walk_m)
    within = np.array([expected[idx].sum() for idx in reach])
    probability: FloatArray = 1.0 - np.exp(-within)
    total = float(cells.weight.sum())
    far_weight = float(cells.weight[far].sum())
    covered = float((cells.weight * probability)[far].sum())
    far_by_area: dict[str, float] = {}
    covered_by_area: dict[str, float] = {}
    for i in np.flatnonzero(far):
        code = cells.area_codes[i]
        far_by_area[code] = far_by_area.get(code, 0.0) + float(cells.weight[i])
        covered_by_area[code] = covered_by_area.get(code, 0.0) + float(
            cells.weight[i] * probability[i]
        )
    return CoverageOutcome(
        scooters=scooters,
        weighted_by=cells.weighted_by,
        far_share=far_weight / total if total else 0.0,
        covered_share_of_far=covered / far_weight if far_weight else 0.0,
        far_by_area=far_by_area,
        covered_by_area=covered_by_area,
        far_cells=far,
        cover_probability=probability,
    )
