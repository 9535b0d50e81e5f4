"""near on points decided in SQL answers as the spherical computation in Python does."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from citysmart.core.geo import EARTH_RADIUS_M, haversine_m
from citysmart.hub.runtime import HubRuntime
from tests.hub.ngsi_ld.test_entity_writes import operator

BASE = "/ngsi-ld/v1"
LON, LAT = 127.2890, 36.4800
OFFSETS_M = [0.0, 500.0, 999.0, 999.995, 1000.0, 1000.004, 1001.0, 2500.0]


def north_of(metres: float) -> float:
    """Return the latitude ``metres`` north of the centre along its meridian."""
    return LAT + math.degrees(metres / EARTH_RADIUS_M)


@pytest.mark.parametrize(("relation", "limit"), [("maxDistance", 1000.0), ("minDistance", 1000.0)])
def test_near_on_points_matches_the_haversine_at_the_boundary(
    client: TestClient, runtime: HubRuntime, relation: str, limit: float
) -> None:
    entities = [
        {
            "id": f"urn:ngsi-ld:Kiosk:k{i}",
            "type": "Kiosk",
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [LON, north_of(d)]},
            },
        }
        for i, d in enumerate(OFFSETS_M)
    ]
    created = client.post(
        f"{BASE}/entityOperations/create", json=entities, headers=operator(runtime)
    )
    assert created.status_code == 201, created.text
    answer = client.get(
        f"{BASE}/entities",
        params={
            "type": "Kiosk",
            "georel": f"near;{relation}=={limit:g}",
            "geometry": "Point",
            "coordinates": f"[{LON},{LAT}]",
            "limit": 100,
        },
    )
    assert answer.status_code == 200, answer.text
    expected = set()
    for e in entities:
        lon, lat = e["location"]["value"]["coordinates"]
        d = haversine_m(LON, LAT, lon, lat)
        if (d <= limit) if relation == "maxDistance" else (d >= limit):
            expected.add(e["id"])
    assert {e["id"] for e in answer.json()} == expected
    assert 2 < len(expected) < len(entities)
