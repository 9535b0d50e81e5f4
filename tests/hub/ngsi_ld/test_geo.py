"""NGSI-LD geo-queries on Sejong's real boundaries and AirKorea stations."""

from __future__ import annotations

import csv
import itertools
import json
import math
import random
from functools import cache
from typing import Any

import pytest
from shapely.geometry import shape
from sqlalchemy import text

from citysmart.core.paths import data_dir
from citysmart.hub.ngsi_ld.geo import (
    GeoQuery,
    GeoQueryError,
    Georel,
    bounding_box,
    distance_m,
    matches,
    parse_geoquery,
    to_postgis_sql,
)

R = 6_371_008.8
HANSOL, JOCHIWON, SAEROM, BORAM = "2901061", "2901011", "2901062", "2901058"


@cache
def dongs() -> dict[str, dict[str, Any]]:
    """The 17 eup/myeon/dong geometries of Sejong by code."""
    path = data_dir() / "sejong-admin-boundaries" / "sejong_emd_2018.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return {f["properties"]["code"]: f["geometry"] for f in features}


@cache
def stations() -> dict[str, tuple[float, float]]:
    """AirKorea stations in Sejong: name -> (longitude, latitude)."""
    path = data_dir() / "airkorea-stations" / "airkorea_stations_sejong.csv"
    with path.open(encoding="utf-8") as f:
        return {
            row["stationName"]: (float(row["dmY"]), float(row["dmX"])) for row in csv.DictReader(f)
        }


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def query(georel: str, geometry: dict[str, Any]) -> GeoQuery:
    return parse_geoquery(georel, geometry["type"], json.dumps(geometry["coordinates"]), None)


