"""Accounts for citizens: residence verification, blocking, language.

Downgrading drops the columns (verification and blocks are lost).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("verified_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("verification_method", sa.String(16), nullable=True))
        batch.add_column(sa.Column("blocked_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("locale", sa.String(8), nullable=False, server_default="ko"))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("locale")
        batch.drop_column("blocked_at")
        batch.drop_column("verification_method")
        batch.drop_column("verified_at")
