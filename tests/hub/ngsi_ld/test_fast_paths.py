"""The hot paths answer exactly as the general ones: async retrieval, one-hop writes."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from tests.hub.ngsi_ld.test_entity_writes import operator, problem

BASE = "/ngsi-ld/v1"
ROOM = "urn:ngsi-ld:Room:r1"


def room() -> dict[str, Any]:
    """Return an entity with every kind of attribute, sub-attributes and datasets."""
    return {
        "id": ROOM,
        "type": ["Room", "Space"],
        "scope": "/Sejong/Hansol",
        "temperature": [
            {
                "type": "Property",
                "value": 21.5,
                "unitCode": "CEL",
                "observedAt": "2026-01-01T00:00:00Z",
            },
            {
                "type": "Property",
                "value": 19,
                "datasetId": "urn:ngsi-ld:Dataset:b",
                "accuracy": {"type": "Property", "value": 0.5},
            },
        ],
        "name": {"type": "LanguageProperty", "languageMap": {"ko": "회의실", "en": "Room"}},
        "isPartOf": {"type": "Relationship", "object": "urn:ngsi-ld:Building:b1"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [127.28, 36.5]},
        },
        "settings": {"type": "JsonProperty", "json": {"mode": "eco", "levels": [1, 2]}},
        "open": {"type": "Property", "value": True},
    }


QUERIES = [
    "",
    "?options=keyValues",
    "?options=concise",
    "?options=sysAttrs",
    "?attrs=temperature,name",
    "?attrs=nothing",
    "?lang=en",
    "?format=keyValues&lang=ko",
]


@pytest.mark.parametrize("query", QUERIES)
def test_retrieval_on_the_event_loop_answers_as_the_general_path(
    client: TestClient, runtime: HubRuntime, query: str
) -> None:
    assert (
        client.post(f"{BASE}/entities", json=room(), headers=operator(runtime)).status_code == 201
    )
    state = client.app.state.ngsi_ld  # type: ignore[attr-defined]
    fast = client.get(f"{BASE}/entities/{ROOM}{query}")
    reader, state.entity_reader = state.entity_reader, None
    try:
        general = client.get(f"{BASE}/entities/{ROOM}{query}")
    finally:
        state.entity_reader = reader
    assert fast.status_code == general.status_code == 200, fast.text
    assert fast.json() == general.json()
    assert fast.headers["link"] == general.headers["link"]
    if runtime.engine.dialect.name == "postgresql":
        assert reader is not None
        assert reader._idle, "the async reader served the request"


def test_a_missing_entity_is_not_found_on_both_paths(client: TestClient) -> None:
    problem(client.get(f"{BASE}/entities/urn:ngsi-ld:Room:none"), 404, "ResourceNotFound")


def test_the_reader_replaces_a_connection_the_server_closed(
    client: TestClient, runtime: HubRuntime
) -> None:
    if runtime.engine.dialect.name != "postgresql":
        assert client.app.state.ngsi_ld.entity_reader is None  # type: ignore[attr-defined]
        return  # SQLite reads in threads only
    client.post(f"{BASE}/entities", json=room(), headers=operator(runtime))
    assert client.get(f"{BASE}/entities/{ROOM}").status_code == 200
    dsn = runtime.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
        )
    response = client.get(f"{BASE}/entities/{ROOM}")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == ROOM


def test_one_hop_writes_check_the_writer_before_the_body(
    client: TestClient, runtime: HubRuntime
) -> None:
    not_json = {"content-type": "application/json"}
    problem(client.post(f"{BASE}/entities", content=b"{", headers=not_json), 401, "Unauthorized")
    signed_in = operator(runtime)
    headers = {**signed_in, **not_json}
    problem(client.post(f"{BASE}/entities", content=b"{", headers=headers), 400, "InvalidRequest")
    text = {**signed_in, "content-type": "text/plain"}
    problem(
        client.post(f"{BASE}/entities", content=b"{}", headers=text), 415, "UnsupportedMediaType"
    )


def test_one_hop_writes_land_in_the_tenant_they_name(
    client: TestClient, runtime: HubRuntime
) -> None:
    tenant = {**operator(runtime), "NGSILD-Tenant": "sejong-fast"}
    assert client.post(f"{BASE}/entities", json=room(), headers=tenant).status_code == 201
    patch = {"open": {"type": "Property", "value": False}}
    response = client.patch(f"{BASE}/entities/{ROOM}/attrs", json=patch, headers=tenant)
    assert response.status_code == 204, response.text
    assert response.headers["ngsild-tenant"] == "sejong-fast"
    mine = client.get(f"{BASE}/entities/{ROOM}?options=keyValues", headers=tenant)
    assert mine.json()["open"] is False
    problem(client.get(f"{BASE}/entities/{ROOM}"), 404, "ResourceNotFound")
