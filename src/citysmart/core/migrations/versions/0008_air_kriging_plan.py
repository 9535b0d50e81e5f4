"""The air service's tuned-kriging plans: per day, and the one each map hour used.

See ``citysmart.services.air.models_plan``. Downgrading drops them; the map then serves
the per-hour IDW-or-kriging choice until the daily job chooses a plan again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "air_kriging_plan",
        sa.Column("day", UTCDateTime, nullable=False),
        sa.Column("pollutant", sa.String(16), nullable=False),
        sa.Column("angle_deg", sa.Double),
        sa.Column("ratio", sa.Double),
        sa.Column("nuggets_m", sa.JSON, nullable=False),
        sa.Column("hours", sa.Integer, nullable=False),
        sa.Column("sensors", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Double, nullable=False),
        sa.Column("chosen_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("day", "pollutant", name="pk_air_kriging_plan"),
    )
    op.create_table(
        "air_map_plan",
        sa.Column("hour", UTCDateTime, nullable=False),
        sa.Column("pollutant", sa.String(16), nullable=False),
        sa.Column("angle_deg", sa.Double, nullable=False),
        sa.Column("ratio", sa.Double, nullable=False),
        sa.Column("nuggets_m", sa.JSON, nullable=False),
        sa.Column("loo_rmse_tuned", sa.Double),
        sa.PrimaryKeyConstraint("hour", "pollutant", name="pk_air_map_plan"),
    )


def downgrade() -> None:
    op.drop_table("air_map_plan")
    op.drop_table("air_kriging_plan")
