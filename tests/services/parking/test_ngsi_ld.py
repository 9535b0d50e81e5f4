"""Occupancy written through NGSI-LD counts as a sensor's reading does."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.core.time import isoformat, utcnow
from tests.services.parking.test_api import API, FAR, NEAR, register


def test_ngsi_ld_writes_update_counter_and_spot_lots(
    parking_client: TestClient, operator: dict[str, str]
) -> None:
    register(parking_client, operator, FAR, capacity=100, occupancy_detection="balancing")
    register(parking_client, operator, NEAR, capacity=1)
    now = isoformat(utcnow())
    counted = parking_client.post(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:JC-2/attrs",
        json={
            "entryCount": {"type": "Property", "value": 90, "observedAt": now},
            "exitCount": {"type": "Property", "value": 15, "observedAt": now},
        },
        headers=operator,
    )
    assert counted.status_code == 204, counted.text
    spot = parking_client.post(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:JC-1:1/attrs",
        json={"status": {"type": "Property", "value": "occupied", "observedAt": now}},
        headers=operator,
    )
    assert spot.status_code == 204, spot.text
    lots = {v["code"]: v for v in parking_client.get(f"{API}/lots").json()["lots"]}
    assert (lots["JC-2"]["occupied"], lots["JC-2"]["free"]) == (75, 25)
    assert (lots["JC-1"]["occupied"], lots["JC-1"]["status"]) == (1, "full")
    # The lot and its spot are FIWARE entities any NGSI-LD client can read.
    entity = parking_client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:JC-1:1",
        headers={"Accept": "application/json"},
    ).json()
    assert entity["type"] == "ParkingSpot"
    assert "refParkingSite" in entity
