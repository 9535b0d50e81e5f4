"""OpenID Connect provider: clients, consents, subjects, codes, tokens, signing keys.

See ``citysmart.portal.oidc.models``. Downgrading drops these tables: registered city
services, citizens' consents and the signing keys are lost (every issued ID token then
fails to verify, and each service must be registered again).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _user_fk() -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False
    )


def _client_fk() -> sa.Column[int]:
    return sa.Column(
        "client_id",
        sa.Integer,
        sa.ForeignKey("oidc_client.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "oidc_client",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("redirect_uris", sa.JSON, nullable=False),
        sa.Column("trusted", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_client"),
        sa.UniqueConstraint("client_id", name="uq_oidc_client_client_id"),
    )
    op.create_table(
        "oidc_consent",
        sa.Column("id", sa.Integer, nullable=False),
        _user_fk(),
        _client_fk(),
        sa.Column("scope", sa.String(256), nullable=False),
        sa.Column("granted_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_consent"),
        sa.UniqueConstraint("user_id", "client_id", name="uq_oidc_consent_user_id"),
    )
    op.create_table(
        "oidc_subject",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("app_user.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sub", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_oidc_subject"),
        sa.UniqueConstraint("sub", name="uq_oidc_subject_sub"),
    )
    op.create_table(
        "oidc_code",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        _client_fk(),
        _user_fk(),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scope", sa.String(256), nullable=False),
        sa.Column("nonce", sa.String(256)),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("code_challenge_method", sa.String(8), nullable=False),
        sa.Column("auth_time", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_code"),
        sa.UniqueConstraint("code_hash", name="uq_oidc_code_code_hash"),
    )
    op.create_index("ix_oidc_code_client_id", "oidc_code", ["client_id"])
    op.create_table(
        "oidc_token",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("access_hash", sa.String(64), nullable=False),
        sa.Column("refresh_hash", sa.String(64)),
        _client_fk(),
        _user_fk(),
        sa.Column(
            "code_id", sa.Integer, sa.ForeignKey("oidc_code.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("scope", sa.String(256), nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("refresh_expires_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_token"),
        sa.UniqueConstraint("access_hash", name="uq_oidc_token_access_hash"),
        sa.UniqueConstraint("refresh_hash", name="uq_oidc_token_refresh_hash"),
    )
    op.create_index("ix_oidc_token_client_id", "oidc_token", ["client_id"])
    op.create_table(
        "oidc_key",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("private_pem", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_key"),
        sa.UniqueConstraint("kid", name="uq_oidc_key_kid"),
    )


def downgrade() -> None:
    op.drop_table("oidc_key")
    op.drop_index("ix_oidc_token_client_id", table_name="oidc_token")
    op.drop_table("oidc_token")
    op.drop_index("ix_oidc_code_client_id", table_name="oidc_code")
    op.drop_table("oidc_code")
    op.drop_table("oidc_subject")
    op.drop_table("oidc_consent")
    op.drop_table("oidc_client")
