"""The parking JSON API under ``/api/v1/parking``: lots with live occupancy, counts, guidance.

Lots and guidance are public. Operators register lots (``POST /lots``: the entity, its
controller device and, for a sensor per spot, the spots and their sensors; the device keys
are in the answer once) and record trusted full counts of counter lots
(``POST /lots/{code}/counts``), both audited. Bad input is a problem document (RFC 9457):
422 for a body or parameter that does not match its schema or a destination outside
Sejong, 400 for a value that cannot be used, 404 for an unknown lot, 409 for a code taken.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from shapely.geometry import Point

from citysmart.core import audit
from citysmart.core.admin_areas import city_boundary
from citysmart.core.auth import OperatorDep, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.time import isoformat, utcnow
from citysmart.services.parking import store
from citysmart.services.parking.arrival import lot_forecasts
from citysmart.services.parking.guidance import rank_lots
from citysmart.services.parking.live import REASONS, LiveView, live_view
from citysmart.services.parking.lots import (
    DETECTIONS,
    LotError,
    LotSpec,
    entity_id_of,
    read_feeds,
    register_lot,
)

router = APIRouter(prefix="/api/v1/parking", tags=["parking"])
API: Final = "/api/v1/parking"
MAX_ARRIVE_IN: Final = 180  # the forecast's longest horizon, minutes


def _time(value: dt.datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def lot_public(v: LiveView) -> dict[str, Any]:
    """Return a lot's live view as the API gives it."""
    c = v.correction
    return {
        "code": v.code,
        "entity_id": v.entity_id,
        "name": v.name,
        "lon": v.lon,
        "lat": v.lat,
        "capacity": v.capacity,
        "occupancy_detection": v.detection,
        "occupied": v.occupied,
        "free": v.free,
        "status": v.status,
        "trusted": v.trusted,
        "flags": list(v.flags),
        "reasons": [REASONS.get(f, f) for f in v.flags],
        "raw_count": v.raw_count,
        "correction": None
        if c is None
        else {
            "offset": c.offset,
            "trusted_count": c.trusted_count,
            "counter_count": c.counter_count,
            "at": isoformat(c.at),
            "source": c.source,
        },
        "last_updated": _time(v.last_updated),
    }


def _views(session: SessionDep, codes: list[str] | None = None) -> list[LiveView]:
    now = utcnow()
    return [live_view(feed, now) for feed in read_feeds(session, codes)]


@router.get("/lots", summary="Car parks with their live occupancy")
def list_lots(session: SessionDep) -> dict[str, Any]:
    """List every lot with its live view (flagged feeds show as unknown, with the reasons)."""
    return {"lots": [lot_public(v) for v in _views(session)]}


def _view(session: SessionDep, code: str) -> LiveView:
    try:
        entity_id_of(code)
        found = _views(session, [code])
    except LotError as exc:
        raise Problem(404, "Unknown lot", str(exc)) from exc
    if not found:
        raise Problem(404, "Unknown lot", f"no lot {code!r} is registered")
    return found[0]


@router.get("/lots/{code}", summary="One car park with its live occupancy")
def read_lot(code: str, session: SessionDep) -> dict[str, Any]:
    """Return one lot's live view."""
    return lot_public(_view(session, code))


class LotCreate(BaseModel):
    """A car park to register."""

    code: str = Field(min_length=1, max_length=48, description="letters, digits, _ - .")
    name: str = Field(min_length=1, max_length=200)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    capacity: int = Field(ge=1, le=20_000)
    occupancy_detection: str = Field(description=" or ".join(DETECTIONS))
    time_limit_min: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    tariff_id: str | None = Field(default=None, min_length=1, max_length=64)


