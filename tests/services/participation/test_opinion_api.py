"""Opinion channel API on SQLite and PostgreSQL: filing, routing, statuses, privacy, open data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from citysmart.core.config import Settings
from citysmart.core.notifications import Notification
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.opinion_opendata import entity_id
from tests.services.participation.sandbox_support import app_client, user

COMPLAINT = {
    "kind": "complaint",
    "category": "parking",
    "title": "Cars parked on the pavement at 12 Hansol-ro",
    "description": "My neighbour Kim Minsu (010-1234-5678) parks there every night.",
    "lon": 127.257,
    "lat": 36.483,
}


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service."""
    with app_client(settings, runtime) as test_client:
        yield test_client


def _notes(runtime: HubRuntime, username: str) -> list[str]:
    from citysmart.core.accounts import get_user

    with runtime.sessions() as session:
        uid = get_user(session, username).id
        return list(session.scalars(select(Notification.title).where(Notification.user_id == uid)))


def test_filing_routes_by_category(client: TestClient, runtime: HubRuntime) -> None:
    citizen = user(runtime, "jiwoo")
    answer = client.post("/api/v1/participation/opinions", json=COMPLAINT, headers=citizen)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "open"
    assert body["department"] == "transport"  # parking goes to the Transportation Division
    assert body["area_code"]  # found from the point
    assert body["history"][0]["status"] == "open"
    idea = {**COMPLAINT, "kind": "idea", "category": "parks", "lon": None, "lat": None}
    assert (
        client.post("/api/v1/participation/opinions", json=idea, headers=citizen).json()[
            "department"
        ]
        == "parks"
    )


def test_operator_changes_routing(client: TestClient, runtime: HubRuntime) -> None:
    citizen, operator = user(runtime, "jiwoo"), user(runtime, "op", "operator")
    refused = client.put(
        "/api/v1/participation/opinions/routing/parking",
        json={"department": "road"},
        headers=citizen,
    )
    assert refused.status_code == 403
    routing = client.put(
        "/api/v1/participation/opinions/routing/parking",
        json={"department": "road"},
        headers=operator,
    )
    assert routing.json()["parking"] == "road"
    filed = client.post("/api/v1/participation/opinions", json=COMPLAINT, headers=citizen)
    assert filed.json()["department"] == "road"


def test_transitions_answers_and_notifications(client: TestClient, runtime: HubRuntime) -> None:
    citizen, operator = user(runtime, "jiwoo"), user(runtime, "op", "operator")
    follower = user(runtime, "neighbour")
    oid = client.post("/api/v1/participation/opinions", json=COMPLAINT, headers=citizen).json()[
        "id"
    ]
    url = f"/api/v1/participation/opinions/{oid}"
    assert client.post(f"{url}/follow", headers=follower).status_code == 204
    # A citizen may not act on the queue.
    assert (
        client.post(f"{url}/status", json={"status": "assigned"}, headers=citizen).status_code
        == 403
    )
    skipped = client.post(f"{url}/status", json={"status": "in_progress"}, headers=operator)
    assert skipped.status_code == 409
    assert skipped.json()["allowed"] == ["assigned", "closed"]
    moved = client.post(
        f"{url}/status", json={"status": "assigned", "department": "safety"}, headers=operator
    )
    assert moved.json()["department"] == "safety"
    assert client.post(f"{url}/status", json={"status": "in_progress"}, headers=operator).is_success
    no_answer = client.post(f"{url}/status", json={"status": "closed"}, headers=operator)
    assert no_answer.status_code == 422
    assert "answer" in no_answer.json()["detail"]
    closed = client.post(
        f"{url}/status",
        json={"status": "closed", "answer": "Enforcement patrols start on 1 December."},
        headers=operator,
    )
    assert closed.json()["status"] == "closed"
    again = client.post(f"{url}/status", json={"status": "open"}, headers=operator)
    assert again.status_code == 409
    assert again.json()["allowed"] == []
    mine = client.get(url, headers=citizen).json()
    assert mine["answer"] == "Enforcement patrols start on 1 December."
    assert [h["status"] for h in mine["history"]] == ["open", "assigned", "in_progress", "closed"]
    assert len(_notes(runtime, "jiwoo")) == 3
    assert len(_notes(runtime, "neighbour")) == 3
    assert _notes(runtime, "op") == []


def test_blocked_user_may_not_file(client: TestClient, runtime: HubRuntime) -> None:
    blocked = user(runtime, "troll", blocked=True)
    answer = client.post("/api/v1/participation/opinions", json=COMPLAINT, headers=blocked)
    assert answer.status_code == 403
    assert client.get("/api/v1/participation/opinions").json() == []


def test_bad_input_says_what_was_wrong(client: TestClient, runtime: HubRuntime) -> None:
    citizen = user(runtime, "jiwoo")
    url = "/api/v1/participation/opinions"
    for change, word in [
        ({"category": "weather"}, "category"),
        ({"title": "  "}, "title"),
        ({"lon": 126.9, "lat": 37.5}, "not in Sejong"),
        ({"area_code": "99999"}, "dong"),
    ]:
        answer = client.post(url, json={**COMPLAINT, **change}, headers=citizen)
        assert answer.status_code == 422, change
        assert word in answer.json()["detail"]
    assert client.post(url, json=COMPLAINT).status_code == 401


def test_public_views_never_show_personal_fields(client: TestClient, runtime: HubRuntime) -> None:
    citizen, other = user(runtime, "jiwoo"), user(runtime, "other")
    oid = client.post("/api/v1/participation/opinions", json=COMPLAINT, headers=citizen).json()[
        "id"
    ]
    public_idea = {
        **COMPLAINT,
        "kind": "idea",
        "category": "parks",
        "public": True,
        "lon": 127.26,
        "lat": 36.48,
        "title": "More benches by the lake",
        "description": "Shade too.",
    }
    client.post("/api/v1/participation/opinions", json=public_idea, headers=citizen)
    for headers in ({}, other):
        listed = client.get("/api/v1/participation/opinions", headers=headers).text
        one = client.get(f"/api/v1/participation/opinions/{oid}", headers=headers).text
        for text in (listed, one):
            assert "Kim Minsu" not in text
            assert "Hansol-ro" not in text
            assert "127.257" not in text
        assert "More benches by the lake" in listed
        assert "jiwoo" in listed
    assert "Kim Minsu" in client.get(f"/api/v1/participation/opinions/{oid}", headers=citizen).text
    assert client.get("/api/v1/participation/opinions/queue", headers=other).status_code == 403
    entity = client.get(f"/ngsi-ld/v1/entities/{entity_id(oid)}")
    assert entity.status_code == 200, entity.text
    assert "Kim Minsu" not in entity.text
    assert "Hansol-ro" not in entity.text
    assert "127.257" not in entity.text
    assert "jiwoo" not in entity.text
    assert "Open" in entity.text
    assert "IssueReporting" in entity.text


def test_opendata_stats_json_and_csv(client: TestClient, runtime: HubRuntime) -> None:
    citizen = user(runtime, "jiwoo")
    for _ in range(2):
        client.post("/api/v1/participation/opinions", json=COMPLAINT, headers=citizen)
    rows = client.get("/api/v1/participation/opendata/opinions").json()
    assert len(rows) == 1
    assert rows[0]["category"] == "parking"
    assert rows[0]["count"] == 2
    assert rows[0]["status"] == "open"
    assert len(rows[0]["month"]) == 7
    csv = client.get("/api/v1/participation/opendata/opinions?format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "month,category,kind,status,count"
    assert "Kim" not in csv.text
