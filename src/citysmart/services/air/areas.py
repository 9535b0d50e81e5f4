"""Sejong's areas for the air service: the eup/myeon/dong polygons, the boundary and the map grid.

Read once per process from the shipped KOSTAT 2018 boundaries
(``data/sejong-admin-boundaries``). The map grid has square cells of about
:data:`CELL_M` metres over the city's bounding box, clipped to the city boundary; as the
grid's projection is equirectangular, its rows and columns are evenly spaced in latitude
and longitude, so a raster of it covers exactly the lon/lat rectangle :func:`bounds`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from citysmart.core.paths import data_dir
from citysmart.services.air.grid import Grid, make_grid

CELL_M = 40.0
# The nine areas of Sejong's fine-dust pilot (the City Smart Project's task 1): the seven
# new-town dongs, Jochiwon-eup and Bugang-myeon. The demo simulator places its low-cost
# sensors in the same nine.
PILOT_AREA_CODES = frozenset(
    ("2901011", "2901033", "2901053", "2901056", "2901058")
    + ("2901059", "2901060", "2901061", "2901062")
)


@dataclass(frozen=True)
class Area:
    """An eup, myeon or dong with its polygon (lon/lat)."""

    code: str
    name_ko: str
    name_en: str
    geometry: BaseGeometry
    geojson: dict[str, Any]

    @property
    def pilot(self) -> bool:
        """Tell whether the area is one of the fine-dust pilot's nine."""
        return self.code in PILOT_AREA_CODES


def boundaries_dir() -> Path:
    """Return the folder of Sejong's shipped boundaries."""
    return data_dir() / "sejong-admin-boundaries"


@lru_cache(maxsize=1)
def load_areas() -> tuple[Area, ...]:
    """Return Sejong's 17 eup/myeon/dong, by code."""
    path = boundaries_dir() / "sejong_emd_2018.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    areas = [
        Area(
            str(f["properties"]["code"]),
            str(f["properties"]["name"]),
            str(f["properties"].get("name_eng") or f["properties"]["name"]),
            shape(f["geometry"]),
            f["geometry"],
        )
        for f in features
    ]
    return tuple(sorted(areas, key=lambda a: a.code))


def areas_by_code() -> dict[str, Area]:
    """Return the areas keyed by their code."""
    return {a.code: a for a in load_areas()}


@lru_cache(maxsize=1)
def boundary() -> BaseGeometry:
    """Return the city's boundary (the union of its areas)."""
    return shapely.union_all([a.geometry for a in load_areas()])


def area_of(lon: float, lat: float) -> str | None:
    """Return the code of the area holding a point, or None outside the city."""
    point = Point(lon, lat)
    for area in load_areas():
        if area.geometry.covers(point):
            return area.code
    return None


def bounds() -> tuple[tuple[float, float], tuple[float, float]]:
    """Return the map's ((south, west), (north, east)) in degrees, as Leaflet takes them."""
    west, south, east, north = boundary().bounds
    return (south, west), (north, east)


@lru_cache(maxsize=2)
def city_grid(cell_m: float = CELL_M) -> Grid:
    """Return the map grid (built once per process): square cells of about ``cell_m``."""
    outline = boundary()
    west, south, east, north = outline.bounds
    middle = math.radians((south + north) / 2)
    metres_per_degree = math.radians(1.0) * 6_371_008.8
    width = (east - west) * metres_per_degree * math.cos(middle)
    height = (north - south) * metres_per_degree
    rows = max(1, math.ceil(height / cell_m))
    columns = max(1, math.ceil(width / cell_m))
    return make_grid(outline, (rows, columns), areas={a.code: a.geometry for a in load_areas()})


__all__ = [
    "CELL_M",
    "PILOT_AREA_CODES",
    "Area",
    "area_of",
    "areas_by_code",
    "boundary",
    "bounds",
    "city_grid",
    "load_areas",
]
