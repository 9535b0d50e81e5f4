"""Participatory budgets through the API: operators set up, verified residents allocate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from citysmart.core.config import Settings
from citysmart.core.models import AuditEvent
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.models_budget import Ballot
from tests.services.participation.budget_support import app_client, block, later, process, user

API = "/api/v1/participation/budgets"


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service."""
    with app_client(settings, runtime) as test_client:
        yield test_client


def make_budget(
    client: TestClient, runtime: HubRuntime, rule: str = "greedy", **extra: object
) -> tuple[int, dict[str, str], list[int]]:
    """Create a budget of 100,000,000 KRW with projects A 60M, B 40M, C 40M, D 10M."""
    operator = user(runtime, "operator1", "operator")
    body = {
        "process_id": process(runtime),
        "title": "Dong budget",
        "total_krw": 100_000_000,
        "rule": rule,
        "closes_at": later(),
        **extra,
    }
    created = client.post(API, json=body, headers=operator)
    assert created.status_code == 201, created.text
    budget_id = created.json()["id"]
    ids = []
    for title, cost in (("A", 60), ("B", 40), ("C", 40), ("D", 10)):
        answer = client.post(
            f"{API}/{budget_id}/projects",
            json={"title": title, "cost_krw": cost * 1_000_000, "lat": 36.48, "lon": 127.29},
            headers=operator,
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return budget_id, operator, ids


def vote(client: TestClient, budget_id: int, headers: dict[str, str], ids: list[int]) -> None:
    """Fill in a ballot and check it out."""
    assert (
        client.put(
            f"{API}/{budget_id}/ballot", json={"project_ids": ids}, headers=headers
        ).status_code
        == 200
    )
    answer = client.post(f"{API}/{budget_id}/ballot/checkout", headers=headers)
    assert answer.status_code == 200, answer.text


def test_operators_create_budgets_and_others_may_not(
    client: TestClient, runtime: HubRuntime
) -> None:
    budget_id, _, ids = make_budget(client, runtime, min_share_pct=50, max_projects=3)
    shown = client.get(f"{API}/{budget_id}").json()
    assert [p["title"] for p in shown["projects"]] == ["A", "B", "C", "D"]
    assert shown["minimum_krw"] == 50_000_000
    assert "at most 3 projects" in shown["ballot_rule"]
    assert shown["rule_name"] == "greedy by votes"
    resident = user(runtime, "minji", "resident", verified=True)
    refused = client.post(
        API,
        json={"process_id": 1, "title": "x", "total_krw": 1, "closes_at": later()},
        headers=resident,
    )
    assert refused.status_code == 403
    assert "operator role" in refused.json()["detail"]


def test_a_resident_allocates_changes_and_checks_out_once(
    client: TestClient, runtime: HubRuntime
) -> None:
    budget_id, _, (a, b, c, d) = make_budget(client, runtime, min_share_pct=50)
    minji = user(runtime, "minji", "resident", verified=True)
    draft = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [d]}, headers=minji)
    assert draft.status_code == 200
    assert draft.json()["spent_krw"] == 10_000_000
    # Under the 50% minimum: saved as a draft, but not checked out.
    early = client.post(f"{API}/{budget_id}/ballot/checkout", headers=minji)
    assert early.status_code == 422
    assert "at least 50,000,000 KRW" in early.json()["detail"]
    over = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [a, b, d]}, headers=minji)
    assert over.status_code == 422
    assert "110,000,000 KRW, over the budget" in over.json()["detail"]
    assert client.get(f"{API}/{budget_id}/ballot", headers=minji).json()["project_ids"] == [d]
    vote(client, budget_id, minji, [a, d])
    final = client.get(f"{API}/{budget_id}/ballot", headers=minji).json()
    assert final["checked_out"] is True
    assert final["remaining_krw"] == 30_000_000
    again = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [b]}, headers=minji)
    assert again.status_code == 409
    twice = client.post(f"{API}/{budget_id}/ballot/checkout", headers=minji)
    assert twice.status_code == 409
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ballot)) == 1
        actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("participation.ballot.checkout") == 1


def test_unknown_projects_and_too_many_are_refused(client: TestClient, runtime: HubRuntime) -> None:
    budget_id, _, (a, b, c, d) = make_budget(client, runtime, max_projects=2)
    minji = user(runtime, "minji", "resident", verified=True)
    unknown = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [9999]}, headers=minji)
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "project 9999 is not in this budget"
    many = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [b, c, d]}, headers=minji)
    assert many.status_code == 422
    assert many.json()["detail"] == "3 projects chosen; at most 2 are allowed"


