"""Surveys through the API: operators create them, people answer once, results aggregate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from citysmart.core.config import Settings
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.models_budget import Survey
from tests.services.participation.budget_support import app_client, later, user

API = "/api/v1/participation/surveys"


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service."""
    with app_client(settings, runtime) as test_client:
        yield test_client


def make_survey(
    client: TestClient, runtime: HubRuntime, audience: str = "signed_in"
) -> tuple[dict[str, Any], dict[str, str]]:
    """Create a standalone survey with a single, a multiple (max 2), a text and a scale question."""
    operator = user(runtime, "operator1", "operator")
    body = {
        "title": "Autonomous shuttle trial feedback",
        "audience": audience,
        "closes_at": later(),
        "questions": [
            {
                "kind": "single",
                "prompt": "Did you ride?",
                "required": True,
                "options": [{"label": "Yes"}, {"label": "No", "label_ko": "아니요"}],
            },
            {
                "kind": "multiple",
                "prompt": "What was good?",
                "max_choices": 2,
                "options": [{"label": "Speed"}, {"label": "Comfort"}, {"label": "Safety"}],
            },
            {"kind": "text", "prompt": "Anything else?"},
            {"kind": "scale", "prompt": "Overall (1-5)"},
        ],
    }
    created = client.post(API, json=body, headers=operator)
    assert created.status_code == 201, created.text
    survey = created.json()
    assert survey["process_id"] is None
    return survey, operator


def answers(
    survey: dict[str, Any],
    single: int,
    multiple: list[int],
    text: str | None = None,
    value: int | None = None,
) -> dict[str, Any]:
    """Build a response body by option positions (0-based)."""
    q = survey["questions"]
    body: list[dict[str, Any]] = [
        {"question_id": q[0]["id"], "option_ids": [q[0]["options"][single]["id"]]},
        {"question_id": q[1]["id"], "option_ids": [q[1]["options"][i]["id"] for i in multiple]},
    ]
    if text is not None:
        body.append({"question_id": q[2]["id"], "text": text})
    if value is not None:
        body.append({"question_id": q[3]["id"], "value": value})
    return {"answers": body}


def close(runtime: HubRuntime, survey_id: int) -> None:
    """End a survey's answering time."""
    with runtime.sessions.begin() as session:
        session.execute(
            update(Survey)
            .where(Survey.id == survey_id)
            .values(closes_at=utcnow() - dt.timedelta(seconds=1))
        )


def test_only_operators_create_surveys_and_bad_questions_are_refused(
    client: TestClient, runtime: HubRuntime
) -> None:
    survey, operator = make_survey(client, runtime)
    assert [q["kind"] for q in survey["questions"]] == ["single", "multiple", "text", "scale"]
    citizen = user(runtime, "citizen1")
    body = {"title": "x", "closes_at": later(), "questions": [{"kind": "text", "prompt": "?"}]}
    assert client.post(API, json=body, headers=citizen).status_code == 403
    one_option = {
        **body,
        "questions": [{"kind": "single", "prompt": "?", "options": [{"label": "a"}]}],
    }
    refused = client.post(API, json=one_option, headers=operator)
    assert refused.status_code == 422
    assert "needs at least two options" in refused.json()["detail"]
    unknown_process = client.post(API, json={**body, "process_id": 999}, headers=operator)
    assert unknown_process.status_code == 422
    assert unknown_process.json()["detail"] == "no process 999"


