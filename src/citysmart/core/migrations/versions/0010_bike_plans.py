"""Rebalancing plans: routes per truck, ordered jobs, drivers' reports.

See ``citysmart.services.bikes.models_plan``. Downgrading drops the plans and the record
of the jobs done.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bike_plan",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("horizon_start", UTCDateTime, nullable=False),
        sa.Column("horizon_end", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("demand_source", sa.Text, nullable=False),
        sa.Column("stations", sa.Integer, nullable=False),
        sa.Column("bikes_wanted", sa.Integer, nullable=False),
        sa.Column("bikes_planned", sa.Integer, nullable=False),
        sa.Column("lost_expected_before", sa.Double, nullable=False),
        sa.Column("lost_expected_after", sa.Double, nullable=False),
    )
    op.create_index("ix_bike_plan_status", "bike_plan", ["status", "created_at"])
    op.create_table(
        "bike_plan_route",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "plan_id", sa.Integer, sa.ForeignKey("bike_plan.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("truck_id", sa.String(64), nullable=False),
        sa.Column("start_load", sa.Integer, nullable=False),
        sa.Column("distance_m", sa.Double, nullable=False),
        sa.Column("duration_s", sa.Double, nullable=False),
    )  # fmt: skip
    op.create_table(
        "bike_plan_job",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "plan_id", sa.Integer, sa.ForeignKey("bike_plan.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "route_id", sa.Integer, sa.ForeignKey("bike_plan_route.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("station_code", sa.String(64), nullable=False),
        sa.Column("bikes", sa.Integer, nullable=False),
        sa.Column("eta", UTCDateTime, nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
        sa.Column("done_bikes", sa.Integer, nullable=True),
        sa.Column("done_by", sa.String(128), nullable=True),
    )  # fmt: skip
    op.create_index("ix_bike_plan_job_route", "bike_plan_job", ["route_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_bike_plan_job_route", "bike_plan_job")
    op.drop_table("bike_plan_job")
    op.drop_table("bike_plan_route")
    op.drop_index("ix_bike_plan_status", "bike_plan")
    op.drop_table("bike_plan")
