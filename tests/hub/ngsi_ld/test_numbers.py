"""Numbers read back as they were written: integers stay integers, floats stay floats."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from tests.hub.ngsi_ld.test_entity_writes import operator

BASE = "/ngsi-ld/v1"
PARK = "urn:ngsi-ld:OffStreetParking:n1"


def test_integers_and_floats_keep_their_form_everywhere(
    client: TestClient, runtime: HubRuntime
) -> None:
    big = 2**60 + 1  # past 2**53: a float would lose the last digit
    body = {
        "id": PARK,
        "type": "OffStreetParking",
        "availableSpotNumber": {
            "type": "Property",
            "value": 121,
            "observedAt": "2026-01-01T00:00:00Z",
            "accuracy": {"type": "Property", "value": 2},
        },
        "occupancy": {"type": "Property", "value": 0.5},
        "serial": {"type": "Property", "value": big},
        "huge": {"type": "Property", "value": 10**400},
    }
    headers = operator(runtime)
    assert client.post(f"{BASE}/entities", json=body, headers=headers).status_code == 201
    entity = client.get(f"{BASE}/entities/{PARK}")
    assert b'"value":121,' in entity.content  # not 121.0
    values = client.get(f"{BASE}/entities/{PARK}?options=keyValues").json()
    assert values["availableSpotNumber"] == 121
    assert isinstance(values["availableSpotNumber"], int)
    assert values["occupancy"] == 0.5
    assert values["serial"] == big
    assert values["huge"] == 10**400
    assert entity.json()["availableSpotNumber"]["accuracy"]["value"] == 2
    for q in ("availableSpotNumber==121", "availableSpotNumber>120.5", "serial>1000"):
        found = client.get(f"{BASE}/entities", params={"type": "OffStreetParking", "q": q})
        assert [e["id"] for e in found.json()] == [PARK], q
    update = {"availableSpotNumber": {"type": "Property", "value": 7.0}}
    assert (
        client.patch(f"{BASE}/entities/{PARK}/attrs", json=update, headers=headers).status_code
        == 204
    )
    assert (
        client.get(f"{BASE}/entities/{PARK}?options=keyValues").json()["availableSpotNumber"] == 7.0
    )
    history = client.get(
        f"{BASE}/temporal/entities/{PARK}",
        params={"attrs": "availableSpotNumber", "options": "temporalValues"},
    ).json()["availableSpotNumber"]["values"]
    assert [v[0] for v in history] == [121, 7.0]
    assert isinstance(history[0][0], int)