def test_a_response_is_validated_with_a_clear_message(
    client: TestClient, runtime: HubRuntime
) -> None:
    survey, _ = make_survey(client, runtime)
    minji = user(runtime, "minji")
    url = f"{API}/{survey['id']}/responses"
    q = survey["questions"]
    unknown = client.post(
        url, json={"answers": [{"question_id": q[0]["id"], "option_ids": [999999]}]}, headers=minji
    )
    assert unknown.status_code == 422
    assert (
        unknown.json()["detail"]
        == "question 1 ('Did you ride?'): option 999999 is not one of its options"
    )
    too_many = client.post(url, json=answers(survey, 0, [0, 1, 2]), headers=minji)
    assert too_many.status_code == 422
    assert (
        too_many.json()["detail"]
        == "question 2 ('What was good?') takes at most 2 choices; 3 were given"
    )
    missing = client.post(
        url, json={"answers": [{"question_id": q[2]["id"], "text": "hi"}]}, headers=minji
    )
    assert missing.status_code == 422
    assert missing.json()["detail"] == "question 1 ('Did you ride?') is required"
    assert (
        client.post(url, json=answers(survey, 0, [0, 1], "Great", 5), headers=minji).status_code
        == 201
    )
    again = client.post(url, json=answers(survey, 1, []), headers=minji)
    assert again.status_code == 409
    assert again.json()["detail"] == "you have already answered this survey"


def test_who_may_answer(client: TestClient, runtime: HubRuntime) -> None:
    survey, _ = make_survey(client, runtime, audience="verified")
    url = f"{API}/{survey['id']}/responses"
    assert client.post(url, json=answers(survey, 0, [])).status_code == 401
    unverified = client.post(url, json=answers(survey, 0, []), headers=user(runtime, "citizen1"))
    assert unverified.status_code == 403
    assert "only verified residents" in unverified.json()["detail"]
    blocked = user(runtime, "blocked1", "resident", verified=True, blocked=True)
    refused = client.post(url, json=answers(survey, 0, []), headers=blocked)
    assert refused.status_code == 403
    assert "blocked" in refused.json()["detail"]
    resident = user(runtime, "resident1", "resident", verified=True)
    assert client.post(url, json=answers(survey, 0, []), headers=resident).status_code == 201


def test_results_counts_percentages_and_texts_for_operators_only(
    client: TestClient, runtime: HubRuntime
) -> None:
    survey, operator = make_survey(client, runtime)
    url = f"{API}/{survey['id']}/responses"
    for n, (single, multiple, text, value) in enumerate(
        [
            (0, [0, 1], '=HYPERLINK("x")', 5),
            (0, [0], None, 4),
            (1, [], "Too slow", None),
            (0, [2], None, 3),
        ]
    ):
        headers = user(runtime, f"person{n}")
        assert (
            client.post(
                url, json=answers(survey, single, multiple, text, value), headers=headers
            ).status_code
            == 201
        )
    assert client.get(f"{API}/{survey['id']}/results").status_code == 403  # still open
    close(runtime, survey["id"])
    public = client.get(f"{API}/{survey['id']}/results").json()
    assert public["respondents"] == 4
    first, second, third, fourth = public["questions"]
    assert [(c["count"], c["percent"]) for c in first["counts"]] == [(3, 75.0), (1, 25.0)]
    assert second["answered"] == 3
    assert [c["count"] for c in second["counts"]] == [2, 1, 1]
    assert third["text_count"] == 2
    assert "texts" not in third
    assert fourth["mean"] == 4.0
    full = client.get(f"{API}/{survey['id']}/results", headers=operator).json()
    assert full["questions"][2]["texts"] == ['=HYPERLINK("x")', "Too slow"]
    assert client.get(f"{API}/{survey['id']}/responses.csv").status_code == 401
    exported = client.get(f"{API}/{survey['id']}/responses.csv", headers=operator)
    assert exported.status_code == 200
    lines = exported.text.splitlines()
    assert lines[0].startswith("respondent,answered_at,Q1 Did you ride?")
    assert len(lines) == 5
    assert "'=HYPERLINK" in exported.text  # no formula reaches a spreadsheet
    assert "person" not in exported.text
    opendata = client.get("/api/v1/participation/opendata/surveys").json()["surveys"][0]
    assert opendata["respondents"] == 4
    assert opendata["questions"][0]["counts"][0]["label"] == "Yes"
    assert "Too slow" not in str(opendata)
    rows = client.get("/api/v1/participation/opendata/surveys.csv").text.splitlines()
    assert rows[0] == "survey_id,survey_title,question,prompt,kind,option,count,percent,answered"
    assert any(",Yes,3,75.0,4" in r for r in rows)
