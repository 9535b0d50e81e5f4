"""Budgets, projects and closed surveys published through the hub as NGSI-LD entities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from citysmart.core.config import Settings
from citysmart.core.time import utcnow
from citysmart.hub.models import Entity
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.budget_entities import (
    budget_entity_id,
    project_entity_id,
    publish_job,
    survey_entity_id,
)
from citysmart.services.participation.models_budget import Survey
from tests.services.participation.budget_support import app_client, later, process, user

API = "/api/v1/participation"


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service."""
    with app_client(settings, runtime) as test_client:
        yield test_client


def test_budgets_and_projects_become_entities_with_tallies_after_close(
    client: TestClient, runtime: HubRuntime
) -> None:
    operator = user(runtime, "operator1", "operator")
    body = {
        "process_id": process(runtime),
        "title": "Dodam budget",
        "total_krw": 50_000_000,
        "area_code": "3611052000",
        "closes_at": later(),
    }
    budget_id = client.post(f"{API}/budgets", json=body, headers=operator).json()["id"]
    project = {"title": "Benches", "cost_krw": 20_000_000, "lat": 36.51, "lon": 127.26}
    project_id = client.post(
        f"{API}/budgets/{budget_id}/projects", json=project, headers=operator
    ).json()["id"]
    with runtime.sessions() as session:
        budget = session.get_one(Entity, budget_entity_id(budget_id))
        assert budget.type == "ParticipatoryBudget"
        assert budget.properties["totalAmount"] == 50_000_000
        assert budget.properties["status"] == "open"
        assert "ballots" not in budget.properties
        entity = session.get_one(Entity, project_entity_id(project_id))
        assert entity.properties["refBudget"] == budget_entity_id(budget_id)
        assert entity.location == {"type": "Point", "coordinates": [127.26, 36.51]}
        assert "votes" not in entity.properties
    minji = user(runtime, "minji", "resident", verified=True)
    client.put(
        f"{API}/budgets/{budget_id}/ballot", json={"project_ids": [project_id]}, headers=minji
    )
    client.post(f"{API}/budgets/{budget_id}/ballot/checkout", headers=minji)
    client.post(f"{API}/budgets/{budget_id}/close", headers=operator)
    with runtime.sessions() as session:
        budget = session.get_one(Entity, budget_entity_id(budget_id))
        assert budget.properties["status"] == "closed"
        assert budget.properties["ballots"] == 1
        assert budget.properties["fundedAmount"] == 20_000_000
        entity = session.get_one(Entity, project_entity_id(project_id))
        assert entity.properties["votes"] == 1
        assert entity.properties["funded"] is True
        assert "minji" not in str(budget.properties) + str(entity.properties)


def test_the_job_publishes_closed_surveys_without_free_texts(
    client: TestClient, runtime: HubRuntime
) -> None:
    operator = user(runtime, "operator1", "operator")
    survey = {
        "title": "Trial feedback",
        "closes_at": later(),
        "questions": [
            {"kind": "single", "prompt": "Useful?", "options": [{"label": "Yes"}, {"label": "No"}]},
            {"kind": "text", "prompt": "Why?"},
        ],
    }
    created = client.post(f"{API}/surveys", json=survey, headers=operator).json()
    q1, q2 = created["questions"]
    answer = {
        "answers": [
            {"question_id": q1["id"], "option_ids": [q1["options"][0]["id"]]},
            {"question_id": q2["id"], "text": "my secret reason"},
        ]
    }
    assert (
        client.post(
            f"{API}/surveys/{created['id']}/responses", json=answer, headers=user(runtime, "minji")
        ).status_code
        == 201
    )
    publish_job(runtime)
    with runtime.sessions() as session:
        assert session.get(Entity, survey_entity_id(created["id"])) is None  # still open
    with runtime.sessions.begin() as session:
        session.execute(update(Survey).values(closes_at=utcnow() - dt.timedelta(seconds=1)))
    publish_job(runtime)
    with runtime.sessions() as session:
        entity = session.get_one(Entity, survey_entity_id(created["id"]))
        assert entity.type == "SurveyResult"
        assert entity.properties["respondents"] == 1
        first, second = entity.properties["questions"]
        assert first["counts"][0] == {
            "key": q1["options"][0]["id"],
            "count": 1,
            "percent": 100.0,
            "label": "Yes",
        }
        assert second["text_count"] == 1
        assert "my secret reason" not in str(entity.properties)
