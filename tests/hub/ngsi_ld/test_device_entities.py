"""Registered devices appear in the NGSI-LD view as Smart Data Models Device entities."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.hub.registry import revoke_device
from citysmart.hub.runtime import HubRuntime
from tests.factories import create_device

BASE = "/ngsi-ld/v1"
ASSET = "urn:ngsi-ld:AirQualityObserved:aq-0001"
DEVICE = "urn:ngsi-ld:Device:aq-0001"


def test_a_registered_device_is_a_device_entity_controlling_its_asset(
    client: TestClient, runtime: HubRuntime
) -> None:
    create_device(runtime)
    device = client.get(f"{BASE}/entities/{DEVICE}")
    assert device.status_code == 200, device.text
    body = device.json()
    assert body["type"] == "Device"
    assert body["controlledAsset"] == {"type": "Relationship", "object": ASSET}
    assert body["deviceState"]["value"] == "active"
    found = client.get(
        f"{BASE}/entities", params={"type": "Device", "q": f'controlledAsset=="{ASSET}"'}
    )
    assert [e["id"] for e in found.json()] == [DEVICE]


def test_revoking_a_device_shows_in_its_entity(client: TestClient, runtime: HubRuntime) -> None:
    create_device(runtime)
    with runtime.sessions.begin() as session:
        revoke_device(session, "aq-0001")
    body = client.get(f"{BASE}/entities/{DEVICE}", params={"options": "keyValues"}).json()
    assert body["deviceState"] == "revoked"
    assert body["controlledAsset"] == ASSET
