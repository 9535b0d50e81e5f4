"""In-portal notifications and digest preferences (``citysmart.core.notifications``).

Downgrading drops them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_notification",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_ko", sa.String(300), nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("link", sa.String(512), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("read_at", UTCDateTime, nullable=True),
        sa.Column("emailed_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_user_notification_user_read", "user_notification", ["user_id", "read_at"])
    op.create_table(
        "notification_preference",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("digest", sa.String(8), nullable=False),
        sa.Column("digest_sent_at", UTCDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("notification_preference")
    op.drop_index("ix_user_notification_user_read", table_name="user_notification")
    op.drop_table("user_notification")
