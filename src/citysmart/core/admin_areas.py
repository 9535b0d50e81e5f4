"""Sejong's eup/myeon/dong polygons (KOSTAT 2018), read once per process, for any service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from citysmart.core.paths import data_dir


@dataclass(frozen=True)
class AdminArea:
    """An eup, myeon or dong with its polygon (lon/lat)."""

    code: str
    name_ko: str
    name_en: str
    geometry: BaseGeometry
    geojson: dict[str, Any]


@lru_cache(maxsize=1)
def load_admin_areas() -> tuple[AdminArea, ...]:
    """Return Sejong's 17 eup/myeon/dong, by code."""
    path = data_dir() / "sejong-admin-boundaries" / "sejong_emd_2018.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    areas = [
        AdminArea(
            str(f["properties"]["code"]),
            str(f["properties"]["name"]),
            str(f["properties"].get("name_eng") or f["properties"]["name"]),
            shape(f["geometry"]),
            f["geometry"],
        )
        for f in features
    ]
    return tuple(sorted(areas, key=lambda a: a.code))


@lru_cache(maxsize=1)
def city_boundary() -> BaseGeometry:
    """Return the city's boundary (the union of its areas)."""
    return shapely.union_all([a.geometry for a in load_admin_areas()])
