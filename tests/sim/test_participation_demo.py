"""The demo's participation scene, seeded over HTTP on the app: what shows, and seeding twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from citysmart.core import accounts
from citysmart.core.config import Settings
from citysmart.core.db import Base
from citysmart.core.models import User
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from citysmart.services.participation import SERVICE
from citysmart.services.participation.guard import post_limiter
from citysmart.sim.participation import (
    CITIZEN,
    KST,
    MODERATOR,
    RESIDENTS,
    Cast,
    make_cast,
    seed_scene,
)

API = "/api/v1/participation"
TODAY = dt.datetime.now(KST).date()  # the phases are set around today


def _participation_tables() -> list[str]:
    return [t.name for t in Base.metadata.sorted_tables if t.name.startswith("participation")]


@pytest.fixture
def app(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    with runtime.sessions.begin() as session:
        for name in reversed(_participation_tables()):  # other tests' rows
            session.execute(text(f"DELETE FROM {name}"))
    post_limiter._events.clear()  # noqa: SLF001  (user ids restart with each database)
    app = create_app(settings, services=[SERVICE], runtime=runtime, start_mqtt=False, migrate=False)
    with TestClient(app) as client:
        yield client


def _cast(runtime: HubRuntime) -> Cast:
    with runtime.sessions.begin() as session:
        try:
            accounts.get_user(session, "operator")
        except accounts.AccountError:
            accounts.create_user(session, "operator", "operator", actor="test")
        token, _ = accounts.issue_token(session, "operator", 1)
        return make_cast(session, token)


def _counts(runtime: HubRuntime) -> dict[str, int]:
    with runtime.sessions.begin() as session:
        counts = {
            name: int(session.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
            for name in [*_participation_tables(), "entity", "verification_code"]
        }
        counts["app_user"] = int(session.scalar(select(func.count()).select_from(User)) or 0)
    return counts


def test_the_scene_shows_in_the_api_and_seeding_twice_changes_nothing(
    app: TestClient, runtime: HubRuntime
) -> None:
    cast = _cast(runtime)
    summary = seed_scene(app, cast, TODAY)
    assert "6 proposals (1 in the vote)" in summary

    # The people: verified through a one-time code each, the citizen a resident now.
    with runtime.sessions.begin() as session:
        citizen = accounts.get_user(session, CITIZEN)
        assert citizen.verification_method == "code"
        assert citizen.role == "resident"
        assert accounts.get_user(session, MODERATOR).role == "moderator"
        assert all(accounts.get_user(session, n).verified_at for n, _ in RESIDENTS)
    assert set(cast.passwords) == {CITIZEN, MODERATOR}

    process = app.get(f"{API}/processes/sejong-2026-citizen-proposals").json()
    assert process["title_ko"] == "2026 세종 시민 제안"
    assert process["support_threshold"] == 5
    assert [p["kind"] for p in process["phases"]] == [
        "proposals",
        "supports",
        "voting",
        "follow_up",
    ]
    assert process["current_phase"] == "proposals"  # today's, whatever the date

    proposals = app.get(f"{API}/processes/{process['slug']}/proposals").json()
    assert len(proposals) == 6
    voting = [p for p in proposals if p["status"] == "voting"]
    assert [p["title"] for p in voting] == [
        "Shade canopies at Dodam-dong crossings / 도담동 횡단보도 그늘막"
    ]
    assert all(p["status"] == "open" for p in proposals if p not in voting)
    thread = app.get(
        f"{API}/comments", params={"target_type": "proposal", "target_id": voting[0]["id"]}
    ).json()
    assert thread["count"] == 3
    assert any(c["replies"] for c in thread["comments"])
    assert len(app.get(f"{API}/debates", params={"process_id": process["id"]}).json()) == 1

    (budget,) = app.get(f"{API}/budgets", params={"process_id": process["id"]}).json()
    assert budget["total_krw"] == 800_000_000
    assert budget["open"]
    assert len(budget["projects"]) == 6
    results = app.get(f"{API}/budgets/{budget['id']}/results", headers=cast.auth()).json()
    assert results  # operators see the running tally
    citizen_ballot = app.get(f"{API}/budgets/{budget['id']}/ballot", headers=cast.auth(CITIZEN))
    assert citizen_ballot.json()["project_ids"] == []  # left for the person trying the demo

    (survey,) = app.get(f"{API}/surveys", params={"process_id": process["id"]}).json()
    answers = app.get(f"{API}/surveys/{survey['id']}/results", headers=cast.auth()).json()
    assert answers["respondents"] == 6

    mine = app.get(f"{API}/opinions/mine", headers=cast.auth(CITIZEN)).json()
    assert sorted(o["status"] for o in mine) == ["assigned", "closed"]

    sandbox = {p["title"]: p for p in app.get(f"{API}/sandbox/projects").json()}
    assert {p["stage"] for p in sandbox.values()} == {
        "demonstrating",
        "evaluated",
        "planned",
        "converted",
    }
    open_ones = [p for p in sandbox.values() if p["signups_open"]]
    assert [p["title"] for p in open_ones] == ["Autonomous shuttle on the BRT"]
    assert open_ones[0]["signups"] == 3

    before = _counts(runtime)
    assert before["participation_support"] == 5 + 3 + 4 + 2 + 1
    assert before["participation_ballot"] == 6
    again = seed_scene(app, _cast(runtime), TODAY)
    assert again == summary
    assert _counts(runtime) == before
