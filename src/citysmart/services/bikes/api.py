"""The bikes service's JSON API under ``/api/v1/bikes``: stations, trips, fleet, trucks, staff.

Stations (live status and history, read from the hub) are public. Trips, the fleet, the
trucks and the staff roster are for operators; operators also add trucks, staff and
shifts. Bad input is a problem document (RFC 7807) saying what was wrong: 400 for a
value that cannot be used (an unparsable time, a start after its end, a period too
long, an unknown attribute), 404 for something that does not exist (an unknown
station, staff member or truck), 409 for an id already taken, 422 for a body that does
not match its schema. Times are ISO 8601 UTC with ``Z``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from citysmart.core import audit
from citysmart.core.auth import OperatorDep, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.time import isoformat, parse_instant, utcnow
from citysmart.services.bikes import store
from citysmart.services.bikes.gbfs import DEFAULT_STALE_AFTER
from citysmart.services.bikes.models import Staff, StaffShift, Trip, Truck, Vehicle
from citysmart.services.bikes.stations import (
    BIKES,
    LIVE_ATTRIBUTES,
    StationError,
    StationState,
    read_station,
    read_stations,
    station_history,
)

router = APIRouter(prefix="/api/v1/bikes", tags=["bikes"])
API: Final = "/api/v1/bikes"
MAX_HISTORY: Final = dt.timedelta(days=31)
MAX_TRIPS: Final = 10_000


def _instant(name: str, value: str | None, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise Problem(400, "Invalid time", f"{name}: {exc}") from exc


def _period(
    start: str | None, end: str | None, default_span: dt.timedelta
) -> tuple[dt.datetime, dt.datetime]:
    until = _instant("end", end, utcnow())
    since = _instant("start", start, until - default_span)
    if since >= until:
        raise Problem(400, "Invalid period", "start must be before end")
    if until - since > MAX_HISTORY:
        raise Problem(400, "Period too long", f"at most {MAX_HISTORY.days} days at a time")
    return since, until


def _time(value: dt.datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


# --- stations ------------------------------------------------------------------------------


def station_public(s: StationState, now: dt.datetime) -> dict[str, Any]:
    """Return a station as the API gives it (``stale``: no report for 15 minutes or never)."""
    return {
        "code": s.code,
        "entity_id": s.entity_id,
        "name_ko": s.name_ko,
        "name_en": s.name_en,
        "lon": s.lon,
        "lat": s.lat,
        "capacity": s.capacity,
        "address": s.address,
        "bikes_available": s.bikes,
        "docks_free": s.docks,
        "status": s.status,
        "last_reported": _time(s.last_reported),
        "stale": s.last_reported is None or now - s.last_reported > DEFAULT_STALE_AFTER,
        "source": s.source,
    }


@router.get("/stations", summary="Docking stations with their live status")
def list_stations(session: SessionDep) -> dict[str, Any]:
    """List every docking station with its newest status from the hub."""
    now = utcnow()
    stations = [station_public(s, now) for s in read_stations(session)]
    return {"stations": stations, "stale_after_s": DEFAULT_STALE_AFTER.total_seconds()}


def _station(session: SessionDep, code: str) -> StationState:
    try:
        found = read_station(session, code)
    except StationError as exc:
        raise Problem(404, "Unknown station", str(exc)) from exc
    if found is None:
        raise Problem(404, "Unknown station", f"no station {code!r} is registered")
    return found


@router.get("/stations/{code}", summary="One docking station with its live status")
def read_station_route(code: str, session: SessionDep) -> dict[str, Any]:
    """Return one station with its newest status."""
    return station_public(_station(session, code), utcnow())


@router.get("/stations/{code}/history", summary="A station's reported status over time")
def read_station_history(
    code: str,
    session: SessionDep,
    attribute: str = BIKES,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Return a station's reports of one attribute (default the last 24 hours)."""
    _station(session, code)
    if attribute not in LIVE_ATTRIBUTES:
        raise Problem(
            400,
            "Unknown attribute",
            f"{attribute!r}: use one of {', '.join(LIVE_ATTRIBUTES)}",
        )
    since, until = _period(start, end, dt.timedelta(hours=24))
    points = station_history(session, code, attribute, since, until)
    return {
        "code": code,
        "attribute": attribute,
        "start": isoformat(since),
        "end": isoformat(until),
        "points": [{"t": isoformat(p.t), "value": p.value} for p in points],
    }


# --- trips and fleet (operators) ------------------------------------------------------------


def trip_public(t: Trip) -> dict[str, Any]:
    """Return a trip as the API gives it."""
    return {
        "bike_id": t.bike_id,
        "start_station": t.start_station,
        "start_time": isoformat(t.start_time),
        "end_station": t.end_station,
        "end_time": isoformat(t.end_time),
        "duration_s": (t.end_time - t.start_time).total_seconds(),
    }


@router.get("/trips", summary="Trips that started in a period (operators)")
def list_trips(
    session: SessionDep,
    _operator: OperatorDep,
    start: str | None = None,
    end: str | None = None,
    station: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TRIPS)] = 1000,
) -> dict[str, Any]:
    """List trips that started in ``[start, end)`` (default the last day), from or to a station."""
    since, until = _period(start, end, dt.timedelta(days=1))
    trips = store.list_trips(session, since, until, station, limit)
    return {
        "start": isoformat(since),
        "end": isoformat(until),
        "trips": [trip_public(t) for t in trips],
    }


