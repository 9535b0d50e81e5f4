"""Indexes for NGSI-LD queries compiled to SQL.

``ix_attribute_attribute_text_value`` serves ``q`` string equality (``status=="on"``)
without a type to narrow by. It is partial, on texts of at most 256 characters: a B-tree
entry on PostgreSQL must stay under about 2.7 kB, and long texts (GeoJSON, documents)
are never looked up by equality anyway. Queries repeat the predicate to use it.

``ix_attribute_attribute_json`` lists the attributes that have values stored as JSON, so
a query learns with one index probe whether its comparisons can be decided in SQL.

``ix_attribute_attribute_box`` replaces ``ix_attribute_attribute_min_lon`` (its prefix):
holding the whole bounding box, it answers a geo-query's box pre-filter from the index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SHORT_TEXT = sa.text("length(text_value) <= 256")
JSON_VALUE = sa.text("value_type = 'j'")


def upgrade() -> None:
    op.create_index(
        "ix_attribute_attribute_box",
        "attribute",
        ["attribute", "min_lon", "max_lon", "min_lat", "max_lat"],
    )
    op.drop_index("ix_attribute_attribute_min_lon", table_name="attribute")
    op.create_index(
        "ix_attribute_attribute_text_value",
        "attribute",
        ["attribute", "text_value"],
        sqlite_where=SHORT_TEXT,
        postgresql_where=SHORT_TEXT,
    )
    op.create_index(
        "ix_attribute_attribute_json",
        "attribute",
        ["attribute"],
        sqlite_where=JSON_VALUE,
        postgresql_where=JSON_VALUE,
    )


def downgrade() -> None:
    op.drop_index("ix_attribute_attribute_json", table_name="attribute")
    op.drop_index("ix_attribute_attribute_text_value", table_name="attribute")
    op.create_index("ix_attribute_attribute_min_lon", "attribute", ["attribute", "min_lon"])
    op.drop_index("ix_attribute_attribute_box", table_name="attribute")
