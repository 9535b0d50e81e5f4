"""Opinion and sandbox pages without script: forms, CSRF, XSS, privacy, the dashboard lines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from citysmart.core.accounts import get_user
from citysmart.core.auth import principal_for
from citysmart.core.config import Settings
from citysmart.core.notifications import Notification
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.sandbox_pages import DASHBOARD, PAGES
from tests.services.participation.sandbox_support import app_client, sign_in, user

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FORM = {
    "kind": "complaint",
    "category": "roads",
    "title": f"Pothole {XSS}",
    "description": f"At my front door, 3-401 Hansol apt {XSS}",
    "area_code": "",
    "lat": "36.483",
    "lon": "127.257",
}


@pytest.fixture
def client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    """An HTTP client on the app with the participation service."""
    with app_client(settings, runtime) as test_client:
        yield test_client


def _file(client: TestClient, csrf: str, **change: str) -> str:
    answer = client.post(
        "/participation/opinions/new", data={**FORM, **change, "csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def test_pages_are_listed_with_the_queue_for_operators() -> None:
    paths = {p.path: p.role for p in PAGES}
    assert paths["/participation/opinions"] is None
    assert paths["/sandbox"] is None
    assert paths["/participation/opinions/queue"] == "operator"


def test_file_without_csrf_is_refused(client: TestClient, runtime: HubRuntime) -> None:
    user(runtime, "jiwoo")
    sign_in(client, "jiwoo")
    refused = client.post("/participation/opinions/new", data=FORM, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/api/v1/participation/opinions").json() == []


def test_xss_is_inert_and_private_text_stays_private(
    client: TestClient, runtime: HubRuntime
) -> None:
    user(runtime, "jiwoo")
    csrf = sign_in(client, "jiwoo")
    link = _file(client, csrf)
    own = client.get(link).text
    assert "<script>alert" not in own
    assert "&lt;script&gt;" in own
    assert "Hansol apt" in own  # the author sees their text
    client.post("/signout", data={"csrf": csrf})
    client.cookies.clear()
    for page in (link, "/participation/opinions"):
        public = client.get(page).text
        assert "Hansol apt" not in public
        assert "Pothole" not in public
        assert "127.257" not in public
        assert "jiwoo" not in public


def test_blocked_user_sees_the_reason(client: TestClient, runtime: HubRuntime) -> None:
    user(runtime, "troll", blocked=True)
    csrf = sign_in(client, "troll")
    answer = client.post("/participation/opinions/new", data={**FORM, "csrf": csrf})
    assert answer.status_code == 403
    assert "blocked" in answer.text


def test_operator_closes_with_an_answer_from_the_page(
    client: TestClient, runtime: HubRuntime, settings: Settings
) -> None:
    user(runtime, "jiwoo")
    user(runtime, "op", "operator")
    csrf = sign_in(client, "jiwoo")
    link = _file(client, csrf, title="Broken streetlight", description="Dark at night.")
    client.cookies.clear()
    user(runtime, "neighbour")
    csrf = sign_in(client, "neighbour")
    followed = client.post(f"{link}/follow", data={"csrf": csrf}, follow_redirects=False)
    assert followed.status_code == 303
    assert "Stop following" in client.get(link).text
    client.cookies.clear()
    csrf = sign_in(client, "op")
    queue = client.get("/participation/opinions/queue?status=open&department=road")
    assert "Broken streetlight" in queue.text
    action = f"{link}/status"
    skipped = client.post(action, data={"status": "closed", "csrf": csrf})
    assert skipped.status_code == 422  # no answer
    for step in ({"status": "assigned", "department": "road"}, {"status": "in_progress"}):
        moved = client.post(action, data={**step, "csrf": csrf}, follow_redirects=False)
        assert moved.status_code == 303
    bad = client.post(action, data={"status": "assigned", "csrf": csrf})
    assert bad.status_code == 409
    assert "closed" in bad.text
    done = client.post(
        action,
        data={"status": "closed", "answer": "Repaired on 26 November.", "csrf": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    client.cookies.clear()
    csrf = sign_in(client, "jiwoo")
    page = client.get(link).text
    assert "Repaired on 26 November." in page
    assert client.get("/participation/opinions/queue").status_code == 403
    with runtime.sessions() as session:
        me = principal_for(get_user(session, "jiwoo"), "session")
        lines = [line for provider in DASHBOARD for line in provider(session, me)]
    assert [(line.section, line.status) for line in lines] == [("requests", "Closed")]
    with runtime.sessions() as session:
        told = session.scalars(
            select(Notification.title).where(
                Notification.user_id == get_user(session, "neighbour").id
            )
        ).all()
    assert len(told) == 3  # assigned, in progress, closed


def test_verified_resident_signs_up_from_the_page(client: TestClient, runtime: HubRuntime) -> None:
    operator = user(runtime, "op", "operator")
    project = {
        "title": "Drone delivery of medicines",
        "field": "healthcare",
        "track": "temporary_permit",
        "operator_name": "Sejong Drone Lab",
    }
    api = "/api/v1/participation/sandbox/projects"
    pid = client.post(api, json=project, headers=operator).json()["id"]
    client.post(f"{api}/{pid}/stage", json={"stage": "selected"}, headers=operator)
    user(runtime, "newcomer")
    user(runtime, "ara", verified=True)
    csrf = sign_in(client, "newcomer")
    refused = client.post(f"/sandbox/projects/{pid}/signup", data={"csrf": csrf})
    assert refused.status_code == 403
    assert "verified" in refused.text
    client.cookies.clear()
    csrf = sign_in(client, "ara")
    assert client.post(f"/sandbox/projects/{pid}/signup", data={}).status_code == 403  # no CSRF
    done = client.post(
        f"/sandbox/projects/{pid}/signup", data={"csrf": csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    assert "You are signed up" in client.get(f"/sandbox/projects/{pid}").text
    registry = client.get("/sandbox?field=healthcare&stage=selected").text
    assert "Drone delivery of medicines" in registry
    with runtime.sessions() as session:
        me = principal_for(get_user(session, "ara"), "session")
        lines = [line for provider in DASHBOARD for line in provider(session, me)]
    assert [(line.section, line.status) for line in lines] == [("signups", "Selected")]


def test_operator_registers_and_edits_a_project_from_the_forms(
    client: TestClient, runtime: HubRuntime
) -> None:
    user(runtime, "op", "operator")
    user(runtime, "jiwoo")
    csrf = sign_in(client, "jiwoo")
    assert client.get("/sandbox/new").status_code == 403
    client.cookies.clear()
    csrf = sign_in(client, "op")
    form = {
        "title": "Smart streetlights <b>x</b>",
        "field": "energy",
        "track": "rapid_check",
        "operator_name": "Sejong Power",
        "period_start": "2027-03-01",
        "period_end": "2027-02-01",
        "capacity": "",
        "csrf": csrf,
    }
    bad = client.post("/sandbox/new", data=form)
    assert bad.status_code == 422
    assert "before it starts" in bad.text
    assert client.post("/sandbox/new", data={**form, "csrf": ""}).status_code == 403
    made = client.post(
        "/sandbox/new", data={**form, "period_end": "2027-12-31"}, follow_redirects=False
    )
    assert made.status_code == 303
    link = made.headers["location"]
    page = client.get(link).text
    assert "Smart streetlights &lt;b&gt;x&lt;/b&gt;" in page
    edit = client.get(f"{link}/edit").text
    assert 'value="2027-12-31"' in edit
    changed = client.post(
        f"{link}/edit",
        data={**form, "period_end": "2027-12-31", "capacity": "30", "place": "Dodam-dong"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert "Dodam-dong" in client.get(link).text
    bad_number = client.post(f"{link}/edit", data={**form, "capacity": "many"})
    assert bad_number.status_code == 422
    assert "whole number" in bad_number.text
