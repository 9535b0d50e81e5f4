"""What every NGSI-LD route shares: trailing slashes, media types, tenants, Accept."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.hub.registry import upsert_entity
from citysmart.hub.runtime import HubRuntime

BASE = "/ngsi-ld/v1"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


def _lot(runtime: HubRuntime) -> None:
    with runtime.sessions.begin() as session:
        upsert_entity(session, "urn:ngsi-ld:OffStreetParking:p1", "OffStreetParking", name="P1")


def test_a_trailing_slash_reaches_the_same_route(client: TestClient, runtime: HubRuntime) -> None:
    _lot(runtime)
    plain = client.get(f"{BASE}/entities", params={"type": "OffStreetParking"})
    slashed = client.get(f"{BASE}/entities/", params={"type": "OffStreetParking"})
    assert plain.status_code == slashed.status_code == 200
    assert slashed.json() == plain.json()
    assert [e["id"] for e in slashed.json()] == ["urn:ngsi-ld:OffStreetParking:p1"]


def test_an_unknown_tenant_is_nonexistent_and_a_bad_name_is_bad_data(
    client: TestClient, runtime: HubRuntime
) -> None:
    _lot(runtime)
    missing = client.get(
        f"{BASE}/entities", params={"type": "OffStreetParking"}, headers={"NGSILD-Tenant": "nope"}
    )
    assert missing.status_code == 404
    assert missing.json()["type"] == ERRORS + "NonexistentTenant"
    assert missing.headers["NGSILD-Tenant"] == "nope"
    bad = client.get(
        f"{BASE}/entities", params={"type": "X"}, headers={"NGSILD-Tenant": "Bad Name!"}
    )
    assert bad.status_code == 400
    assert bad.json()["type"] == ERRORS + "BadRequestData"


def test_an_accept_the_api_cannot_answer_is_406(client: TestClient, runtime: HubRuntime) -> None:
    _lot(runtime)
    response = client.get(
        f"{BASE}/entities/urn:ngsi-ld:OffStreetParking:p1", headers={"Accept": "text/csv"}
    )
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"


def test_ld_json_answers_carry_the_context_in_the_body(
    client: TestClient, runtime: HubRuntime
) -> None:
    _lot(runtime)
    response = client.get(
        f"{BASE}/entities/urn:ngsi-ld:OffStreetParking:p1",
        headers={"Accept": "application/ld+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.json()["@context"].startswith("https://uri.etsi.org/ngsi-ld/v1/")
    assert "link" not in response.headers
