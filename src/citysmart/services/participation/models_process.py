"""Participatory processes (a topic with phases and dates) and what citizens follow."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime

# What a phase opens. A process runs its phases in order; each component (proposals,
# supports, votes, budgets, surveys, follow-up) is open while a phase of its kind runs.
PHASE_KINDS = (
    "information",
    "proposals",
    "supports",
    "voting",
    "budgeting",
    "survey",
    "follow_up",
)


class Process(Base):
    """A participatory process: a topic the city opens to citizens, run in phases."""

    __tablename__ = "participation_process"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    title_ko: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    area_code: Mapped[str | None] = mapped_column(String(16))  # a dong's code; None: city-wide
    # Supports a proposal needs to go to a vote.
    support_threshold: Mapped[int] = mapped_column(Integer, default=100)
    # Ballots (yes, no and abstain) a vote needs to count: below it the proposal is rejected.
    quorum: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Phase(Base):
    """One phase of a process: what it opens, from when until when."""

    __tablename__ = "participation_phase"
    __table_args__ = (UniqueConstraint("process_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(
        ForeignKey("participation_process.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))  # one of PHASE_KINDS
    title: Mapped[str] = mapped_column(String(200))
    title_ko: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Follow(Base):
    """A user follows an item (a process, proposal, debate, project...) to hear of changes."""

    __tablename__ = "participation_follow"
    __table_args__ = (Index("ix_participation_follow_target", "target_type", "target_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    target_type: Mapped[str] = mapped_column(String(24), primary_key=True)
    target_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
