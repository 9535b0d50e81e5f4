"""The bikes service's tables: vehicles, trips, trucks, staff and their shifts.

Stations are NOT here: a docking station is a hub entity of type
``BikeHireDockingStation`` (its name, location and ``totalSlotNumber`` in the entity, its
live ``availableBikeNumber``, ``freeSlotNumber`` and ``status`` in the hub's attributes,
their history in the hub's observations; see ``citysmart.services.bikes.stations``).
Tables here refer to a station by its code (the last part of the entity's URN, which is
also its GBFS ``station_id``). Times are aware UTC (``UTCDateTime``); a shift's times of
day are Asia/Seoul wall-clock times.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Double, ForeignKey, Index, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime


class Vehicle(Base):
    """A bike or e-scooter of the fleet.

    ``vehicle_type_id`` is one of the GBFS vehicle types (``bike``, ``escooter``).
    ``public_id`` is the id published in GBFS ``vehicle_status``: it is rotated after
    each trip, as GBFS requires, so riders cannot be followed across trips. A dockless
    vehicle's last position (``lon``/``lat``), charge (``fuel_percent``, 0-1) and state
    are as last reported (``last_reported``); a docked bike has ``station_code`` instead.
    """

    __tablename__ = "bike_vehicle"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vehicle_type_id: Mapped[str] = mapped_column(String(32))
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    station_code: Mapped[str | None] = mapped_column(String(64))
    lon: Mapped[float | None] = mapped_column(Double)
    lat: Mapped[float | None] = mapped_column(Double)
    fuel_percent: Mapped[float | None] = mapped_column(Double)
    is_reserved: Mapped[bool] = mapped_column(Boolean, default=False)
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    last_reported: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Trip(Base):
    """One finished rental: bike, start and end station (codes) and times.

    A bike cannot start two trips at the same instant, so ``(bike_id, start_time)`` is
    the key an import uses to recognise a trip it already stored.
    """

    __tablename__ = "bike_trip"
    __table_args__ = (
        Index("ix_bike_trip_start_time", "start_time"),
        Index("ix_bike_trip_start_station", "start_station", "start_time"),
        Index("ix_bike_trip_end_station", "end_station", "end_time"),
    )

    bike_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    start_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    start_station: Mapped[str] = mapped_column(String(64))
    end_station: Mapped[str] = mapped_column(String(64))
    end_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("bike_trip_import.id"))


class TripImport(Base):
    """One CSV import of trip history: the file, how many rows, stored and already there."""

    __tablename__ = "bike_trip_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    stored: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Truck(Base):
    """A rebalancing truck: how many bikes it carries, its depot and its daily shift."""

    __tablename__ = "bike_truck"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    capacity: Mapped[int] = mapped_column(Integer)
    depot_name: Mapped[str] = mapped_column(String(256))
    depot_lon: Mapped[float] = mapped_column(Double)
    depot_lat: Mapped[float] = mapped_column(Double)
    shift_start: Mapped[dt.time] = mapped_column(Time)  # Asia/Seoul wall clock
    shift_end: Mapped[dt.time] = mapped_column(Time)  # before shift_start: ends next day


class Staff(Base):
    """A member of the operating staff (``role``: driver, mechanic, dispatcher)."""

    __tablename__ = "bike_staff"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))


class StaffShift(Base):
    """One shift a staff member works, on a truck or not; on duty means inside one."""

    __tablename__ = "bike_staff_shift"
    __table_args__ = (Index("ix_bike_staff_shift_start", "start", "end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("bike_staff.id", ondelete="CASCADE"))
    start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    truck_id: Mapped[str | None] = mapped_column(ForeignKey("bike_truck.id", ondelete="SET NULL"))


BIKE_TABLES = (
    "bike_staff_shift",
    "bike_staff",
    "bike_truck",
    "bike_trip",
    "bike_trip_import",
    "bike_vehicle",
)
