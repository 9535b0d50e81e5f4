"""Comment threads, votes and debates through the API and the pages (SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from tests.services.participation.talk_fixtures import (
    add_process,
    comment,
    open_debate,
    talk_client,
    talk_runtime,
    user,
)

__all__ = ["talk_client", "talk_runtime"]
API = "/api/v1/participation"


def test_a_thread_nests_replies_and_counts_votes(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    ann, bob, cho = (user(talk_runtime, n) for n in ("ann", "bob", "cho"))
    debate = open_debate(talk_client, ann, process)
    first = comment(talk_client, ann, debate, "first")
    second = comment(talk_client, bob, debate, "second")
    reply = comment(talk_client, cho, debate, "a reply", parent_id=first)
    for voter in (ann, cho):
        answer = talk_client.put(f"{API}/comments/{second}/vote", json={"value": 1}, headers=voter)
        assert answer.status_code == 200
    thread = talk_client.get(
        f"{API}/comments", params={"target_type": "debate", "target_id": debate}
    ).json()
    assert [c["id"] for c in thread["comments"]] == [second, first]  # best first
    assert thread["comments"][0]["up"] == 2
    assert [r["id"] for r in thread["comments"][1]["replies"]] == [reply]
    oldest = talk_client.get(
        f"{API}/comments", params={"target_type": "debate", "target_id": debate, "sort": "oldest"}
    ).json()
    assert [c["id"] for c in oldest["comments"]] == [first, second]
    assert oldest["count"] == 3


def test_the_debate_page_shows_the_thread_with_its_forms(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    ann = user(talk_runtime, "ann")
    debate = open_debate(talk_client, ann, process)
    comment(talk_client, ann, debate, "hello there")
    page = talk_client.get(f"/participation/debates/{debate}")
    assert page.status_code == 200
    assert "hello there" in page.text
    assert "Sign in</a> to comment" in page.text
    listing = talk_client.get("/participation/debates", params={"process_id": process})
    assert "Night buses?" in listing.text