def chord_distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance via the 3D chord (independent of haversine)."""

    def unit(lon: float, lat: float) -> tuple[float, float, float]:
        lo, la = math.radians(lon), math.radians(lat)
        return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))

    chord = math.dist(unit(*a), unit(*b))
    return 2 * R * math.asin(min(1.0, chord / 2))


def destination(lon: float, lat: float, bearing: float, metres: float) -> tuple[float, float]:
    """The point at a distance and bearing from another, on the sphere."""
    p1, b, d = math.radians(lat), math.radians(bearing), metres / R
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    dl = math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lon2 = (math.degrees(math.radians(lon) + dl) + 540) % 360 - 180
    return lon2, math.degrees(p2)


def square(lon: float, lat: float, half: float) -> dict[str, Any]:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half]]
    return {"type": "Polygon", "coordinates": [[*ring, [lon - half, lat + half], ring[0]]]}


# -- parsing --------------------------------------------------------------------------


def test_parse_defaults_and_round_trip() -> None:
    q = parse_geoquery("near;maxDistance==1000", "Point", "[127.252529,36.474172]", None)
    assert q.georel is Georel.NEAR
    assert (q.max_distance, q.min_distance, q.geoproperty) == (1000.0, None, "location")
    assert q.coordinates == (127.252529, 36.474172)
    assert q.geojson == point(127.252529, 36.474172)
    assert q == parse_geoquery("near;maxDistance==1e3", "Point", [127.252529, 36.474172], None)
    geoq = q.to_geoq()
    assert geoq["georel"] == "near;maxDistance==1000"
    assert parse_geoquery(**geoq) == q


@pytest.mark.parametrize(
    ("georel", "max_distance", "min_distance"),
    [
        ("near;maxDistance==0", 0.0, None),
        ("near;maxDistance==2.5", 2.5, None),
        ("near;minDistance==1500", None, 1500.0),
    ],
)
def test_parse_near_distances(georel: str, max_distance: float, min_distance: float) -> None:
    q = parse_geoquery(georel, "Point", "[127.25, 36.47]", "observationSpace")
    assert (q.max_distance, q.min_distance, q.geoproperty) == (
        max_distance,
        min_distance,
        "observationSpace",
    )
    assert parse_geoquery(**q.to_geoq()) == q


@pytest.mark.parametrize(
    "georel", ["within", "contains", "intersects", "equals", "disjoint", "overlaps"]
)
def test_parse_every_georel_with_every_geometry(georel: str) -> None:
    geometries = {
        "Point": [127.25, 36.47],
        "MultiPoint": [[127.25, 36.47], [127.29, 36.48]],
        "LineString": [[127.25, 36.47], [127.29, 36.48]],
        "MultiLineString": [[[127.25, 36.47], [127.29, 36.48]]],
        "Polygon": square(127.25, 36.47, 0.01)["coordinates"],
        "MultiPolygon": [square(127.25, 36.47, 0.01)["coordinates"]],
    }
    for name, coordinates in geometries.items():
        q = parse_geoquery(georel, name, coordinates, None)
        assert (q.georel, q.geometry, q.geojson["coordinates"]) == (georel, name, coordinates)
        assert parse_geoquery(**q.to_geoq()) == q


RING_OPEN = [[127.0, 36.0], [127.1, 36.0], [127.1, 36.1], [127.0, 36.1]]
BOWTIE = [[[127.0, 36.0], [127.1, 36.1], [127.1, 36.0], [127.0, 36.1], [127.0, 36.0]]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, "Point", "[127, 36]"), "georel missing"),
        (("within", None, None), "geometry and coordinates missing"),
        ((None, None, None), "georel and geometry and coordinates missing"),
        (("nearby", "Point", "[127, 36]"), "'nearby' is not one of near;maxDistance"),
        (("Within", "Point", "[127, 36]"), "'Within' is not one of"),
        (("near", "Point", "[127, 36]"), "near takes one distance"),
        (("near;maxDistance=1000", "Point", "[127, 36]"), "near takes one distance"),
        (("near;maxDistance:1000", "Point", "[127, 36]"), "near takes one distance"),
        (("near;distance==10", "Point", "[127, 36]"), "near takes one distance"),
        (("near;maxDistance==10;minDistance==5", "Point", "[127, 36]"), "is not a number"),
        (("near;maxDistance==", "Point", "[127, 36]"), "maxDistance '' is not a number of metres"),
        (("near;maxDistance==abc", "Point", "[127, 36]"), "'abc' is not a number of metres"),
        (("near;maxDistance==NaN", "Point", "[127, 36]"), "'NaN' is not a number of metres"),
        (
            ("near;minDistance==-5", "Point", "[127, 36]"),
            "minDistance must be a finite, non-negative",
        ),
        (("near;maxDistance==1e999", "Point", "[127, 36]"), "maxDistance must be a finite"),
        (("within", "point", "[127, 36]"), "'point' is not one of Point, MultiPoint"),
        (("within", "Circle", "[127, 36]"), "(case-sensitive)"),
        (
            ("near;maxDistance==10", "Polygon", json.dumps([RING_OPEN + [RING_OPEN[0]]])),
            "near needs geometry Point, not Polygon",
        ),
        (("within", "Point", "127,36"), "coordinates: not JSON"),
        (("within", "Point", ""), "coordinates: not JSON"),
        (("within", "Point", '{"lon": 127}'), "coordinates: expected a position"),
        (("within", "Point", "[127]"), "coordinates: expected a position"),
        (("within", "Point", "[127, 36, 1, 2]"), "coordinates: expected a position"),
        (("within", "Point", '["127", 36]'), "coordinates: expected a position"),
        (("within", "Point", "[true, 36]"), "coordinates: expected a position"),
        (("within", "Point", "[127, NaN]"), "coordinates: expected a position"),
        (("within", "Point", "[200, 36]"), "coordinates: longitude 200 is outside [-180, 180]"),
        (("within", "Point", "[127, -95.5]"), "coordinates: latitude -95.5 is outside [-90, 90]"),
        (("within", "Point", "[36.47, 127.25]"), "latitude 127.25 is outside"),
        (("within", "LineString", "[[127, 36]]"), "coordinates: expected an array of at least 2"),
        (("within", "MultiPoint", "[]"), "coordinates: expected an array of at least 1"),
        (
            ("within", "MultiLineString", "[[[127, 36], [127, 37]], [127, 36]]"),
            "coordinates[1][0]: expected a position",
        ),
        (
            ("within", "LineString", "[[127, 36], [127, 36]]"),
            "not a valid LineString: Too few points",
        ),
        (("within", "Polygon", "[]"), "coordinates: expected an array of at least 1"),
        (
            ("within", "Polygon", json.dumps([RING_OPEN])),
            "coordinates[0]: a ring must end at its first position",
        ),
        (
            ("within", "Polygon", json.dumps([RING_OPEN[:2] + [RING_OPEN[0]]])),
            "coordinates[0]: expected an array of at least 4",
        ),
        (
            ("within", "Polygon", json.dumps([[[127, 36], [127, 36], [127, 36], [127, 36]]])),
            "not a valid Polygon",
        ),
        (("within", "Polygon", json.dumps(BOWTIE)), "not a valid Polygon: Self-intersection"),
        (
            ("within", "MultiPolygon", json.dumps([[RING_OPEN]])),
            "coordinates[0][0]: a ring must end",
        ),
        (
            (
                "within",
                "MultiPolygon",
                json.dumps([[[[127, 36], [127, 91], [128, 36], [127, 36]]]]),
            ),
            "coordinates[0][0][1]: latitude 91",
        ),
    ],
)
def test_parse_errors(args: tuple[str | None, str | None, str | None], message: str) -> None:
    georel, geometry, coordinates = args
    with pytest.raises(GeoQueryError) as caught:
        parse_geoquery(georel, geometry, coordinates, None)
    assert message in str(caught.value)


@pytest.mark.parametrize("geoproperty", ["", "loc ation", "a;b", "x==1"])
def test_parse_rejects_a_geoproperty_that_is_no_name(geoproperty: str) -> None:
    with pytest.raises(GeoQueryError, match="geoproperty: .* is not an attribute name"):
        parse_geoquery("within", "Point", "[127, 36]", geoproperty)


def test_parse_accepts_expanded_geoproperty_and_altitude() -> None:
    q = parse_geoquery(
        "intersects", "Point", "[127.25, 36.47, 40]", "https://uri.etsi.org/ngsi-ld/location"
    )
    assert q.geoproperty == "https://uri.etsi.org/ngsi-ld/location"
    assert matches(q, point(127.25, 36.47))


# -- topological relations --------------------------------------------------------------

STATION_DONG = {
    "신흥동": JOCHIWON,
    "아름동": "2901059",
    "한솔동": HANSOL,
    "부강면": "2901033",
    "보람동": BORAM,
    "전의면": "2901037",
}


def test_every_station_lies_within_its_own_dong_only() -> None:
    for name, (lon, lat) in stations().items():
        inside = {
            code for code, g in dongs().items() if matches(query("within", g), point(lon, lat))
        }
        assert inside == {STATION_DONG[name]}, name


def test_hansol_station_within_hansol_not_jochiwon() -> None:
    hansol_station = point(*stations()["한솔동"])
    assert matches(query("within", dongs()[HANSOL]), hansol_station)
    assert not matches(query("within", dongs()[JOCHIWON]), hansol_station)


def test_a_dong_contains_its_station_and_not_the_reverse() -> None:
    station = point(*stations()["한솔동"])
    assert matches(query("contains", station), dongs()[HANSOL])
    assert not matches(query("contains", station), dongs()[JOCHIWON])
    assert not matches(query("contains", dongs()[HANSOL]), station)  # a point holds no polygon
    assert matches(query("within", dongs()[HANSOL]), station)


def test_intersects_and_disjoint_are_complementary() -> None:
    hansol, boram = stations()["한솔동"], stations()["보람동"]
    references = [
        point(*hansol),
        {"type": "LineString", "coordinates": [list(hansol), list(boram)]},
        square(127.27, 36.49, 0.01),
        dongs()[SAEROM],
    ]
    for reference in references:
        hits = {c for c, g in dongs().items() if matches(query("intersects", reference), g)}
        misses = {c for c, g in dongs().items() if matches(query("disjoint", reference), g)}
        assert hits
        assert misses
        assert hits | misses == set(dongs())
        assert not hits & misses
    line = references[1]
    assert {HANSOL, BORAM} <= {
        c for c, g in dongs().items() if matches(query("intersects", line), g)
    }


def test_neighbouring_dongs_touch_but_do_not_overlap() -> None:
    saerom = query("overlaps", dongs()[SAEROM])
    assert matches(query("intersects", dongs()[SAEROM]), dongs()[HANSOL])
    assert not matches(saerom, dongs()[HANSOL])
    assert not matches(saerom, dongs()[SAEROM])  # a polygon does not overlap itself


def test_overlaps_needs_shared_and_unshared_area() -> None:
    lon, lat = stations()["한솔동"]
    part = square(lon, lat, 0.01)  # about 2 km across, astride Hansol-dong's edge
    whole = square(lon, lat, 0.2)
    assert matches(query("overlaps", part), dongs()[HANSOL])
    assert not matches(query("overlaps", whole), dongs()[HANSOL])
    assert matches(query("within", whole), dongs()[HANSOL])
    assert not matches(
        query("overlaps", point(lon, lat)), dongs()[HANSOL]
    )  # not the same dimension


def test_equals_is_topological() -> None:
    hansol = dongs()[HANSOL]
    ring = hansol["coordinates"][0][0][:-1]
    rotated = ring[5:] + ring[:5]
    reversed_ring = list(reversed([*rotated, rotated[0]]))
    same = {"type": "Polygon", "coordinates": [reversed_ring]}
    assert matches(query("equals", same), hansol)
    assert not matches(query("equals", same), dongs()[SAEROM])
    lon, lat = stations()["한솔동"]
    assert matches(query("equals", point(lon, lat)), point(lon, lat))
    assert not matches(query("equals", point(lon, lat)), point(lon, lat + 1e-7))


@pytest.mark.parametrize(
    "target",
    [
        None,
        {},
        {"type": "Point"},
        {"type": "Point", "coordinates": "127,36"},
        {"type": "Point", "coordinates": []},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [127.25, 36.47]}},
        {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [127.25, 36.47]}},
    ],
)
def test_a_missing_or_malformed_target_matches_nothing(target: Any) -> None:
    for georel in ("intersects", "disjoint", "near;maxDistance==100000", "near;minDistance==0"):
        assert not matches(parse_geoquery(georel, "Point", [127.25, 36.47], None), target)


def test_an_invalid_target_polygon_is_repaired_not_raised() -> None:
    bowtie = {"type": "Polygon", "coordinates": BOWTIE}
    assert matches(query("intersects", point(127.02, 36.05)), bowtie)
    assert matches(query("disjoint", point(127.5, 36.5)), bowtie)


# -- near ------------------------------------------------------------------------------


def near(lon: float, lat: float, georel: str) -> set[str]:
    q = parse_geoquery(georel, "Point", [lon, lat], None)
    return {name for name, (x, y) in stations().items() if matches(q, point(x, y))}


def test_boram_to_hansol_is_about_3_6_km() -> None:
    hansol, boram = stations()["한솔동"], stations()["보람동"]
    expected = chord_distance(hansol, boram)
    assert 3600 < expected < 3650
    assert distance_m(*hansol, shape(point(*boram))) == pytest.approx(expected, abs=1e-6)
    assert near(*hansol, "near;maxDistance==1000") == {"한솔동"}
    assert near(*hansol, f"near;maxDistance=={expected - 1:.3f}") == {"한솔동"}
    assert near(*hansol, f"near;maxDistance=={expected + 1:.3f}") == {"한솔동", "보람동"}
    assert near(*hansol, "near;maxDistance==5000") == {"한솔동", "보람동", "아름동"}  # 4.26 km
    assert near(*hansol, "near;minDistance==4000") == set(stations()) - {"한솔동", "보람동"}


def test_near_between_two_stations() -> None:
    (x1, y1), (x2, y2) = stations()["한솔동"], stations()["보람동"]
    mid = ((x1 + x2) / 2, (y1 + y2) / 2)
    assert near(*mid, "near;maxDistance==1000") == set()
    assert near(*mid, "near;maxDistance==2000") == {"한솔동", "보람동"}
    assert near(*mid, "near;minDistance==2000") == set(stations()) - {"한솔동", "보람동"}


def test_near_agrees_with_an_independent_distance_for_random_points() -> None:
    rng = random.Random(20260311)
    checked = 0
    for _ in range(300):
        centre = (rng.uniform(127.15, 127.42), rng.uniform(36.42, 36.72))
        radius = rng.choice([500.0, 1000.0, 2500.0, 5000.0, 10000.0, rng.uniform(0, 25000)])
        expected = {n: chord_distance(centre, s) for n, s in stations().items()}
        if any(abs(d - radius) < 0.01 for d in expected.values()):
            continue  # too close to the circle to call
        inside = {n for n, d in expected.items() if d <= radius}
        assert near(*centre, f"near;maxDistance=={radius!r}") == inside
        assert near(*centre, f"near;minDistance=={radius!r}") == set(stations()) - inside
        checked += 1
    assert checked > 250
    hansol = stations()["한솔동"]
    assert near(*hansol, "near;maxDistance==1000") == {
        n for n, s in stations().items() if chord_distance(hansol, s) <= 1000
    }


def test_near_to_a_polygon_measures_to_its_nearest_point() -> None:
    hansol_dong = shape(dongs()[HANSOL])
    (shell,) = dongs()[HANSOL]["coordinates"][0]  # one part, no holes (see SOURCE.md)
    boundary = [tuple(xy) for xy in shell]
    for name in ("보람동", "아름동", "신흥동"):
        lon, lat = stations()[name]
        got = distance_m(lon, lat, hansol_dong)
        densified: list[tuple[float, float]] = []
        for (ax, ay), (bx, by) in itertools.pairwise(boundary):
            densified += [(ax + (bx - ax) * t / 50, ay + (by - ay) * t / 50) for t in range(51)]
        expected = min(chord_distance((lon, lat), p) for p in densified)
        assert got == pytest.approx(expected, abs=0.5), name
        q = parse_geoquery(f"near;maxDistance=={expected + 1:.1f}", "Point", [lon, lat], None)
        assert matches(q, dongs()[HANSOL])
        q = parse_geoquery(f"near;maxDistance=={expected - 1:.1f}", "Point", [lon, lat], None)
        assert not matches(q, dongs()[HANSOL])
    assert distance_m(*stations()["한솔동"], hansol_dong) == 0.0
    assert matches(
        parse_geoquery("near;maxDistance==0", "Point", list(stations()["한솔동"]), None),
        dongs()[HANSOL],
    )
    line = {
        "type": "LineString",
        "coordinates": [list(stations()["한솔동"]), list(stations()["보람동"])],
    }
    assert distance_m(*stations()["한솔동"], shape(line)) == 0.0


# -- bounding boxes ---------------------------------------------------------------------


def inside(box: tuple[float, float, float, float], lon: float, lat: float) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def boxes_meet(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


@pytest.mark.parametrize("georel", ["disjoint", "near;minDistance==10"])
def test_no_box_for_what_cannot_be_boxed(georel: str) -> None:
    assert bounding_box(parse_geoquery(georel, "Point", [127.25, 36.47], None)) is None


def test_box_of_a_polygon_query_holds_every_match() -> None:
    for georel in ("within", "intersects", "contains", "overlaps", "equals"):
        q = query(georel, dongs()[HANSOL])
        box = bounding_box(q)
        assert box is not None
        assert box == pytest.approx(shape(dongs()[HANSOL]).bounds, abs=1e-8)
        targets = [*dongs().values(), *(point(*s) for s in stations().values())]
        for target in targets:
            if matches(q, target):
                assert boxes_meet(box, shape(target).bounds), (georel, target)


def test_box_of_a_near_circle_is_tight_at_city_scale() -> None:
    lon, lat = stations()["한솔동"]
    box = bounding_box(parse_geoquery("near;maxDistance==1000", "Point", [lon, lat], None))
    assert box is not None
    assert chord_distance((box[0], lat), (box[2], lat)) == pytest.approx(2000, rel=1e-3)
    assert chord_distance((lon, box[1]), (lon, box[3])) == pytest.approx(2000, rel=1e-6)
    assert inside(box, lon, lat)


@pytest.mark.parametrize(
    ("lon_range", "lat_range", "max_radius"),
    [
        ((127.15, 127.42), (36.42, 36.72), 20_000.0),  # Sejong
        ((-180.0, 180.0), (-85.0, 85.0), 2_000_000.0),  # anywhere, any size
        ((179.5, 180.0), (-10.0, 10.0), 200_000.0),  # beside the antimeridian
        ((-180.0, 180.0), (80.0, 90.0), 1_500_000.0),  # around the North Pole
    ],
)
def test_near_box_holds_every_point_near_matches(
    lon_range: tuple[float, float], lat_range: tuple[float, float], max_radius: float
) -> None:
    rng = random.Random(f"{lon_range}{lat_range}")
    matched = 0
    for _ in range(200):
        lon, lat = rng.uniform(*lon_range), rng.uniform(*lat_range)
        radius = rng.uniform(0, max_radius)
        q = parse_geoquery(f"near;maxDistance=={radius!r}", "Point", [lon, lat], None)
        box = bounding_box(q)
        assert box is not None
        for _ in range(40):
            # mostly on the rim, where a box that is too small would show
            metres = radius * rng.choice([rng.uniform(0.99, 1.0), rng.uniform(0, 1.01)])
            x, y = destination(lon, lat, rng.uniform(0, 360), metres)
            if matches(q, point(x, y)):
                matched += 1
                assert inside(box, x, y), (lon, lat, radius, x, y, box)
    assert matched > 4000


# -- PostGIS ----------------------------------------------------------------------------

REFERENCE = "ST_SetSRID(ST_GeomFromGeoJSON(:geoq_geometry), 4326)"


@pytest.mark.parametrize(
    ("georel", "sql"),
    [
        ("within", f"ST_Within(a.location, {REFERENCE})"),
        ("contains", f"ST_Contains(a.location, {REFERENCE})"),
        ("intersects", f"ST_Intersects(a.location, {REFERENCE})"),
        ("equals", f"ST_Equals(a.location, {REFERENCE})"),
        ("disjoint", f"ST_Disjoint(a.location, {REFERENCE})"),
        ("overlaps", f"ST_Overlaps(a.location, {REFERENCE})"),
        (
            "near;maxDistance==1000",
            f"ST_DWithin(a.location::geography, {REFERENCE}::geography, :geoq_distance, false)",
        ),
        (
            "near;minDistance==1000",
            f"NOT ST_DWithin(a.location::geography, {REFERENCE}::geography, :geoq_distance, false)",
        ),
    ],
)
def test_postgis_sql(georel: str, sql: str) -> None:
    q = parse_geoquery(georel, "Point", "[127.252529, 36.474172]", None)
    got, params = to_postgis_sql(q, "a.location")
    assert got == sql
    assert json.loads(params.pop("geoq_geometry")) == point(127.252529, 36.474172)
    assert params == ({"geoq_distance": 1000.0} if georel.startswith("near") else {})
    assert set(text(got).compile().params) == {"geoq_geometry", *params}


def test_postgis_sql_carries_the_polygon_and_a_prefix() -> None:
    got, params = to_postgis_sql(query("within", dongs()[HANSOL]), "location", prefix="g1")
    assert got == "ST_Within(location, ST_SetSRID(ST_GeomFromGeoJSON(:g1_geometry), 4326))"
    assert json.loads(params["g1_geometry"]) == dongs()[HANSOL]


@pytest.mark.parametrize(
    ("column", "prefix"), [("location; DROP TABLE x", "geoq"), ("1col", "geoq"), ("loc", "a.b")]
)
def test_postgis_sql_refuses_what_is_no_identifier(column: str, prefix: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        to_postgis_sql(query("within", point(127.0, 36.0)), column, prefix=prefix)
