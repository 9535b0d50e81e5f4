"""Reading and writing the bikes tables: fleet vehicles, trips, trucks, staff and shifts.

Plain data in, ORM rows or plain data out. Every writer checks its input first and
raises ``StoreError`` (a ValueError) with a message saying what was wrong, so a bad
request changes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysmart.services.bikes.gbfs import BIKE_TYPE, SCOOTER_TYPE, ScooterState
from citysmart.services.bikes.models import Staff, StaffShift, Trip, Truck, Vehicle

VEHICLE_TYPE_IDS: Final = frozenset({BIKE_TYPE, SCOOTER_TYPE})
STAFF_ROLES: Final = frozenset({"driver", "mechanic", "dispatcher"})
MAX_SHIFT: Final = dt.timedelta(hours=24)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class StoreError(ValueError):
    """A write the bikes store refuses, with a message saying why."""


def check_id(what: str, value: str) -> str:
    """Return an id if it is usable (letters, digits, ``_.-``, at most 64), else raise."""
    if not isinstance(value, str) or not _ID.match(value):
        raise StoreError(f"{what} {value!r}: use letters, digits, '_', '-' and '.' (at most 64)")
    return value


def _check_point(what: str, lon: float, lat: float) -> None:
    finite = all(isinstance(v, int | float) and math.isfinite(v) for v in (lon, lat))
    if not finite or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise StoreError(f"{what}: ({lon}, {lat}) is not a longitude/latitude pair")


def _aware(what: str, value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise StoreError(f"{what} must carry a UTC offset")
    return value.astimezone(dt.UTC)


# --- vehicles ------------------------------------------------------------------------------


def _new_public_id() -> str:
    return secrets.token_hex(8)


def add_vehicle(session: Session, vehicle_id: str, vehicle_type_id: str) -> Vehicle:
    """Add a bike or e-scooter to the fleet (refusing an id already in it)."""
    check_id("vehicle id", vehicle_id)
    if vehicle_type_id not in VEHICLE_TYPE_IDS:
        known = " or ".join(sorted(VEHICLE_TYPE_IDS))
        raise StoreError(f"unknown vehicle type {vehicle_type_id!r} (use {known})")
    if session.get(Vehicle, vehicle_id) is not None:
        raise StoreError(f"vehicle {vehicle_id} is already in the fleet")
    row = Vehicle(
        id=vehicle_id,
        vehicle_type_id=vehicle_type_id,
        public_id=_new_public_id(),
        is_reserved=False,
        is_disabled=False,
    )
    session.add(row)
    session.flush()
    return row


def report_vehicle(
    session: Session,
    vehicle_id: str,
    lon: float,
    lat: float,
    at: dt.datetime,
    *,
    fuel_percent: float | None = None,
    is_reserved: bool = False,
    is_disabled: bool = False,
    after_trip: bool = False,
) -> Vehicle:
    """Record a dockless vehicle's position and state; rotate its public id after a trip."""
    row = session.get(Vehicle, vehicle_id)
    if row is None:
        raise StoreError(f"no vehicle {vehicle_id!r} in the fleet")
    _check_point(f"vehicle {vehicle_id}", lon, lat)
    when = _aware("report time", at)
    if fuel_percent is not None and not (
        isinstance(fuel_percent, int | float) and 0.0 <= fuel_percent <= 1.0
    ):
        raise StoreError(f"vehicle {vehicle_id}: fuel_percent must be between 0 and 1")
    if row.last_reported is not None and when < row.last_reported:
        raise StoreError(
            f"vehicle {vehicle_id}: report at {when.isoformat()} is older than the one stored"
        )
    row.lon, row.lat, row.station_code = float(lon), float(lat), None
    row.fuel_percent = None if fuel_percent is None else float(fuel_percent)
    row.is_reserved, row.is_disabled, row.last_reported = is_reserved, is_disabled, when
    if after_trip:  # GBFS: vehicle_id rotates after each trip, so riders are not tracked
        row.public_id = _new_public_id()
    session.flush()
    return row


def list_vehicles(session: Session, vehicle_type_id: str | None = None) -> list[Vehicle]:
    """Return the fleet (or one type of it) by id."""
    stmt = select(Vehicle)
    if vehicle_type_id is not None:
        stmt = stmt.where(Vehicle.vehicle_type_id == vehicle_type_id)
    return list(session.scalars(stmt.order_by(Vehicle.id)))


def dockless_vehicles(session: Session) -> list[ScooterState]:
    """Return the dockless vehicles that have reported a position (vehicle_status)."""
    rows = session.scalars(
        select(Vehicle)
        .where(
            Vehicle.station_code.is_(None),
            Vehicle.lon.is_not(None),
            Vehicle.lat.is_not(None),
            Vehicle.last_reported.is_not(None),
        )
        .order_by(Vehicle.public_id)
    )
    return [
        ScooterState(
            public_id=r.public_id,
            vehicle_type_id=r.vehicle_type_id,
            lon=float(r.lon or 0.0),
            lat=float(r.lat or 0.0),
            is_reserved=r.is_reserved,
            is_disabled=r.is_disabled,
            last_reported=r.last_reported or dt.datetime.now(dt.UTC),
            fuel_percent=r.fuel_percent,
        )
        for r in rows
    ]


