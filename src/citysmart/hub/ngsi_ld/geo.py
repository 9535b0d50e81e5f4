"""NGSI-LD geo-queries (ETSI GS CIM 009 clause 4.10), as pure functions.

:func:`parse_geoquery` validates ``georel``, ``geometry``, ``coordinates`` and
``geoproperty`` into a :class:`GeoQuery`; :func:`matches` tests one entity's GeoJSON
geometry (the *target*) against the query's (the *reference*); :func:`bounding_box` and
:func:`to_postgis_sql` let a database narrow or answer the same question.

Where the clause leaves room, this module decides as follows:

- The target is the subject: ``within`` means the entity lies within the query geometry,
  ``contains`` that the entity contains it (as Stellio corrected in its PR #1305).
- ``within``, ``contains``, ``intersects``, ``equals``, ``disjoint`` and ``overlaps`` are
  the OGC Simple Features predicates on longitude/latitude taken as a plane, as RFC 7946
  draws GeoJSON edges and as PostGIS ``geometry`` columns compute. Brokers on MongoDB
  follow great circles instead; a 10 km edge at Sejong's latitude bows about 1.5 m apart.
- ``near`` takes a Point and exactly one of ``maxDistance`` or ``minDistance``, a
  non-negative number of metres (``1000``, ``2.5``, ``1e3``), both bounds inclusive.
  Distances are on a sphere of radius 6,371,008.8 m (PostGIS's sphere; its spheroid
  differs by up to 0.5 %): haversine to a point target, and otherwise the distance to the
  nearest point of the target in an azimuthal equidistant projection centred on the query
  point, which keeps every vertex's distance exact and edges close to great circles. Within
  20 km of the point this agrees with PostGIS ``geography`` (great-circle edges) to 1 cm
  for edges up to 10 km; edges drawn straight in longitude/latitude bow away from those by
  1.5 m for a 10 km edge at Sejong's latitude, and by 1 cm for a 1 km edge.
- ``geometry`` names are case-sensitive, as in the grammar. ``coordinates`` is a JSON
  array (text, as in a query string, or already parsed, as in a ``geoQ``); positions may
  carry an altitude, which is ignored. Rings must be closed with at least four positions,
  and polygons valid in the OGC sense (no self-intersection).
- A target that is missing, malformed or empty matches nothing, not even ``disjoint``;
  an invalid target polygon is repaired with ``make_valid`` before testing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.errors import ShapelyError
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from citysmart.core.geo import EARTH_RADIUS_M, haversine_m

DEFAULT_GEOPROPERTY: Final = "location"
GEOMETRIES: Final = (
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
)  # fmt: skip
BoundingBox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat

_NEAR: Final = re.compile(r"near;(maxDistance|minDistance)==(.*)")
_NUMBER: Final = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
_NAME: Final = re.compile(r"[^\s\"'<>=;,()\[\]{}]+")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")
_RELATIONS: Final = frozenset(
    {"within", "contains", "intersects", "equals", "disjoint", "overlaps"}
)
_BOX_MARGIN_DEG: Final = 1e-9  # about 0.1 mm, for floating-point rounding


class GeoQueryError(ValueError):
    """A geo-query that does not follow clause 4.10 (a 400 BadRequestData)."""


class Georel(StrEnum):
    """A geospatial relationship of the target to the reference geometry."""

    NEAR = "near"
    WITHIN = "within"
    CONTAINS = "contains"
    INTERSECTS = "intersects"
    EQUALS = "equals"
    DISJOINT = "disjoint"
    OVERLAPS = "overlaps"


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """A validated geo-query; ``coordinates`` are nested tuples of floats."""

    georel: Georel
    geometry: str
    coordinates: tuple[Any, ...]
    shape: BaseGeometry = field(compare=False, repr=False)
    geoproperty: str = DEFAULT_GEOPROPERTY
    max_distance: float | None = None
    min_distance: float | None = None

    @property
    def geojson(self) -> dict[str, Any]:
        """Return the reference geometry as a GeoJSON object."""
        return {"type": self.geometry, "coordinates": _thaw(self.coordinates)}

    def to_geoq(self) -> dict[str, Any]:
        """Return the query as a ``geoQ`` member of a subscription or query body."""
        georel = str(self.georel)
        if self.max_distance is not None:
            georel += f";maxDistance=={self.max_distance:.15g}"
        elif self.min_distance is not None:
            georel += f";minDistance=={self.min_distance:.15g}"
        geoq = {"geometry": self.geometry, "coordinates": _thaw(self.coordinates)}
        return {**geoq, "georel": georel, "geoproperty": self.geoproperty}


def parse_geoquery(
    georel: str | None,
    geometry: str | None,
    coordinates: str | list[Any] | None,
    geoproperty: str | None = None,
) -> GeoQuery:
    """Validate the parts of a geo-query; all of georel, geometry and coordinates are needed."""
    if georel is None or geometry is None or coordinates is None:
        given = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
        missing = " and ".join(name for name, value in given.items() if value is None)
        raise GeoQueryError(
            f"geo-query: {missing} missing; georel, geometry and coordinates go together"
        )
    relation, max_distance, min_distance = _parse_georel(georel)
    if geometry not in GEOMETRIES:
        raise GeoQueryError(
            f"geometry: {geometry!r} is not one of {', '.join(GEOMETRIES)} (case-sensitive)"
        )
    if relation is Georel.NEAR and geometry != "Point":
        raise GeoQueryError(f"georel: near needs geometry Point, not {geometry}")
    if isinstance(coordinates, str):
        try:
            coordinates = json.loads(coordinates)
        except ValueError:
            raise GeoQueryError(
                f"coordinates: not JSON, expected an array like [127.25, 36.48]: {coordinates!r}"
            ) from None
    _check_coordinates(geometry, coordinates)
    frozen = _freeze(coordinates)
    reference = shape({"type": geometry, "coordinates": coordinates})
    if not reference.is_valid:
        reason = shapely.is_valid_reason(reference)
        raise GeoQueryError(f"coordinates: not a valid {geometry}: {reason}")
    if geoproperty is None:
        geoproperty = DEFAULT_GEOPROPERTY
    elif not _NAME.fullmatch(geoproperty):
        raise GeoQueryError(f"geoproperty: {geoproperty!r} is not an attribute name")
    return GeoQuery(relation, geometry, frozen, reference, geoproperty, max_distance, min_distance)


def matches(query: GeoQuery, geometry: Mapping[str, Any] | None) -> bool:
    """Tell whether an entity's GeoJSON geometry (the target) satisfies the query."""
    target = _target(geometry)
    if target is None:
        return False
    if query.georel is Georel.NEAR:
        distance = distance_m(query.coordinates[0], query.coordinates[1], target)
        if query.max_distance is not None:
            return distance <= query.max_distance
        assert query.min_distance is not None
        return distance >= query.min_distance
    return _PREDICATES[query.georel](target, query.shape)


