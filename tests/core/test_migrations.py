"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import citysmart.hub.ngsi_ld.tables  # noqa: F401  (register the tables)
from citysmart.core.db import Base, make_engine


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
            # Monthly partitions are made by ingest, not described by the models.
            diff = [
                d
                for d in diff
                if not (d[0] == "remove_table" and d[1].name.startswith("observation_y"))
            ]
            assert diff == []
            if engine.dialect.name == "postgresql":
                partitioned = conn.exec_driver_sql(
                    "SELECT partstrat FROM pg_partitioned_table p "
                    "JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = 'observation'"
                ).scalar()
                assert partitioned == "r"  # range partitioned
            tables = set(inspect(conn).get_table_names())
        assert {
            "entity",
            "device",
            "observation",
            "attribute",
            "entity_type",
            "subscription",
            "notification",
            "dead_letter",
        } <= tables
    finally:
        engine.dispose()
