"""Per-station demand forecasts of the bikes service (expected pickups and returns per hour).

See ``citysmart.services.bikes.models_plan.DemandForecast``. Downgrading drops them; the
forecast job makes them again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bike_demand_forecast",
        sa.Column("station_code", sa.String(64), primary_key=True),
        sa.Column("hour", UTCDateTime, primary_key=True),
        sa.Column("pickups", sa.Double, nullable=False),
        sa.Column("returns", sa.Double, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bike_demand_forecast")
