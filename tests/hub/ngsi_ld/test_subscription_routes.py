"""NGSI-LD subscription routes (clause 5.8) on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from citysmart.hub.ngsi_ld.context import ContextResolver, ContextSettings
from citysmart.hub.ngsi_ld.tables import SubscriptionRow
from citysmart.hub.runtime import HubRuntime
from tests.factories import create_device, create_user_with_token

BASE = "/ngsi-ld/v1"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
USER_CONTEXT = "https://example.org/aq-context.jsonld"
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
SUB = "urn:ngsi-ld:Subscription:aq"

MINIMAL: dict[str, Any] = {
    "id": SUB,
    "type": "Subscription",
    "entities": [{"type": "AirQualityObserved"}],
    "watchedAttributes": ["pm10"],
    "q": "pm10>30",
    "notification": {
        "attributes": ["pm10"],
        "format": "keyValues",
        "endpoint": {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"},
    },
}


def body(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(MINIMAL)
    out.update(changes)
    return out


def link(url: str) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'}


@pytest.fixture
def op(runtime: HubRuntime) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_user_with_token(runtime, 'op', 'operator')}"}


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()
    assert found["type"] == ERRORS + kind, found
    return found


def create(client: TestClient, op: dict[str, str], sub: dict[str, Any], **headers: str) -> Any:
    return client.post(f"{BASE}/subscriptions", json=sub, headers={**op, **headers})


def test_create_retrieve_and_delete(client: TestClient, op: dict[str, str]) -> None:
    created = create(client, op, MINIMAL)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{BASE}/subscriptions/{SUB}"
    got = client.get(f"{BASE}/subscriptions/{SUB}", headers=op)
    assert got.status_code == 200, got.text
    assert CONTEXT_REL in got.headers["link"]
    sub = got.json()
    assert sub["id"] == SUB
    assert sub["type"] == "Subscription"
    assert sub["entities"] == [{"type": "AirQualityObserved"}]
    assert sub["watchedAttributes"] == ["pm10"]
    assert sub["q"] == "pm10>30"
    assert sub["status"] == "active"
    assert sub["isActive"] is True
    notification = sub["notification"]
    assert notification["attributes"] == ["pm10"]
    assert notification["format"] == "keyValues"
    assert notification["endpoint"] == MINIMAL["notification"]["endpoint"]
    assert notification["timesSent"] == 0
    assert "createdAt" not in sub
    with_times = client.get(f"{BASE}/subscriptions/{SUB}?options=sysAttrs", headers=op).json()
    assert with_times["createdAt"].endswith("Z")
    assert client.delete(f"{BASE}/subscriptions/{SUB}", headers=op).status_code == 204
    problem(client.get(f"{BASE}/subscriptions/{SUB}", headers=op), 404, "ResourceNotFound")
    problem(client.delete(f"{BASE}/subscriptions/{SUB}", headers=op), 404, "ResourceNotFound")


def test_names_are_stored_expanded_and_read_with_the_subscribers_context(
    client: TestClient, op: dict[str, str], runtime: HubRuntime
) -> None:
    resolver = ContextResolver(settings=ContextSettings(allow_remote=False))
    resolver.preload(USER_CONTEXT, {"@context": {"particulates": VOCAB + "pm10"}})
    client.app.state.ngsi_ld.resolver = resolver  # type: ignore[attr-defined]
    sub = body(watchedAttributes=["particulates"], q="particulates>30")
    sub["notification"]["attributes"] = ["particulates"]
    assert create(client, op, sub, **link(USER_CONTEXT)).status_code == 201
    with runtime.sessions() as session:
        row = session.scalars(select(SubscriptionRow)).one()
        assert row.body["watchedAttributes"] == [VOCAB + "pm10"]
        assert row.body["qNames"] == {"particulates": VOCAB + "pm10"}
        assert row.context == USER_CONTEXT
    own = client.get(f"{BASE}/subscriptions/{SUB}", headers=op)
    assert own.json()["watchedAttributes"] == ["particulates"]
    assert own.json()["q"] == "particulates>30"  # as given
    assert USER_CONTEXT in own.headers["link"]
    core = client.get(f"{BASE}/subscriptions/{SUB}", headers={**op, **link(CORE_CONTEXT)})
    assert core.json()["watchedAttributes"] == ["pm10"]
    ld = client.get(f"{BASE}/subscriptions/{SUB}", headers={**op, "Accept": "application/ld+json"})
    assert ld.headers["content-type"].startswith("application/ld+json")
    assert ld.json()["@context"] == USER_CONTEXT


def test_an_existing_id_is_a_conflict(client: TestClient, op: dict[str, str]) -> None:
    assert create(client, op, MINIMAL).status_code == 201
    problem(create(client, op, MINIMAL), 409, "AlreadyExists")


def test_an_id_is_generated_when_none_is_given(client: TestClient, op: dict[str, str]) -> None:
    sub = body()
    del sub["id"]
    created = create(client, op, sub)
    assert created.status_code == 201, created.text
    assert "/subscriptions/urn:ngsi-ld:Subscription:" in created.headers["location"]
    assert client.get(created.headers["location"], headers=op).status_code == 200


BAD_BODIES: list[tuple[str, Any, int, str]] = [
    ("not an object", [MINIMAL], 400, "InvalidRequest"),
    ("no type", {k: v for k, v in MINIMAL.items() if k != "type"}, 400, "BadRequestData"),
    ("wrong type", body(type="Entity"), 400, "BadRequestData"),
    ("no notification", {k: v for k, v in MINIMAL.items() if k != "notification"}, 400,
     "BadRequestData"),
    ("no endpoint", body(notification={"format": "keyValues"}), 400, "BadRequestData"),
    ("no uri", body(notification={"endpoint": {"accept": "application/json"}}), 400,
     "BadRequestData"),
    ("bad scheme", body(notification={"endpoint": {"uri": "ftp://x.org/n"}}), 400,
     "BadRequestData"),
    ("bad accept", body(notification={"endpoint": {"uri": "http://x.org", "accept": "text/csv"}}),
     400, "BadRequestData"),
    ("unknown member", body(colour="red"), 400, "BadRequestData"),
    ("bad q", body(q="pm10>>"), 400, "BadRequestData"),
    ("bad geoQ", body(geoQ={"georel": "near", "geometry": "Point"}), 400, "BadRequestData"),
    ("bad scopeQ", body(scopeQ="nope"), 400, "BadRequestData"),
    ("entity without type", body(entities=[{"id": "urn:x:1"}]), 400, "BadRequestData"),
    ("bad idPattern", body(entities=[{"type": "A", "idPattern": "("}]), 400, "BadRequestData"),
    ("nothing watched", {k: v for k, v in MINIMAL.items() if k not in ("entities",
     "watchedAttributes")}, 400, "BadRequestData"),
    ("interval and watched", body(timeInterval=10), 400, "BadRequestData"),
    ("negative throttling", body(throttling=-1), 400, "BadRequestData"),
    ("past expiresAt", body(expiresAt="2001-01-01T00:00:00Z"), 400, "BadRequestData"),
    ("bad trigger", body(notificationTrigger=["sometimes"]), 400, "BadRequestData"),
    ("bad format", body(notification={"format": "tabular", "endpoint": {"uri": "http://x.org"}}),
     400, "BadRequestData"),
    ("null member", body(description=None), 400, "BadRequestData"),
    ("csf", body(csf="x"), 422, "OperationNotSupported"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("why", "sub", "status", "kind"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_bodies_are_refused(
    client: TestClient, op: dict[str, str], why: str, sub: Any, status: int, kind: str
) -> None:
    problem(create(client, op, sub), status, kind)
    assert client.get(f"{BASE}/subscriptions", headers=op).json() == []


def test_bad_json_and_media_type(client: TestClient, op: dict[str, str]) -> None:
    url = f"{BASE}/subscriptions"
    broken = client.post(url, content=b"{", headers={**op, "Content-Type": "application/json"})
    problem(broken, 400, "InvalidRequest")
    text = client.post(url, content=b"{}", headers={**op, "Content-Type": "text/plain"})
    assert text.status_code == 415


def test_only_operators_manage_subscriptions(client: TestClient, runtime: HubRuntime) -> None:
    assert create(client, {}, MINIMAL).status_code == 401
    citizen = {"Authorization": f"Bearer {create_user_with_token(runtime, 'cit', 'citizen')}"}
    assert create(client, citizen, MINIMAL).status_code == 403
    device = {"Authorization": f"Bearer {create_device(runtime)}"}
    assert create(client, device, MINIMAL).status_code == 403
    for headers in ({}, citizen):
        assert client.get(f"{BASE}/subscriptions", headers=headers).status_code in (401, 403)
        assert client.get(f"{BASE}/subscriptions/{SUB}", headers=headers).status_code in (
            401,
            403,
        )
        patch = client.patch(
            f"{BASE}/subscriptions/{SUB}", json={"isActive": False}, headers=headers
        )
        assert patch.status_code in (401, 403)
        assert client.delete(f"{BASE}/subscriptions/{SUB}", headers=headers).status_code in (
            401,
            403,
        )


def test_list_pages_and_counts(client: TestClient, op: dict[str, str]) -> None:
    for i in range(5):
        assert create(client, op, body(id=f"{SUB}{i}")).status_code == 201
    first = client.get(f"{BASE}/subscriptions?limit=2&count=true", headers=op)
    assert first.status_code == 200, first.text
    assert [s["id"] for s in first.json()] == [f"{SUB}0", f"{SUB}1"]
    assert first.headers["ngsild-results-count"] == "5"
    nexts = [v for v in first.headers.get_list("link") if 'rel="next"' in v]
    assert nexts
    assert "offset=2" in nexts[0]
    last = client.get(f"{BASE}/subscriptions?limit=2&offset=4", headers=op)
    assert [s["id"] for s in last.json()] == [f"{SUB}4"]
    assert not [v for v in last.headers.get_list("link") if 'rel="next"' in v]
    problem(client.get(f"{BASE}/subscriptions?limit=-1", headers=op), 400, "BadRequestData")
    problem(client.get(f"{BASE}/subscriptions?offset=x", headers=op), 400, "BadRequestData")


def test_patch_updates_members(client: TestClient, op: dict[str, str]) -> None:
    assert create(client, op, body(throttling=5)).status_code == 201
    url = f"{BASE}/subscriptions/{SUB}"
    fragment = {
        "isActive": False,
        "q": "pm10>50",
        "throttling": None,
        "notification": {"format": "concise", "endpoint": {"accept": "application/ld+json"}},
    }
    patched = client.patch(url, json=fragment, headers=op)
    assert patched.status_code == 204, patched.text
    sub = client.get(url, headers=op).json()
    assert sub["isActive"] is False
    assert sub["status"] == "paused"
    assert sub["q"] == "pm10>50"
    assert "throttling" not in sub
    assert sub["notification"]["format"] == "concise"
    assert sub["notification"]["endpoint"] == {
        "uri": "http://127.0.0.1:9/notify",
        "accept": "application/ld+json",
    }
    problem(client.patch(f"{url}x", json={"isActive": True}, headers=op), 404, "ResourceNotFound")
    problem(client.patch(url, json={}, headers=op), 400, "BadRequestData")
    problem(client.patch(url, json={"id": f"{SUB}x"}, headers=op), 400, "BadRequestData")
    problem(client.patch(url, json={"timeInterval": 10}, headers=op), 400, "BadRequestData")
    problem(client.patch(url, json={"throttling": "fast"}, headers=op), 400, "BadRequestData")
    merge = client.patch(
        url,
        content=b'{"isActive": true}',
        headers={**op, "Content-Type": "application/merge-patch+json"},
    )
    assert merge.status_code == 204
    assert client.get(url, headers=op).json()["status"] == "active"


def test_subscriptions_live_in_their_tenant(client: TestClient, op: dict[str, str]) -> None:
    tenant = {"NGSILD-Tenant": f"t{uuid.uuid4().hex[:10]}"}
    assert create(client, op, MINIMAL, **tenant).status_code == 201
    assert client.get(f"{BASE}/subscriptions", headers=op).json() == []
    problem(client.get(f"{BASE}/subscriptions/{SUB}", headers=op), 404, "ResourceNotFound")
    listed = client.get(f"{BASE}/subscriptions", headers={**op, **tenant}).json()
    assert [s["id"] for s in listed] == [SUB]
    assert client.delete(f"{BASE}/subscriptions/{SUB}", headers={**op, **tenant}).status_code == 204
    missing = client.get(f"{BASE}/subscriptions", headers={**op, "NGSILD-Tenant": "nobody"})
    problem(missing, 404, "NonexistentTenant")
