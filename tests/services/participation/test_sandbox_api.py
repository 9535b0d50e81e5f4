"""Sandbox registry API on SQLite and PostgreSQL: lifecycle, sign-ups, open data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.models_budget import Survey
from citysmart.services.participation.sandbox_opendata import entity_id
from tests.services.participation.sandbox_support import app_client, user

API = "/api/v1/participation/sandbox/projects"
PROJECT = {
    "title": "Autonomous shuttle on the BRT loop",
    "title_ko": "BRT 순환 자율주행 셔틀",
    "summary": "Level-4 shuttles carry passengers between Government Complex stops.",
    "field": "transport",
    "track": "demonstration_exemption",
    "operator_name": "Sejong Mobility Co.",
    "place": "Eojin-dong BRT stops",
    "scale": "3 shuttles, 20 passengers a day",
    "period_start": "2027-01-01",
    "period_end": "2027-06-30",
    "capacity": 2,
}


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service."""
    with app_client(settings, runtime) as test_client:
        yield test_client


def _project(client: TestClient, operator: dict[str, str], stage: str = "selected") -> int:
    pid = int(client.post(API, json=PROJECT, headers=operator).json()["id"])
    for step in ("selected", "demonstrating")[
        : ("planned", "selected", "demonstrating").index(stage)
    ]:
        assert (
            client.post(f"{API}/{pid}/stage", json={"stage": step}, headers=operator).status_code
            == 200
        )
    return pid


def test_operator_registers_and_moves_a_project(client: TestClient, runtime: HubRuntime) -> None:
    operator, citizen = user(runtime, "op", "operator"), user(runtime, "jiwoo", verified=True)
    assert client.post(API, json=PROJECT, headers=citizen).status_code == 403
    bad = client.post(API, json={**PROJECT, "field": "finance"}, headers=operator)
    assert bad.status_code == 422
    assert "field" in bad.json()["detail"]
    backwards = client.post(API, json={**PROJECT, "period_end": "2026-01-01"}, headers=operator)
    assert backwards.status_code == 422
    pid = client.post(API, json=PROJECT, headers=operator).json()["id"]
    skipped = client.post(f"{API}/{pid}/stage", json={"stage": "demonstrating"}, headers=operator)
    assert skipped.status_code == 409
    assert skipped.json()["allowed"] == ["selected"]
    for stage in ("selected", "demonstrating", "evaluated", "converted"):
        moved = client.post(f"{API}/{pid}/stage", json={"stage": stage}, headers=operator)
        assert moved.json()["stage"] == stage
    over = client.post(f"{API}/{pid}/stage", json={"stage": "ended"}, headers=operator)
    assert over.status_code == 409
    entry = {"kind": "report", "title": "Interim report", "date": "2027-03-31", "body": "OK."}
    assert client.post(f"{API}/{pid}/entries", json=entry, headers=operator).status_code == 201
    read = client.get(f"{API}/{pid}").json()
    assert [h["stage"] for h in read["history"]] == [
        "planned",
        "selected",
        "demonstrating",
        "evaluated",
        "converted",
    ]
    assert read["entries"][0]["title"] == "Interim report"
    assert (
        client.get(API, params={"field": "transport", "stage": "converted"}).json()[0]["id"] == pid
    )
    assert client.get(API, params={"field": "energy"}).json() == []


def test_only_verified_residents_sign_up_once(client: TestClient, runtime: HubRuntime) -> None:
    operator = user(runtime, "op", "operator")
    unverified = user(runtime, "newcomer")
    blocked = user(runtime, "troll", verified=True, blocked=True)
    resident, second, third = (user(runtime, n, verified=True) for n in ("ara", "bo", "chan"))
    planned = client.post(API, json=PROJECT, headers=operator).json()["id"]
    assert client.post(f"{API}/{planned}/signup", headers=resident).status_code == 409
    pid = _project(client, operator, "demonstrating")
    assert client.post(f"{API}/{pid}/signup").status_code == 401
    assert client.post(f"{API}/{pid}/signup", headers=unverified).status_code == 403
    assert client.post(f"{API}/{pid}/signup", headers=blocked).status_code == 403
    assert client.post(f"{API}/{pid}/signup", headers=resident).status_code == 201
    twice = client.post(f"{API}/{pid}/signup", headers=resident)
    assert twice.status_code == 409
    assert "already" in twice.json()["detail"]
    assert client.post(f"{API}/{pid}/signup", headers=second).status_code == 201
    full = client.post(f"{API}/{pid}/signup", headers=third)
    assert full.status_code == 409
    assert "full" in full.json()["detail"]
    assert client.delete(f"{API}/{pid}/signup", headers=second).status_code == 204
    assert client.post(f"{API}/{pid}/signup", headers=third).status_code == 201
    assert client.get(f"{API}/{pid}", headers=resident).json()["signed_up"] is True
    assert client.get(f"{API}/{pid}").json()["signups"] == 2


def test_participants_hear_of_stage_changes(client: TestClient, runtime: HubRuntime) -> None:
    from sqlalchemy import func, select

    from citysmart.core.notifications import Notification

    operator, resident = user(runtime, "op", "operator"), user(runtime, "ara", verified=True)
    pid = _project(client, operator, "selected")
    client.post(f"{API}/{pid}/signup", headers=resident)
    client.post(f"{API}/{pid}/stage", json={"stage": "demonstrating"}, headers=operator)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_survey_link_and_open_data_without_personal_data(
    client: TestClient, runtime: HubRuntime
) -> None:
    operator, resident = user(runtime, "op", "operator"), user(runtime, "ara", verified=True)
    now = dt.datetime.now(dt.UTC)
    with runtime.sessions.begin() as session:
        survey = Survey(
            title="Shuttle feedback", opens_at=now, closes_at=now + dt.timedelta(days=30)
        )
        session.add(survey)
        session.flush()
        survey_id = survey.id
    missing = client.post(API, json={**PROJECT, "survey_id": survey_id + 99}, headers=operator)
    assert missing.status_code == 422
    body: dict[str, Any] = {**PROJECT, "survey_id": survey_id}
    pid = client.post(API, json=body, headers=operator).json()["id"]
    client.post(f"{API}/{pid}/stage", json={"stage": "selected"}, headers=operator)
    client.post(f"{API}/{pid}/signup", headers=resident)
    detail = client.get(f"{API}/{pid}").json()
    assert detail["survey_id"] == survey_id
    assert detail["survey"]["open"] is True
    assert detail["survey"]["respondents"] == 0
    assert detail["survey"]["results_api"].endswith(f"/surveys/{survey_id}/results")
    page = client.get(f"/sandbox/projects/{pid}").text
    assert "Shuttle feedback" in page
    assert "published when the survey closes" in page
    rows = client.get("/api/v1/participation/opendata/sandbox").json()
    assert rows[0]["signups"] == 1
    assert "ara" not in str(rows)
    csv = client.get("/api/v1/participation/opendata/sandbox", params={"format": "csv"}).text
    assert csv.splitlines()[0].startswith("id,title,title_ko,field,track,stage")
    assert "ara" not in csv
    entity = client.get(f"/ngsi-ld/v1/entities/{entity_id(pid)}")
    assert entity.status_code == 200, entity.text
    assert "RegulatorySandboxProject" in entity.text
    assert "ara" not in entity.text
