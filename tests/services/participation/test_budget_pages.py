"""Budget and survey pages: forms without script, CSRF, errors shown, results, dashboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from citysmart.core.accounts import get_user
from citysmart.core.auth import Principal
from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.budget_pages import DASHBOARD
from tests.services.participation.budget_support import (
    app_client,
    later,
    process,
    sign_in,
    user,
)

API = "/api/v1/participation/budgets"


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service."""
    with app_client(settings, runtime) as test_client:
        yield test_client


def make_budget(client: TestClient, runtime: HubRuntime) -> tuple[int, dict[str, str], list[int]]:
    """A 100M KRW budget (at least 50% to spend) with A 60M, B 40M, C 30M."""
    operator = user(runtime, "operator1", "operator")
    body = {
        "process_id": process(runtime),
        "title": "Jochiwon budget",
        "title_ko": "조치원 예산",
        "total_krw": 100_000_000,
        "min_share_pct": 50,
        "closes_at": later(),
    }
    budget_id = client.post(API, json=body, headers=operator).json()["id"]
    ids = [
        client.post(
            f"{API}/{budget_id}/projects",
            json={"title": title, "cost_krw": cost},
            headers=operator,
        ).json()["id"]
        for title, cost in (
            ("Shade <b>trees</b>", 60_000_000),
            ("Benches", 40_000_000),
            ("Lights", 30_000_000),
        )
    ]
    return budget_id, operator, ids


def test_a_resident_fills_in_and_checks_out_a_ballot_without_script(
    client: TestClient, runtime: HubRuntime
) -> None:
    budget_id, operator, (a, b, c) = make_budget(client, runtime)
    user(runtime, "minji", "resident", verified=True)
    page_path = f"/participation/budgets/{budget_id}"
    anonymous = client.get(page_path)
    assert anonymous.status_code == 200
    assert "Shade &lt;b&gt;trees&lt;/b&gt;" in anonymous.text  # escaped, inert
    assert "at least 50% (50,000,000 KRW) must be spent" in anonymous.text
    csrf = sign_in(client, "minji")
    forged = client.post(f"{page_path}/ballot", data={"project": [str(a)]}, follow_redirects=False)
    assert forged.status_code == 403
    over = client.post(
        f"{page_path}/ballot", data={"csrf": csrf, "project": [str(a), str(b), str(c)]}
    )
    assert over.status_code == 422
    assert "130,000,000 KRW, over the budget of 100,000,000 KRW" in over.text
    saved = client.post(
        f"{page_path}/ballot", data={"csrf": csrf, "project": [str(c)]}, follow_redirects=False
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert 'id="spent">30,000,000<' in page.text
    short = client.post(f"{page_path}/checkout", data={"csrf": csrf})
    assert short.status_code == 422
    assert "at least 50,000,000 KRW" in short.text
    client.post(f"{page_path}/ballot", data={"csrf": csrf, "project": [str(b), str(c)]})
    done = client.post(f"{page_path}/checkout", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert 'id="ballot-final"' in client.get(page_path).text
    assert client.get(f"{page_path}/results").status_code == 403
    client.post(f"{API}/{budget_id}/close", headers=operator)
    results = client.get(f"{page_path}/results")
    assert results.status_code == 200
    assert "greedy by votes" in results.text
    assert results.text.count("Funded <span") == 2  # Benches and Lights


def test_an_unverified_citizen_sees_why_and_cannot_vote(
    client: TestClient, runtime: HubRuntime
) -> None:
    budget_id, _, (a, _b, _c) = make_budget(client, runtime)
    user(runtime, "citizen1")
    csrf = sign_in(client, "citizen1")
    page_path = f"/participation/budgets/{budget_id}"
    assert "Only verified residents may vote" in client.get(page_path).text
    refused = client.post(f"{page_path}/ballot", data={"csrf": csrf, "project": [str(a)]})
    assert refused.status_code == 403
    assert "only verified residents may do this" in refused.text


def test_surveys_are_created_answered_and_shown_through_the_pages(
    client: TestClient, runtime: HubRuntime
) -> None:
    user(runtime, "operator1", "operator")
    csrf = sign_in(client, "operator1")
    form = {
        "csrf": csrf,
        "title": "Bus stop shelters",
        "audience": "signed_in",
        "closes_at": "2099-12-31T18:00",
        "q1_kind": "single",
        "q1_prompt": "Do you wait at a stop daily?",
        "q1_options": "Yes\nNo\n",
        "q1_required": "on",
        "q2_kind": "multiple",
        "q2_prompt": "What should shelters have?",
        "q2_options": "Heating\nSeats\nScreens",
        "q2_max": "2",
        "q3_kind": "text",
        "q3_prompt": "Which stop?",
    }
    bad = client.post("/participation/surveys/new", data={**form, "q1_options": "Only one"})
    assert bad.status_code == 422
    assert "needs at least two options" in bad.text
    created = client.post("/participation/surveys/new", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    path = created.headers["location"]
    survey_id = int(path.rsplit("/", 1)[1])
    questions = client.get(f"/api/v1/participation/surveys/{survey_id}").json()["questions"]
    q1, q2, q3 = (q["id"] for q in questions)
    yes = questions[0]["options"][0]["id"]
    heating, seats, screens = (o["id"] for o in questions[1]["options"])
    user(runtime, "minji")
    csrf = sign_in(client, "minji")
    missing = client.post(path, data={"csrf": csrf, f"q{q3}": "Sejong City Hall"})
    assert missing.status_code == 422
    assert "question 1 (&#39;Do you wait at a stop daily?&#39;) is required" in missing.text
    assert "Sejong City Hall" in missing.text  # what was typed is kept
    too_many = client.post(
        path,
        data={"csrf": csrf, f"q{q1}": str(yes), f"q{q2}": [str(heating), str(seats), str(screens)]},
    )
    assert too_many.status_code == 422
    assert "takes at most 2 choices; 3 were given" in too_many.text
    answered = client.post(
        path,
        data={
            "csrf": csrf,
            f"q{q1}": str(yes),
            f"q{q2}": [str(seats)],
            f"q{q3}": "<script>x</script>",
        },
        follow_redirects=False,
    )
    assert answered.status_code == 303
    assert 'id="survey-answered"' in client.get(path).text
    again = client.post(path, data={"csrf": csrf, f"q{q1}": str(yes)})
    assert again.status_code == 409
    sign_in(client, "operator1")
    results = client.get(f"{path}/results")
    assert results.status_code == 200
    assert "&lt;script&gt;x&lt;/script&gt;" in results.text
    assert "<script>x</script>" not in results.text


def test_the_dashboard_lists_open_ballots_and_surveys_to_answer(
    client: TestClient, runtime: HubRuntime
) -> None:
    budget_id, operator, _ = make_budget(client, runtime)
    survey = {
        "title": "Residents only",
        "audience": "verified",
        "closes_at": later(),
        "questions": [{"kind": "text", "prompt": "Ideas?"}],
    }
    client.post("/api/v1/participation/surveys", json=survey, headers=operator)
    user(runtime, "minji", "resident", verified=True)
    user(runtime, "citizen1")
    (provider,) = DASHBOARD
    with runtime.sessions() as session:
        resident = Principal(
            get_user(session, "minji").id, "minji", "resident", "session", verified=True
        )
        citizen = Principal(get_user(session, "citizen1").id, "citizen1", "citizen", "session")
        entries = provider(session, resident)
        assert [(e.section, e.link) for e in entries] == [
            ("votes", f"/participation/budgets/{budget_id}"),
            ("surveys", entries[1].link),
        ]
        assert provider(session, citizen) == []
