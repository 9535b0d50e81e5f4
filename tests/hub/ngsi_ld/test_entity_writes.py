"""NGSI-LD entity writes over HTTP, on SQLite and PostgreSQL: status codes, round trips, history."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citysmart.hub.ngsi_ld.context import ContextResolver, ContextSettings
from citysmart.hub.runtime import HubRuntime
from tests.factories import create_device, create_user_with_token, pm_pack

BASE = "/ngsi-ld/v1"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
USER_CONTEXT = "https://example.org/parking-context.jsonld"
PARK = "urn:ngsi-ld:OffStreetParking:p1"
DEVICE_ENTITY = "urn:ngsi-ld:AirQualityObserved:aq-0001"
DATASET = "urn:ngsi-ld:Dataset:sensor-b"


# --- helpers (test_batch.py uses them too) ------------------------------------------------------


def operator(runtime: HubRuntime) -> dict[str, str]:
    """Return the headers of an operator."""
    return {"Authorization": f"Bearer {create_user_with_token(runtime, 'op', 'operator')}"}


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    """Assert a problem details response and return its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == ERRORS + kind
    return body


def parking(**extra: Any) -> dict[str, Any]:
    """Return a parking entity in normalized form."""
    return {
        "id": PARK,
        "type": "OffStreetParking",
        "availableSpotNumber": {
            "type": "Property",
            "value": 121,
            "observedAt": "2024-05-01T12:00:00Z",
            "reliability": {"type": "Property", "value": 0.7},
        },
        "name": {"type": "Property", "value": "Downtown One"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [127.0, 36.5]},
        },
        **extra,
    }


