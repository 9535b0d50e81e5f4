"""The bikes service: vehicles, trips and their imports, trucks, staff and shifts.

See ``citysmart.services.bikes.models``. Stations are hub entities
(``BikeHireDockingStation``), not tables here. Downgrading drops these tables and with
them the imported trip history (import the CSV files again) and the fleet's roster.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from citysmart.core.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bike_vehicle",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("vehicle_type_id", sa.String(32), nullable=False),
        sa.Column("public_id", sa.String(64), nullable=False),
        sa.Column("station_code", sa.String(64)),
        sa.Column("lon", sa.Double),
        sa.Column("lat", sa.Double),
        sa.Column("fuel_percent", sa.Double),
        sa.Column("is_reserved", sa.Boolean, nullable=False),
        sa.Column("is_disabled", sa.Boolean, nullable=False),
        sa.Column("last_reported", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bike_vehicle"),
        sa.UniqueConstraint("public_id", name="uq_bike_vehicle_public_id"),
    )
    op.create_table(
        "bike_trip_import",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("stored", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("imported_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bike_trip_import"),
    )
    op.create_table(
        "bike_trip",
        sa.Column("bike_id", sa.String(64), nullable=False),
        sa.Column("start_time", UTCDateTime, nullable=False),
        sa.Column("start_station", sa.String(64), nullable=False),
        sa.Column("end_station", sa.String(64), nullable=False),
        sa.Column("end_time", UTCDateTime, nullable=False),
        sa.Column("import_id", sa.Integer),
        sa.PrimaryKeyConstraint("bike_id", "start_time", name="pk_bike_trip"),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["bike_trip_import.id"],
            name="fk_bike_trip_import_id_bike_trip_import",
        ),
    )
    op.create_index("ix_bike_trip_start_time", "bike_trip", ["start_time"])
    op.create_index("ix_bike_trip_start_station", "bike_trip", ["start_station", "start_time"])
    op.create_index("ix_bike_trip_end_station", "bike_trip", ["end_station", "end_time"])
    op.create_table(
        "bike_truck",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("depot_name", sa.String(256), nullable=False),
        sa.Column("depot_lon", sa.Double, nullable=False),
        sa.Column("depot_lat", sa.Double, nullable=False),
        sa.Column("shift_start", sa.Time, nullable=False),
        sa.Column("shift_end", sa.Time, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bike_truck"),
    )
    op.create_table(
        "bike_staff",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bike_staff"),
    )
    op.create_table(
        "bike_staff_shift",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("start", UTCDateTime, nullable=False),
        sa.Column("end", UTCDateTime, nullable=False),
        sa.Column("truck_id", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_bike_staff_shift"),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["bike_staff.id"],
            name="fk_bike_staff_shift_staff_id_bike_staff",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["truck_id"],
            ["bike_truck.id"],
            name="fk_bike_staff_shift_truck_id_bike_truck",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_bike_staff_shift_start", "bike_staff_shift", ["start", "end"])


def downgrade() -> None:
    op.drop_index("ix_bike_staff_shift_start", table_name="bike_staff_shift")
    op.drop_table("bike_staff_shift")
    op.drop_table("bike_staff")
    op.drop_table("bike_truck")
    op.drop_index("ix_bike_trip_end_station", table_name="bike_trip")
    op.drop_index("ix_bike_trip_start_station", table_name="bike_trip")
    op.drop_index("ix_bike_trip_start_time", table_name="bike_trip")
    op.drop_table("bike_trip")
    op.drop_table("bike_trip_import")
    op.drop_table("bike_vehicle")
