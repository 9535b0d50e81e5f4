"""Participation: comments and their votes, debates, reports and moderation.

Downgrading drops them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _fk(table: str, ondelete: str = "CASCADE") -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def _comments() -> None:
    op.create_table(
        "participation_comment",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("target_type", sa.String(24), nullable=False),
        sa.Column("target_id", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.Integer, _fk("participation_comment"), nullable=True),
        sa.Column("depth", sa.SmallInteger, nullable=False),
        sa.Column("author_id", sa.Integer, _fk("app_user", "SET NULL"), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("alignment", sa.SmallInteger, nullable=False),
        sa.Column("up_votes", sa.Integer, nullable=False),
        sa.Column("down_votes", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("edited_at", UTCDateTime, nullable=True),
        sa.Column("deleted_at", UTCDateTime, nullable=True),
    )
    op.create_index(
        "ix_participation_comment_target", "participation_comment", ["target_type", "target_id"]
    )
    op.create_index("ix_participation_comment_parent_id", "participation_comment", ["parent_id"])
    op.create_index("ix_participation_comment_author_id", "participation_comment", ["author_id"])
    op.create_table(
        "participation_comment_vote",
        sa.Column("comment_id", sa.Integer, _fk("participation_comment"), primary_key=True),
        sa.Column("user_id", sa.Integer, _fk("app_user"), primary_key=True),
        sa.Column("value", sa.SmallInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_participation_comment_vote_user_id", "participation_comment_vote", ["user_id"]
    )


def _debates() -> None:
    op.create_table(
        "participation_debate",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("process_id", sa.Integer, _fk("participation_process"), nullable=False),
        sa.Column("author_id", sa.Integer, _fk("app_user", "SET NULL"), nullable=True),
        sa.Column("official", sa.Boolean, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conclusion", sa.Text, nullable=True),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("closed_by", sa.Integer, _fk("app_user", "SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_participation_debate_process_id", "participation_debate", ["process_id"])
    op.create_index("ix_participation_debate_author_id", "participation_debate", ["author_id"])


def _moderation() -> None:
    op.create_table(
        "participation_report",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("target_type", sa.String(24), nullable=False),
        sa.Column("target_id", sa.Integer, nullable=False),
        sa.Column("reporter_id", sa.Integer, _fk("app_user"), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("dismissed_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("target_type", "target_id", "reporter_id"),
    )
    op.create_index("ix_participation_report_reporter_id", "participation_report", ["reporter_id"])
    op.create_table(
        "participation_moderation",
        sa.Column("target_type", sa.String(24), primary_key=True),
        sa.Column("target_id", sa.Integer, primary_key=True),
        sa.Column("hidden_at", UTCDateTime, nullable=True),
        sa.Column("hidden_by", sa.String(16), nullable=True),
        sa.Column("open_reports", sa.Integer, nullable=False),
        sa.Column("reviewed_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "participation_moderation_action",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("moderator_id", sa.Integer, _fk("app_user", "SET NULL"), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("target_type", sa.String(24), nullable=False),
        sa.Column("target_id", sa.Integer, nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
    )
    op.create_index(
        "ix_participation_moderation_action_target",
        "participation_moderation_action",
        ["target_type", "target_id"],
    )


def upgrade() -> None:
    _comments()
    _debates()
    _moderation()


def downgrade() -> None:
    for table in (
        "participation_moderation_action",
        "participation_moderation",
        "participation_report",
        "participation_debate",
        "participation_comment_vote",
        "participation_comment",
    ):
        op.drop_table(table)
