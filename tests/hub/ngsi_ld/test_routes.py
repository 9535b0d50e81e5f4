"""The NGSI-LD read API over the hub's store: one store, two views (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from citysmart.hub.ngsi_ld.context import ContextResolver, ContextSettings
from citysmart.hub.registry import upsert_entity
from citysmart.hub.runtime import HubRuntime
from tests.factories import create_device, pm_pack

ENTITY = "urn:ngsi-ld:AirQualityObserved:aq-0001"
BASE = "/ngsi-ld/v1"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
USER_CONTEXT = "https://example.org/sdm-context.jsonld"
SDM_CONTEXT = "https://example.org/sdm-pm10.jsonld"
SDM_PM10 = "https://smartdatamodels.org/dataModel.Environment/pm10"


def ingest(client: TestClient, key: str, pack: list[dict[str, Any]]) -> None:
    response = client.post(
        "/api/v1/ingest",
        content=json.dumps(pack).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/senml+json"},
    )
    assert response.status_code == 202, response.text


def air_quality(client: TestClient, runtime: HubRuntime) -> None:
    """One device that sent pm10 (last 22 ug/m3) and pm25 (5 ug/m3)."""
    key = create_device(runtime)
    pack = pm_pack(3)
    pack.append({"n": "pm25", "u": "ug/m3", "v": 5.0, "t": 120.0})
    ingest(client, key, pack)


def add_entities(runtime: HubRuntime, count: int, entity_type: str = "OffStreetParking") -> None:
    with runtime.sessions.begin() as session:
        for i in range(count):
            upsert_entity(
                session,
                f"urn:ngsi-ld:{entity_type}:p{i:03d}",
                entity_type,
                name=f"Lot {i}",
                location={"type": "Point", "coordinates": [127.0 + i, 36.5]},
            )


def links(response: Any) -> list[str]:
    return [v.strip() for h in response.headers.get_list("link") for v in h.split(", <")]


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == ERRORS + kind
    return body


def test_an_ingested_reading_is_an_ngsi_ld_property(
    client: TestClient, runtime: HubRuntime
) -> None:
    air_quality(client, runtime)
    response = client.get(f"{BASE}/entities/{ENTITY}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert CONTEXT_REL in response.headers["link"]
    body = response.json()
    assert body["id"] == ENTITY
    assert body["type"] == "AirQualityObserved"
    pm10 = body["pm10"]
    assert pm10["type"] == "Property"
    assert pm10["value"] == 22.0
    assert pm10["unitCode"] == "GQ"
    assert pm10["observedAt"].endswith("Z")
    assert body["location"] == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [127.25, 36.5]},
    }


def test_keyvalues_concise_sysattrs_and_attrs(client: TestClient, runtime: HubRuntime) -> None:
    air_quality(client, runtime)
    simple = client.get(f"{BASE}/entities/{ENTITY}", params={"options": "keyValues"}).json()
    assert simple["pm10"] == 22.0
    assert simple["location"] == {"type": "Point", "coordinates": [127.25, 36.5]}
    concise = client.get(f"{BASE}/entities/{ENTITY}", params={"options": "concise"}).json()
    assert concise["pm10"]["value"] == 22.0
    assert "type" not in concise["pm10"]
    assert concise["location"] == {"type": "Point", "coordinates": [127.25, 36.5]}
    projected = client.get(f"{BASE}/entities/{ENTITY}", params={"attrs": "pm25"}).json()
    assert set(projected) == {"id", "type", "pm25"}
    timed = client.get(f"{BASE}/entities/{ENTITY}", params={"options": "sysAttrs"}).json()
    assert timed["createdAt"].endswith("Z")
    assert "modifiedAt" in timed["pm10"]
    both = client.get(f"{BASE}/entities/{ENTITY}", params={"options": "keyValues,concise"})
    problem(both, 400, "BadRequestData")


def test_ld_json_puts_the_context_in_the_body(client: TestClient, runtime: HubRuntime) -> None:
    air_quality(client, runtime)
    response = client.get(f"{BASE}/entities/{ENTITY}", headers={"Accept": "application/ld+json"})
    assert response.headers["content-type"].startswith("application/ld+json")
    assert response.json()["@context"].startswith("https://uri.etsi.org/ngsi-ld/")
    assert "link" not in response.headers


def test_q_filters_on_the_latest_values(client: TestClient, runtime: HubRuntime) -> None:
    air_quality(client, runtime)
    add_entities(runtime, 2, "AirQualityObserved")

    def ids(q: str) -> list[str]:
        response = client.get(f"{BASE}/entities", params={"type": "AirQualityObserved", "q": q})
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()]

    assert ids("pm10>20") == [ENTITY]
    assert ids("pm10>30") == []
    assert ids("pm10<30;pm25>1") == [ENTITY]
    assert ids("pm10<30;pm25>10") == []
    problem(client.get(f"{BASE}/entities", params={"q": "pm10>>"}), 400, "BadRequestData")


def test_type_query_counts_and_pages(client: TestClient, runtime: HubRuntime) -> None:
    add_entities(runtime, 25)
    seen: list[str] = []
    url: str | None = f"{BASE}/entities?type=OffStreetParking&limit=10&count=true"
    pages = 0
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["NGSILD-Results-Count"] == "25"
        seen += [e["id"] for e in response.json()]
        pages += 1
        nxt = [link for link in links(response) if 'rel="next"' in link]
        url = nxt[0].lstrip("<").split(">")[0] if nxt else None
    assert pages == 3
    assert seen == sorted(f"urn:ngsi-ld:OffStreetParking:p{i:03d}" for i in range(25))
    assert len(client.get(f"{BASE}/entities", params={"type": "OffStreetParking"}).json()) == 20
    big = client.get(f"{BASE}/entities", params={"type": "OffStreetParking", "limit": "1001"})
    problem(big, 400, "BadRequestData")


def test_id_and_id_pattern(client: TestClient, runtime: HubRuntime) -> None:
    add_entities(runtime, 12)
    response = client.get(f"{BASE}/entities", params={"idPattern": r"p01\d$", "count": "true"})
    assert [e["id"][-4:] for e in response.json()] == ["p010", "p011"]
    assert response.headers["NGSILD-Results-Count"] == "2"
    by_id = client.get(
        f"{BASE}/entities",
        params={"id": "urn:ngsi-ld:OffStreetParking:p003,urn:ngsi-ld:OffStreetParking:p005"},
    )
    assert [e["id"][-4:] for e in by_id.json()] == ["p003", "p005"]
    bad = client.get(f"{BASE}/entities", params={"idPattern": "("})
    problem(bad, 400, "BadRequestData")


def test_geo_query_near_a_point(client: TestClient, runtime: HubRuntime) -> None:
    air_quality(client, runtime)
    add_entities(runtime, 3)  # at 127, 128, 129 E: far away
    params = {
        "georel": "near;maxDistance==1000",
        "geometry": "Point",
        "coordinates": "[127.255, 36.5]",
    }
    near = client.get(f"{BASE}/entities", params=params).json()
    assert [e["id"] for e in near] == [ENTITY]
    far = client.get(f"{BASE}/entities", params={**params, "coordinates": "[127.3, 36.5]"})
    assert far.json() == []
    broken = client.get(f"{BASE}/entities", params={**params, "geometry": "Polygon"})
    problem(broken, 400, "BadRequestData")


def test_unknown_entity_and_empty_query(client: TestClient, runtime: HubRuntime) -> None:
    body = problem(client.get(f"{BASE}/entities/urn:ngsi-ld:Thing:nope"), 404, "ResourceNotFound")
    assert "urn:ngsi-ld:Thing:nope" in body["detail"]
    problem(client.get(f"{BASE}/entities"), 400, "BadRequestData")
    bad_link = client.get(
        f"{BASE}/entities", params={"type": "X"}, headers={"Link": "<https://x.org/c>"}
    )
    problem(bad_link, 400, "BadRequestData")


def test_a_user_context_renames_attributes(client: TestClient, runtime: HubRuntime) -> None:
    air_quality(client, runtime)
    stored_pm10 = "https://uri.etsi.org/ngsi-ld/default-context/pm10"
    resolver = ContextResolver(settings=ContextSettings(allow_remote=False))
    resolver.preload(USER_CONTEXT, {"@context": {"particulates10": stored_pm10}})
    resolver.preload(SDM_CONTEXT, {"@context": {"pm10": SDM_PM10}})
    client.app.state.ngsi_ld.resolver = resolver  # type: ignore[attr-defined]

    def link(url: str) -> dict[str, str]:
        return {"Link": f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'}

    own = client.get(f"{BASE}/entities/{ENTITY}", headers=link(USER_CONTEXT))
    assert own.json()["particulates10"]["value"] == 22.0
    assert "pm10" not in own.json()
    assert USER_CONTEXT in own.headers["link"]
    # with pm10 meaning the SDM attribute, the stored one is not the client's pm10
    sdm = client.get(f"{BASE}/entities/{ENTITY}", headers=link(SDM_CONTEXT))
    assert sdm.status_code == 200, sdm.text
    # compacted through the core context's "ngsi-ld" prefix (JSON-LD compact IRI)
    assert sdm.json()["ngsi-ld:default-context/pm10"]["value"] == 22.0
    assert "pm10" not in sdm.json()
    query = {"type": "AirQualityObserved", "q": "pm10>1"}
    assert client.get(f"{BASE}/entities", params=query, headers=link(SDM_CONTEXT)).json() == []
    query = {"type": "AirQualityObserved", "q": "particulates10>1", "attrs": "particulates10"}
    found = client.get(f"{BASE}/entities", params=query, headers=link(USER_CONTEXT)).json()
    assert [set(e) for e in found] == [{"id", "type", "particulates10"}]
