"""The air service's alerts: follows, portal notifications and the delivery outbox.

See ``citysmart.services.air.models_alerts``. Downgrading drops them, and with them the
citizens' follows and inboxes (they cannot be computed again: back them up first).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "air_follow",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("area_code", sa.String(32), nullable=False),
        sa.Column("pollutant", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("webhook_url", sa.Text),
        sa.Column("webhook_secret", sa.String(64)),
        sa.Column("email", sa.Boolean, nullable=False),
        sa.Column("raised", sa.Boolean, nullable=False),
        sa.Column("raised_hour", UTCDateTime),
        sa.Column("below_hours", sa.Integer, nullable=False),
        sa.Column("last_hour", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_air_follow_user_id_app_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_air_follow"),
    )
    op.create_index("ix_air_follow_user_id", "air_follow", ["user_id"])
    op.create_table(
        "air_notification",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("follow_id", sa.Integer),
        sa.Column("area_code", sa.String(32), nullable=False),
        sa.Column("pollutant", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("grade_pollutant", sa.String(16), nullable=False),
        sa.Column("grade_level", sa.Integer, nullable=False),
        sa.Column("grade_key", sa.String(32), nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("hour", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("read_at", UTCDateTime),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name="fk_air_notification_user_id_app_user",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["follow_id"],
            ["air_follow.id"],
            name="fk_air_notification_follow_id_air_follow",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_air_notification"),
    )
    op.create_index("ix_air_notification_user_id", "air_notification", ["user_id", "id"])
    op.create_table(
        "air_alert_delivery",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("notification_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("last_status", sa.Integer),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["air_notification.id"],
            name="fk_air_alert_delivery_notification_id_air_notification",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_air_alert_delivery"),
    )
    op.create_index("ix_air_alert_delivery_status", "air_alert_delivery", ["status", "due_at"])
    op.create_index(
        "ix_air_alert_delivery_notification_id", "air_alert_delivery", ["notification_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_air_alert_delivery_notification_id", table_name="air_alert_delivery")
    op.drop_index("ix_air_alert_delivery_status", table_name="air_alert_delivery")
    op.drop_table("air_alert_delivery")
    op.drop_index("ix_air_notification_user_id", table_name="air_notification")
    op.drop_table("air_notification")
    op.drop_index("ix_air_follow_user_id", table_name="air_follow")
    op.drop_table("air_follow")
