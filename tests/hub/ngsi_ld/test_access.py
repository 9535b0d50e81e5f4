"""Who may read what: public types for anyone, private types for no one (both databases)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.core.service import ServiceManifest
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from tests.factories import create_user_with_token
from tests.hub.ngsi_ld.test_discovery import prop, store
from tests.hub.ngsi_ld.test_routes import BASE, problem

RECORD = "urn:ngsi-ld:HealthRecord:r1"
PATIENT = "urn:ngsi-ld:Person:p1"  # a Person that is also a HealthRecord
CLINIC = "urn:ngsi-ld:Building:clinic"

ENTITIES: list[dict[str, Any]] = [
    {"id": RECORD, "type": "HealthRecord", "heartRate": prop(72), "name": prop("Kim")},
    {"id": PATIENT, "type": ["Person", "HealthRecord"], "bloodType": prop("A")},
    {"id": CLINIC, "type": "Building", "name": prop("Clinic"), "floors": prop(3)},
]


@pytest.fixture
def app_client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """The app with a service that keeps HealthRecord private, and the entities stored."""
    health = ServiceManifest(name="health", title="Health", private_types=("HealthRecord",))
    app = create_app(settings, services=[health], runtime=runtime, start_mqtt=False, migrate=False)
    store(runtime.sessions, ENTITIES)
    with TestClient(app) as client:
        yield client


@pytest.fixture(params=["anonymous", "operator"])
def headers(request: pytest.FixtureRequest, runtime: HubRuntime) -> dict[str, str]:
    """No credentials, or an operator's: private types stay unserved either way."""
    if request.param == "anonymous":
        return {}
    return {"Authorization": f"Bearer {create_user_with_token(runtime, 'ops', 'operator')}"}


def test_public_types_need_no_sign_in(app_client: TestClient) -> None:
    clinic = app_client.get(f"{BASE}/entities/{CLINIC}")
    assert clinic.status_code == 200, clinic.text
    assert clinic.json()["floors"]["value"] == 3
    found = app_client.get(f"{BASE}/entities", params={"type": "Building"})
    assert [e["id"] for e in found.json()] == [CLINIC]
    assert app_client.get(f"{BASE}/types").status_code == 200
    assert app_client.get(f"{BASE}/attributes/floors").json()["attributeCount"] == 1


def test_private_types_are_never_retrieved(app_client: TestClient, headers: dict[str, str]) -> None:
    for entity_id in (RECORD, PATIENT):
        response = app_client.get(f"{BASE}/entities/{entity_id}", headers=headers)
        problem(response, 404, "ResourceNotFound")


@pytest.mark.parametrize(
    "params",
    [
        {"type": "HealthRecord"},
        {"type": "Person"},
        {"type": "Person,Building"},
        {"id": f"{RECORD},{PATIENT}"},
        {"idPattern": ".*"},
        {"attrs": "heartRate,bloodType,name"},
        {"q": "heartRate>1"},
        {"type": "HealthRecord", "count": "true", "limit": "0"},
    ],
)
def test_private_types_are_never_queried(
    app_client: TestClient, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = app_client.get(f"{BASE}/entities", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert {e["id"] for e in response.json()} <= {CLINIC}
    if "count" in params:
        assert response.headers["NGSILD-Results-Count"] == "0"


def test_private_types_are_never_discovered(
    app_client: TestClient, headers: dict[str, str]
) -> None:
    types = app_client.get(f"{BASE}/types", headers=headers).json()
    assert types["typeList"] == ["Building"]  # Person only comes with a private type here
    detailed = app_client.get(f"{BASE}/types", params={"details": "true"}, headers=headers)
    assert [t["typeName"] for t in detailed.json()] == ["Building"]
    for name in ("HealthRecord", "Person"):
        response = app_client.get(f"{BASE}/types/{name}", headers=headers)
        problem(response, 404, "ResourceNotFound")
    attributes = app_client.get(f"{BASE}/attributes", headers=headers).json()
    assert attributes["attributeList"] == ["floors", "name"]
    for name in ("heartRate", "bloodType"):
        response = app_client.get(f"{BASE}/attributes/{name}", headers=headers)
        problem(response, 404, "ResourceNotFound")
    name = app_client.get(f"{BASE}/attributes/name", headers=headers).json()
    assert name["attributeCount"] == 1  # the clinic's, not the record's
    assert name["typeNames"] == ["Building"]
    everything = app_client.get(f"{BASE}/attributes", params={"details": "true"}, headers=headers)
    assert {t for a in everything.json() for t in a["typeNames"]} == {"Building"}
