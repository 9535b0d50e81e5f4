"""Supports, secret votes and decisions on proposals."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citysmart.core.errors import Problem
from citysmart.core.time import utcnow
from citysmart.services.participation import proposals as rules
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.models_proposal import (
    Proposal,
    ProposalBallot,
    ProposalVoter,
    Support,
)
from citysmart.services.participation.process_store import phases_of
from citysmart.services.participation.proposal_opendata import publish_proposal
from citysmart.services.participation.proposal_store import process_of, tell

logger = logging.getLogger(__name__)


def has_supported(session: Session, proposal_id: int, user_id: int) -> bool:
    """Whether a user supports a proposal."""
    return session.get(Support, (proposal_id, user_id)) is not None


def has_voted(session: Session, proposal_id: int, user_id: int) -> bool:
    """Whether a user voted on a proposal (how they voted is not stored with them)."""
    return session.get(ProposalVoter, (proposal_id, user_id)) is not None


def _recount(session: Session, proposal: Proposal) -> int:
    # One UPDATE from the rows themselves: concurrent supports cannot lose a count.
    count = (
        select(func.count())
        .select_from(Support)
        .where(Support.proposal_id == proposal.id)
        .scalar_subquery()
    )
    session.execute(update(Proposal).where(Proposal.id == proposal.id).values(support_count=count))
    session.refresh(proposal)
    return proposal.support_count


def support(
    session: Session, proposal: Proposal, user_id: int, now: dt.datetime | None = None
) -> int:
    """Support a proposal (once per person); send it to the vote at the threshold."""
    now = now or utcnow()
    process = process_of(session, proposal)
    if proposal.status != "open":
        raise Problem(409, "Not collecting supports", f"the proposal is {proposal.status}")
    if not rules.phase_open(phases_of(session, process.id), rules.SUPPORT_PHASES, now):
        raise Problem(
            409, "Closed", "supports are given only while a supports or proposals phase runs"
        )
    if has_supported(session, proposal.id, user_id):
        raise Problem(409, "Already supported", "you support this proposal already")
    try:
        with session.begin_nested():
            session.add(Support(proposal_id=proposal.id, user_id=user_id, created_at=now))
    except IntegrityError as exc:  # a concurrent request of the same user won
        raise Problem(409, "Already supported", "you support this proposal already") from exc
    count = _recount(session, proposal)
    if rules.reached_threshold(count, process.support_threshold):
        _to_vote(session, proposal, now)
    publish_proposal(session, proposal, process)
    return count


def withdraw_support(session: Session, proposal: Proposal, user_id: int) -> int:
    """Withdraw a support while the proposal still collects them."""
    if proposal.status != "open":
        raise Problem(409, "Not collecting supports", f"the proposal is {proposal.status}")
    if not has_supported(session, proposal.id, user_id):
        raise Problem(404, "Not found", "you do not support this proposal")
    session.execute(
        delete(Support).where(Support.proposal_id == proposal.id, Support.user_id == user_id)
    )
    count = _recount(session, proposal)
    publish_proposal(session, proposal, process_of(session, proposal))
    return count


def _to_vote(session: Session, proposal: Proposal, now: dt.datetime) -> None:
    proposal.status = "voting"
    proposal.voting_since = now
    proposal.updated_at = now
    session.flush()
    tell(
        session,
        proposal,
        "proposal_voting",
        f"“{proposal.title}” reached its supports and goes to the vote",
        f"“{proposal.title}” 제안이 지지 기준을 넘어 투표에 부쳐집니다",
        with_process=True,
    )


def vote(
    session: Session,
    proposal: Proposal,
    user_id: int,
    choice: str,
    now: dt.datetime | None = None,
) -> None:
    """Cast a secret ballot: who voted and the choice go to two unlinked tables."""
    now = now or utcnow()
    if choice not in rules.CHOICES:
        raise Problem(422, "Invalid vote", f"vote yes, no or abstain, not {choice!r}")
    if proposal.status != "voting":
        raise Problem(409, "Not in the vote", f"the proposal is {proposal.status}")
    if not rules.phase_open(phases_of(session, proposal.process_id), ("voting",), now):
        raise Problem(409, "Closed", "votes are cast only while a voting phase runs")
    if has_voted(session, proposal.id, user_id):
        raise Problem(409, "Already voted", "you voted on this proposal already")
    try:
        with session.begin_nested():
            session.add(ProposalVoter(proposal_id=proposal.id, user_id=user_id))
            session.add(ProposalBallot(proposal_id=proposal.id, choice=choice))
    except IntegrityError as exc:  # a concurrent ballot of the same user won
        raise Problem(409, "Already voted", "you voted on this proposal already") from exc


def tally(session: Session, proposal_id: int) -> dict[str, int]:
    """Count a proposal's ballots per choice."""
    rows = session.execute(
        select(ProposalBallot.choice, func.count())
        .where(ProposalBallot.proposal_id == proposal_id)
        .group_by(ProposalBallot.choice)
    )
    counts = dict.fromkeys(rules.CHOICES, 0)
    for choice, count in rows:
        counts[str(choice)] = int(count)
    return counts


def decide_proposal(
    session: Session, proposal: Proposal, now: dt.datetime | None = None, *, force: bool = False
) -> rules.Decision:
    """Decide a proposal in the vote once voting is over (``force``: an operator closes it)."""
    now = now or utcnow()
    if proposal.status != "voting":
        raise Problem(409, "Not in the vote", f"the proposal is {proposal.status}")
    process = process_of(session, proposal)
    if not force and not rules.voting_over(phases_of(session, process.id), now):
        raise Problem(409, "Voting not over", "the process's voting phase has not ended")
    counts = tally(session, proposal.id)
    decision = rules.decide(counts["yes"], counts["no"], counts["abstain"], process.quorum)
    proposal.status = decision.status
    proposal.votes_yes, proposal.votes_no = decision.yes, decision.no
    proposal.votes_abstain = decision.abstain
    proposal.decided_at = now
    proposal.decision_note = decision.note[:300]
    proposal.updated_at = now
    session.flush()
    en, ko = rules.STATUS_LABELS[decision.status]
    tell(
        session,
        proposal,
        "proposal_decided",
        f"“{proposal.title}” was decided: {en} ({decision.yes} yes, {decision.no} no)",
        f"“{proposal.title}” 결과: {ko} (찬성 {decision.yes}, 반대 {decision.no})",
        with_process=True,
    )
    publish_proposal(session, proposal, process)
    return decision


def decide_due(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Decide every proposal in the vote whose process's voting is over; return their ids."""
    now = now or utcnow()
    decided = []
    voting = session.scalars(
        select(Proposal).where(Proposal.status == "voting").order_by(Proposal.id)
    )
    for proposal in list(voting):
        process = session.get(Process, proposal.process_id)
        if process is None or not rules.voting_over(phases_of(session, process.id), now):
            continue
        decide_proposal(session, proposal, now)
        decided.append(proposal.id)
    if decided:
        logger.info("decided proposals %s", decided)
    return decided
