"""Comment threads, votes and debates through the API and the pages (SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.hub.runtime import HubRuntime
from tests.services.participation.talk_fixtures import (
    add_process,
    comment,
    open_debate,
    sign_in,
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


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'


def test_xss_payloads_are_stored_as_text_and_rendered_inert(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    ann = user(talk_runtime, "ann")
    debate = open_debate(talk_client, ann, process)
    comment(talk_client, ann, debate, XSS)
    thread = talk_client.get(
        f"{API}/comments", params={"target_type": "debate", "target_id": debate}
    ).json()
    assert thread["comments"][0]["body"] == XSS  # stored as plain text, unchanged
    page = talk_client.get(f"/participation/debates/{debate}").text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    )


def test_page_forms_post_comments_votes_edits_and_deletions(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    ann = user(talk_runtime, "ann")
    user(talk_runtime, "bob")
    debate = open_debate(talk_client, ann, process)
    theirs = comment(talk_client, ann, debate, "ann's view")
    here = f"/participation/debates/{debate}"
    csrf = sign_in(talk_client, "bob")
    form = {"target_type": "debate", "target_id": str(debate), "body": "bob's", "next": here}
    refused = talk_client.post("/participation/comments", data=form, follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token
    posted = talk_client.post(
        "/participation/comments",
        data={**form, "csrf": csrf, "alignment": "against", "parent_id": str(theirs)},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"].startswith(f"{here}#comment-")
    mine = int(posted.headers["location"].rsplit("-", 1)[1])
    vote = {"csrf": csrf, "value": "1", "next": here}
    for _ in range(2):  # twice: still one vote
        answer = talk_client.post(
            f"/participation/comments/{theirs}/vote", data=vote, follow_redirects=False
        )
        assert answer.status_code == 303
    down = {**vote, "value": "-1"}
    talk_client.post(f"/participation/comments/{theirs}/vote", data=down, follow_redirects=False)
    edit = {"csrf": csrf, "body": "bob's, edited", "next": here}
    talk_client.post(f"/participation/comments/{mine}/edit", data=edit, follow_redirects=False)
    other = talk_client.post(
        f"/participation/comments/{theirs}/edit", data=edit, follow_redirects=False
    )
    assert other.status_code == 403  # not the author
    thread = talk_client.get(
        f"{API}/comments", params={"target_type": "debate", "target_id": debate}
    ).json()["comments"]
    assert (thread[0]["up"], thread[0]["down"]) == (0, 1)  # the vote changed, one vote
    reply = thread[0]["replies"][0]
    assert (reply["body"], reply["alignment"], reply["edited"]) == (
        "bob's, edited",
        "against",
        True,
    )
    talk_client.post(
        f"/participation/comments/{mine}/delete", data={"csrf": csrf}, follow_redirects=False
    )
    page = talk_client.get(here).text
    assert "Deleted by its author" in page
    assert "bob&#39;s, edited" not in page


def test_a_blocked_user_cannot_comment_from_the_page(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    ann = user(talk_runtime, "ann")
    user(talk_runtime, "troll")
    mod = user(talk_runtime, "mod", "moderator")
    debate = open_debate(talk_client, ann, process)
    block = {"username": "troll", "reason": "spam"}
    assert talk_client.post(f"{API}/moderation/block", json=block, headers=mod).status_code == 200
    csrf = sign_in(talk_client, "troll")
    page = talk_client.get(f"/participation/debates/{debate}").text
    assert "Your account is blocked" in page
    form = {"csrf": csrf, "target_type": "debate", "target_id": str(debate), "body": "hi"}
    answer = talk_client.post("/participation/comments", data=form, follow_redirects=False)
    assert answer.status_code == 403
    assert "blocked" in answer.text


def test_debates_are_closed_by_operators_with_a_conclusion(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    hidden_process = add_process(talk_runtime, "draft", published=False)
    ann = user(talk_runtime, "ann")
    city = user(talk_runtime, "city", "operator")
    citizen_debate = open_debate(talk_client, ann, process)
    official = talk_client.get(f"{API}/debates/{open_debate(talk_client, city, process)}").json()
    assert official["official"] is True
    assert talk_client.get(f"{API}/debates/{citizen_debate}").json()["official"] is False
    draft = {"process_id": hidden_process, "title": "t", "description": "d"}
    assert talk_client.post(f"{API}/debates", json=draft, headers=ann).status_code == 404
    close = {"conclusion": "We will run night buses from March."}
    url = f"{API}/debates/{citizen_debate}/close"
    assert talk_client.post(url, json=close, headers=ann).status_code == 403
    closed = talk_client.post(url, json=close, headers=city)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert talk_client.post(url, json=close, headers=city).status_code == 409
    late = talk_client.post(
        f"{API}/comments",
        json={"target_type": "debate", "target_id": citizen_debate, "body": "late"},
        headers=ann,
    )
    assert late.status_code == 409
    page = talk_client.get(f"/participation/debates/{citizen_debate}").text
    assert "We will run night buses from March." in page


def test_replies_stop_at_four_levels(talk_client: TestClient, talk_runtime: HubRuntime) -> None:
    process = add_process(talk_runtime)
    ann = user(talk_runtime, "ann")
    debate = open_debate(talk_client, ann, process)
    parent = None
    for _ in range(4):
        parent = comment(talk_client, ann, debate, "deeper", parent_id=parent)
    too_deep = talk_client.post(
        f"{API}/comments",
        json={"target_type": "debate", "target_id": debate, "body": "x", "parent_id": parent},
        headers=ann,
    )
    assert too_deep.status_code == 409
    empty = talk_client.post(
        f"{API}/comments",
        json={"target_type": "debate", "target_id": debate, "body": " \x00 "},
        headers=ann,
    )
    assert empty.status_code == 422


def test_debates_are_open_data_without_people(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    ann, bob = user(talk_runtime, "ann"), user(talk_runtime, "bob")
    mod = user(talk_runtime, "mod", "moderator")
    debate = open_debate(talk_client, ann, process)
    for who, alignment in ((ann, "for"), (bob, "against"), (bob, "for")):
        answer = talk_client.post(
            f"{API}/comments",
            json={
                "target_type": "debate",
                "target_id": debate,
                "body": "view",
                "alignment": alignment,
            },
            headers=who,
        )
        assert answer.status_code == 201
    entity_id = f"urn:ngsi-ld:CivicDebate:sejong-debate-{debate}"
    entity = talk_client.get(f"/ngsi-ld/v1/entities/{entity_id}", params={"options": "keyValues"})
    assert entity.status_code == 200, entity.text
    data = entity.json()
    assert (data["commentCount"], data["commentsInFavour"], data["commentsAgainst"]) == (3, 2, 1)
    assert data["title"] == "Night buses?"
    assert "ann" not in entity.text
    assert "bob" not in entity.text
    item = {"target_type": "debate", "target_id": debate}
    assert talk_client.post(f"{API}/moderation/hide", json=item, headers=mod).status_code == 200
    assert talk_client.get(f"/ngsi-ld/v1/entities/{entity_id}").status_code == 404
