"""Participation: processes and their phases, follows, proposals, supports, votes, follow-up.

Downgrading drops them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participation_process",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(80), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_ko", sa.String(200), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("area_code", sa.String(16), nullable=True),
        sa.Column("support_threshold", sa.Integer, nullable=False),
        sa.Column("quorum", sa.Integer, nullable=False),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column(
            "created_by",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "participation_phase",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "process_id",
            sa.Integer,
            sa.ForeignKey("participation_process.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_ko", sa.String(200), nullable=True),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("process_id", "position"),
    )
    op.create_index("ix_participation_phase_process_id", "participation_phase", ["process_id"])
    op.create_table(
        "participation_follow",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("target_type", sa.String(24), primary_key=True),
        sa.Column("target_id", sa.Integer, primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_participation_follow_target", "participation_follow", ["target_type", "target_id"]
    )

    op.create_table(
        "participation_proposal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "process_id",
            sa.Integer,
            sa.ForeignKey("participation_process.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "author_id",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("area_code", sa.String(16), nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("support_count", sa.Integer, nullable=False),
        sa.Column("votes_yes", sa.Integer, nullable=True),
        sa.Column("votes_no", sa.Integer, nullable=True),
        sa.Column("votes_abstain", sa.Integer, nullable=True),
        sa.Column("voting_since", UTCDateTime, nullable=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("decision_note", sa.String(300), nullable=True),
        sa.Column("hidden_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_participation_proposal_process_status",
        "participation_proposal",
        ["process_id", "status"],
    )
    op.create_index("ix_participation_proposal_author_id", "participation_proposal", ["author_id"])
    op.create_table(
        "participation_proposal_image",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("proposal_id", sa.Integer, _proposal_fk(), nullable=False),
        sa.Column("content_type", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_participation_proposal_image_proposal_id",
        "participation_proposal_image",
        ["proposal_id"],
    )
    op.create_table(
        "participation_support",
        sa.Column("proposal_id", sa.Integer, _proposal_fk(), primary_key=True),
        sa.Column("user_id", sa.Integer, _user_fk(), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_participation_support_user_id", "participation_support", ["user_id"])
    op.create_table(
        "participation_proposal_voter",
        sa.Column("proposal_id", sa.Integer, _proposal_fk(), primary_key=True),
        sa.Column("user_id", sa.Integer, _user_fk(), primary_key=True),
    )
    op.create_index(
        "ix_participation_proposal_voter_user_id", "participation_proposal_voter", ["user_id"]
    )
    op.create_table(
        "participation_proposal_ballot",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("proposal_id", sa.Integer, _proposal_fk(), nullable=False),
        sa.Column("choice", sa.String(8), nullable=False),
    )
    op.create_index(
        "ix_participation_proposal_ballot_proposal_id",
        "participation_proposal_ballot",
        ["proposal_id"],
    )
    op.create_table(
        "participation_milestone",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("proposal_id", sa.Integer, _proposal_fk(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_ko", sa.String(200), nullable=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column(
            "created_by",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_participation_milestone_proposal_id", "participation_milestone", ["proposal_id"]
    )


def _proposal_fk() -> sa.ForeignKey:
    return sa.ForeignKey("participation_proposal.id", ondelete="CASCADE")


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey("app_user.id", ondelete="CASCADE")


def downgrade() -> None:
    op.drop_table("participation_milestone")
    op.drop_table("participation_proposal_ballot")
    op.drop_table("participation_proposal_voter")
    op.drop_table("participation_support")
    op.drop_table("participation_proposal_image")
    op.drop_table("participation_proposal")
    op.drop_table("participation_follow")
    op.drop_table("participation_phase")
    op.drop_table("participation_process")
