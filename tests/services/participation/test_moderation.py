"""Reports, automatic hiding and moderators' actions (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from citysmart.core.models import AuditEvent, User
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.models_talk import ModerationAction
from citysmart.services.participation.moderation import is_hidden
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


def _report(
    client: TestClient, headers: dict[str, str], kind: str, item: int, reason: str = "spam"
) -> int:
    answer = client.post(
        f"{API}/reports",
        json={"target_type": kind, "target_id": item, "reason": reason, "note": "see"},
        headers=headers,
    )
    return answer.status_code


def _thread(client: TestClient, debate: int) -> list[dict[str, object]]:
    params = {"target_type": "debate", "target_id": debate, "sort": "oldest"}
    comments: list[dict[str, object]] = client.get(f"{API}/comments", params=params).json()[
        "comments"
    ]
    return comments


def test_three_distinct_reporters_hide_a_comment_and_a_repeat_counts_once(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    author = user(talk_runtime, "author")
    one, two, three = (user(talk_runtime, n) for n in ("r1", "r2", "r3"))
    debate = open_debate(talk_client, author, process)
    bad = comment(talk_client, author, debate, "buy cheap watches")
    assert _report(talk_client, one, "comment", bad) == 201
    assert _report(talk_client, one, "comment", bad, "offensive") == 409  # counted once
    assert _report(talk_client, two, "comment", bad) == 201
    assert _thread(talk_client, debate)[0]["state"] == "visible"  # two distinct reporters
    assert _report(talk_client, three, "comment", bad) == 201
    hidden = _thread(talk_client, debate)[0]
    assert hidden["state"] == "hidden"
    assert hidden["body"] is None
    page = talk_client.get(f"/participation/debates/{debate}").text
    assert "Hidden by moderation" in page
    assert "buy cheap watches" not in page
    with talk_runtime.sessions() as session:
        assert is_hidden(session, "comment", [bad, bad + 1]) == {bad}
        auto = session.scalars(select(ModerationAction)).all()
        assert [(a.action, a.moderator_id) for a in auto] == [("auto_hide", None)]
        actions = {e.action for e in session.scalars(select(AuditEvent))}
        assert {"participation.report", "participation.auto_hide"} <= actions
    assert _report(talk_client, one, "comment", 9999) == 404
    assert _report(talk_client, one, "opinionx", bad) == 422


def test_the_threshold_comes_from_the_environment(
    talk_client: TestClient, talk_runtime: HubRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYSMART_PARTICIPATION_HIDE_AFTER_REPORTS", "1")
    process = add_process(talk_runtime)
    author, reporter = user(talk_runtime, "author"), user(talk_runtime, "reporter")
    debate = open_debate(talk_client, author, process)
    assert _report(talk_client, reporter, "debate", debate) == 201
    answer = talk_client.get(f"{API}/debates/{debate}").json()
    assert answer["hidden"] is True
    assert answer["title"] is None
    assert talk_client.get(f"{API}/debates").json() == []  # left out of the open list


def test_moderators_hide_restore_and_block(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    author, reporter = user(talk_runtime, "author"), user(talk_runtime, "reporter")
    mod = user(talk_runtime, "mod", "moderator")
    debate = open_debate(talk_client, author, process)
    rude = comment(talk_client, author, debate, "rude words")
    assert _report(talk_client, reporter, "comment", rude, "offensive") == 201
    queue = talk_client.get(f"{API}/moderation/queue", headers=mod).json()
    assert [(q["target_type"], q["target_id"], q["open_reports"]) for q in queue] == [
        ("comment", rude, 1)
    ]
    assert queue[0]["reasons"] == {"offensive": 1}
    assert queue[0]["author"] == "author"
    item = {"target_type": "comment", "target_id": rude, "note": "insults"}
    assert talk_client.post(f"{API}/moderation/hide", json=item, headers=mod).status_code == 200
    assert _thread(talk_client, debate)[0]["state"] == "hidden"
    assert talk_client.post(f"{API}/moderation/restore", json=item, headers=mod).status_code == 200
    assert _thread(talk_client, debate)[0]["state"] == "visible"
    assert talk_client.get(f"{API}/moderation/queue", headers=mod).json() == []  # dismissed
    assert _report(talk_client, reporter, "comment", rude) == 409  # one report per user, ever
    block = {"username": "author", "reason": "repeated insults"}
    assert talk_client.post(f"{API}/moderation/block", json=block, headers=mod).status_code == 200
    refused = talk_client.post(
        f"{API}/comments",
        json={"target_type": "debate", "target_id": debate, "body": "again"},
        headers=author,
    )
    assert refused.status_code == 403
    assert "blocked" in refused.json()["detail"]
    with talk_runtime.sessions() as session:
        blocked = session.scalars(select(User).where(User.username == "author")).one()
        assert blocked.blocked_at is not None
    assert talk_client.post(f"{API}/moderation/unblock", json=block, headers=mod).status_code == 200
    again = {"target_type": "debate", "target_id": debate, "body": "sorry"}
    assert talk_client.post(f"{API}/comments", json=again, headers=author).status_code == 201
    with talk_runtime.sessions() as session:
        done = [a.action for a in session.scalars(select(ModerationAction).order_by("id"))]
        assert done == ["hide", "restore", "block", "unblock"]
        audited = {e.action for e in session.scalars(select(AuditEvent))}
        assert {"participation.hide", "participation.restore", "participation.block"} <= audited
        assert {"user.blocked", "user.unblocked"} <= audited


def test_citizens_cannot_moderate(talk_client: TestClient, talk_runtime: HubRuntime) -> None:
    citizen = user(talk_runtime, "citizen")
    item = {"target_type": "comment", "target_id": 1}
    assert talk_client.get(f"{API}/moderation/queue", headers=citizen).status_code == 403
    for action in ("hide", "restore"):
        answer = talk_client.post(f"{API}/moderation/{action}", json=item, headers=citizen)
        assert answer.status_code == 403
    block = {"username": "citizen"}
    assert (
        talk_client.post(f"{API}/moderation/block", json=block, headers=citizen).status_code == 403
    )
    assert talk_client.get(f"{API}/moderation/queue").status_code == 401
    csrf = sign_in(talk_client, "citizen")
    assert talk_client.get("/participation/moderation").status_code == 403
    form = {"csrf": csrf, "target_type": "comment", "target_id": "1"}
    answer = talk_client.post("/participation/moderation/hide", data=form, follow_redirects=False)
    assert answer.status_code == 403


def test_the_moderation_page_hides_a_reported_comment(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    process = add_process(talk_runtime)
    author, reporter = user(talk_runtime, "author"), user(talk_runtime, "reporter")
    user(talk_runtime, "mod", "moderator")
    debate = open_debate(talk_client, author, process)
    spam = comment(talk_client, author, debate, "spam spam spam")
    assert _report(talk_client, reporter, "comment", spam) == 201
    csrf = sign_in(talk_client, "mod")
    page = talk_client.get("/participation/moderation")
    assert page.status_code == 200
    assert "spam spam spam" in page.text
    assert "1 reports" in page.text
    form = {"target_type": "comment", "target_id": str(spam)}
    refused = talk_client.post("/participation/moderation/hide", data=form)
    assert refused.status_code == 403  # no CSRF token
    answer = talk_client.post(
        "/participation/moderation/hide", data={**form, "csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert _thread(talk_client, debate)[0]["state"] == "hidden"
