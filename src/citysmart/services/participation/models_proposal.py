"""Proposals, supports, votes and the follow-up of accepted proposals."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime

__all__ = [
    "MILESTONE_STATUSES",
    "PROPOSAL_STATUSES",
    "Milestone",
    "Proposal",
    "ProposalBallot",
    "ProposalImage",
    "ProposalVoter",
    "Support",
]

# A proposal's life: collecting supports ("open"), put to a vote, decided, then carried out.
PROPOSAL_STATUSES = (
    "open",
    "voting",
    "accepted",
    "rejected",
    "in_execution",
    "implemented",
)
MILESTONE_STATUSES = ("planned", "in_progress", "done")


class Proposal(Base):
    """A citizen's proposal in a process."""

    __tablename__ = "participation_proposal"
    __table_args__ = (Index("ix_participation_proposal_process_status", "process_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(
        ForeignKey("participation_process.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))  # proposals.CATEGORIES
    area_code: Mapped[str | None] = mapped_column(String(16))  # an eup/myeon/dong code
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open")  # PROPOSAL_STATUSES
    # Kept equal to the number of Support rows (recounted in the same transaction).
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    # Published results, filled when the vote is decided.
    votes_yes: Mapped[int | None] = mapped_column(Integer)
    votes_no: Mapped[int | None] = mapped_column(Integer)
    votes_abstain: Mapped[int | None] = mapped_column(Integer)
    voting_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(300))  # the rule as applied
    hidden_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # hidden by moderation
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProposalImage(Base):
    """An image attached to a proposal, re-encoded without its metadata."""

    __tablename__ = "participation_proposal_image"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("participation_proposal.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(16))  # image/jpeg or image/png
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Support(Base):
    """A verified resident's support for a proposal (one each)."""

    __tablename__ = "participation_support"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("participation_proposal.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProposalVoter(Base):
    """Who voted on a proposal (not how: the ballot is stored apart, unlinked)."""

    __tablename__ = "participation_proposal_voter"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("participation_proposal.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )


def _ballot_id() -> str:
    return uuid.uuid4().hex


class ProposalBallot(Base):
    """One secret ballot: a choice on a proposal, with no user and no time on it.

    The key is random, so neither its order nor a timestamp ties it to a voter row.
    """

    __tablename__ = "participation_proposal_ballot"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_ballot_id)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("participation_proposal.id", ondelete="CASCADE"), index=True
    )
    choice: Mapped[str] = mapped_column(String(8))  # yes, no or abstain


class Milestone(Base):
    """A step in carrying out an accepted proposal."""

    __tablename__ = "participation_milestone"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("participation_proposal.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    title_ko: Mapped[str | None] = mapped_column(String(200))
    date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="planned")  # MILESTONE_STATUSES
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