def vehicle_public(v: Vehicle) -> dict[str, Any]:
    """Return a fleet vehicle as operators see it."""
    return {
        "id": v.id,
        "vehicle_type_id": v.vehicle_type_id,
        "station_code": v.station_code,
        "lon": v.lon,
        "lat": v.lat,
        "fuel_percent": v.fuel_percent,
        "is_reserved": v.is_reserved,
        "is_disabled": v.is_disabled,
        "last_reported": _time(v.last_reported),
    }


@router.get("/vehicles", summary="The fleet: bikes and e-scooters (operators)")
def list_vehicles(session: SessionDep, _operator: OperatorDep) -> dict[str, Any]:
    """List the fleet's vehicles."""
    return {"vehicles": [vehicle_public(v) for v in store.list_vehicles(session)]}


# --- trucks and staff (operators) ----------------------------------------------------------


class TruckCreate(BaseModel):
    """A truck to add."""

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=256)
    capacity: int = Field(ge=1, le=100, description="bikes it carries")
    depot_name: str = Field(min_length=1, max_length=256)
    depot_lon: float = Field(ge=-180, le=180)
    depot_lat: float = Field(ge=-90, le=90)
    shift_start: dt.time = Field(description="Asia/Seoul wall clock, e.g. 07:00")
    shift_end: dt.time = Field(description="Asia/Seoul wall clock; before start: next day")


def truck_public(t: Truck) -> dict[str, Any]:
    """Return a truck as the API gives it."""
    return {
        "id": t.id,
        "name": t.name,
        "capacity": t.capacity,
        "depot": {"name": t.depot_name, "lon": t.depot_lon, "lat": t.depot_lat},
        "shift_start": t.shift_start.strftime("%H:%M"),
        "shift_end": t.shift_end.strftime("%H:%M"),
        "timezone": "Asia/Seoul",
    }


def _refused(exc: store.StoreError) -> Problem:
    message = str(exc)
    if "already" in message:
        return Problem(409, "Already exists", message)
    if message.startswith("no "):
        return Problem(404, "Not found", message)
    return Problem(400, "Invalid request", message)


@router.get("/trucks", summary="Rebalancing trucks (operators)")
def list_trucks(session: SessionDep, _operator: OperatorDep) -> dict[str, Any]:
    """List the trucks."""
    return {"trucks": [truck_public(t) for t in store.list_trucks(session)]}


@router.post("/trucks", status_code=201, summary="Add a truck (operators)")
def create_truck(
    truck_in: TruckCreate, session: SessionDep, operator: OperatorDep
) -> dict[str, Any]:
    """Add a rebalancing truck."""
    try:
        truck = store.add_truck(session, store.TruckSpec(**truck_in.model_dump()))
    except store.StoreError as exc:
        raise _refused(exc) from exc
    audit.record(session, operator.username, "bikes.truck.created", truck.id)
    return truck_public(truck)


class StaffCreate(BaseModel):
    """A staff member to add."""

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=256)
    role: str = Field(description="driver, mechanic or dispatcher")


class ShiftCreate(BaseModel):
    """A shift to put a staff member on."""

    start: dt.datetime = Field(description="ISO 8601 with a UTC offset")
    end: dt.datetime = Field(description="ISO 8601 with a UTC offset")
    truck_id: str | None = None


def staff_public(s: Staff) -> dict[str, Any]:
    """Return a staff member as the API gives it."""
    return {"id": s.id, "name": s.name, "role": s.role}


def shift_public(s: StaffShift) -> dict[str, Any]:
    """Return a shift as the API gives it."""
    return {
        "id": s.id,
        "staff_id": s.staff_id,
        "start": isoformat(s.start),
        "end": isoformat(s.end),
        "truck_id": s.truck_id,
    }


@router.get("/staff", summary="The operating staff (operators)")
def list_staff(session: SessionDep, _operator: OperatorDep) -> dict[str, Any]:
    """List the staff."""
    return {"staff": [staff_public(s) for s in store.list_staff(session)]}


@router.post("/staff", status_code=201, summary="Add a staff member (operators)")
def create_staff(
    staff_in: StaffCreate, session: SessionDep, operator: OperatorDep
) -> dict[str, Any]:
    """Add a staff member."""
    try:
        staff = store.add_staff(session, staff_in.id, staff_in.name, staff_in.role)
    except store.StoreError as exc:
        raise _refused(exc) from exc
    audit.record(session, operator.username, "bikes.staff.created", staff.id)
    return staff_public(staff)


@router.post("/staff/{staff_id}/shifts", status_code=201, summary="Put a staff member on a shift")
def create_shift(
    staff_id: str, shift_in: ShiftCreate, session: SessionDep, operator: OperatorDep
) -> dict[str, Any]:
    """Put a staff member on a shift, on a truck or not (shifts of one person never overlap)."""
    try:
        shift = store.add_shift(session, staff_id, shift_in.start, shift_in.end, shift_in.truck_id)
    except store.StoreError as exc:
        raise _refused(exc) from exc
    audit.record(session, operator.username, "bikes.shift.created", str(shift.id), staff=staff_id)
    return shift_public(shift)


@router.get("/staff/on-duty", summary="Who is on duty at an instant (operators)")
def list_on_duty(
    session: SessionDep, _operator: OperatorDep, at: str | None = None
) -> dict[str, Any]:
    """List the staff on duty at ``at`` (default now), with their shift and truck."""
    when = _instant("at", at, utcnow())
    return {
        "at": isoformat(when),
        "on_duty": [
            {**staff_public(staff), "shift": shift_public(shift)}
            for staff, shift in store.on_duty(session, when)
        ],
    }
