"""The NGSI-LD read API over the hub's store: one store, two views (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.time import utcnow
from citysmart.hub.ngsi_ld.context import ContextResolver, ContextSettings, core_context
from citysmart.hub.ngsi_ld.context_entity import expand_entity
from citysmart.hub.ngsi_ld.entity_store import insert_entity
from citysmart.hub.ngsi_ld.model import parse_entity
from citysmart.hub.ngsi_ld.tenancy import Tenants
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


# --- queries compiled to SQL (query.py), over HTTP --------------------------------------------

SENSOR = "urn:ngsi-ld:Sensor:s"
LD_CONTEXT_BODY = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


def sensor(i: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"{SENSOR}{i:02d}",
        "type": "Sensor" if i % 3 else ["Sensor", "Station"],
        "temperature": {
            "type": "Property",
            "value": 15 + i,
            "observedAt": f"2026-01-{1 + i:02d}T00:00:00Z",
        },
        "status": {"type": "Property", "value": "on" if i % 2 else "off"},
        "name": {"type": "LanguageProperty", "languageMap": {"en": f"Park {i}", "ko": f"공원 {i}"}},
    }
    body.update(extra)
    return body


def store(factory: sessionmaker[Session], bodies: list[dict[str, Any]]) -> None:
    with factory.begin() as session:
        for body in bodies:
            insert_entity(session, parse_entity(expand_entity(body, core_context())), utcnow())


def ids_of(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"][-3:] for e in response.json()]


def test_query_forms_lang_and_sysattrs(client: TestClient, runtime: HubRuntime) -> None:
    store(runtime.sessions, [sensor(1), sensor(2)])
    query = {"type": "Sensor", "q": "temperature>16"}
    simple = client.get(f"{BASE}/entities", params={**query, "options": "keyValues"}).json()
    assert simple[0]["temperature"] == 17
    assert simple[0]["name"] == {"languageMap": {"en": "Park 2", "ko": "공원 2"}}
    concise = client.get(f"{BASE}/entities", params={**query, "options": "concise"}).json()
    assert concise[0]["status"] == "off"
    korean = client.get(f"{BASE}/entities", params={**query, "lang": "ko"}).json()
    assert korean[0]["name"] == {"type": "Property", "value": "공원 2", "lang": "ko"}
    timed = client.get(f"{BASE}/entities", params={**query, "options": "sysAttrs"}).json()
    assert timed[0]["createdAt"].endswith("Z")
    assert "modifiedAt" in timed[0]["temperature"]
    projected = client.get(f"{BASE}/entities", params={**query, "attrs": "status"}).json()
    assert set(projected[0]) == {"id", "type", "status"}


def test_count_and_paging_links(client: TestClient, runtime: HubRuntime) -> None:
    store(runtime.sessions, [sensor(i) for i in range(7)])
    params = {"type": "Sensor", "q": "temperature>=16", "limit": "2", "count": "true"}
    first = client.get(f"{BASE}/entities", params=params)
    assert ids_of(first) == ["s01", "s02"]
    assert first.headers["NGSILD-Results-Count"] == "6"
    rels = [link for link in links(first) if "rel=" in link and "context" not in link]
    assert len(rels) == 1
    assert 'rel="next"' in rels[0]
    assert "offset=2" in rels[0]
    middle = client.get(f"{BASE}/entities", params={**params, "offset": "3"})
    assert ids_of(middle) == ["s04", "s05"]
    rels = [link for link in links(middle) if "context" not in link]
    assert any('rel="next"' in link and "offset=5" in link for link in rels)
    assert any('rel="prev"' in link and "offset=1" in link for link in rels)
    last = client.get(f"{BASE}/entities", params={**params, "offset": "5"})
    assert ids_of(last) == ["s06"]
    assert not [link for link in links(last) if 'rel="next"' in link]
    only = client.get(f"{BASE}/entities", params={**params, "limit": "0"})
    assert only.json() == []
    assert only.headers["NGSILD-Results-Count"] == "6"
    problem(
        client.get(f"{BASE}/entities", params={"type": "Sensor", "limit": "0"}),
        400,
        "BadRequestData",
    )
    problem(
        client.get(f"{BASE}/entities", params={"type": "Sensor", "count": "yes"}),
        400,
        "BadRequestData",
    )


def test_type_expressions_and_selections(client: TestClient, runtime: HubRuntime) -> None:
    store(runtime.sessions, [sensor(i) for i in range(6)])
    assert ids_of(client.get(f"{BASE}/entities", params={"type": "Sensor;Station"})) == [
        "s00",
        "s03",
    ]
    either = client.get(f"{BASE}/entities", params={"type": "(Station|Nothing),Other"})
    assert ids_of(either) == ["s00", "s03"]
    mixed = {"type": "Sensor", "idPattern": "s0[2-4]$", "q": 'status=="off"'}
    assert ids_of(client.get(f"{BASE}/entities", params=mixed)) == ["s02", "s04"]
    observed = {"type": "Sensor", "q": "temperature.observedAt>=2026-01-05T00:00:00Z"}
    assert ids_of(client.get(f"{BASE}/entities", params=observed)) == ["s04", "s05"]
    absent = client.get(f"{BASE}/entities", params={"type": "Sensor", "q": "!humidity;name"})
    assert len(absent.json()) == 6
    problem(client.get(f"{BASE}/entities", params={"type": "A;"}), 400, "BadRequestData")
    problem(client.get(f"{BASE}/entities", params={"scopeQ": "/A"}), 400, "BadRequestData")


def test_private_types_are_never_served(client: TestClient, runtime: HubRuntime) -> None:
    store(runtime.sessions, [sensor(i) for i in range(4)])
    client.app.state.ngsi_ld.private_types = frozenset({"Station"})  # type: ignore[attr-defined]
    found = client.get(f"{BASE}/entities", params={"type": "Sensor", "count": "true"})
    assert ids_of(found) == ["s01", "s02"]
    assert found.headers["NGSILD-Results-Count"] == "2"
    problem(client.get(f"{BASE}/entities/{SENSOR}03"), 404, "ResourceNotFound")
    assert client.get(f"{BASE}/entities/{SENSOR}01").status_code == 200


def test_tenants_see_only_their_entities(client: TestClient, runtime: HubRuntime) -> None:
    store(runtime.sessions, [sensor(1)])
    tenant = f"district{uuid.uuid4().hex[:8]}"  # tenants outlive a test on PostgreSQL
    tenants: Tenants = client.app.state.ngsi_ld.tenants  # type: ignore[attr-defined]
    store(tenants.sessions(tenant, create=True), [sensor(2)])
    mine = client.get(
        f"{BASE}/entities", params={"type": "Sensor"}, headers={"NGSILD-Tenant": tenant}
    )
    assert ids_of(mine) == ["s02"]
    assert ids_of(client.get(f"{BASE}/entities", params={"type": "Sensor"})) == ["s01"]
    nobody = client.get(
        f"{BASE}/entities", params={"type": "Sensor"}, headers={"NGSILD-Tenant": "nobody"}
    )
    problem(nobody, 404, "NonexistentTenant")


def test_batch_query(client: TestClient, runtime: HubRuntime) -> None:
    store(runtime.sessions, [sensor(i) for i in range(6)])
    body = {
        "type": "Query",
        "entities": [{"type": "Station"}, {"id": f"{SENSOR}05"}],
        "q": "temperature>10",
        "attrs": ["name"],
        "lang": "en",
        "temporalQ": {"timerel": "after", "timeAt": "2026-01-01T00:00:00Z"},
    }
    url = f"{BASE}/entityOperations/query"
    response = client.post(url, json=body, params={"count": "true", "limit": "2"})
    assert ids_of(response) == ["s00", "s03"]
    assert response.headers["NGSILD-Results-Count"] == "3"
    assert response.json()[0]["name"] == {"type": "Property", "value": "Park 0", "lang": "en"}
    assert set(response.json()[0]) == {"id", "type", "name"}
    assert any('rel="next"' in link for link in links(response))
    ld = client.post(
        url,
        content=json.dumps({**body, "@context": LD_CONTEXT_BODY}).encode(),
        headers={"Content-Type": "application/ld+json"},
        params={"offset": "2"},
    )
    assert ids_of(ld) == ["s05"]
    problem(client.post(url, json={"type": "Query"}), 400, "BadRequestData")
    problem(client.post(url, json={"type": "Nope", "q": "a"}), 400, "BadRequestData")
    problem(client.post(url, json={"type": "Query", "q": "a>>"}), 400, "BadRequestData")


def test_retrieving_an_entity_takes_two_queries(client: TestClient, runtime: HubRuntime) -> None:
    store(runtime.sessions, [sensor(1)])
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        response = client.get(f"{BASE}/entities/{SENSOR}01", params={"attrs": "status"})
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id", "type", "status"}
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) <= 2, seen
