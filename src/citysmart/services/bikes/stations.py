"""Docking stations as hub entities: register them, write their status, read it back.

A station is a hub entity of type ``BikeHireDockingStation`` (FIWARE Smart Data Model)
with id ``urn:ngsi-ld:BikeHireDockingStation:<code>``; ``<code>`` is its GBFS
``station_id`` and the key trips refer to. Static facts live in the entity: ``name``
(Korean), ``alternateName`` (English), ``location`` (GeoJSON Point), ``totalSlotNumber``
(capacity), ``address``. Live status arrives as readings of the station's controller (a
hub device, one per station), or as NGSI-LD writes: ``availableBikeNumber``,
``freeSlotNumber`` (count) and ``status`` (``working``, ``outOfService``, ...). The hub
keeps the newest value of each (its ``attribute`` rows) and their history (its
``observation`` rows); this module reads the newest, and a station's series.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.hub.ingest import DeviceInfo, IngestResult
from citysmart.hub.models import Attribute, Device, Entity
from citysmart.hub.queries import Point, read_series, value_of
from citysmart.hub.registry import RegistryError, check_location, register_device, upsert_entity
from citysmart.hub.runtime import HubRuntime

STATION_TYPE: Final = "BikeHireDockingStation"
URN_PREFIX: Final = f"urn:ngsi-ld:{STATION_TYPE}:"
BIKES: Final = "availableBikeNumber"
DOCKS: Final = "freeSlotNumber"
STATUS: Final = "status"
LIVE_ATTRIBUTES: Final = (BIKES, DOCKS, STATUS)
# FIWARE BikeHireDockingStation's status values.
STATUSES: Final = frozenset(
    {"working", "outOfService", "withIncidence", "full", "almostFull", "empty", "almostEmpty"}
)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class StationError(ValueError):
    """A station request that cannot be carried out, with a message saying why."""


@dataclass(frozen=True, slots=True)
class StationSpec:
    """A docking station to register: code, Korean and English names, place, docks."""

    code: str
    name_ko: str
    name_en: str
    lon: float
    lat: float
    capacity: int
    address: str | None = None
    source: str | None = None  # where the site comes from, e.g. another city's data set


@dataclass(frozen=True, slots=True)
class StationState:
    """A station's static facts and its newest status as the hub holds them.

    ``bikes``, ``docks`` and ``status`` are None until the station first reports;
    ``last_reported`` is the newest of their times (None if it never reported).
    """

    code: str
    entity_id: str
    name_ko: str
    name_en: str | None
    lon: float | None
    lat: float | None
    capacity: int | None
    address: str | None
    bikes: int | None
    docks: int | None
    status: str | None
    last_reported: dt.datetime | None
    registered_at: dt.datetime | None
    source: str | None = None


def entity_id_of(code: str) -> str:
    """Return the hub entity id of a station code (refusing a code that cannot be one)."""
    if not _CODE.match(code):
        raise StationError(
            f"station code {code!r}: use letters, digits, '_', '-' and '.' (at most 64)"
        )
    return URN_PREFIX + code


def code_of(entity_id: str) -> str:
    """Return a station's code (its GBFS station_id) from its entity id."""
    return entity_id.removeprefix(URN_PREFIX)


def device_id_of(code: str) -> str:
    """Return the id of the station controller's hub device."""
    return f"bike-dock-{code}"


def _check_spec(spec: StationSpec) -> None:
    entity_id_of(spec.code)
    if not spec.name_ko.strip() or not spec.name_en.strip():
        raise StationError(f"station {spec.code}: name_ko and name_en must not be empty")
    if isinstance(spec.capacity, bool) or not isinstance(spec.capacity, int) or spec.capacity < 0:
        raise StationError(f"station {spec.code}: capacity must be a whole number >= 0")
    try:
        check_location({"type": "Point", "coordinates": [spec.lon, spec.lat]})
    except RegistryError as exc:
        raise StationError(f"station {spec.code}: {exc}") from exc


def register_stations(
    target: HubRuntime | Session, stations: Sequence[StationSpec], actor: str = "bikes"
) -> dict[str, str | None]:
    """Create or update the stations' hub entities and their controllers' devices.

    All or nothing: every spec is checked before anything is written. Returns each
    station's new device key (shown once, as the hub issues it), or None for a station
    whose controller was already registered (its key is unchanged).
    """
    codes = [s.code for s in stations]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise StationError(f"station codes given more than once: {', '.join(repeated)}")
    for spec in stations:
        _check_spec(spec)
    if isinstance(target, HubRuntime):
        with target.sessions.begin() as session:
            return _register(session, stations, actor)
    return _register(target, stations, actor)


def _register(
    session: Session, stations: Sequence[StationSpec], actor: str
) -> dict[str, str | None]:
    keys: dict[str, str | None] = {}
    for spec in stations:
        entity_id = entity_id_of(spec.code)
        properties: dict[str, Any] = {
            "alternateName": spec.name_en,
            "totalSlotNumber": spec.capacity,
        }
        if spec.address:
            properties["address"] = {"streetAddress": spec.address, "addressCountry": "KR"}
        if spec.source:
            properties["dataSource"] = spec.source
        location = {"type": "Point", "coordinates": [spec.lon, spec.lat]}
        try:
            upsert_entity(
                session, entity_id, STATION_TYPE, spec.name_ko, properties, location=location
            )
            device_id = device_id_of(spec.code)
            if session.get(Device, device_id) is None:
                key = register_device(session, device_id, entity_id, STATION_TYPE, actor)
                keys[spec.code] = key.key
            else:
                keys[spec.code] = None
        except RegistryError as exc:
            raise StationError(f"station {spec.code}: {exc}") from exc
    return keys