@router.post("/lots", status_code=201, summary="Register a car park (operators)")
def create_lot(lot_in: LotCreate, session: SessionDep, operator: OperatorDep) -> dict[str, Any]:
    """Register a lot: its entity, its controller device and, with a sensor per spot, its spots.

    The answer carries the device keys once: the hub keeps only their digests.
    """
    if not city_boundary().covers(Point(lot_in.lon, lot_in.lat)):
        raise Problem(422, "Outside Sejong", f"({lot_in.lon}, {lot_in.lat}) is not in Sejong")
    spec = LotSpec(
        lot_in.code,
        lot_in.name.strip(),
        lot_in.lon,
        lot_in.lat,
        lot_in.capacity,
        lot_in.occupancy_detection,
        lot_in.time_limit_min,
        lot_in.tariff_id,
    )
    try:
        keys = register_lot(session, spec, operator.username)
    except LotError as exc:
        status = 409 if "already" in str(exc) else 400
        raise Problem(status, "Lot refused", str(exc)) from exc
    audit.record(
        session,
        operator.username,
        "parking.lot.created",
        lot_in.code,
        detection=lot_in.occupancy_detection,
        capacity=lot_in.capacity,
    )
    body = lot_public(_view(session, lot_in.code))
    body["device_key"] = keys.lot_key
    body["spot_keys"] = keys.spot_keys
    return body


class CountCreate(BaseModel):
    """A trusted full count of a counter lot (staff walked it)."""

    occupied: int = Field(ge=0, le=20_000)


@router.post("/lots/{code}/counts", status_code=201, summary="Record a full count (operators)")
def create_count(
    code: str, count_in: CountCreate, session: SessionDep, operator: OperatorDep
) -> dict[str, Any]:
    """Set a counter lot's correction from a trusted full count taken now."""
    _view(session, code)
    try:
        correction = store.record_full_count(session, code, count_in.occupied, utcnow())
    except store.StoreError as exc:
        raise Problem(400, "Count refused", str(exc)) from exc
    audit.record(
        session,
        operator.username,
        "parking.lot.counted",
        code,
        occupied=count_in.occupied,
        counter_count=correction.counter_count,
        offset=correction.offset,
    )
    return lot_public(_view(session, code))


@router.get("/guidance", summary="Lots ranked for a destination and an arrival time")
def read_guidance(
    session: SessionDep,
    lat: Annotated[float, Query(ge=-90, le=90, description="destination latitude")],
    lon: Annotated[float, Query(ge=-180, le=180, description="destination longitude")],
    arrive_in: Annotated[
        int, Query(ge=0, le=MAX_ARRIVE_IN, description="minutes from now (0 to 180)")
    ] = 0,
) -> dict[str, Any]:
    """Rank the open lots by walk and chance of a free space at arrival (see ``arrival``)."""
    if not city_boundary().covers(Point(lon, lat)):
        raise Problem(422, "Outside Sejong", f"the destination ({lon}, {lat}) is not in Sejong")
    now = utcnow()
    arrival = now + dt.timedelta(minutes=arrive_in)
    views = _views(session)
    stored = (
        store.latest_forecasts(session, [v.code for v in views], arrival) if arrive_in > 0 else {}
    )
    inputs, sources = lot_forecasts(views, arrive_in, stored)
    ranked = rank_lots(inputs, lon, lat)
    return {
        "destination": {"lon": lon, "lat": lat},
        "arrive_in_min": arrive_in,
        "arrival": isoformat(arrival),
        "lots": [
            {
                "code": s.lot.lot_id,
                "name": s.lot.name,
                "lon": s.lot.lon,
                "lat": s.lot.lat,
                "capacity": s.lot.capacity,
                "status": s.lot.status,
                "free_expected": round(s.lot.free_expected, 1),
                "free_interval_80": [round(s.lot.free_low, 1), round(s.lot.free_high, 1)],
                "source": sources[s.lot.lot_id],
                "walk_m": round(s.walk_m),
                "walk_min": round(s.walk_min, 1),
                "chance_free": round(s.chance_free, 3),
                "cost_min": round(s.cost_min, 2),
            }
            for s in ranked
        ],
        "left_out": {code: why for code, why in sources.items() if why.startswith("left out")},
    }
