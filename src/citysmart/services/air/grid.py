"""A regular grid over a city boundary, clipped to it, and per-area (dong) statistics of a surface.

Everything that depends on the boundary alone (the mask, the cell centres inside it, each
cell's dong) is computed once per grid in ``make_grid``, so drawing an hour's surface is
one prediction over the kept cells.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from citysmart.services.air.interpolation import (
    AnyFloatArray,
    FloatArray,
    LocalProjection,
    Model,
)

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
Float32Array = npt.NDArray[np.float32]


def load_areas(path: Path, name_property: str = "name") -> dict[str, BaseGeometry]:
    """Read a GeoJSON FeatureCollection of polygons: area name -> geometry (lon/lat)."""
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
        features = collection["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable GeoJSON FeatureCollection ({exc})") from exc
    areas: dict[str, BaseGeometry] = {}
    for number, feature in enumerate(features):
        try:
            name = str(feature["properties"][name_property])
            areas[name] = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: feature {number} has no usable geometry or name") from exc
    if not areas:
        raise ValueError(f"{path}: no features")
    return areas


def load_boundary(path: Path) -> BaseGeometry:
    """Read a GeoJSON boundary (all its features united) in lon/lat."""
    return shapely.union_all(list(load_areas(path).values()))


def _project(geometry: BaseGeometry, projection: LocalProjection) -> BaseGeometry:
    """Project a lon/lat geometry into the projection's metres."""
    return shapely.transform(geometry, lambda c: projection.forward(c[:, 0], c[:, 1]))


@dataclass(frozen=True)
class Grid:
    """Cell centres of a regular grid (metres), the cells inside the boundary and their areas."""

    projection: LocalProjection
    x: FloatArray
    y: FloatArray
    mask: BoolArray
    points: Float32Array
    area_names: tuple[str, ...]
    area_of_point: IntArray
    area_anchor: FloatArray  # one point inside each area (metres), for areas without a cell
    _order: IntArray
    _starts: IntArray

    @property
    def shape(self) -> tuple[int, int]:
        """Return (rows, columns); rows run south to north."""
        return (len(self.y), len(self.x))

    def lonlat(self) -> tuple[FloatArray, FloatArray]:
        """Return the longitudes of the columns and the latitudes of the rows."""
        lon, _ = self.projection.inverse(self.x, np.zeros_like(self.x))
        _, lat = self.projection.inverse(np.zeros_like(self.y), self.y)
        return lon, lat


def make_grid(
    boundary: BaseGeometry,
    shape_: tuple[int, int] = (1000, 1000),
    *,
    areas: Mapping[str, BaseGeometry] | None = None,
    projection: LocalProjection | None = None,
) -> Grid:
    """Lay a (rows, columns) grid over a lon/lat boundary's extent and mask it to the boundary.

    ``areas`` (name -> lon/lat polygon) label each kept cell with the area holding its
    centre (-1 where none does). The projection defaults to one centred on the boundary.
    """
    rows, columns = shape_
    if rows < 1 or columns < 1:
        raise ValueError("a grid needs at least one row and one column")
    if projection is None:
        centre = boundary.centroid
        projection = LocalProjection(centre.x, centre.y)
    outline = _project(boundary, projection)
    x0, y0, x1, y1 = outline.bounds
    x = x0 + (np.arange(columns) + 0.5) * (x1 - x0) / columns
    y = y0 + (np.arange(rows) + 0.5) * (y1 - y0) / rows
    xx, yy = np.meshgrid(x, y)
    shapely.prepare(outline)
    mask = shapely.contains_xy(outline, xx, yy)
    points = np.column_stack([xx[mask], yy[mask]]).astype(np.float32)
    names = tuple(areas) if areas else ()
    area_of_point = np.full(len(points), -1, dtype=np.intp)
    anchors = np.zeros((len(names), 2))
    for index, name in enumerate(names):
        assert areas is not None
        polygon = _project(areas[name], projection)
        anchor = polygon.representative_point()
        anchors[index] = (anchor.x, anchor.y)
        px0, py0, px1, py1 = polygon.bounds
        # The bounding box first: each dong covers a small part of the city.
        near = np.flatnonzero(
            (points[:, 0] >= px0)
            & (points[:, 0] <= px1)
            & (points[:, 1] >= py0)
            & (points[:, 1] <= py1)
        )
        shapely.prepare(polygon)
        inside = shapely.contains_xy(polygon, points[near, 0], points[near, 1])
        unlabelled = area_of_point[near[inside]] == -1
        area_of_point[near[inside][unlabelled]] = index
    order = np.argsort(area_of_point, kind="stable")
    starts = np.searchsorted(area_of_point[order], np.arange(len(names) + 1))
    return Grid(projection, x, y, mask, points, names, area_of_point, anchors, order, starts)


def surface_values(grid: Grid, model: Model) -> AnyFloatArray:
    """Predict ``model`` at every kept cell (in ``grid.points`` order)."""
    return model.predict(grid.points)


def to_raster(grid: Grid, values: AnyFloatArray) -> Float32Array:
    """Place kept-cell values on the full (rows, columns) grid, NaN outside the boundary."""
    raster = np.full(grid.shape, np.nan, dtype=np.float32)
    raster[grid.mask] = values
    return raster


@dataclass(frozen=True)
class AreaStats:
    """Mean and worst (highest) surface value over one area's cells."""

    name: str
    mean: float
    worst: float
    cells: int


def area_stats(grid: Grid, values: AnyFloatArray, model: Model | None = None) -> list[AreaStats]:
    """Return each area's mean and worst value of a surface given at the kept cells.

    An area too small to hold a cell centre takes ``model``'s value at a point inside it
    (``cells`` is then 0); without a model its figures are NaN.
    """
    if len(values) != len(grid.points):
        raise ValueError(f"{len(values)} values for {len(grid.points)} cells")
    ordered = np.asarray(values, dtype=np.float64)[grid._order]
    stats: list[AreaStats] = []
    # Cells outside every area sort first (label -1); starts[k] opens area k.
    for index, name in enumerate(grid.area_names):
        begin, end = int(grid._starts[index]), int(grid._starts[index + 1])
        part = ordered[begin:end]
        if len(part) == 0:
            value = float("nan")
            if model is not None:
                value = float(model.predict(grid.area_anchor[index : index + 1])[0])
            stats.append(AreaStats(name, value, value, 0))
        else:
            stats.append(AreaStats(name, float(part.mean()), float(part.max()), len(part)))
    return stats
