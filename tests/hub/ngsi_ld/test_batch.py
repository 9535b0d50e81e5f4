"""NGSI-LD batch operations over HTTP, on SQLite and PostgreSQL: each entity on its own."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from citysmart.core.events import ReadingsStored
from citysmart.hub.ngsi_ld import entity_store
from citysmart.hub.runtime import HubRuntime
from tests.factories import create_device
from tests.hub.ngsi_ld.test_entity_writes import BASE, ERRORS, history, operator, problem

OPS = f"{BASE}/entityOperations"
DEVICE_ENTITY = "urn:ngsi-ld:AirQualityObserved:aq-0001"


def lot(i: int, **attrs: Any) -> dict[str, Any]:
    """Return a parking lot entity in concise form."""
    return {
        "id": f"urn:ngsi-ld:OffStreetParking:b{i:04d}",
        "type": "OffStreetParking",
        "availableSpotNumber": {"value": i, "observedAt": "2024-05-01T12:00:00Z"},
        "location": {"type": "Point", "coordinates": [127.0 + i / 1000, 36.5]},
        **attrs,
    }


def ids(*numbers: int) -> list[str]:
    return [f"urn:ngsi-ld:OffStreetParking:b{i:04d}" for i in numbers]


def get(client: TestClient, entity_id: str, **params: str) -> Any:
    response = client.get(f"{BASE}/entities/{entity_id}", params=params)
    return response.json() if response.status_code == 200 else response.status_code


def error_of(body: dict[str, Any], entity_id: str) -> dict[str, Any]:
    """Return the ProblemDetails of one entity's BatchEntityError."""
    [found] = [e["error"] for e in body["errors"] if e["entityId"] == entity_id]
    assert set(found) >= {"type", "title", "status", "detail"}
    return found  # type: ignore[no-any-return]


def test_create_answers_201_with_the_ids(client: TestClient, runtime: HubRuntime) -> None:
    op = operator(runtime)
    response = client.post(f"{OPS}/create", json=[lot(1), lot(2)], headers=op)
    assert response.status_code == 201, response.text
    assert response.json() == ids(1, 2)
    assert get(client, ids(2)[0], options="keyValues")["availableSpotNumber"] == 2
    assert history(runtime, "availableSpotNumber", ids(1)[0]) == [1]


def test_create_reports_each_failure_and_keeps_the_rest(
    client: TestClient, runtime: HubRuntime
) -> None:
    op = operator(runtime)
    client.post(f"{OPS}/create", json=[lot(1)], headers=op)
    bad = lot(3, location={"type": "Point", "coordinates": [500, 1]})
    too_long = {**lot(4), "id": "urn:x:" + "y" * 300}
    body = [lot(1), lot(2), bad, {"type": "OffStreetParking"}, "x", lot(2), too_long]
    response = client.post(f"{OPS}/create", json=body, headers=op)
    assert response.status_code == 207, response.text
    result = response.json()
    assert set(result) == {"success", "errors"}
    assert result["success"] == ids(2)
    errors = [*ids(1, 3), None, None, *ids(2), too_long["id"]]
    assert [e["entityId"] for e in result["errors"]] == errors
    assert error_of(result, ids(1)[0])["type"] == ERRORS + "AlreadyExists"
    assert error_of(result, ids(1)[0])["status"] == 409
    assert error_of(result, ids(3)[0])["type"] == ERRORS + "BadRequestData"
    assert all(e["error"]["status"] in (400, 409) for e in result["errors"])
    assert get(client, ids(3)[0]) == 404  # nothing half-written
    assert get(client, ids(2)[0])["availableSpotNumber"]["value"] == 2


