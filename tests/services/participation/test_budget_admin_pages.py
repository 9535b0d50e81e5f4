"""Operators create a budget and add projects through the pages; others may not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from tests.services.participation.budget_support import app_client, process, sign_in, user


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service."""
    with app_client(settings, runtime) as test_client:
        yield test_client


def test_an_operator_creates_a_budget_and_adds_projects_with_the_forms(
    client: TestClient, runtime: HubRuntime
) -> None:
    process_id = process(runtime)
    user(runtime, "operator1", "operator")
    csrf = sign_in(client, "operator1")
    assert client.get("/participation/budgets/new").status_code == 200
    form = {
        "csrf": csrf,
        "process_id": str(process_id),
        "title": "Saerom-dong budget",
        "total_krw": "200000000",
        "min_share_pct": "",
        "max_projects": "3",
        "rule": "equal_shares",
        "closes_at": "2099-12-31T18:00",
    }
    bad = client.post("/participation/budgets/new", data={**form, "total_krw": "-5"})
    assert bad.status_code == 422
    assert "total_krw: Input should be greater than 0" in bad.text
    assert 'value="Saerom-dong budget"' in bad.text  # kept for correcting
    created = client.post("/participation/budgets/new", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    path = created.headers["location"]
    page = client.get(path)
    assert "Method of Equal Shares" in page.text
    assert "at most 3 projects" in page.text
    over = client.post(
        f"{path}/projects", data={"csrf": csrf, "title": "Library", "cost_krw": "300000000"}
    )
    assert over.status_code == 422
    assert "more than the whole budget" in over.text
    added = client.post(
        f"{path}/projects",
        data={"csrf": csrf, "title": "Library", "cost_krw": "90000000", "lat": "36.5"},
    )
    assert added.status_code == 422
    assert "give both lat and lon" in added.text
    added = client.post(
        f"{path}/projects",
        data={"csrf": csrf, "title": "Library", "cost_krw": "90000000"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "90,000,000 KRW" in client.get(path).text


def test_residents_may_not_use_the_operator_forms(client: TestClient, runtime: HubRuntime) -> None:
    user(runtime, "minji", "resident", verified=True)
    csrf = sign_in(client, "minji")
    assert client.get("/participation/budgets/new").status_code == 403
    refused = client.post(
        "/participation/budgets/new", data={"csrf": csrf, "title": "x"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert client.post("/participation/budgets/new", data={"title": "x"}).status_code == 403
