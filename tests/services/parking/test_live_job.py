"""The live job writes each lot's view onto its hub entity, never a flagged number."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from citysmart.hub.queries import latest_values
from citysmart.hub.runtime import HubRuntime
from citysmart.services.parking.live_job import publish_live
from tests.services.parking.test_api import FAR, NEAR, counters, register, spot


def test_the_live_view_is_published_on_the_lot_entities(
    parking_client: TestClient, parking_runtime: HubRuntime, operator: dict[str, str]
) -> None:
    key = register(parking_client, operator, FAR, capacity=100, occupancy_detection="balancing")[
        "device_key"
    ]
    spots = list(register(parking_client, operator, NEAR, capacity=2)["spot_keys"].values())
    at = time.time() - 60
    counters(parking_client, key, 70, 30, at=at)
    spot(parking_client, spots[0], "occupied")  # the other spot never reported: unknown
    assert publish_live(parking_runtime) == 3
    assert publish_live(parking_runtime) == 0  # nothing changed: nothing new in the history
    far, near = "urn:ngsi-ld:OffStreetParking:JC-2", "urn:ngsi-ld:OffStreetParking:JC-1"
    with parking_runtime.sessions() as session:
        values = latest_values(session, [far, near])
    assert values[far]["availableSpotNumber"]["value"] == 60
    assert values[far]["status"]["value"] == "free"
    assert abs(values[far]["status"]["observedAt"].timestamp() - at) < 0.01
    assert values[near]["status"]["value"] == "unknown"
    assert "availableSpotNumber" not in values[near]
