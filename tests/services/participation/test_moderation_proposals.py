"""Moderation of proposals: hidden ones leave the pages' lists and the open data, and return."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citysmart.hub.models import Entity
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.models_proposal import Proposal
from tests.services.participation.proposal_fixtures import make_process, make_proposal
from tests.services.participation.talk_fixtures import talk_client, talk_runtime, user

__all__ = ["talk_client", "talk_runtime"]
API = "/api/v1/participation"


def test_a_hidden_proposal_leaves_the_open_data_and_comes_back(
    talk_client: TestClient, talk_runtime: HubRuntime
) -> None:
    city = user(talk_runtime, "city", "operator")
    author = user(talk_runtime, "author")
    mod = user(talk_runtime, "mod", "moderator")
    make_process(talk_client, city)
    pid = int(make_proposal(talk_client, author)["id"])
    entity_id = f"urn:ngsi-ld:CivicProposal:sejong-proposal-{pid}"
    reply = talk_client.post(
        f"{API}/comments",
        json={"target_type": "proposal", "target_id": pid, "body": "Yes please"},
        headers=mod,
    )
    assert reply.status_code == 201
    with talk_runtime.sessions() as session:
        assert session.get(Entity, entity_id) is not None
    item = {"target_type": "proposal", "target_id": pid}
    assert talk_client.post(f"{API}/moderation/hide", json=item, headers=mod).status_code == 200
    with talk_runtime.sessions() as session:
        assert session.get(Entity, entity_id) is None
        proposal = session.get(Proposal, pid)
        assert proposal is not None
        assert proposal.hidden_at is not None  # kept equal to the moderation table
    assert talk_client.post(f"{API}/moderation/restore", json=item, headers=mod).status_code == 200
    with talk_runtime.sessions() as session:
        assert session.get(Entity, entity_id) is not None
        restored = session.get(Proposal, pid)
        assert restored is not None
        assert restored.hidden_at is None
