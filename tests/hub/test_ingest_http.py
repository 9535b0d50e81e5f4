"""HTTP ingest: a device posts SenML packs with its own key."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from citysmart.core.models import AuditEvent
from citysmart.hub.models import Attribute, DeadLetter, Device, Observation
from citysmart.hub.runtime import HubRuntime
from tests.factories import create_device, pm_pack

ENTITY = "urn:ngsi-ld:AirQualityObserved:aq-0001"


def post(client: TestClient, key: str, body: object, **headers: str):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/api/v1/ingest",
        content=data,
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/senml+json",
            **headers,
        },
    )


def stored(runtime: HubRuntime) -> list[tuple[str, str, float | None]]:
    """Return the readings stored for the device's entity, oldest first."""
    with runtime.sessions() as s:
        rows = s.execute(
            select(Observation.entity_id, Observation.attribute, Observation.num_value)
            .where(Observation.entity_id == ENTITY)
            .order_by(Observation.observed_at)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_pack_is_stored_for_the_devices_entity(client: TestClient, runtime: HubRuntime) -> None:
    key = create_device(runtime)
    response = post(client, key, pm_pack(3))
    assert response.status_code == 202
    assert response.json() == {"stored": 3, "duplicates": 0, "rejected": []}
    assert stored(runtime) == [
        (ENTITY, "pm10", 20.0),
        (ENTITY, "pm10", 21.0),
        (ENTITY, "pm10", 22.0),
    ]
    with runtime.sessions() as s:
        latest = s.get(Attribute, (ENTITY, "pm10", ""))
        device = s.get(Device, "aq-0001")
    assert latest is not None
    assert latest.num_value == 22.0
    assert latest.unit == "ug/m3"
    assert device is not None
    assert device.last_seen_at is not None


def test_the_same_reading_delivered_twice_is_stored_once(
    client: TestClient, runtime: HubRuntime
) -> None:
    key = create_device(runtime)
    pack = pm_pack(5, start=time.time() - 600)
    assert post(client, key, pack).json()["stored"] == 5
    again = post(client, key, pack).json()
    assert again == {"stored": 0, "duplicates": 5, "rejected": []}
    assert len(stored(runtime)) == 5


def test_rejected_records_are_listed_and_the_rest_stored(
    client: TestClient, runtime: HubRuntime
) -> None:
    key = create_device(runtime)
    now = time.time()
    pack = [
        {"bn": "urn:dev:aq-0001:", "bt": now - 60, "n": "pm10", "u": "ug/m3", "v": 12},
        {"n": "pm25", "u": "ug/m3", "v": -4},
        {"n": "temperature", "u": "Cel", "v": 9.5},
        {"n": "pm10", "u": "ug/m3", "v": 3, "t": 3600 * 24},
    ]
    response = post(client, key, pack)
    assert response.status_code == 202
    body = response.json()
    assert body["stored"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 3]
    assert "below the physical minimum" in body["rejected"][0]["reason"]
    assert "in the future" in body["rejected"][1]["reason"]
    with runtime.sessions() as s:
        device = s.get(Device, "aq-0001")
    assert device is not None
    assert device.error_count == 2


def test_a_pack_with_only_bad_records_is_422_and_stores_nothing(
    client: TestClient, runtime: HubRuntime
) -> None:
    key = create_device(runtime)
    response = post(client, key, [{"n": "pm10", "v": -1}, {"n": "pm10"}])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1]
    assert stored(runtime) == []


def _state(runtime: HubRuntime) -> tuple[object, ...]:
    with runtime.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Observation)),
            s.scalar(select(func.count()).select_from(Attribute)),
            s.scalar(select(func.count()).select_from(DeadLetter)),
            s.scalar(select(Device.error_count).where(Device.id == "aq-0001")),
        )


def test_packs_refused_whole_leave_nothing_behind(client: TestClient, runtime: HubRuntime) -> None:
    key = create_device(runtime)
    assert post(client, key, pm_pack(2)).status_code == 202
    before = _state(runtime)
    cases = [
        (post(client, key, b"{not json"), 400, "Not JSON"),
        (post(client, key, {"n": "pm10", "v": 1}), 400, "Not a SenML pack"),
        (post(client, key, []), 400, "Not a SenML pack"),
        (post(client, key, b"[" + b" " * (1024 * 1024) + b"]"), 413, "Pack too large"),
        (post(client, "csd_wrong", pm_pack(2)), 401, "Unknown device key"),
        (client.post("/api/v1/ingest", content=b"[]"), 401, "Device key required"),
        (post(client, key, pm_pack(2), **{"Content-Type": "text/plain"}), 415, "Unsupported"),
    ]
    for response, status, title in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == status
        assert problem["title"].startswith(title)
        assert problem["detail"]
    assert _state(runtime) == before


def test_a_revoked_device_is_refused(client: TestClient, runtime: HubRuntime) -> None:
    from citysmart.hub.registry import revoke_device

    key = create_device(runtime)
    with runtime.sessions.begin() as s:
        revoke_device(s, "aq-0001")
    response = post(client, key, pm_pack(2))
    assert response.status_code == 403
    assert response.json()["title"] == "Device revoked"
    assert stored(runtime) == []
    with runtime.sessions() as s:
        actions = list(s.scalars(select(AuditEvent.action)))
    assert "device.key_revoked" in actions
    assert "device.key_created" in actions


def test_a_rotated_key_replaces_the_old_one(client: TestClient, runtime: HubRuntime) -> None:
    from citysmart.hub.registry import rotate_device_key

    old = create_device(runtime)
    with runtime.sessions.begin() as s:
        new = rotate_device_key(s, "aq-0001").key
    assert post(client, old, pm_pack(1)).status_code == 401
    assert post(client, new, pm_pack(1)).status_code == 202


def test_latest_value_never_goes_back_in_time(client: TestClient, runtime: HubRuntime) -> None:
    key = create_device(runtime)
    now = time.time()
    post(client, key, [{"n": "pm10", "u": "ug/m3", "v": 50, "t": now - 10}])
    post(client, key, [{"n": "pm10", "u": "ug/m3", "v": 5, "t": now - 3600}])  # late arrival
    with runtime.sessions() as s:
        latest = s.get(Attribute, (ENTITY, "pm10", ""))
    assert latest is not None
    assert latest.num_value == 50
    assert len(stored(runtime)) == 2


def test_readings_a_month_apart_land_in_their_partitions(
    client: TestClient, runtime: HubRuntime
) -> None:
    key = create_device(runtime)
    # Two years back: no partition exists for it until ingest creates one (on PostgreSQL).
    old = time.time() - 2 * 365 * 86400
    pack = [{"n": "pm10", "u": "ug/m3", "v": 7, "t": old}, {"n": "pm10", "u": "ug/m3", "v": 8}]
    assert post(client, key, pack).json()["stored"] == 2
    assert [v for _, _, v in stored(runtime)] == [7.0, 8.0]


def test_a_database_outage_is_503_and_the_pack_can_be_resent(
    client: TestClient, runtime: HubRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    key = create_device(runtime)
    pack = pm_pack(3)

    def database_down(*_args: object) -> int:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr("citysmart.hub.ingest.insert_observations", database_down)
    response = post(client, key, pack)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["title"] == "Store unavailable"
    monkeypatch.undo()
    assert post(client, key, pack).json()["stored"] == 3
