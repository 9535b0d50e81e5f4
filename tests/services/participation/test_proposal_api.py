"""The processes and proposals API on both databases: the flow, the rules, security."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from citysmart.core.accounts import get_user
from citysmart.core.config import Settings
from citysmart.core.models import AuditEvent
from citysmart.core.notifications import Notification
from citysmart.hub.models import Entity
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.models_proposal import ProposalBallot
from tests.services.participation.proposal_fixtures import (
    API,
    IN_SEJONG,
    IN_SEOUL,
    app_client,
    jpeg_with_gps,
    make_process,
    make_proposal,
    set_phases,
    user,
)


def test_a_proposal_goes_from_supports_to_a_vote_and_is_decided(
    settings: Settings, runtime: HubRuntime
) -> None:
    with app_client(settings, runtime) as client:
        operator = user(runtime, "op", "operator")
        author = user(runtime, "author", verified=True)
        a, b, c = (user(runtime, n, verified=True) for n in ("ra", "rb", "rc"))
        process = make_process(client, operator, threshold=2, quorum=2)
        assert client.put(f"{API}/follows/process/{process['id']}", headers=c).status_code == 204
        proposal = make_proposal(client, author, lon=IN_SEJONG[0], lat=IN_SEJONG[1])
        pid = proposal["id"]
        assert proposal["status"] == "open"
        assert "author" not in str(proposal)
        assert client.put(f"{API}/follows/proposal/{pid}", headers=a).status_code == 204

        assert client.post(f"{API}/proposals/{pid}/support", headers=a).json() == {
            "support_count": 1,
            "status": "open",
        }
        again = client.post(f"{API}/proposals/{pid}/support", headers=a)
        assert again.status_code == 409
        # The author may no longer edit after the first support.
        edit = client.patch(f"{API}/proposals/{pid}", json={"title": "x"}, headers=author)
        assert edit.status_code == 409
        assert (
            client.delete(f"{API}/proposals/{pid}/support", headers=a).json()["support_count"] == 0
        )
        client.post(f"{API}/proposals/{pid}/support", headers=a)
        done = client.post(f"{API}/proposals/{pid}/support", headers=b).json()
        assert done == {"support_count": 2, "status": "voting"}

        # Voting has not started yet.
        early = client.post(f"{API}/proposals/{pid}/vote", json={"choice": "yes"}, headers=a)
        assert early.status_code == 409
        set_phases(client, operator, "streets-2027", ("proposals", -5, -1), ("voting", -1, 3))
        for who, choice in ((a, "yes"), (b, "yes"), (c, "no")):
            r = client.post(f"{API}/proposals/{pid}/vote", json={"choice": choice}, headers=who)
            assert r.status_code == 201, r.text
        twice = client.post(f"{API}/proposals/{pid}/vote", json={"choice": "no"}, headers=a)
        assert twice.status_code == 409
        assert client.get(f"{API}/proposals/{pid}/me", headers=a).json()["voted"] is True
        # No results while the vote runs, and no early decision.
        assert client.get(f"{API}/proposals/{pid}").json()["results"] is None
        early = client.post(f"{API}/proposals/{pid}/decision", headers=operator)
        assert early.status_code == 409

        set_phases(client, operator, "streets-2027", ("proposals", -5, -3), ("voting", -3, -1))
        decided = client.post(f"{API}/proposals/{pid}/decision", headers=operator).json()
        assert decided["status"] == "accepted"
        assert decided["results"]["yes"] == 2
        assert decided["results"]["no"] == 1

        milestone = {"title": "Design", "date": "2027-03-01", "status": "planned"}
        r = client.post(f"{API}/proposals/{pid}/milestones", json=milestone, headers=operator)
        assert r.status_code == 201, r.text
        r = client.post(
            f"{API}/proposals/{pid}/status", json={"status": "implemented"}, headers=operator
        )
        assert r.status_code == 409
        r = client.post(
            f"{API}/proposals/{pid}/status", json={"status": "in_execution"}, headers=operator
        )
        assert r.json()["status"] == "in_execution"
        assert r.json()["milestones"][0]["title"] == "Design"

        with runtime.sessions() as session:
            notes = session.execute(select(Notification.user_id, Notification.kind)).all()
            kinds = {kind for _, kind in notes}
            assert {"proposal_voting", "proposal_decided", "proposal_milestone"} <= kinds
            # The process's follower hears of the vote and the decision, once each.
            follower = get_user(session, "rc")
            assert follower is not None
            heard = sorted(k for u, k in notes if u == follower.id)
            assert heard == ["proposal_decided", "proposal_voting"]
            ballots = session.scalars(select(ProposalBallot.choice)).all()
            assert sorted(ballots) == ["no", "yes", "yes"]
            assert not hasattr(ProposalBallot, "user_id")
            actions = set(session.scalars(select(AuditEvent.action)))
            assert "participation.proposal.vote" in actions
            entity = session.get(Entity, f"urn:ngsi-ld:CivicProposal:sejong-proposal-{pid}")
            assert entity is not None
            assert entity.properties["status"] == "in_execution"
            assert entity.properties["votesYes"] == 2
            assert "author" not in str(entity.properties)

        data = client.get(f"{API}/opendata/proposals.json").json()
        assert data[0]["support_count"] == 2
        assert data[0]["votes_no"] == 1
        csv = client.get(f"{API}/opendata/proposals.csv").text
        assert csv.splitlines()[0].startswith("id,process,title")
        assert "author" not in csv


def test_who_may_do_what(settings: Settings, runtime: HubRuntime) -> None:
    with app_client(settings, runtime) as client:
        operator = user(runtime, "op", "operator")
        citizen = user(runtime, "citizen")
        blocked = user(runtime, "blocked", verified=True, blocked=True)
        process = {"slug": "x-process", "title": "X", "published": True}
        assert client.post(f"{API}/processes", json=process, headers=citizen).status_code == 403
        assert client.post(f"{API}/processes", json=process).status_code == 401
        make_process(client, operator)
        body = {"title": "T", "body": "B", "category": "safety"}
        r = client.post(f"{API}/processes/streets-2027/proposals", json=body, headers=blocked)
        assert r.status_code == 403
        pid = make_proposal(client, citizen)["id"]
        # Unverified: may propose, not support.
        assert client.post(f"{API}/proposals/{pid}/support", headers=citizen).status_code == 403
        assert client.post(f"{API}/proposals/{pid}/support", headers=blocked).status_code == 403
        r = client.post(f"{API}/proposals/{pid}/vote", json={"choice": "yes"}, headers=citizen)
        assert r.status_code == 403
        decision = client.post(f"{API}/proposals/{pid}/decision", headers=citizen)
        assert decision.status_code == 403
        other = user(runtime, "other")
        r = client.patch(f"{API}/proposals/{pid}", json={"title": "Mine"}, headers=other)
        assert r.status_code == 403


def test_bad_proposals_are_refused_and_nothing_is_stored(
    settings: Settings, runtime: HubRuntime
) -> None:
    with app_client(settings, runtime) as client:
        operator = user(runtime, "op", "operator")
        author = user(runtime, "author")
        make_process(client, operator)
        url = f"{API}/processes/streets-2027/proposals"
        base = {"title": "T", "body": "B", "category": "safety"}
        cases = [
            {**base, "category": "weather"},
            {**base, "area_code": "99999"},
            {**base, "lon": IN_SEOUL[0], "lat": IN_SEOUL[1]},
            {**base, "lon": IN_SEJONG[0]},
            {**base, "title": "   "},
        ]
        for body in cases:
            r = client.post(url, json=body, headers=author)
            assert r.status_code == 422, (body, r.text)
        assert client.get(f"{API}/processes/streets-2027/proposals").json() == []
        # Outside the proposals phase.
        set_phases(client, operator, "streets-2027", ("information", -1, 2))
        assert client.post(url, json=base, headers=author).status_code == 409
        bad_phases = {
            "phases": [
                {"kind": "voting", "title": "V", "starts_at": "2027-01-02T00:00:00Z",
                 "ends_at": "2027-01-01T00:00:00Z"}
            ]
        }  # fmt: skip
        r = client.patch(f"{API}/processes/streets-2027", json=bad_phases, headers=operator)
        assert r.status_code == 422
        assert len(client.get(f"{API}/processes/streets-2027").json()["phases"]) == 1


def test_xss_is_stored_as_text_and_rendered_inert(settings: Settings, runtime: HubRuntime) -> None:
    with app_client(settings, runtime) as client:
        operator = user(runtime, "op", "operator")
        author = user(runtime, "author")
        make_process(client, operator)
        payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        pid = make_proposal(client, author, title=payload, body=payload)["id"]
        assert client.get(f"{API}/proposals/{pid}").json()["title"] == payload
        page = client.get(f"/participation/proposals/{pid}").text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert" in page


def test_images_lose_their_gps_and_other_metadata(settings: Settings, runtime: HubRuntime) -> None:
    with app_client(settings, runtime) as client:
        operator = user(runtime, "op", "operator")
        author = user(runtime, "author")
        make_process(client, operator)
        pid = make_proposal(client, author)["id"]
        raw = jpeg_with_gps()
        assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)
        files = {"image": ("photo.jpg", raw, "image/jpeg")}
        r = client.post(f"{API}/proposals/{pid}/images", files=files, headers=author)
        assert r.status_code == 201, r.text
        served = client.get(r.json()["url"])
        assert served.headers["content-type"] == "image/jpeg"
        cleaned = Image.open(io.BytesIO(served.content))
        assert not cleaned.getexif()
        assert b"TestCam" not in served.content
        text = {"image": ("notes.txt", b"hello", "text/plain")}
        r = client.post(f"{API}/proposals/{pid}/images", files=text, headers=author)
        assert r.status_code == 422


def test_cookie_writes_need_the_csrf_token(settings: Settings, runtime: HubRuntime) -> None:
    with app_client(settings, runtime) as client:
        operator = user(runtime, "op", "operator")
        user(runtime, "author")
        make_process(client, operator)
        page = client.get("/signin").text
        token = page.split('name="csrf" value="')[1].split('"')[0]
        r = client.post(
            "/signin",
            data={"username": "author", "password": "correct horse battery staple", "csrf": token},
            follow_redirects=False,
        )
        assert r.status_code == 303
        body = {"title": "T", "body": "B", "category": "safety"}
        url = f"{API}/processes/streets-2027/proposals"
        assert client.post(url, json=body).status_code == 403
        form = {"title": "T", "body": "B", "category": "safety"}
        r = client.post("/participation/processes/streets-2027/proposals", data=form)
        assert r.status_code == 403
        assert client.get(f"{API}/processes/streets-2027/proposals").json() == []