def status_pack(
    device_id: str, bikes: int, docks: int, status: str, at: dt.datetime
) -> list[dict[str, Any]]:
    """Return the SenML pack a station controller sends for one status report."""
    return [
        {"bn": f"urn:dev:{device_id}:", "bt": at.timestamp(), "n": BIKES, "u": "count", "v": bikes},
        {"n": DOCKS, "u": "count", "v": docks},
        {"n": STATUS, "vs": status},
    ]


def write_station_status(
    runtime: HubRuntime,
    code: str,
    bikes: int,
    docks: int,
    status: str = "working",
    at: dt.datetime | None = None,
) -> IngestResult:
    """Report a station's bikes and free docks through the hub, as its controller does.

    The values are checked first (whole numbers >= 0, a FIWARE status, no more than the
    station's capacity together), so a bad report stores nothing.
    """
    entity_id = entity_id_of(code)
    for name, value in (("bikes", bikes), ("docks", docks)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StationError(f"station {code}: {name} must be a whole number >= 0, not {value!r}")
    if status not in STATUSES:
        raise StationError(
            f"station {code}: unknown status {status!r} (use one of {', '.join(sorted(STATUSES))})"
        )
    if at is not None and at.tzinfo is None:
        raise StationError("the report time must be timezone-aware")
    with runtime.sessions() as session:
        entity = session.get(Entity, entity_id)
        if entity is None or entity.type != STATION_TYPE:
            raise StationError(f"no station {code!r} is registered")
        capacity = _capacity((entity.properties or {}).get("totalSlotNumber"))
        device = session.get(Device, device_id_of(code))
        if device is None:
            raise StationError(f"station {code} has no controller device registered")
        info = DeviceInfo(device.id, device.entity_id, device.status)
    if info.status != "active":
        raise StationError(f"station {code}'s controller {info.id} is {info.status}")
    if capacity is not None and bikes + docks > capacity:
        raise StationError(
            f"station {code}: {bikes} bikes and {docks} free docks exceed its {capacity} docks"
        )
    when = at or dt.datetime.now(dt.UTC)
    body = json.dumps(status_pack(info.id, bikes, docks, status, when)).encode()
    result = runtime.ingestor.ingest_pack(info, body)
    if result.rejections:  # cannot happen after the checks above; say so if it does
        reasons = "; ".join(r.reason for r in result.rejections)
        raise StationError(f"station {code}: the hub refused part of the report: {reasons}")
    return result


def _capacity(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value) if value >= 0 else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return round(value)


def _point(location: Any) -> tuple[float | None, float | None]:
    if isinstance(location, dict) and location.get("type") == "Point":
        coordinates = location.get("coordinates")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            return float(coordinates[0]), float(coordinates[1])
    return None, None


def _address(value: Any) -> str | None:
    if isinstance(value, dict):
        street = value.get("streetAddress")
        return street if isinstance(street, str) else None
    return value if isinstance(value, str) else None


def read_stations(session: Session, codes: Sequence[str] | None = None) -> list[StationState]:
    """Return every registered station (or those of ``codes``) with its newest status."""
    stmt = select(Entity).where(Entity.type == STATION_TYPE)
    if codes is not None:
        stmt = stmt.where(Entity.id.in_([entity_id_of(c) for c in codes]))
    entities = list(session.scalars(stmt.order_by(Entity.id)))
    live: dict[str, dict[str, tuple[Any, dt.datetime | None]]] = {e.id: {} for e in entities}
    ids = list(live)
    a = Attribute
    for first in range(0, len(ids), 500):
        rows = session.execute(
            select(
                a.entity_id,
                a.attribute,
                a.value_type,
                a.num_value,
                a.text_value,
                a.observed_at,
                a.modified_at,
            ).where(
                a.entity_id.in_(ids[first : first + 500]),
                a.attribute.in_(LIVE_ATTRIBUTES),
                a.dataset_id == "",
            )
        )
        for entity_id, attribute, value_type, num, text, observed, modified in rows:
            # An NGSI-LD write without observedAt is dated by when it was made.
            live[entity_id][attribute] = (value_of(value_type, num, text), observed or modified)
    out = []
    for entity in entities:
        props = entity.properties or {}
        values = live[entity.id]
        times = [when for _, when in values.values() if when is not None]
        status = values.get(STATUS, (None, None))[0]
        name_en = props.get("alternateName")
        source = props.get("dataSource")
        lon, lat = _point(entity.location)
        out.append(
            StationState(
                code=code_of(entity.id),
                entity_id=entity.id,
                name_ko=entity.name or code_of(entity.id),
                name_en=name_en if isinstance(name_en, str) else None,
                lon=lon,
                lat=lat,
                capacity=_capacity(props.get("totalSlotNumber")),
                address=_address(props.get("address")),
                bikes=_count(values.get(BIKES, (None, None))[0]),
                docks=_count(values.get(DOCKS, (None, None))[0]),
                status=status if isinstance(status, str) else None,
                last_reported=max(times) if times else None,
                registered_at=entity.created_at,
                source=source if isinstance(source, str) else None,
            )
        )
    return out


def read_station(session: Session, code: str) -> StationState | None:
    """Return one station with its newest status, or None when it is not registered."""
    found = read_stations(session, [code])
    return found[0] if found else None


def station_history(
    session: Session,
    code: str,
    attribute: str,
    start: dt.datetime,
    end: dt.datetime,
    limit: int = 10_000,
) -> list[Point]:
    """Return a station's reports of one live attribute in ``[start, end)``, oldest first."""
    if attribute not in LIVE_ATTRIBUTES:
        raise StationError(
            f"unknown attribute {attribute!r} (use one of {', '.join(LIVE_ATTRIBUTES)})"
        )
    return read_series(session.connection(), entity_id_of(code), attribute, start, end, limit)
