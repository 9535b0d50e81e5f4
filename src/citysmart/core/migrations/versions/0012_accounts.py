"""Accounts for citizens: residence verification, blocking, language; reset tokens, census, codes.

Downgrading drops the columns and tables (verification, blocks, census digests are lost).

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
    op.create_table(
        "password_reset_token",
        sa.Column("id", sa.Integer),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_password_reset_token"),
        sa.UniqueConstraint("token_hash", name="uq_password_reset_token_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name="fk_password_reset_token_user_id_app_user",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_password_reset_token_user_id", "password_reset_token", ["user_id"])
    op.create_table(
        "census_record",
        sa.Column("id", sa.Integer),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("imported_at", UTCDateTime, nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("used_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_census_record"),
        sa.UniqueConstraint("digest", name="uq_census_record_digest"),
        sa.UniqueConstraint("user_id", name="uq_census_record_user_id"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name="fk_census_record_user_id_app_user",
            ondelete="SET NULL",
        ),
    )
    op.create_table(
        "verification_code",
        sa.Column("id", sa.Integer),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("for_user_id", sa.Integer),
        sa.Column("used_at", UTCDateTime),
        sa.Column("used_by_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_verification_code"),
        sa.UniqueConstraint("code_hash", name="uq_verification_code_code_hash"),
        sa.ForeignKeyConstraint(
            ["for_user_id"],
            ["app_user.id"],
            name="fk_verification_code_for_user_id_app_user",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by_id"],
            ["app_user.id"],
            name="fk_verification_code_used_by_id_app_user",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_verification_code_for_user_id", "verification_code", ["for_user_id"])


def downgrade() -> None:
    op.drop_index("ix_verification_code_for_user_id", table_name="verification_code")
    op.drop_table("verification_code")
    op.drop_table("census_record")
    op.drop_index("ix_password_reset_token_user_id", table_name="password_reset_token")
    op.drop_table("password_reset_token")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("locale")
        batch.drop_column("blocked_at")
        batch.drop_column("verification_method")
        batch.drop_column("verified_at")