def distance_m(lon: float, lat: float, target: BaseGeometry) -> float:
    """Return the spherical distance in metres from a point to the nearest point of a geometry."""
    if isinstance(target, Point):
        return haversine_m(lon, lat, target.x, target.y)

    def project(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        # azimuthal equidistant around (lon, lat): range and bearing of each vertex
        lat0, lam = math.radians(lat), np.radians(xy[:, 0] - lon)
        phi = np.radians(xy[:, 1])
        a = np.sin((phi - lat0) / 2) ** 2 + math.cos(lat0) * np.cos(phi) * np.sin(lam / 2) ** 2
        rng = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        bearing = np.arctan2(
            np.sin(lam) * np.cos(phi),
            math.cos(lat0) * np.sin(phi) - math.sin(lat0) * np.cos(phi) * np.cos(lam),
        )
        return np.column_stack((rng * np.sin(bearing), rng * np.cos(bearing)))

    return float(shapely.transform(target, project).distance(Point(0.0, 0.0)))


def bounding_box(query: GeoQuery) -> BoundingBox | None:
    """Return a box every matching target intersects, or None when no box can bound them."""
    if query.georel is Georel.DISJOINT or query.min_distance is not None:
        return None
    if query.georel is not Georel.NEAR:
        min_lon, min_lat, max_lon, max_lat = query.shape.bounds
        return _widen(min_lon, min_lat, max_lon, max_lat)
    assert query.max_distance is not None
    lon, lat = query.coordinates[0], query.coordinates[1]
    radius = query.max_distance / EARTH_RADIUS_M  # angular radius of the circle
    south, north = lat - math.degrees(radius), lat + math.degrees(radius)
    if north >= 90 or south <= -90:  # the circle holds a pole: every longitude
        return _widen(-180, south, 180, north)
    # the meridians tangent to a small circle: sin(dlon) = sin(radius) / cos(lat)
    dlon = math.degrees(math.asin(min(1.0, math.sin(radius) / math.cos(math.radians(lat)))))
    if lon - dlon < -180 or lon + dlon > 180:  # across the antimeridian: one box cannot
        return _widen(-180, south, 180, north)
    return _widen(lon - dlon, south, lon + dlon, north)


def to_postgis_sql(
    query: GeoQuery, column: str, *, prefix: str = "geoq"
) -> tuple[str, dict[str, Any]]:
    """Return a PostGIS WHERE fragment and its bound parameters for a geometry(4326) column."""
    if not _IDENTIFIER.fullmatch(column):
        raise ValueError(f"not a column name: {column!r}")
    if not _IDENTIFIER.fullmatch(prefix) or "." in prefix:
        raise ValueError(f"not a parameter prefix: {prefix!r}")
    params: dict[str, Any] = {f"{prefix}_geometry": json.dumps(query.geojson)}
    reference = f"ST_SetSRID(ST_GeomFromGeoJSON(:{prefix}_geometry), 4326)"
    if query.georel is Georel.NEAR:
        # use_spheroid false: the same sphere as matches(), so both agree to the metre
        distance = query.max_distance if query.max_distance is not None else query.min_distance
        params[f"{prefix}_distance"] = distance
        sql = f"ST_DWithin({column}::geography, {reference}::geography, :{prefix}_distance, false)"
        # NOT ST_DWithin is distance > d where matches() says >= d: they differ only on the rim
        return (sql if query.max_distance is not None else f"NOT {sql}"), params
    return f"ST_{query.georel.capitalize()}({column}, {reference})", params


_PREDICATES: Final[dict[Georel, Callable[[BaseGeometry, BaseGeometry], bool]]] = {
    Georel.WITHIN: lambda target, reference: target.within(reference),
    Georel.CONTAINS: lambda target, reference: target.contains(reference),
    Georel.INTERSECTS: lambda target, reference: target.intersects(reference),
    Georel.EQUALS: lambda target, reference: target.equals(reference),
    Georel.DISJOINT: lambda target, reference: target.disjoint(reference),
    Georel.OVERLAPS: lambda target, reference: target.overlaps(reference),
}


def _parse_georel(text: str) -> tuple[Georel, float | None, float | None]:
    """Split a georel into its relation and its near distance."""
    if text in _RELATIONS:
        return Georel(text), None, None
    if text != "near" and not text.startswith("near;"):
        raise GeoQueryError(
            f"georel: {text!r} is not one of near;maxDistance==<metres>, "
            "near;minDistance==<metres>, within, contains, intersects, equals, disjoint, overlaps"
        )
    found = _NEAR.fullmatch(text)
    if found is None:
        raise GeoQueryError(
            "georel: near takes one distance, as near;maxDistance==<metres> "
            f"or near;minDistance==<metres>, not {text!r}"
        )
    modifier, number = found.groups()
    if not _NUMBER.fullmatch(number):
        raise GeoQueryError(f"georel: {modifier} {number!r} is not a number of metres")
    distance = float(number)
    if not math.isfinite(distance) or distance < 0:
        raise GeoQueryError(f"georel: {modifier} must be a finite, non-negative number of metres")
    if modifier == "maxDistance":
        return Georel.NEAR, distance, None
    return Georel.NEAR, None, distance


def _check_coordinates(geometry: str, value: Any) -> None:
    """Check the nesting, sizes, ranges and closed rings of a geometry's coordinates."""
    where = "coordinates"
    if geometry == "Point":
        _position(value, where)
    elif geometry in ("MultiPoint", "LineString"):
        _line(value, where, 1 if geometry == "MultiPoint" else 2)
    elif geometry == "MultiLineString":
        for i, line in enumerate(_array(value, where, 1)):
            _line(line, f"{where}[{i}]", 2)
    elif geometry == "Polygon":
        _polygon(value, where)
    else:
        for i, polygon in enumerate(_array(value, where, 1)):
            _polygon(polygon, f"{where}[{i}]")


def _array(value: Any, where: str, minimum: int) -> list[Any]:
    """Check that a value is an array of at least ``minimum`` members."""
    if not isinstance(value, list | tuple) or len(value) < minimum:
        raise GeoQueryError(f"{where}: expected an array of at least {minimum}, got {value!r}")
    return list(value)


def _position(value: Any, where: str) -> None:
    """Check one [longitude, latitude] position."""
    numbers = isinstance(value, list | tuple) and 2 <= len(value) <= 3
    if not numbers or not all(_finite(v) for v in value):
        raise GeoQueryError(f"{where}: expected a position [longitude, latitude], got {value!r}")
    if not -180 <= value[0] <= 180:
        raise GeoQueryError(f"{where}: longitude {value[0]} is outside [-180, 180]")
    if not -90 <= value[1] <= 90:
        raise GeoQueryError(f"{where}: latitude {value[1]} is outside [-90, 90]")


def _line(value: Any, where: str, minimum: int) -> None:
    """Check an array of positions."""
    for i, position in enumerate(_array(value, where, minimum)):
        _position(position, f"{where}[{i}]")


def _polygon(value: Any, where: str) -> None:
    """Check a polygon's closed rings (the first is the shell, the rest holes)."""
    for i, ring in enumerate(_array(value, where, 1)):
        _line(ring, f"{where}[{i}]", 4)
        if list(ring[0]) != list(ring[-1]):
            raise GeoQueryError(f"{where}[{i}]: a ring must end at its first position")


def _finite(value: Any) -> bool:
    """Tell whether a JSON value is a finite number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _freeze(value: Any) -> Any:
    """Turn nested arrays of numbers into nested tuples of floats."""
    return tuple(_freeze(v) for v in value) if isinstance(value, list | tuple) else float(value)


def _thaw(value: Any) -> Any:
    """Turn nested tuples back into nested lists."""
    return [_thaw(v) for v in value] if isinstance(value, tuple) else value


def _target(geometry: Mapping[str, Any] | None) -> BaseGeometry | None:
    """Build a usable shapely geometry from an entity's GeoJSON value, or None."""
    if not isinstance(geometry, Mapping) or geometry.get("type") not in GEOMETRIES:
        return None
    try:
        target = shape(dict(geometry))
        if target.is_empty:
            return None
        return target if target.is_valid else shapely.make_valid(target)
    except (ShapelyError, ValueError, TypeError, AttributeError, IndexError, KeyError):
        return None


def _widen(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> BoundingBox:
    """Grow a box by a rounding margin, within the longitude and latitude ranges."""
    m = _BOX_MARGIN_DEG
    return (
        max(-180.0, min_lon - m), max(-90.0, min_lat - m),
        min(180.0, max_lon + m), min(90.0, max_lat + m),
    )  # fmt: skip
