"""The air service: sensors, hourly means, hourly maps, per-area statistics, calibrations.

Raw readings stay in the hub's ``observation``; these tables hold what the air service
derives from them (see ``citysmart.services.air.models``). Downgrading drops them: every
row can be computed again from the hub's readings by the hourly job (48 hours back) and
the calibration job.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "air_sensor",
        sa.Column("id", sa.String(256), nullable=False),
        sa.Column("device_id", sa.String(128)),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(128)),
        sa.Column("rated_rh_max", sa.Double, nullable=False),
        sa.Column("interval_s", sa.Double, nullable=False),
        sa.Column("area_code", sa.String(32)),
        sa.Column("lon", sa.Double, nullable=False),
        sa.Column("lat", sa.Double, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_air_sensor"),
    )
    op.create_table(
        "air_hourly",
        sa.Column("sensor_id", sa.String(256), nullable=False),
        sa.Column("variable", sa.String(32), nullable=False),
        sa.Column("hour", UTCDateTime, nullable=False),
        sa.Column("raw", sa.Double),
        sa.Column("corrected", sa.Double),
        sa.Column("value", sa.Double),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("readings", sa.Integer, nullable=False),
        sa.Column("expected", sa.Integer, nullable=False),
        sa.Column("capture", sa.Double, nullable=False),
        sa.Column("sufficient", sa.Boolean, nullable=False),
        sa.Column("flag_out_of_range", sa.Integer, nullable=False),
        sa.Column("flag_stuck", sa.Integer, nullable=False),
        sa.Column("flag_spike", sa.Integer, nullable=False),
        sa.Column("flag_humidity", sa.Integer, nullable=False),
        sa.Column("last_at", UTCDateTime),
        sa.PrimaryKeyConstraint("sensor_id", "variable", "hour", name="pk_air_hourly"),
    )
    op.create_index("ix_air_hourly_hour", "air_hourly", ["hour"])
    op.create_table(
        "air_map_hour",
        sa.Column("hour", UTCDateTime, nullable=False),
        sa.Column("pollutant", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("method_served", sa.String(16)),
        sa.Column("loo_rmse_idw", sa.Double),
        sa.Column("loo_rmse_kriging", sa.Double),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("sensors_used", sa.Integer, nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("computed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("hour", "pollutant", name="pk_air_map_hour"),
    )
    op.create_table(
        "air_area_hour",
        sa.Column("hour", UTCDateTime, nullable=False),
        sa.Column("pollutant", sa.String(16), nullable=False),
        sa.Column("area_code", sa.String(32), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("mean", sa.Double),
        sa.Column("worst", sa.Double),
        sa.Column("cells", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("hour", "pollutant", "area_code", name="pk_air_area_hour"),
    )
    op.create_index(
        "ix_air_area_hour_area_code", "air_area_hour", ["area_code", "pollutant", "hour"]
    )
    op.create_table(
        "air_calibration",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("sensor_id", sa.String(256), nullable=False),
        sa.Column("pollutant", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("station_id", sa.String(256)),
        sa.Column("distance_m", sa.Double),
        sa.Column("model", sa.String(16), nullable=False),
        sa.Column("coefficients", sa.JSON, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("r2", sa.Double),
        sa.Column("rmse", sa.Double),
        sa.Column("mae", sa.Double),
        sa.Column("raw_rmse", sa.Double),
        sa.Column("raw_mae", sa.Double),
        sa.Column("fitted_at", UTCDateTime, nullable=False),
        sa.Column("window_start", UTCDateTime),
        sa.Column("window_end", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_air_calibration"),
    )
    op.create_index(
        "ix_air_calibration_sensor_id", "air_calibration", ["sensor_id", "pollutant", "fitted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_air_calibration_sensor_id", table_name="air_calibration")
    op.drop_table("air_calibration")
    op.drop_index("ix_air_area_hour_area_code", table_name="air_area_hour")
    op.drop_table("air_area_hour")
    op.drop_table("air_map_hour")
    op.drop_index("ix_air_hourly_hour", table_name="air_hourly")
    op.drop_table("air_hourly")
    op.drop_table("air_sensor")