def get(client: TestClient, entity_id: str = PARK, **params: str) -> dict[str, Any]:
    """Retrieve an entity (200) and return it."""
    response = client.get(f"{BASE}/entities/{entity_id}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def history(runtime: HubRuntime, attribute: str, entity_id: str = PARK) -> list[Any]:
    """Return the observation rows of one attribute, oldest first, as (num, text)."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT num_value, text_value FROM observation "
                "WHERE entity_id = :e AND attribute = :a ORDER BY observed_at"
            ),
            {"e": entity_id, "a": attribute},
        )
        return [r[0] if r[0] is not None else r[1] for r in rows]


@pytest.fixture
def op(runtime: HubRuntime) -> dict[str, str]:
    """An operator's headers."""
    return operator(runtime)


@pytest.fixture
def park(client: TestClient, op: dict[str, str]) -> None:
    """The parking entity, created over NGSI-LD."""
    response = client.post(f"{BASE}/entities", json=parking(), headers=op)
    assert response.status_code == 201, response.text


# --- create ------------------------------------------------------------------------------------


def test_create_answers_201_with_location_and_reads_back(
    client: TestClient, op: dict[str, str]
) -> None:
    response = client.post(f"{BASE}/entities", json=parking(), headers=op)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{BASE}/entities/{PARK}"
    assert response.content == b""
    body = get(client, options="sysAttrs")
    assert body["availableSpotNumber"]["value"] == 121
    assert body["availableSpotNumber"]["reliability"]["value"] == 0.7
    assert body["createdAt"] == body["modifiedAt"] == body["name"]["createdAt"]
    assert get(client, options="keyValues") == {
        "id": PARK,
        "type": "OffStreetParking",
        "availableSpotNumber": 121,
        "name": "Downtown One",
        "location": {"type": "Point", "coordinates": [127.0, 36.5]},
    }


def test_create_errors(client: TestClient, op: dict[str, str], park: None) -> None:
    problem(client.post(f"{BASE}/entities", json=parking(), headers=op), 409, "AlreadyExists")
    problem(
        client.post(f"{BASE}/entities", json={"id": "urn:x:1"}, headers=op), 400, "BadRequestData"
    )
    problem(client.post(f"{BASE}/entities", json=[parking()], headers=op), 400, "BadRequestData")
    bad_value = parking(availableSpotNumber={"type": "Relationship", "object": "not a uri"})
    problem(client.post(f"{BASE}/entities", json=bad_value, headers=op), 400, "BadRequestData")
    not_json = client.post(
        f"{BASE}/entities", content=b"{", headers={**op, "Content-Type": "application/json"}
    )
    problem(not_json, 400, "InvalidRequest")
    xml = client.post(
        f"{BASE}/entities", content=b"<a/>", headers={**op, "Content-Type": "application/xml"}
    )
    problem(xml, 415, "UnsupportedMediaType")
    problem(client.post(f"{BASE}/entities", json=parking()), 401, "Unauthorized")


def test_create_with_ld_json_or_a_link_header_expands_names(
    client: TestClient, op: dict[str, str]
) -> None:
    resolver = ContextResolver(settings=ContextSettings(allow_remote=False))
    resolver.preload(USER_CONTEXT, {"@context": {"spots": "https://example.org/parking#spots"}})
    client.app.state.ngsi_ld.resolver = resolver  # type: ignore[attr-defined]
    body = {"id": PARK, "type": "OffStreetParking", "spots": 3, "@context": [USER_CONTEXT, CORE]}
    ld = client.post(
        f"{BASE}/entities",
        content=json.dumps(body).encode(),
        headers={**op, "Content-Type": "application/ld+json"},
    )
    assert ld.status_code == 201, ld.text
    assert get(client)["https://example.org/parking#spots"]["value"] == 3
    link = {"Link": f'<{USER_CONTEXT}>; rel="{CONTEXT_REL}"; type="application/ld+json"'}
    other = {"id": PARK + "b", "type": "OffStreetParking", "spots": 4}
    assert client.post(f"{BASE}/entities", json=other, headers={**op, **link}).status_code == 201
    read = client.get(f"{BASE}/entities/{PARK}b", headers=link).json()
    assert read["spots"]["value"] == 4
    in_json = client.post(f"{BASE}/entities", json={**other, "@context": CORE}, headers=op)
    problem(in_json, 400, "BadRequestData")


def test_a_device_writes_only_its_own_entity(client: TestClient, runtime: HubRuntime) -> None:
    key = {"Authorization": f"Bearer {create_device(runtime)}"}
    problem(client.post(f"{BASE}/entities", json=parking(), headers=key), 403, "Forbidden")
    own = client.patch(f"{BASE}/entities/{DEVICE_ENTITY}", json={"status": "ok"}, headers=key)
    assert own.status_code == 204, own.text
    assert get(client, DEVICE_ENTITY)["status"]["value"] == "ok"
    other = client.patch(f"{BASE}/entities/{PARK}", json={"status": "ok"}, headers=key)
    problem(other, 403, "Forbidden")
    problem(client.delete(f"{BASE}/entities/{PARK}", headers=key), 403, "Forbidden")
    citizen = create_user_with_token(runtime, "citizen", "citizen")
    as_citizen = client.delete(
        f"{BASE}/entities/{PARK}", headers={"Authorization": f"Bearer {citizen}"}
    )
    problem(as_citizen, 403, "Forbidden")


def test_private_types_are_reserved_for_writes(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    client.app.state.ngsi_ld.private_types = frozenset({"OffStreetParking"})  # type: ignore[attr-defined]
    other = {**parking(), "id": "urn:ngsi-ld:OffStreetParking:p2"}
    body = problem(client.post(f"{BASE}/entities", json=other, headers=op), 400, "BadRequestData")
    assert "reserved" in body["detail"]
    merge = client.patch(f"{BASE}/entities/{PARK}", json={"name": "x"}, headers=op)
    problem(merge, 400, "BadRequestData")
    problem(client.delete(f"{BASE}/entities/{PARK}", headers=op), 400, "BadRequestData")


# --- delete ------------------------------------------------------------------------------------


def test_delete_entity(client: TestClient, op: dict[str, str], park: None) -> None:
    assert client.delete(f"{BASE}/entities/{PARK}", headers=op).status_code == 204
    problem(client.get(f"{BASE}/entities/{PARK}"), 404, "ResourceNotFound")
    problem(client.delete(f"{BASE}/entities/{PARK}", headers=op), 404, "ResourceNotFound")
    problem(client.delete(f"{BASE}/entities/{PARK}"), 401, "Unauthorized")
    again = client.post(f"{BASE}/entities", json=parking(), headers=op)
    assert again.status_code == 201, again.text


# --- merge -------------------------------------------------------------------------------------


def test_merge_keeps_what_it_does_not_name(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    patch = {
        "type": "Parking",
        "availableSpotNumber": {"type": "Property", "value": 99},
        "category": {"type": "Property", "value": ["public"]},
    }
    response = client.patch(f"{BASE}/entities/{PARK}", json=patch, headers=op)
    assert response.status_code == 204, response.text
    body = get(client)
    assert body["type"] == ["OffStreetParking", "Parking"]
    assert body["availableSpotNumber"]["value"] == 99
    assert body["availableSpotNumber"]["reliability"]["value"] == 0.7  # kept
    assert body["availableSpotNumber"]["observedAt"] == "2024-05-01T12:00:00Z"
    assert body["category"]["value"] == ["public"]
    assert body["name"]["value"] == "Downtown One"


def test_merge_with_nulls_reports_what_was_missing(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    patch = {"name": "urn:ngsi-ld:null", "nothing": None}
    response = client.patch(f"{BASE}/entities/{PARK}", json=patch, headers=op)
    assert response.status_code == 207, response.text
    assert response.json() == {
        "updated": ["name"],
        "notUpdated": [
            {"attributeName": "nothing", "reason": "attribute nothing has no default instance"}
        ],
    }
    assert "name" not in get(client)


def test_merge_errors(client: TestClient, op: dict[str, str], park: None) -> None:
    missing = client.patch(f"{BASE}/entities/urn:x:none", json={"a": 1}, headers=op)
    problem(missing, 404, "ResourceNotFound")
    other_id = client.patch(f"{BASE}/entities/{PARK}", json={"id": "urn:x:2"}, headers=op)
    problem(other_id, 400, "BadRequestData")
    bad = client.patch(f"{BASE}/entities/{PARK}", json={"location": 5}, headers=op)
    problem(bad, 400, "BadRequestData")
    problem(client.patch(f"{BASE}/entities/{PARK}", json={"a": 1}), 401, "Unauthorized")
    merge_patch = client.patch(
        f"{BASE}/entities/{PARK}",
        content=b'{"name": "Renamed"}',
        headers={**op, "Content-Type": "application/merge-patch+json"},
    )
    assert merge_patch.status_code == 204, merge_patch.text


def test_merge_takes_lang_and_observed_at(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    title = {"title": {"type": "LanguageProperty", "languageMap": {"en": "Car park"}}}
    assert client.patch(f"{BASE}/entities/{PARK}", json=title, headers=op).status_code == 204
    params = {"lang": "fr", "observedAt": "2024-05-02T08:00:00Z"}
    patch = {"title": "Parking", "availableSpotNumber": 80}
    response = client.patch(f"{BASE}/entities/{PARK}", json=patch, params=params, headers=op)
    assert response.status_code == 204, response.text
    body = get(client)
    assert body["title"]["languageMap"] == {"en": "Car park", "fr": "Parking"}
    assert body["availableSpotNumber"]["observedAt"] == "2024-05-02T08:00:00Z"
    assert get(client, lang="fr")["title"] == {"type": "Property", "value": "Parking", "lang": "fr"}
    assert get(client, options="concise", lang="en")["title"] == {"value": "Car park", "lang": "en"}
    bad = client.patch(f"{BASE}/entities/{PARK}", json=patch, params={"lang": "1"}, headers=op)
    problem(bad, 400, "BadRequestData")


# --- replace -----------------------------------------------------------------------------------


def test_replace_entity(client: TestClient, op: dict[str, str], park: None) -> None:
    created = get(client, options="sysAttrs")["createdAt"]
    new = {"type": "Parking", "status": {"type": "Property", "value": "closed"}}
    assert client.put(f"{BASE}/entities/{PARK}", json=new, headers=op).status_code == 204
    body = get(client, options="sysAttrs")
    assert set(body) == {"id", "type", "status", "createdAt", "modifiedAt"}
    assert body["type"] == "Parking"
    assert body["createdAt"] == created
    assert body["modifiedAt"] > created
    missing = client.put(f"{BASE}/entities/urn:x:none", json=new, headers=op)
    problem(missing, 404, "ResourceNotFound")
    null = client.put(f"{BASE}/entities/{PARK}", json={"status": None}, headers=op)
    problem(null, 400, "BadRequestData")


# --- append and update -------------------------------------------------------------------------


def test_append_with_and_without_no_overwrite(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    attrs = {"availableSpotNumber": {"type": "Property", "value": 5}, "status": "open"}
    keep = client.post(
        f"{BASE}/entities/{PARK}/attrs", json=attrs, params={"options": "noOverwrite"}, headers=op
    )
    assert keep.status_code == 207, keep.text
    assert keep.json() == {
        "updated": ["status"],
        "notUpdated": [
            {
                "attributeName": "availableSpotNumber",
                "reason": "attribute already exists and noOverwrite is set",
            }
        ],
    }
    assert get(client, options="keyValues")["availableSpotNumber"] == 121
    overwrite = client.post(f"{BASE}/entities/{PARK}/attrs", json=attrs, headers=op)
    assert overwrite.status_code == 204, overwrite.text
    body = get(client)
    assert body["availableSpotNumber"] == {"type": "Property", "value": 5}  # replaced whole
    problem(
        client.post(f"{BASE}/entities/urn:x:none/attrs", json=attrs, headers=op),
        404,
        "ResourceNotFound",
    )
    wrong = client.post(
        f"{BASE}/entities/{PARK}/attrs", json=attrs, params={"options": "x"}, headers=op
    )
    problem(wrong, 400, "BadRequestData")


def test_update_replaces_existing_attributes_only(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    patch = {"availableSpotNumber": {"type": "Property", "value": 7}, "unknown": {"value": 1}}
    response = client.patch(f"{BASE}/entities/{PARK}/attrs", json=patch, headers=op)
    assert response.status_code == 207, response.text
    assert response.json()["updated"] == ["availableSpotNumber"]
    assert [n["attributeName"] for n in response.json()["notUpdated"]] == ["unknown"]
    body = get(client)
    assert body["availableSpotNumber"] == {"type": "Property", "value": 7}
    assert "unknown" not in body
    done = client.patch(f"{BASE}/entities/{PARK}/attrs", json={"name": "Two"}, headers=op)
    assert done.status_code == 204, done.text
    missing = client.patch(f"{BASE}/entities/urn:x:none/attrs", json=patch, headers=op)
    problem(missing, 404, "ResourceNotFound")
    problem(
        client.patch(f"{BASE}/entities/{PARK}/attrs", json=[1], headers=op), 400, "BadRequestData"
    )


# --- one attribute -----------------------------------------------------------------------------


def test_partial_attribute_update(client: TestClient, op: dict[str, str], park: None) -> None:
    url = f"{BASE}/entities/{PARK}/attrs/availableSpotNumber"
    response = client.patch(url, json={"value": 50, "unitCode": "C62"}, headers=op)
    assert response.status_code == 204, response.text
    spots = get(client)["availableSpotNumber"]
    assert spots["value"] == 50
    assert spots["unitCode"] == "C62"
    assert spots["reliability"]["value"] == 0.7  # members not given are kept
    missing = client.patch(f"{BASE}/entities/{PARK}/attrs/nothing", json={"value": 1}, headers=op)
    problem(missing, 404, "ResourceNotFound")
    no_entity = client.patch(
        f"{BASE}/entities/urn:x:none/attrs/name", json={"value": 1}, headers=op
    )
    problem(no_entity, 404, "ResourceNotFound")


def test_multi_attributes_by_dataset_id(client: TestClient, op: dict[str, str], park: None) -> None:
    second = {"type": "Property", "value": 118, "datasetId": DATASET}
    added = client.post(
        f"{BASE}/entities/{PARK}/attrs", json={"availableSpotNumber": second}, headers=op
    )
    assert added.status_code == 204, added.text
    both = get(client)["availableSpotNumber"]
    assert sorted(i["value"] for i in both) == [118, 121]
    assert get(client, options="keyValues")["availableSpotNumber"] == {
        "dataset": {"@none": 121, DATASET: 118}
    }
    url = f"{BASE}/entities/{PARK}/attrs/availableSpotNumber"
    patched = client.patch(url, json={"value": 117, "datasetId": DATASET}, headers=op)
    assert patched.status_code == 204, patched.text
    assert sorted(i["value"] for i in get(client)["availableSpotNumber"]) == [117, 121]
    gone = client.delete(url, params={"datasetId": DATASET}, headers=op)
    assert gone.status_code == 204, gone.text
    assert get(client)["availableSpotNumber"]["value"] == 121
    again = client.delete(url, params={"datasetId": DATASET}, headers=op)
    problem(again, 404, "ResourceNotFound")


def test_delete_attribute_and_delete_all(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    second = {"type": "Property", "value": 1, "datasetId": DATASET}
    client.post(f"{BASE}/entities/{PARK}/attrs", json={"availableSpotNumber": second}, headers=op)
    url = f"{BASE}/entities/{PARK}/attrs/availableSpotNumber"
    assert client.delete(url, params={"deleteAll": "true"}, headers=op).status_code == 204
    assert "availableSpotNumber" not in get(client)
    problem(client.delete(url, params={"deleteAll": "true"}, headers=op), 404, "ResourceNotFound")
    problem(client.delete(f"{BASE}/entities/{PARK}/attrs/name"), 401, "Unauthorized")
    assert client.delete(f"{BASE}/entities/{PARK}/attrs/name", headers=op).status_code == 204
    problem(
        client.delete(f"{BASE}/entities/{PARK}/attrs/name", headers=op), 404, "ResourceNotFound"
    )


# --- attribute kinds ---------------------------------------------------------------------------


def test_relationship_and_language_property_round_trip(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    attrs = {
        "refOperator": {"type": "Relationship", "object": "urn:ngsi-ld:Organization:city"},
        "description": {
            "type": "LanguageProperty",
            "languageMap": {"en": "Underground", "ko": "지하"},
        },
    }
    assert client.post(f"{BASE}/entities/{PARK}/attrs", json=attrs, headers=op).status_code == 204
    body = get(client)
    assert body["refOperator"] == attrs["refOperator"]
    assert body["description"] == attrs["description"]
    concise = get(client, options="concise")
    assert concise["refOperator"] == {"object": "urn:ngsi-ld:Organization:city"}
    assert concise["description"] == {"languageMap": {"en": "Underground", "ko": "지하"}}
    key_values = get(client, options="keyValues", lang="ko")
    assert key_values["refOperator"] == "urn:ngsi-ld:Organization:city"
    assert key_values["description"] == "지하"
    url = f"{BASE}/entities/{PARK}/attrs/refOperator"
    moved = client.patch(url, json={"object": "urn:ngsi-ld:Organization:other"}, headers=op)
    assert moved.status_code == 204, moved.text
    assert get(client)["refOperator"]["object"] == "urn:ngsi-ld:Organization:other"


def test_sub_properties_are_merged_and_deleted(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    patch = {
        "availableSpotNumber": {
            "value": 100,
            "reliability": None,
            "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Camera:c1"},
        }
    }
    assert client.patch(f"{BASE}/entities/{PARK}", json=patch, headers=op).status_code == 204
    spots = get(client)["availableSpotNumber"]
    assert spots["value"] == 100
    assert "reliability" not in spots
    assert spots["providedBy"]["object"] == "urn:ngsi-ld:Camera:c1"


def test_a_moved_location_is_found_by_a_geo_query(
    client: TestClient, op: dict[str, str], park: None
) -> None:
    params = {
        "georel": "near;maxDistance==1000",
        "geometry": "Point",
        "coordinates": "[128.0, 37.0]",
    }
    assert client.get(f"{BASE}/entities", params=params).json() == []
    moved = {"location": {"type": "Point", "coordinates": [128.001, 37.0]}}
    assert client.patch(f"{BASE}/entities/{PARK}", json=moved, headers=op).status_code == 204
    found = client.get(f"{BASE}/entities", params=params).json()
    assert [e["id"] for e in found] == [PARK]
    assert found[0]["location"]["value"]["coordinates"] == [128.001, 37.0]


# --- history and ingest ------------------------------------------------------------------------


def test_every_write_appends_to_the_history(
    client: TestClient, op: dict[str, str], runtime: HubRuntime, park: None
) -> None:
    spots = "availableSpotNumber"
    url = f"{BASE}/entities/{PARK}"
    client.patch(f"{url}/attrs/{spots}", json={"value": 110}, headers=op)
    client.patch(
        url, json={spots: {"value": 100, "observedAt": "2024-05-01T13:00:00Z"}}, headers=op
    )
    client.patch(f"{url}/attrs", json={spots: {"type": "Property", "value": 90}}, headers=op)
    client.post(f"{url}/attrs", json={spots: {"type": "Property", "value": 80}}, headers=op)
    client.put(url, json={"type": "OffStreetParking", spots: 70}, headers=op)
    assert sorted(history(runtime, spots)) == [70, 80, 90, 100, 110, 121]
    assert history(runtime, "name") == ["Downtown One"]
    client.delete(url, headers=op)
    assert len(history(runtime, spots)) == 6  # deleting an entity keeps its history


def test_writes_and_ingest_share_the_attribute(
    client: TestClient, op: dict[str, str], runtime: HubRuntime
) -> None:
    key = create_device(runtime)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/senml+json"}
    ingest = client.post("/api/v1/ingest", content=json.dumps(pm_pack(3)).encode(), headers=headers)
    assert ingest.status_code == 202, ingest.text
    merged = client.patch(f"{BASE}/entities/{DEVICE_ENTITY}", json={"pm10": 5.0}, headers=op)
    assert merged.status_code == 204, merged.text
    pm10 = get(client, DEVICE_ENTITY)["pm10"]
    assert pm10["value"] == 5.0
    assert pm10["unitCode"] == "GQ"  # kept from the reading
    assert sorted(history(runtime, "pm10", DEVICE_ENTITY)) == [5.0, 20.0, 21.0, 22.0]
    updated = client.patch(
        f"{BASE}/entities/{DEVICE_ENTITY}/attrs",
        json={"pm10": {"type": "Property", "value": 6.0}},
        headers=op,
    )
    assert updated.status_code == 204, updated.text
    assert get(client, DEVICE_ENTITY)["pm10"] == {"type": "Property", "value": 6.0}
    reading = [{"bn": "urn:dev:aq-0001:", "n": "pm10", "u": "ug/m3", "v": 33.0}]
    again = client.post("/api/v1/ingest", content=json.dumps(reading).encode(), headers=headers)
    assert again.status_code == 202, again.text
    pm10 = get(client, DEVICE_ENTITY)["pm10"]
    assert pm10["value"] == 33.0
    assert pm10["unitCode"] == "GQ"
