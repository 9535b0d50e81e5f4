"""Comments (threaded, voted up and down), debates, reports and moderation actions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime

__all__ = [
    "TALK_TABLES",
    "Comment",
    "CommentVote",
    "Debate",
    "ModerationAction",
    "ModerationState",
    "Report",
]


class Comment(Base):
    """A comment on an item (a proposal, a debate...), or a reply to another comment."""

    __tablename__ = "participation_comment"
    __table_args__ = (Index("ix_participation_comment_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_type: Mapped[str] = mapped_column(String(24))  # a key of talk_targets.TARGETS
    target_id: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("participation_comment.id", ondelete="CASCADE"), index=True
    )
    depth: Mapped[int] = mapped_column(SmallInteger, default=0)  # 0 for a top-level comment
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)  # plain text, escaped on output
    alignment: Mapped[int] = mapped_column(SmallInteger, default=0)  # 1 for, -1 against, 0
    # Kept equal to the CommentVote rows (recounted in the same transaction as each vote).
    up_votes: Mapped[int] = mapped_column(Integer, default=0)
    down_votes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Deleted by its author: the row stays so the replies keep their place; the body is wiped.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CommentVote(Base):
    """A signed-in user's up (+1) or down (-1) vote on a comment: one each, changeable."""

    __tablename__ = "participation_comment_vote"

    comment_id: Mapped[int] = mapped_column(
        ForeignKey("participation_comment.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    value: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Debate(Base):
    """A debate in a process: a question whose comments are its body, closed with a conclusion."""

    __tablename__ = "participation_debate"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(
        ForeignKey("participation_process.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    official: Mapped[bool] = mapped_column(Boolean, default=False)  # opened by an operator
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open or closed
    conclusion: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """A user's report of an item (comment, proposal, debate...): one per user per item."""

    __tablename__ = "participation_report"
    __table_args__ = (
        UniqueConstraint("target_type", "target_id", "reporter_id"),
        Index("ix_participation_report_reporter_id", "reporter_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_type: Mapped[str] = mapped_column(String(24))
    target_id: Mapped[int] = mapped_column(Integer)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))  # comments.REPORT_REASONS
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a moderator restored the item: the report no longer counts.
    dismissed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ModerationState(Base):
    """An item's moderation state: whether it is hidden, since when, and why."""

    __tablename__ = "participation_moderation"

    target_type: Mapped[str] = mapped_column(String(24), primary_key=True)
    target_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hidden_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    hidden_by: Mapped[str | None] = mapped_column(String(16))  # "reports" or "moderator"
    # Reports that still count (not dismissed): kept equal to the Report rows.
    open_reports: Mapped[int] = mapped_column(Integer, default=0)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ModerationAction(Base):
    """One moderation action: hide, restore, block, or an automatic hide after reports."""

    __tablename__ = "participation_moderation_action"
    __table_args__ = (
        Index("ix_participation_moderation_action_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None for the automatic hide after enough reports.
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))  # hide, restore, block, auto_hide
    target_type: Mapped[str] = mapped_column(String(24))  # "user" for a block
    target_id: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")


# Children first, so tests can empty them in this order.
TALK_TABLES = (
    "participation_moderation_action",
    "participation_moderation",
    "participation_report",
    "participation_comment_vote",
    "participation_comment",
    "participation_debate",
)
