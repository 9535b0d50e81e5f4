"""PostgreSQL statistics on how attribute names and value types go together.

Without them the planner takes the name and the value type of an ``attribute`` row as
independent, and expects to find, say, a JSON ``availableSpotNumber`` within the first
rows of a sequential scan because JSON values are common overall: the query probe for
JSON values then read all 800,000 rows of a 100,000-entity store (185 ms) instead of
one index page (0.06 ms). SQLite has no such statistics; nothing to do there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE STATISTICS IF NOT EXISTS st_attribute_name_value_type (mcv, dependencies) "
            "ON attribute, value_type FROM attribute"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_attribute_name_value_type")
