"""Supports, ballots and the decision job on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from citysmart.core.accounts import create_user
from citysmart.core.config import Settings
from citysmart.core.notifications import Notification
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.services.participation.models_process import Phase, Process
from citysmart.services.participation.models_proposal import Proposal, Support
from citysmart.services.participation.proposal_jobs import decide_job
from citysmart.services.participation.vote_store import decide_due


def _setup(runtime: HubRuntime, quorum: int) -> tuple[int, list[int]]:
    """Store a process whose voting ended an hour ago, a proposal in the vote and voters."""
    now = utcnow()
    with runtime.sessions.begin() as session:
        session.execute(delete(Process))
        users = [create_user(session, f"voter{i}", "resident", None) for i in range(3)]
        process = Process(slug="p", title="P", published=True, support_threshold=1, quorum=quorum)
        session.add(process)
        session.flush()
        session.add(
            Phase(
                process_id=process.id,
                position=0,
                kind="voting",
                title="Vote",
                starts_at=now - dt.timedelta(days=2),
                ends_at=now - dt.timedelta(hours=1),
            )
        )
        proposal = Proposal(
            process_id=process.id, title="T", body="B", category="other", status="voting"
        )
        session.add(proposal)
        session.flush()
        return proposal.id, [u.id for u in users]


def test_the_job_decides_votes_whose_phase_has_ended(
    settings: Settings, runtime: HubRuntime
) -> None:
    pid, users = _setup(runtime, quorum=5)
    with runtime.sessions.begin() as session:
        proposal = session.get(Proposal, pid)
        assert proposal is not None
        proposal.author_id = users[0]
    decide_job(runtime)
    with runtime.sessions() as session:
        proposal = session.get(Proposal, pid)
        assert proposal is not None
        assert proposal.status == "rejected"  # no ballots, under the quorum of 5
        assert proposal.votes_yes == 0
        assert proposal.decision_note == "rejected: 0 ballots, under the quorum of 5"
        notes = session.scalars(select(Notification).where(Notification.user_id == users[0]))
        assert [n.kind for n in notes] == ["proposal_decided"]
        assert decide_due(session) == []  # decided once


def test_the_database_refuses_a_second_support(settings: Settings, runtime: HubRuntime) -> None:
    pid, users = _setup(runtime, quorum=0)
    with runtime.sessions.begin() as session:
        session.add(Support(proposal_id=pid, user_id=users[1]))
    with pytest.raises(IntegrityError), runtime.sessions.begin() as session:
        session.add(Support(proposal_id=pid, user_id=users[1]))