def test_unverified_and_blocked_residents_are_refused(
    client: TestClient, runtime: HubRuntime
) -> None:
    budget_id, _, (a, *_) = make_budget(client, runtime)
    citizen = user(runtime, "citizen1")
    refused = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [a]}, headers=citizen)
    assert refused.status_code == 403
    assert refused.json()["title"] == "Not a verified resident"
    blocked = user(runtime, "blocked1", "resident", verified=True)
    block(runtime, "blocked1")
    refused = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [a]}, headers=blocked)
    assert refused.status_code == 403
    assert refused.json()["title"] == "Blocked"
    anonymous = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [a]})
    assert anonymous.status_code == 401


@pytest.mark.parametrize(("rule", "funded"), [("greedy", "AB"), ("equal_shares", "BCD")])
def test_results_by_the_stated_rule_after_close(
    client: TestClient, runtime: HubRuntime, rule: str, funded: str
) -> None:
    # 10 residents: six want A and B, four want C and D. Greedy by votes funds A and B
    # (100M spent). Equal shares (10M each): B first (40M / 6), then C and D by the four
    # (10M / 4 = 2.5M each for D, 40M / 4 for C): B, D, C; A never gathers 60M again.
    budget_id, operator, (a, b, c, d) = make_budget(client, runtime, rule=rule)
    for n in range(10):
        headers = user(runtime, f"resident{n}", "resident", verified=True)
        vote(client, budget_id, headers, [a, b] if n < 6 else [c, d])
    hidden = client.get(f"{API}/{budget_id}/results")
    assert hidden.status_code == 403
    assert client.get(f"{API}/{budget_id}/results", headers=operator).status_code == 200
    assert client.post(f"{API}/{budget_id}/close", headers=operator).status_code == 200
    results = client.get(f"{API}/{budget_id}/results").json()
    assert results["ballots"] == 10
    assert results["rule"] == rule
    by_title = {p["title"]: p for p in results["projects"]}
    assert {t: p["votes"] for t, p in by_title.items()} == {"A": 6, "B": 6, "C": 4, "D": 4}
    assert "".join(sorted(t for t, p in by_title.items() if p["funded"])) == funded
    late = user(runtime, "late", "resident", verified=True)
    closed = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [a]}, headers=late)
    assert closed.status_code == 409


def test_a_session_write_without_its_csrf_token_is_refused(
    client: TestClient, runtime: HubRuntime
) -> None:
    budget_id, _, (a, *_) = make_budget(client, runtime)
    user(runtime, "minji", "resident", verified=True)
    page = client.get("/signin")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    signed = client.post(
        "/signin",
        data={
            "username": "minji",
            "password": "correct horse battery staple",
            "csrf": csrf,
            "next": "/",
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303
    refused = client.put(f"{API}/{budget_id}/ballot", json={"project_ids": [a]})
    assert refused.status_code == 403
    assert refused.json()["title"] == "CSRF check failed"
    csrf = client.get("/").text.split('name="csrf" value="')[1].split('"')[0]
    allowed = client.put(
        f"{API}/{budget_id}/ballot", json={"project_ids": [a]}, headers={"X-CSRF-Token": csrf}
    )
    assert allowed.status_code == 200, allowed.text


def test_open_data_publishes_tallies_only_after_close(
    client: TestClient, runtime: HubRuntime
) -> None:
    budget_id, operator, (a, b, c, d) = make_budget(client, runtime)
    vote(client, budget_id, user(runtime, "minji", "resident", verified=True), [a, d])
    before = client.get("/api/v1/participation/opendata/budgets").json()["budgets"][0]
    assert "votes" not in before["projects"][0]
    client.post(f"{API}/{budget_id}/close", headers=operator)
    after = client.get("/api/v1/participation/opendata/budgets").json()["budgets"][0]
    assert [p["votes"] for p in after["projects"]] == [1, 0, 0, 1]
    assert "user" not in str(after)
    csv_text = client.get("/api/v1/participation/opendata/budgets.csv").text
    assert csv_text.splitlines()[0].startswith("budget_id,budget_title")
    assert ",A,60000000,,1,True" in csv_text
