"""The parking service: lot settings and stored free-space forecasts.

See ``citysmart.services.parking.models``. Lots and spots are hub entities
(``OffStreetParking``, ``ParkingSpot``), not tables here. Downgrading drops the lots'
settings (counter corrections, limits, tariff ids) and the stored forecasts.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parking_lot",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("detection", sa.String(32), nullable=False),
        sa.Column("spots", sa.Integer, nullable=False),
        sa.Column("time_limit_min", sa.Integer),
        sa.Column("tariff_id", sa.String(64)),
        sa.Column("correction_offset", sa.Integer),
        sa.Column("correction_trusted", sa.Integer),
        sa.Column("correction_counter", sa.Integer),
        sa.Column("correction_at", UTCDateTime),
        sa.Column("correction_source", sa.String(32)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_parking_lot"),
    )
    op.create_table(
        "parking_forecast",
        sa.Column("lot_code", sa.String(64), nullable=False),
        sa.Column("origin", UTCDateTime, nullable=False),
        sa.Column("target", UTCDateTime, nullable=False),
        sa.Column("free_expected", sa.Double, nullable=False),
        sa.Column("free_low", sa.Double, nullable=False),
        sa.Column("free_high", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("lot_code", "origin", "target", name="pk_parking_forecast"),
    )
    op.create_index("ix_parking_forecast_lot_target", "parking_forecast", ["lot_code", "target"])


def downgrade() -> None:
    op.drop_index("ix_parking_forecast_lot_target", table_name="parking_forecast")
    op.drop_table("parking_forecast")
    op.drop_table("parking_lot")
