"""Participation: surveys (questions, options, responses, answers) and participatory budgets.

Budgets hold projects; each resident has one ballot per budget, with lines for the chosen
projects. Downgrading drops them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _fk(table: str, ondelete: str = "CASCADE") -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def _surveys() -> None:
    op.create_table(
        "participation_survey",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("process_id", sa.Integer, _fk("participation_process"), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_ko", sa.String(200), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("opens_at", UTCDateTime, nullable=False),
        sa.Column("closes_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.Integer, _fk("app_user", "SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_participation_survey_process_id", "participation_survey", ["process_id"])
    op.create_table(
        "participation_survey_question",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("survey_id", sa.Integer, _fk("participation_survey"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("prompt", sa.String(500), nullable=False),
        sa.Column("prompt_ko", sa.String(500), nullable=True),
        sa.Column("required", sa.Boolean, nullable=False),
        sa.Column("max_choices", sa.Integer, nullable=True),
        sa.UniqueConstraint("survey_id", "position"),
    )
    op.create_index(
        "ix_participation_survey_question_survey_id",
        "participation_survey_question",
        ["survey_id"],
    )
    op.create_table(
        "participation_survey_option",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("question_id", sa.Integer, _fk("participation_survey_question"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("label_ko", sa.String(200), nullable=True),
        sa.UniqueConstraint("question_id", "position"),
    )
    op.create_index(
        "ix_participation_survey_option_question_id",
        "participation_survey_option",
        ["question_id"],
    )
    op.create_table(
        "participation_survey_response",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("survey_id", sa.Integer, _fk("participation_survey"), nullable=False),
        sa.Column("user_id", sa.Integer, _fk("app_user"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("survey_id", "user_id"),
    )
    op.create_index(
        "ix_participation_survey_response_user_id", "participation_survey_response", ["user_id"]
    )
    op.create_table(
        "participation_survey_answer",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("response_id", sa.Integer, _fk("participation_survey_response"), nullable=False),
        sa.Column("question_id", sa.Integer, _fk("participation_survey_question"), nullable=False),
        sa.Column("option_id", sa.Integer, _fk("participation_survey_option"), nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("value", sa.Integer, nullable=True),
    )
    op.create_index(
        "ix_participation_survey_answer_response_id",
        "participation_survey_answer",
        ["response_id"],
    )
    op.create_index(
        "ix_participation_survey_answer_question_id",
        "participation_survey_answer",
        ["question_id"],
    )


def _budgets() -> None:
    op.create_table(
        "participation_budget",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("process_id", sa.Integer, _fk("participation_process"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_ko", sa.String(200), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("total_krw", sa.BigInteger, nullable=False),
        sa.Column("area_code", sa.String(16), nullable=True),
        sa.Column("min_share_pct", sa.Integer, nullable=True),
        sa.Column("max_projects", sa.Integer, nullable=True),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("opens_at", UTCDateTime, nullable=False),
        sa.Column("closes_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.Integer, _fk("app_user", "SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_participation_budget_process_id", "participation_budget", ["process_id"])
    op.create_table(
        "participation_budget_project",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("budget_id", sa.Integer, _fk("participation_budget"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("title_ko", sa.String(200), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("cost_krw", sa.BigInteger, nullable=False),
        sa.Column("area_code", sa.String(16), nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_participation_budget_project_budget_id",
        "participation_budget_project",
        ["budget_id"],
    )
    op.create_table(
        "participation_ballot",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("budget_id", sa.Integer, _fk("participation_budget"), nullable=False),
        sa.Column("user_id", sa.Integer, _fk("app_user"), nullable=False),
        sa.Column("checked_out_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("budget_id", "user_id"),
    )
    op.create_index("ix_participation_ballot_user_id", "participation_ballot", ["user_id"])
    op.create_table(
        "participation_ballot_line",
        sa.Column("ballot_id", sa.Integer, _fk("participation_ballot"), primary_key=True),
        sa.Column("project_id", sa.Integer, _fk("participation_budget_project"), primary_key=True),
    )
    op.create_index(
        "ix_participation_ballot_line_project_id", "participation_ballot_line", ["project_id"]
    )


def upgrade() -> None:
    _surveys()
    _budgets()


def downgrade() -> None:
    for table in (
        "participation_ballot_line",
        "participation_ballot",
        "participation_budget_project",
        "participation_budget",
        "participation_survey_answer",
        "participation_survey_response",
        "participation_survey_option",
        "participation_survey_question",
        "participation_survey",
    ):
        op.drop_table(table)