# --- trips ---------------------------------------------------------------------------------


def list_trips(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    station: str | None = None,
    limit: int = 1000,
) -> list[Trip]:
    """Return the trips that started in ``[start, end)`` (from or to a station), by start."""
    stmt = select(Trip).where(Trip.start_time >= start, Trip.start_time < end)
    if station is not None:
        stmt = stmt.where((Trip.start_station == station) | (Trip.end_station == station))
    return list(session.scalars(stmt.order_by(Trip.start_time, Trip.bike_id).limit(limit)))


def count_trips(session: Session) -> int:
    """Return how many trips are stored."""
    return int(session.scalar(select(func.count()).select_from(Trip)) or 0)


# --- trucks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TruckSpec:
    """A truck to add: capacity in bikes, depot, daily shift (Asia/Seoul wall clock)."""

    id: str
    name: str
    capacity: int
    depot_name: str
    depot_lon: float
    depot_lat: float
    shift_start: dt.time
    shift_end: dt.time


def add_truck(session: Session, spec: TruckSpec) -> Truck:
    """Add a rebalancing truck (refusing an id already used)."""
    check_id("truck id", spec.id)
    if not spec.name.strip():
        raise StoreError(f"truck {spec.id}: the name must not be empty")
    if isinstance(spec.capacity, bool) or not isinstance(spec.capacity, int) or spec.capacity < 1:
        raise StoreError(f"truck {spec.id}: capacity must be a whole number of bikes >= 1")
    _check_point(f"truck {spec.id}'s depot", spec.depot_lon, spec.depot_lat)
    if spec.shift_start == spec.shift_end:
        raise StoreError(f"truck {spec.id}: the shift starts and ends at the same time")
    if session.get(Truck, spec.id) is not None:
        raise StoreError(f"truck {spec.id} already exists")
    row = Truck(
        id=spec.id,
        name=spec.name,
        capacity=spec.capacity,
        depot_name=spec.depot_name,
        depot_lon=float(spec.depot_lon),
        depot_lat=float(spec.depot_lat),
        shift_start=spec.shift_start.replace(tzinfo=None),
        shift_end=spec.shift_end.replace(tzinfo=None),
    )
    session.add(row)
    session.flush()
    return row


def list_trucks(session: Session) -> list[Truck]:
    """Return the trucks by id."""
    return list(session.scalars(select(Truck).order_by(Truck.id)))


# --- staff ---------------------------------------------------------------------------------


def add_staff(session: Session, staff_id: str, name: str, role: str) -> Staff:
    """Add a staff member (``role``: driver, mechanic or dispatcher)."""
    check_id("staff id", staff_id)
    if not name.strip():
        raise StoreError(f"staff {staff_id}: the name must not be empty")
    if role not in STAFF_ROLES:
        raise StoreError(f"unknown role {role!r} (use one of {', '.join(sorted(STAFF_ROLES))})")
    if session.get(Staff, staff_id) is not None:
        raise StoreError(f"staff {staff_id} already exists")
    row = Staff(id=staff_id, name=name, role=role)
    session.add(row)
    session.flush()
    return row


def add_shift(
    session: Session,
    staff_id: str,
    start: dt.datetime,
    end: dt.datetime,
    truck_id: str | None = None,
) -> StaffShift:
    """Put a staff member on a shift (on a truck or not); shifts of one person never overlap."""
    start, end = _aware("shift start", start), _aware("shift end", end)
    if session.get(Staff, staff_id) is None:
        raise StoreError(f"no staff member {staff_id!r}")
    if truck_id is not None and session.get(Truck, truck_id) is None:
        raise StoreError(f"no truck {truck_id!r}")
    if end <= start:
        raise StoreError("the shift must end after it starts")
    if end - start > MAX_SHIFT:
        raise StoreError(f"a shift lasts at most {MAX_SHIFT.total_seconds() / 3600:g} hours")
    overlap = session.scalar(
        select(StaffShift.id).where(
            StaffShift.staff_id == staff_id, StaffShift.start < end, StaffShift.end > start
        )
    )
    if overlap is not None:
        raise StoreError(f"staff {staff_id} already has a shift overlapping this one")
    row = StaffShift(staff_id=staff_id, start=start, end=end, truck_id=truck_id)
    session.add(row)
    session.flush()
    return row


def list_staff(session: Session) -> list[Staff]:
    """Return the staff by id."""
    return list(session.scalars(select(Staff).order_by(Staff.id)))


def on_duty(session: Session, at: dt.datetime) -> list[tuple[Staff, StaffShift]]:
    """Return who is on duty at an instant, with the shift (and truck) they are on."""
    at = _aware("time", at)
    rows = session.execute(
        select(Staff, StaffShift)
        .join(StaffShift, StaffShift.staff_id == Staff.id)
        .where(StaffShift.start <= at, StaffShift.end > at)
        .order_by(Staff.id)
    )
    return [(staff, shift) for staff, shift in rows]


def remove_vehicles(session: Session, ids: Sequence[str]) -> int:
    """Remove vehicles from the fleet; return how many there were."""
    removed = 0
    for vehicle_id in ids:
        row = session.get(Vehicle, vehicle_id)
        if row is not None:
            session.delete(row)
            removed += 1
    session.flush()
    return removed
