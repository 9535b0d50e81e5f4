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


def downgrade() -> None:
    op.drop_table("participation_follow")
    op.drop_table("participation_phase")
    op.drop_table("participation_process")
