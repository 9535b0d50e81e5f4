"""The process and proposal pages: forms without script, KST timeline, dashboard entries."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from citysmart.core.accounts import get_user
from citysmart.core.auth import Principal
from citysmart.core.config import Settings
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.proposal_pages import dashboard_entries
from tests.services.participation.proposal_fixtures import (
    API,
    PASSWORD,
    app_client,
    make_process,
    set_phases,
    user,
)


def sign_in(client: TestClient, username: str) -> str:
    """Sign in through the form; return the session's CSRF token."""
    client.cookies.clear()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
    assert token
    data = {"username": username, "password": PASSWORD, "csrf": token.group(1)}
    assert client.post("/signin", data=data, follow_redirects=False).status_code == 303
    page = client.get("/participation").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_an_operator_makes_a_process_with_the_form(settings: Settings, runtime: HubRuntime) -> None:
    with app_client(settings, runtime) as client:
        user(runtime, "op", "operator")
        user(runtime, "citizen")
        csrf = sign_in(client, "citizen")
        assert "New process" not in client.get("/participation").text
        assert client.get("/participation/processes/new").status_code == 403
        refused = {"csrf": csrf, "slug": "parks", "title": "Parks"}
        assert client.post("/participation/processes", data=refused).status_code == 403

        csrf = sign_in(client, "op")
        form: dict[str, str | list[str]] = {
            "csrf": csrf,
            "slug": "parks",
            "title": "Parks for all",
            "title_ko": "모두의 공원",
            "support_threshold": "3",
            "quorum": "1",
            "published": "1",
            "phase_kind": ["proposals", "voting", ""],
            "phase_title": ["", "Vote", ""],
            "phase_title_ko": ["", "", ""],
            "phase_start": ["2026-01-01T09:00", "2099-01-01T09:00", ""],
            "phase_end": ["2099-01-01T09:00", "2099-02-01T00:00", ""],
        }
        r = client.post("/participation/processes", data=form, follow_redirects=False)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/participation/processes/parks"
        page = client.get("/participation/processes/parks").text
        assert "모두의 공원" in page
        assert 'aria-current="step"' in page  # the proposals phase runs
        assert "2099-01-01 09:00" in page  # KST as entered
        api = client.get(f"{API}/processes/parks").json()
        assert api["phases"][1]["starts_at"] == "2099-01-01T00:00:00Z"

        bad = {**form, "slug": "parks-2", "phase_end": ["2025-01-01T00:00", "2099-02-01T00:00", ""]}
        r = client.post("/participation/processes", data=bad)
        assert r.status_code == 422
        assert "ends before it starts" in r.text


def test_citizens_propose_support_and_vote_with_the_forms(
    settings: Settings, runtime: HubRuntime
) -> None:
    with app_client(settings, runtime) as client:
        operator = user(runtime, "op", "operator")
        user(runtime, "author", verified=True)
        user(runtime, "fan", verified=True)
        user(runtime, "visitor")
        make_process(client, operator, threshold=2)

        csrf = sign_in(client, "author")
        assert "Safer streets" in client.get("/participation/proposals/new").text
        form = {"csrf": csrf, "title": "Benches", "body": "More benches.", "category": "urban"}
        url = "/participation/processes/streets-2027/proposals"
        r = client.post(url, data={**form, "lat": "37.56", "lon": "126.97"})
        assert r.status_code == 422
        assert "not inside Sejong" in r.text
        r = client.post(url, data=form, follow_redirects=False)
        assert r.status_code == 303
        link = r.headers["location"]
        r = client.post(f"{link}/support", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303

        csrf = sign_in(client, "visitor")
        page = client.get(link).text
        assert "Only verified residents may support" in page
        r = client.post(f"{link}/support", data={"csrf": csrf})
        assert r.status_code == 403
        r = client.post(f"{link}/follow", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303

        csrf = sign_in(client, "fan")
        client.post(f"{link}/support", data={"csrf": csrf})
        page = client.get(link).text
        assert "In the vote" in page
        assert 'value="100"' in page  # the progress bar is full

        set_phases(client, operator, "streets-2027", ("proposals", -5, -1), ("voting", -1, 3))
        assert "Cast my vote" in client.get(link).text
        r = client.post(
            f"{link}/vote", data={"csrf": csrf, "choice": "yes"}, follow_redirects=False
        )
        assert r.status_code == 303
        r = client.post(f"{link}/vote", data={"csrf": csrf, "choice": "no"})
        assert r.status_code == 409
        assert "You have voted" in r.text

        set_phases(client, operator, "streets-2027", ("proposals", -5, -3), ("voting", -3, -1))
        csrf = sign_in(client, "op")
        r = client.post(f"{link}/decision", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        page = client.get(link).text
        assert "Accepted" in page
        assert "accepted: 1 yes &gt; 0 no" in page

        with runtime.sessions() as session:
            nobody = Principal(0, "nobody", "citizen", "session")
            for name, section in (("visitor", "following"), ("author", "proposals")):
                found = get_user(session, name)
                assert found is not None
                who = Principal(found.id, name, "citizen", "session")
                entries = dashboard_entries(session, who)
                assert [(e.section, e.link) for e in entries] == [(section, link)]
                assert entries[0].status.startswith("Accepted")
            assert dashboard_entries(session, nobody) == []
