"""The air service's forecast: fitted models with their evaluation, and the issued forecasts.

See ``citysmart.services.air.models_forecast``. Downgrading drops them; the forecast jobs
fit a model again (once there is enough stored history) and issue the next forecast.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "air_forecast_model",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("trained_on", sa.Text, nullable=False),
        sa.Column("fitted_at", UTCDateTime, nullable=False),
        sa.Column("train_start", UTCDateTime, nullable=False),
        sa.Column("train_end", UTCDateTime, nullable=False),
        sa.Column("areas", sa.Integer, nullable=False),
        sa.Column("boosting_rounds", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Double, nullable=False),
        sa.Column("evaluation", sa.JSON, nullable=False),
        sa.Column("served", sa.JSON, nullable=False),
        sa.Column("blob", sa.LargeBinary),
        sa.PrimaryKeyConstraint("id", name="pk_air_forecast_model"),
        sa.UniqueConstraint("version", name="uq_air_forecast_model_version"),
    )
    op.create_index("ix_air_forecast_model_fitted_at", "air_forecast_model", ["fitted_at"])
    op.create_table(
        "air_forecast",
        sa.Column("from_hour", UTCDateTime, nullable=False),
        sa.Column("pollutant", sa.String(16), nullable=False),
        sa.Column("area_code", sa.String(32), nullable=False),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("hour", UTCDateTime, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("lower", sa.Double),
        sa.Column("upper", sa.Double),
        sa.Column("interval", sa.Double, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("model_version", sa.String(64)),
        sa.Column("trained_on", sa.Text),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint(
            "from_hour", "pollutant", "area_code", "horizon", name="pk_air_forecast"
        ),
    )
    op.create_index(
        "ix_air_forecast_area_code", "air_forecast", ["area_code", "pollutant", "from_hour"]
    )


def downgrade() -> None:
    op.drop_index("ix_air_forecast_area_code", table_name="air_forecast")
    op.drop_table("air_forecast")
    op.drop_index("ix_air_forecast_model_fitted_at", table_name="air_forecast_model")
    op.drop_table("air_forecast_model")
