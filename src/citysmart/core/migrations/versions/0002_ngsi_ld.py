"""NGSI-LD over the hub store: attribute instances, entity types, datasets, subscriptions.

``latest_value`` becomes ``attribute`` (any NGSI-LD attribute instance, keyed by datasetId
too), entities get every type and a scope, observations a datasetId and instance metadata,
and subscriptions and their notification outbox get tables. The registry's name, location
and properties are copied into ``attribute`` rows, so both views see them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_READING_COLUMNS = (
    "entity_id, attribute, observed_at, num_value, text_value, value_type, unit, device_id"
)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _entities()
    _observations(postgresql)
    _attributes()
    _subscriptions()


def _entities() -> None:
    with op.batch_alter_table("entity") as batch:
        batch.add_column(sa.Column("scope", sa.JSON))
        batch.alter_column("type", type_=sa.String(256), existing_nullable=False)
    op.create_table(
        "entity_type",
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("type", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("entity_id", "type", name="pk_entity_type"),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entity.id"], name="fk_entity_type_entity_id_entity", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_entity_type_type", "entity_type", ["type", "entity_id"])
    op.execute("INSERT INTO entity_type (entity_id, type) SELECT id, type FROM entity")


def _observation_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("attribute", sa.String(256), nullable=False),
        sa.Column("observed_at", UTCDateTime, nullable=False),
        sa.Column("dataset_id", sa.String(256), nullable=False, server_default=""),
        sa.Column("num_value", sa.Double),
        sa.Column("text_value", sa.Text),
        sa.Column("value_type", sa.String(1), nullable=False),
        sa.Column("unit", sa.String(16)),
        sa.Column("device_id", sa.String(128)),
        sa.Column("meta", sa.JSON),
    ]


def _observations(postgresql: bool) -> None:
    if postgresql:
        # In place: a partitioned table passes these down to every partition.
        op.execute("ALTER TABLE observation ADD COLUMN dataset_id varchar(256) NOT NULL DEFAULT ''")
        op.execute("ALTER TABLE observation ADD COLUMN meta json")
        op.execute("ALTER TABLE observation ALTER COLUMN attribute TYPE varchar(256)")
        op.execute("ALTER TABLE observation DROP CONSTRAINT pk_observation")
        op.execute(
            "ALTER TABLE observation ADD CONSTRAINT pk_observation "
            "PRIMARY KEY (entity_id, attribute, observed_at, dataset_id)"
        )
        return
    # SQLite cannot change a primary key: build the new table, copy, swap.
    op.create_table(
        "observation_v2",
        *_observation_columns(),
        sa.PrimaryKeyConstraint(
            "entity_id", "attribute", "observed_at", "dataset_id", name="pk_observation"
        ),
        sqlite_with_rowid=False,
    )
    columns = _READING_COLUMNS
    op.execute(f"INSERT INTO observation_v2 ({columns}) SELECT {columns} FROM observation")
    op.drop_table("observation")
    op.rename_table("observation_v2", "observation")


def _attributes() -> None:
    op.create_table(
        "attribute",
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("attribute", sa.String(256), nullable=False),
        sa.Column("dataset_id", sa.String(256), nullable=False, server_default=""),
        sa.Column("kind", sa.String(24), nullable=False, server_default="Property"),
        sa.Column("observed_at", UTCDateTime),
        sa.Column("num_value", sa.Double),
        sa.Column("text_value", sa.Text),
        sa.Column("value_type", sa.String(1), nullable=False),
        sa.Column("unit", sa.String(16)),
        sa.Column("device_id", sa.String(128)),
        sa.Column("meta", sa.JSON),
        sa.Column("min_lon", sa.Double),
        sa.Column("min_lat", sa.Double),
        sa.Column("max_lon", sa.Double),
        sa.Column("max_lat", sa.Double),
        sa.Column("created_at", UTCDateTime),
        sa.Column("modified_at", UTCDateTime),
        sa.PrimaryKeyConstraint("entity_id", "attribute", "dataset_id", name="pk_attribute"),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entity.id"], name="fk_attribute_entity_id_entity", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_attribute_attribute_num_value", "attribute", ["attribute", "num_value"])
    op.create_index("ix_attribute_attribute_min_lon", "attribute", ["attribute", "min_lon"])
    columns = _READING_COLUMNS
    op.execute(f"INSERT INTO attribute ({columns}) SELECT {columns} FROM latest_value")
    op.drop_table("latest_value")
    _copy_registry_attributes()


def _copy_registry_attributes() -> None:
    conn = op.get_bind()
    entity = sa.table(
        "entity",
        *(sa.column(n) for n in ("id", "name", "properties", "location")),
        sa.column("created_at", UTCDateTime),  # decoded (SQLite keeps epoch microseconds)
        sa.column("modified_at", UTCDateTime),
    )
    entities = conn.execute(sa.select(entity)).all()
    table = sa.table(
        "attribute",
        *(sa.column(n) for n in ("entity_id", "attribute", "kind", "num_value", "text_value")),
        *(sa.column(n) for n in ("value_type", "min_lon", "min_lat", "max_lon", "max_lat")),
        sa.column("created_at", UTCDateTime),
        sa.column("modified_at", UTCDateTime),
    )
    taken = {(e, a) for e, a in conn.execute(sa.text("SELECT entity_id, attribute FROM attribute"))}
    rows = []
    for entity_id, name, properties, location, created, modified in entities:
        statics: dict[str, Any] = {}
        if isinstance(properties, str):
            properties = json.loads(properties)
        statics.update(properties or {})
        if name is not None:
            statics["name"] = name
        if location is not None:
            statics["location"] = json.loads(location) if isinstance(location, str) else location
        times = {"created_at": created, "modified_at": modified}
        for key, value in statics.items():
            if value is not None and (entity_id, key) not in taken:
                row = {"entity_id": entity_id, "attribute": key, **times}
                rows.append(row | _typed(key, value))
    if rows:
        op.bulk_insert(table, rows)


def _typed(name: str, value: Any) -> dict[str, Any]:
    if name == "location" and isinstance(value, dict):
        lons, lats = _positions(value.get("coordinates"))
        box = (min(lons), min(lats), max(lons), max(lats)) if lons else (None,) * 4
        keys = ("min_lon", "min_lat", "max_lon", "max_lat")
        return {"kind": "GeoProperty", "value_type": "j", "text_value": json.dumps(value)} | dict(
            zip(keys, box, strict=True)
        )
    if isinstance(value, bool):
        return {"kind": "Property", "value_type": "b", "num_value": float(value)}
    if isinstance(value, int | float):
        return {"kind": "Property", "value_type": "n", "num_value": float(value)}
    if isinstance(value, str):
        return {"kind": "Property", "value_type": "s", "text_value": value}
    return {"kind": "Property", "value_type": "j", "text_value": json.dumps(value)}


def _positions(coordinates: Any) -> tuple[list[float], list[float]]:
    if isinstance(coordinates, list) and coordinates and isinstance(coordinates[0], int | float):
        return [float(coordinates[0])], [float(coordinates[1])]
    lons: list[float] = []
    lats: list[float] = []
    for part in coordinates if isinstance(coordinates, list) else []:
        more_lons, more_lats = _positions(part)
        lons += more_lons
        lats += more_lats
    return lons, lats


def _subscriptions() -> None:
    op.create_table(
        "subscription",
        sa.Column("id", sa.String(256), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("context", sa.JSON),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("modified_at", UTCDateTime, nullable=False),
        sa.Column("times_sent", sa.Integer, nullable=False),
        sa.Column("times_failed", sa.Integer, nullable=False),
        sa.Column("last_notification", UTCDateTime),
        sa.Column("last_success", UTCDateTime),
        sa.Column("last_failure", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_subscription"),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("subscription_id", sa.String(256), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_notification"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscription.id"],
            name="fk_notification_subscription_id_subscription",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_notification_status_due_at", "notification", ["status", "due_at"])
    op.create_index("ix_notification_subscription_id", "notification", ["subscription_id"])


def downgrade() -> None:
    """Back to 0001, keeping what that schema can hold.

    Kept: entities (their first type, name, location, properties) and every device reading
    (default dataset, a number, text or boolean, a name of at most 64 characters), in
    ``observation`` and, the newest per attribute, in ``latest_value``; the history NGSI-LD
    writes added to ``observation`` (rows with ``meta``) is dropped. Dropped, as 0001 has
    no place for them: subscriptions and their outbox, further entity types and scopes,
    NGSI-LD attribute kinds other than plain values, sub-attributes, datasetIds and JSON
    values. Take a backup first if those matter.
    """
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_table("notification")
    op.drop_table("subscription")
    _downgrade_attributes()
    _downgrade_observations(postgresql)
    op.drop_table("entity_type")
    with op.batch_alter_table("entity") as batch:
        batch.drop_column("scope")
        batch.alter_column("type", type_=sa.String(128), existing_nullable=False)


_V1_READING = "dataset_id = '' AND length(attribute) <= 64 AND value_type IN ('n', 's', 'b', 'd')"


def _downgrade_attributes() -> None:
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
    op.execute(
        f"INSERT INTO latest_value ({_READING_COLUMNS}) SELECT {_READING_COLUMNS} "
        f"FROM attribute WHERE observed_at IS NOT NULL AND {_V1_READING}"
    )
    op.drop_table("attribute")


def _downgrade_observations(postgresql: bool) -> None:
    if postgresql:
        op.execute(f"DELETE FROM observation WHERE meta IS NOT NULL OR NOT ({_V1_READING})")
        op.execute("ALTER TABLE observation DROP CONSTRAINT pk_observation")
        op.execute(
            "ALTER TABLE observation ADD CONSTRAINT pk_observation "
            "PRIMARY KEY (entity_id, attribute, observed_at)"
        )
        op.execute("ALTER TABLE observation DROP COLUMN dataset_id")
        op.execute("ALTER TABLE observation DROP COLUMN meta")
        op.execute("ALTER TABLE observation ALTER COLUMN attribute TYPE varchar(64)")
        return
    op.create_table(
        "observation_v1",
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
    )
    op.execute(
        f"INSERT INTO observation_v1 ({_READING_COLUMNS}) SELECT {_READING_COLUMNS} "
        f"FROM observation WHERE meta IS NULL AND {_V1_READING}"
    )
    op.drop_table("observation")
    op.rename_table("observation_v1", "observation")
