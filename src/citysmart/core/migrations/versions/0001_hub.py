"""The hub: accounts, tokens, audit log, entities, devices, observations, dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(128)),
        sa.Column("email", sa.String(254)),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("username", name="uq_app_user_username"),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
        sa.Column("last_used_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("token_hash", name="uq_api_token_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_api_token_user_id_app_user", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(256)),
        sa.Column("ip", sa.String(64)),
        sa.Column("detail", sa.JSON),
        sa.PrimaryKeyConstraint("id", name="pk_audit_event"),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_table(
        "entity",
        sa.Column("id", sa.String(256)),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256)),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("location", sa.JSON),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("modified_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entity"),
    )
    op.create_index("ix_entity_type", "entity", ["type"])
    op.create_table(
        "device",
        sa.Column("id", sa.String(128)),
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_device"),
        sa.UniqueConstraint("key_hash", name="uq_device_key_hash"),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entity.id"], name="fk_device_entity_id_entity", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_device_entity_id", "device", ["entity_id"])
    op.create_table(
        "observation",
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("attribute", sa.String(64), nullable=False),
        sa.Column("observed_at", UTCDateTime, nullable=False),
        sa.Column("num_value", sa.Double),
        sa.Column("text_value", sa.Text),
        sa.Column("value_type", sa.String(1), nullable=False),
        sa.Column("unit", sa.String(16)),
        sa.Column("device_id", sa.String(128)),
        sa.PrimaryKeyConstraint("entity_id", "attribute", "observed_at", name="pk_observation"),
        sqlite_with_rowid=False,
        postgresql_partition_by="RANGE (observed_at)",
    )
    op.create_table(
        "latest_value",
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("attribute", sa.String(64), nullable=False),
        sa.Column("observed_at", UTCDateTime, nullable=False),
        sa.Column("num_value", sa.Double),
        sa.Column("text_value", sa.Text),
        sa.Column("value_type", sa.String(1), nullable=False),
        sa.Column("unit", sa.String(16)),
        sa.Column("device_id", sa.String(128)),
        sa.PrimaryKeyConstraint("entity_id", "attribute", name="pk_latest_value"),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entity.id"],
            name="fk_latest_value_entity_id_entity",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("device_id", sa.String(128)),
        sa.Column("topic", sa.String(256)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letter"),
    )
    op.create_index("ix_dead_letter_received_at", "dead_letter", ["received_at"])
    op.create_index("ix_dead_letter_device_id", "dead_letter", ["device_id"])
    if op.get_bind().dialect.name == "postgresql":
        _create_partitions_around_now()


def _create_partitions_around_now() -> None:
    # Months around today exist up front; ingest creates others (history, far future) on demand.
    today = dt.datetime.now(dt.UTC)
    for shift in range(-2, 4):
        month_index = today.year * 12 + today.month - 1 + shift
        year, month = divmod(month_index, 12)
        start = dt.datetime(year, month + 1, 1, tzinfo=dt.UTC)
        end_index = month_index + 1
        end = dt.datetime(end_index // 12, end_index % 12 + 1, 1, tzinfo=dt.UTC)
        name = f"observation_y{year:04d}m{month + 1:02d}"
        op.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF observation "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )


def downgrade() -> None:
    for table in (
        "dead_letter",
        "latest_value",
        "observation",
        "device",
        "entity",
        "audit_event",
        "api_token",
        "app_user",
    ):
        op.drop_table(table)