def test_a_failure_inside_the_store_rolls_back_only_its_entity(
    client: TestClient, runtime: HubRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = operator(runtime)
    real = entity_store._append_history

    def failing(session: Any, changes: Any, now: Any) -> None:
        if any(entity_id == ids(2)[0] for entity_id, _ in changes):
            raise OperationalError("INSERT INTO observation", {}, Exception("disk full"))
        real(session, changes, now)

    monkeypatch.setattr(entity_store, "_append_history", failing)
    response = client.post(f"{OPS}/create", json=[lot(1), lot(2), lot(3)], headers=op)
    assert response.status_code == 207, response.text
    assert response.json()["success"] == ids(1, 3)
    assert error_of(response.json(), ids(2)[0])["status"] == 500
    assert get(client, ids(2)[0]) == 404
    with runtime.engine.connect() as conn:
        rows = conn.execute(text("SELECT entity_id FROM attribute ORDER BY entity_id")).all()
    assert [r[0] for r in rows] == [ids(1)[0]] * 2 + [ids(3)[0]] * 2  # nothing of b0002


def test_an_entity_named_twice_is_written_twice_in_order(
    client: TestClient, runtime: HubRuntime
) -> None:
    op = operator(runtime)
    body = [lot(1, status="open"), {"id": ids(1)[0], "type": "OffStreetParking", "status": "full"}]
    upserted = client.post(f"{OPS}/upsert", json=body, params={"options": "update"}, headers=op)
    assert upserted.status_code == 201, upserted.text
    assert upserted.json() == ids(1)
    assert get(client, ids(1)[0], options="keyValues")["status"] == "full"
    created = client.post(f"{OPS}/create", json=[lot(2), lot(2)], headers=op)
    assert created.status_code == 207, created.text
    assert created.json()["success"] == ids(2)
    assert error_of(created.json(), ids(2)[0])["status"] == 409


def test_bodies_that_are_not_batches(client: TestClient, runtime: HubRuntime) -> None:
    op = operator(runtime)
    for operation in ("create", "upsert", "update", "delete"):
        problem(client.post(f"{OPS}/{operation}", json=[], headers=op), 400, "BadRequestData")
        problem(client.post(f"{OPS}/{operation}", json=lot(1), headers=op), 400, "BadRequestData")
        problem(client.post(f"{OPS}/{operation}", json=[lot(1)]), 401, "Unauthorized")
        xml = client.post(
            f"{OPS}/{operation}", content=b"<a/>", headers={**op, "Content-Type": "text/xml"}
        )
        problem(xml, 415, "UnsupportedMediaType")


def test_ld_json_items_carry_their_context(client: TestClient, runtime: HubRuntime) -> None:
    op = operator(runtime)
    core = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
    body = [
        {**lot(1), "@context": core},
        {**lot(2), "@context": [{"spots": "https://example.org/spots"}, core]} | {"spots": 3},
        lot(3),
    ]
    response = client.post(
        f"{OPS}/create",
        content=json.dumps(body).encode(),
        headers={**op, "Content-Type": "application/ld+json"},
    )
    assert response.status_code == 207, response.text
    assert response.json()["success"] == ids(1, 2)
    assert response.json()["errors"][0]["entityId"] == ids(3)[0]
    assert get(client, ids(2)[0])["https://example.org/spots"]["value"] == 3


def test_a_device_gets_an_error_entry_per_foreign_entity(
    client: TestClient, runtime: HubRuntime
) -> None:
    key = {"Authorization": f"Bearer {create_device(runtime)}"}
    own = {"id": DEVICE_ENTITY, "type": "AirQualityObserved", "status": "ok"}
    response = client.post(f"{OPS}/upsert", json=[own, lot(1)], headers=key)
    assert response.status_code == 207, response.text
    assert response.json()["success"] == [DEVICE_ENTITY]
    assert error_of(response.json(), ids(1)[0])["status"] == 403
    deleted = client.post(f"{OPS}/delete", json=ids(1), headers=key)
    assert deleted.status_code == 207
    assert error_of(deleted.json(), ids(1)[0])["type"] == ERRORS + "Forbidden"


def test_upsert_creates_201_updates_204_and_replaces_by_default(
    client: TestClient, runtime: HubRuntime
) -> None:
    op = operator(runtime)
    first = client.post(f"{OPS}/upsert", json=[lot(1, status="open")], headers=op)
    assert first.status_code == 201, first.text
    assert first.json() == ids(1)
    mixed = client.post(f"{OPS}/upsert", json=[lot(1), lot(2)], headers=op)
    assert mixed.status_code == 201, mixed.text
    assert mixed.json() == ids(2)  # only the ids created
    assert "status" not in get(client, ids(1)[0])  # replaced
    again = client.post(f"{OPS}/upsert", json=[lot(1), lot(2)], headers=op)
    assert again.status_code == 204, again.text
    update = {"id": ids(1)[0], "type": "Parking", "status": "full"}
    appended = client.post(f"{OPS}/upsert", json=[update], params={"options": "update"}, headers=op)
    assert appended.status_code == 204, appended.text
    body = get(client, ids(1)[0], options="keyValues")
    assert body["type"] == ["OffStreetParking", "Parking"]
    assert (body["status"], body["availableSpotNumber"]) == ("full", 1)
    both = client.post(
        f"{OPS}/upsert", json=[update], params={"options": "update,replace"}, headers=op
    )
    problem(both, 400, "BadRequestData")


def test_upsert_with_an_error_is_207_listing_created_and_updated(
    client: TestClient, runtime: HubRuntime
) -> None:
    op = operator(runtime)
    client.post(f"{OPS}/create", json=[lot(1)], headers=op)
    body = [lot(1), lot(2), {"id": "urn:x:3", "type": "T", "a": None}]
    response = client.post(f"{OPS}/upsert", json=body, headers=op)
    assert response.status_code == 207, response.text
    assert response.json()["success"] == ids(1, 2)
    assert [e["entityId"] for e in response.json()["errors"]] == ["urn:x:3"]


def test_update_appends_and_reports_missing_entities(
    client: TestClient, runtime: HubRuntime
) -> None:
    op = operator(runtime)
    client.post(f"{OPS}/create", json=[lot(1), lot(2)], headers=op)
    change = [
        {"id": ids(1)[0], "type": "OffStreetParking", "availableSpotNumber": 50, "status": "x"},
        {"id": ids(2)[0], "type": "OffStreetParking", "status": "y"},
    ]
    done = client.post(f"{OPS}/update", json=change, headers=op)
    assert done.status_code == 204, done.text
    assert get(client, ids(1)[0], options="keyValues")["availableSpotNumber"] == 50
    assert get(client, ids(2)[0], options="keyValues")["availableSpotNumber"] == 2  # kept
    keep = [{**change[0], "availableSpotNumber": 99}, {**change[1], "id": "urn:x:none"}]
    partial = client.post(f"{OPS}/update", json=keep, params={"options": "noOverwrite"}, headers=op)
    assert partial.status_code == 207, partial.text
    assert partial.json()["success"] == ids(1)
    assert error_of(partial.json(), "urn:x:none")["type"] == ERRORS + "ResourceNotFound"
    assert get(client, ids(1)[0], options="keyValues")["availableSpotNumber"] == 50


def test_delete_answers_204_or_207(client: TestClient, runtime: HubRuntime) -> None:
    op = operator(runtime)
    client.post(f"{OPS}/create", json=[lot(1), lot(2), lot(3)], headers=op)
    done = client.post(f"{OPS}/delete", json=ids(1, 2), headers=op)
    assert done.status_code == 204, done.text
    assert get(client, ids(1)[0]) == 404
    partial = client.post(f"{OPS}/delete", json=[*ids(2, 3), 5], headers=op)
    assert partial.status_code == 207, partial.text
    assert partial.json()["success"] == ids(3)
    assert error_of(partial.json(), ids(2)[0])["status"] == 404
    assert partial.json()["errors"][1]["entityId"] is None
    assert history(runtime, "availableSpotNumber", ids(1)[0]) == [1]  # history stays


def test_changes_are_announced_after_commit(client: TestClient, runtime: HubRuntime) -> None:
    op = operator(runtime)
    heard: list[ReadingsStored] = []
    unsubscribe = runtime.events.subscribe(heard.append)
    try:
        client.post(f"{OPS}/create", json=[lot(1), lot(2)], headers=op)
        client.post(f"{OPS}/update", json=[{**lot(1), "status": "x"}], headers=op)
        client.post(f"{OPS}/delete", json=ids(2), headers=op)
    finally:
        unsubscribe()
    triggers = [(e.entity_id[-5:], e.trigger, sorted(e.attributes)) for e in heard]
    assert triggers == [
        ("b0001", "entityCreated", ["availableSpotNumber", "location"]),
        ("b0002", "entityCreated", ["availableSpotNumber", "location"]),
        ("b0001", "attributeCreated", ["status"]),
        ("b0001", "attributeUpdated", ["availableSpotNumber", "location"]),
        ("b0002", "entityDeleted", []),
    ]


def test_a_thousand_entities_go_in_one_request(client: TestClient, runtime: HubRuntime) -> None:
    op = operator(runtime)
    batch = [lot(i) for i in range(1000)]
    started = time.perf_counter()
    created = client.post(f"{OPS}/create", json=batch, headers=op)
    elapsed = time.perf_counter() - started
    assert created.status_code == 201, created.text
    assert len(created.json()) == 1000
    assert elapsed < 20, f"batch create of 1000 took {elapsed:.1f}s"
    upserted = client.post(f"{OPS}/upsert", json=batch, headers=op)
    assert upserted.status_code == 204, upserted.text
    count = client.get(f"{BASE}/entities", params={"type": "OffStreetParking", "count": "true"})
    assert count.headers["NGSILD-Results-Count"] == "1000"
