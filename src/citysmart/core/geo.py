"""Small geometry helpers on WGS84 longitude/latitude."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Ring = Sequence[Sequence[float]]
EARTH_RADIUS_M = 6_371_008.8


def point_in_ring(lon: float, lat: float, ring: Ring) -> bool:
    """Ray casting: whether a point lies inside a closed ring."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def point_in_multipolygon(lon: float, lat: float, polygons: Sequence[Sequence[Ring]]) -> bool:
    """Whether a point lies in a GeoJSON MultiPolygon's coordinates (holes respected)."""
    for rings in polygons:
        inside = bool(rings) and point_in_ring(lon, lat, rings[0])
        if inside and not any(point_in_ring(lon, lat, hole) for hole in rings[1:]):
            return True
    return False


def random_points_in(
    polygons: Sequence[Sequence[Ring]], count: int, rng: random.Random
) -> list[tuple[float, float]]:
    """Draw points uniformly inside a MultiPolygon by rejection from its bounding box."""
    xs = [p[0] for rings in polygons for p in rings[0]]
    ys = [p[1] for rings in polygons for p in rings[0]]
    points: list[tuple[float, float]] = []
    while len(points) < count:
        lon, lat = rng.uniform(min(xs), max(xs)), rng.uniform(min(ys), max(ys))
        if point_in_multipolygon(lon, lat, polygons):
            points.append((round(lon, 6), round(lat, 6)))
    return points


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
