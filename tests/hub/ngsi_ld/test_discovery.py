"""NGSI-LD discovery: /types and /attributes over the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.time import utcnow
from citysmart.hub.ngsi_ld.context import (
    ContextResolver,
    ContextSettings,
    core_context,
    expand_entity,
)
from citysmart.hub.ngsi_ld.entity_store import insert_entity
from citysmart.hub.ngsi_ld.model import parse_entity
from citysmart.hub.runtime import HubRuntime
from tests.hub.ngsi_ld.test_routes import BASE, CONTEXT_REL, air_quality, problem

DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
USER_CONTEXT = "https://example.org/buildings-context.jsonld"
BUILDING_IRI = "https://example.org/vocab/Building"
HEIGHT_IRI = "https://example.org/vocab/height"


def store(factory: sessionmaker[Session], bodies: Iterable[dict[str, Any]]) -> None:
    """Create entities (normalized bodies, core @context) straight in a store."""
    with factory.begin() as session:
        for body in bodies:
            insert_entity(session, parse_entity(expand_entity(body, core_context())), utcnow())


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


BUILDINGS: list[dict[str, Any]] = [
    {
        "id": "urn:ngsi-ld:Building:b1",
        "type": "Building",
        "height": prop(10),
        "owner": rel("urn:ngsi-ld:Person:p1"),
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
    },
    {
        "id": "urn:ngsi-ld:Building:b2",
        "type": "Building",
        "height": [prop(12), prop(13, datasetId="urn:ngsi-ld:Dataset:survey")],
    },
]
VEHICLES: list[dict[str, Any]] = [
    {
        "id": "urn:ngsi-ld:Vehicle:v1",
        "type": ["Vehicle", "Asset"],
        "speed": prop(50),
        "owner": prop("the city"),
    },
]


def city(runtime: HubRuntime) -> None:
    store(runtime.sessions, [*BUILDINGS, *VEHICLES])


def user_context_link(client: TestClient) -> dict[str, str]:
    """Install a resolver knowing a user context that renames Building and height."""
    resolver = ContextResolver(settings=ContextSettings(allow_remote=False))
    resolver.preload(
        USER_CONTEXT,
        {"@context": {"Building": BUILDING_IRI, "Bldg": DEFAULT_VOCAB + "Building"}},
    )
    client.app.state.ngsi_ld.resolver = resolver  # type: ignore[attr-defined]
    return {"Link": f'<{USER_CONTEXT}>; rel="{CONTEXT_REL}"; type="application/ld+json"'}


def test_types_list_and_details(client: TestClient, runtime: HubRuntime) -> None:
    city(runtime)
    air_quality(client, runtime)
    response = client.get(f"{BASE}/types")
    assert response.status_code == 200, response.text
    assert CONTEXT_REL in response.headers["link"]
    body = response.json()
    assert body["type"] == "EntityTypeList"
    assert body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    # The device that reports air quality is a Smart Data Models Device entity too.
    assert body["typeList"] == ["AirQualityObserved", "Asset", "Building", "Device", "Vehicle"]
    assert client.get(f"{BASE}/types").json()["id"] == body["id"]  # same content, same id

    details = client.get(f"{BASE}/types", params={"details": "true"}).json()
    by_name = {d["typeName"]: d for d in details}
    assert [d["typeName"] for d in details] == body["typeList"]
    assert by_name["Building"] == {
        "id": DEFAULT_VOCAB + "Building",
        "type": "EntityType",
        "typeName": "Building",
        "attributeNames": ["height", "location", "owner"],
    }
    assert by_name["Asset"]["attributeNames"] == ["owner", "speed"]
    assert {"pm10", "pm25", "location"} <= set(by_name["AirQualityObserved"]["attributeNames"])
    bad = client.get(f"{BASE}/types", params={"details": "yes"})
    problem(bad, 400, "BadRequestData")


def test_type_info(client: TestClient, runtime: HubRuntime) -> None:
    city(runtime)
    response = client.get(f"{BASE}/types/Building")
    assert response.status_code == 200, response.text
    info = response.json()
    assert info == {
        "id": DEFAULT_VOCAB + "Building",
        "type": "EntityTypeInfo",
        "typeName": "Building",
        "entityCount": 2,
        "attributeDetails": [
            {
                "id": DEFAULT_VOCAB + "height",
                "type": "Attribute",
                "attributeName": "height",
                "attributeTypes": ["Property"],
            },
            {
                "id": "https://uri.etsi.org/ngsi-ld/location",
                "type": "Attribute",
                "attributeName": "location",
                "attributeTypes": ["GeoProperty"],
            },
            {
                "id": DEFAULT_VOCAB + "owner",
                "type": "Attribute",
                "attributeName": "owner",
                "attributeTypes": ["Relationship"],
            },
        ],
    }
    # the full IRI names the same type
    full = client.get(f"{BASE}/types/{DEFAULT_VOCAB}Building").json()
    assert full["entityCount"] == 2
    assert client.get(f"{BASE}/types/Asset").json()["entityCount"] == 1
    missing = problem(client.get(f"{BASE}/types/Spaceship"), 404, "ResourceNotFound")
    assert "Spaceship" in missing["detail"]


def test_attributes_list_and_details(client: TestClient, runtime: HubRuntime) -> None:
    city(runtime)
    body = client.get(f"{BASE}/attributes").json()
    assert body["type"] == "AttributeList"
    assert body["id"].startswith("urn:ngsi-ld:AttributeList:")
    assert body["attributeList"] == ["height", "location", "owner", "speed"]
    details = client.get(f"{BASE}/attributes", params={"details": "true"}).json()
    assert [d["attributeName"] for d in details] == body["attributeList"]
    by_name = {d["attributeName"]: d for d in details}
    assert by_name["height"] == {
        "id": DEFAULT_VOCAB + "height",
        "type": "Attribute",
        "attributeName": "height",
        "attributeCount": 3,  # instances: one in b1, two (datasetIds) in b2
        "attributeTypes": ["Property"],
        "typeNames": ["Building"],
    }
    assert by_name["owner"]["attributeTypes"] == ["Property", "Relationship"]
    assert by_name["owner"]["typeNames"] == ["Asset", "Building", "Vehicle"]
    assert by_name["owner"]["attributeCount"] == 2


def test_attribute_info(client: TestClient, runtime: HubRuntime) -> None:
    city(runtime)
    air_quality(client, runtime)
    pm10 = client.get(f"{BASE}/attributes/pm10")
    assert pm10.status_code == 200, pm10.text
    assert pm10.json()["attributeCount"] == 1  # ingested readings: one current instance
    assert pm10.json()["typeNames"] == ["AirQualityObserved"]
    speed = client.get(f"{BASE}/attributes/{DEFAULT_VOCAB}speed").json()
    assert speed["attributeName"] == "speed"
    assert speed["typeNames"] == ["Asset", "Vehicle"]
    location = client.get(f"{BASE}/attributes/location").json()
    assert location["id"] == "https://uri.etsi.org/ngsi-ld/location"
    assert location["typeNames"] == ["AirQualityObserved", "Building"]
    problem(client.get(f"{BASE}/attributes/colour"), 404, "ResourceNotFound")


def test_an_empty_store(client: TestClient) -> None:
    assert client.get(f"{BASE}/types").json()["typeList"] == []
    assert client.get(f"{BASE}/types", params={"details": "true"}).json() == []
    assert client.get(f"{BASE}/attributes").json()["attributeList"] == []
    assert client.get(f"{BASE}/attributes", params={"details": "true"}).json() == []


def test_names_are_compacted_with_the_client_context(
    client: TestClient, runtime: HubRuntime
) -> None:
    city(runtime)
    store(
        runtime.sessions,
        [
            {
                "id": "urn:ngsi-ld:Building:x1",
                "type": BUILDING_IRI,
                HEIGHT_IRI: prop(100),
            }
        ],
    )
    link = user_context_link(client)
    types = client.get(f"{BASE}/types", headers=link)
    assert USER_CONTEXT in types.headers["link"]
    # "Building" is the user's vocabulary now; the default-vocabulary one is "Bldg"
    assert types.json()["typeList"] == ["Asset", "Bldg", "Building", "Vehicle"]
    assert client.get(f"{BASE}/types").json()["typeList"] == [
        "Asset",
        "Building",
        "Vehicle",
        BUILDING_IRI,
    ]
    mine = client.get(f"{BASE}/types/Building", headers=link).json()
    assert mine["id"] == BUILDING_IRI
    assert mine["entityCount"] == 1
    assert [a["attributeName"] for a in mine["attributeDetails"]] == [HEIGHT_IRI]
    theirs = client.get(f"{BASE}/types/Bldg", headers=link).json()
    assert theirs["entityCount"] == 2
    assert theirs["typeName"] == "Bldg"
    height = client.get(f"{BASE}/attributes/height", headers=link).json()
    assert height["typeNames"] == ["Bldg"]


def test_ld_json_puts_the_context_in_each_object(client: TestClient, runtime: HubRuntime) -> None:
    city(runtime)
    accept = {"Accept": "application/ld+json"}
    listed = client.get(f"{BASE}/types", headers=accept)
    assert listed.headers["content-type"].startswith("application/ld+json")
    assert listed.json()["@context"].startswith("https://uri.etsi.org/ngsi-ld/")
    detailed = client.get(f"{BASE}/attributes", params={"details": "true"}, headers=accept)
    assert all("@context" in item for item in detailed.json())
