"""Accounts: argon2 passwords, expiring revocable tokens, roles on every write, the audit log."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from citysmart.core.accounts import (
    AccountError,
    authenticate_password,
    create_user,
    issue_token,
    revoke_tokens,
    set_role,
)
from citysmart.core.models import ApiToken, AuditEvent, User
from citysmart.hub.runtime import HubRuntime
from tests.factories import create_device, create_user_with_token


def actions(runtime: HubRuntime) -> list[str]:
    with runtime.sessions() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_passwords_are_stored_as_argon2_hashes(runtime: HubRuntime) -> None:
    with runtime.sessions.begin() as s:
        create_user(s, "minji", "operator", "correct horse battery")
    with runtime.sessions() as s:
        user = s.scalars(select(User)).one()
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert "correct horse" not in user.password_hash
    with runtime.sessions.begin() as s:
        assert authenticate_password(s, "minji", "correct horse battery") is not None
        assert authenticate_password(s, "minji", "wrong") is None
        assert authenticate_password(s, "nobody", "wrong") is None
    assert actions(runtime) == [
        "user.created",
        "auth.sign_in",
        "auth.sign_in_failed",
        "auth.sign_in_failed",
    ]


@pytest.mark.parametrize(
    ("name", "role", "password", "words"),
    [
        ("x", "citizen", None, "user name"),
        ("good", "mayor", None, "unknown role"),
        ("good", "citizen", "short", "at least 8"),
    ],
)
def test_bad_accounts_are_refused(
    runtime: HubRuntime, name: str, role: str, password: str | None, words: str
) -> None:
    with pytest.raises((AccountError, ValueError), match=words), runtime.sessions.begin() as s:
        create_user(s, name, role, password)


def test_tokens_are_hashed_expire_and_can_be_revoked(
    client: TestClient, runtime: HubRuntime
) -> None:
    token = create_user_with_token(runtime, "op", "operator")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/devices", headers=auth).status_code == 200
    with runtime.sessions() as s:
        stored = s.scalars(select(ApiToken)).one()
        assert token not in stored.token_hash
        assert len(stored.token_hash) == 64
    with runtime.sessions.begin() as s:
        row = s.scalars(select(ApiToken)).one()
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert client.get("/api/v1/devices", headers=auth).status_code == 401
    with runtime.sessions.begin() as s:
        fresh, _ = issue_token(s, "op", 1)
    assert (
        client.get("/api/v1/devices", headers={"Authorization": f"Bearer {fresh}"}).status_code
        == 200
    )
    with runtime.sessions.begin() as s:
        assert revoke_tokens(s, "op") == 2
    response = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {fresh}"})
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_every_write_route_checks_the_role(client: TestClient, runtime: HubRuntime) -> None:
    create_device(runtime)
    citizen = {"Authorization": f"Bearer {create_user_with_token(runtime, 'jisoo', 'citizen')}"}
    operator = {"Authorization": f"Bearer {create_user_with_token(runtime, 'op', 'operator')}"}
    admin = {"Authorization": f"Bearer {create_user_with_token(runtime, 'boss', 'admin')}"}
    entity = {"id": "urn:ngsi-ld:OffStreetParking:jochiwon-1", "type": "OffStreetParking"}
    device = {"id": "p-1", "entity_id": entity["id"], "entity_type": "OffStreetParking"}

    writes = [
        ("post", "/api/v1/entities", entity, "operator"),
        ("post", "/api/v1/devices", device, "admin"),
        ("post", "/api/v1/devices/aq-0001/revoke", None, "admin"),
    ]
    for method, path, body, needed in writes:
        assert client.request(method, path, json=body).status_code == 401
        assert client.request(method, path, json=body, headers=citizen).status_code == 403
        if needed == "admin":
            assert client.request(method, path, json=body, headers=operator).status_code == 403
        ok = client.request(
            method, path, json=body, headers=admin if needed == "admin" else operator
        )
        assert ok.status_code in (200, 201), ok.text
    for path in ("/api/v1/devices", "/api/v1/dead-letters"):
        assert client.get(path, headers=citizen).status_code == 403
        assert client.get(path, headers=operator).status_code == 200


def test_a_device_registered_over_the_api_gets_a_working_key(
    client: TestClient, runtime: HubRuntime
) -> None:
    admin = {"Authorization": f"Bearer {create_user_with_token(runtime, 'boss', 'admin')}"}
    body = {
        "id": "pk-7",
        "entity_id": "urn:ngsi-ld:OffStreetParking:7",
        "entity_type": "OffStreetParking",
        "location": {"type": "Point", "coordinates": [127.29, 36.6]},
    }
    response = client.post("/api/v1/devices", json=body, headers=admin)
    assert response.status_code == 201
    key = response.json()["key"]
    ingest = client.post(
        "/api/v1/ingest",
        json=[{"n": "availableSpotNumber", "v": 12}],
        headers={"Authorization": f"Bearer {key}"},
    )
    assert ingest.status_code == 202
    assert ingest.json()["stored"] == 1
    again = client.post("/api/v1/devices", json=body, headers=admin)
    assert again.status_code == 422
    assert "already registered" in again.json()["detail"]
    bad = client.post(
        "/api/v1/devices", json={**body, "id": "pk-8", "entity_id": "not-a-urn"}, headers=admin
    )
    assert bad.status_code == 422
    assert "not a URN" in bad.json()["detail"]
    listed = client.get("/api/v1/devices", headers=admin).json()
    assert [d["id"] for d in listed] == ["pk-7"]
    assert "key" not in listed[0]


def test_role_changes_are_audited(runtime: HubRuntime) -> None:
    with runtime.sessions.begin() as s:
        create_user(s, "minji", "citizen")
        set_role(s, "minji", "operator")
    with runtime.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "user.role_changed")).one()
    assert event.target == "minji"
    assert event.detail == {"old": "citizen", "new": "operator"}
