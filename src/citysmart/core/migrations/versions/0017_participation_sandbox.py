"""Participation: opinion channel (departments, routing, opinions, history) and sandbox projects.

Downgrading drops them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _user(name: str, ondelete: str = "SET NULL", nullable: bool = True) -> sa.Column[int]:
    return sa.Column(
        name, sa.Integer, sa.ForeignKey("app_user.id", ondelete=ondelete), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "participation_department",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("name_ko", sa.String(120), nullable=True),
    )
    op.create_table(
        "participation_department_category",
        sa.Column("category", sa.String(24), primary_key=True),
        sa.Column(
            "department_id",
            sa.Integer,
            sa.ForeignKey("participation_department.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_participation_department_category_department_id",
        "participation_department_category",
        ["department_id"],
    )
    op.create_table(
        "participation_opinion",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("category", sa.String(24), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("area_code", sa.String(16), nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("public", sa.Boolean, nullable=False),
        _user("author_id"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "department_id",
            sa.Integer,
            sa.ForeignKey("participation_department.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_participation_opinion_author_id", "participation_opinion", ["author_id"])
    op.create_index(
        "ix_participation_opinion_status", "participation_opinion", ["status", "department_id"]
    )
    op.create_table(
        "participation_opinion_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "opinion_id",
            sa.Integer,
            sa.ForeignKey("participation_opinion.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "department_id",
            sa.Integer,
            sa.ForeignKey("participation_department.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("note", sa.Text, nullable=True),
        _user("actor_id"),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_participation_opinion_event_opinion_id", "participation_opinion_event", ["opinion_id"]
    )
    op.create_table(
        "participation_sandbox_project",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_ko", sa.String(200), nullable=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("track", sa.String(32), nullable=False),
        sa.Column("operator_name", sa.String(200), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("scale", sa.String(300), nullable=False),
        sa.Column("period_start", sa.Date, nullable=True),
        sa.Column("period_end", sa.Date, nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column(
            "survey_id",
            sa.Integer,
            sa.ForeignKey("participation_survey.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    for table in ("participation_sandbox_event", "participation_sandbox_entry"):
        columns: list[sa.Column[Any]] = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "project_id",
                sa.Integer,
                sa.ForeignKey("participation_sandbox_project.id", ondelete="CASCADE"),
                nullable=False,
            ),
        ]
        if table == "participation_sandbox_event":
            columns += [
                sa.Column("stage", sa.String(16), nullable=False),
                sa.Column("note", sa.Text, nullable=True),
                _user("actor_id"),
                sa.Column("at", UTCDateTime, nullable=False),
            ]
        else:
            columns += [
                sa.Column("kind", sa.String(12), nullable=False),
                sa.Column("title", sa.String(200), nullable=False),
                sa.Column("date", sa.Date, nullable=False),
                sa.Column("body", sa.Text, nullable=False),
                sa.Column("status", sa.String(12), nullable=False),
                sa.Column("created_at", UTCDateTime, nullable=False),
            ]
        op.create_table(table, *columns)
        op.create_index(f"ix_{table}_project_id", table, ["project_id"])
    op.create_table(
        "participation_sandbox_signup",
        sa.Column(
            "project_id",
            sa.Integer,
            sa.ForeignKey("participation_sandbox_project.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_participation_sandbox_signup_user_id", "participation_sandbox_signup", ["user_id"]
    )


def downgrade() -> None:
    op.drop_table("participation_sandbox_signup")
    op.drop_table("participation_sandbox_entry")
    op.drop_table("participation_sandbox_event")
    op.drop_table("participation_sandbox_project")
    op.drop_table("participation_opinion_event")
    op.drop_table("participation_opinion")
    op.drop_table("participation_department_category")
    op.drop_table("participation_department")
