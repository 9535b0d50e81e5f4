"""Car parks as hub entities: register lots and spots, and read what their sensors sent.

A lot is a hub entity of type ``OffStreetParking`` (FIWARE Smart Data Model) with id
``urn:ngsi-ld:OffStreetParking:<code>``: ``name``, ``location`` (GeoJSON Point),
``totalSpotNumber`` and ``occupancyDetectionType`` (``["singleSpaceDetection"]``: a
sensor per spot; ``["balancing"]``: counters at the entrances and exits). Each lot has one
controller device (``parking-lot-<code>``). A counter lot's controller reports its
cumulative ``entryCount`` and ``exitCount`` (SenML over HTTP or MQTT, or NGSI-LD writes);
entries minus exits is its counter count. A spot-sensor lot has ``ParkingSpot`` entities
``urn:ngsi-ld:ParkingSpot:<code>:<n>`` (``refParkingSite`` the lot), each with its own
sensor device (``parking-spot-<code>-<n>``) reporting ``status`` ``free`` or ``occupied``.
The hub keeps the newest value of each; this module reads them back.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.hub.models import Attribute, Entity
from citysmart.hub.queries import value_of
from citysmart.hub.registry import RegistryError, check_location, register_device, upsert_entity
from citysmart.services.parking.models import LotSetting

LOT_TYPE: Final = "OffStreetParking"
SPOT_TYPE: Final = "ParkingSpot"
LOT_PREFIX: Final = f"urn:ngsi-ld:{LOT_TYPE}:"
SPOT_PREFIX: Final = f"urn:ngsi-ld:{SPOT_TYPE}:"
SPOTS: Final = "singleSpaceDetection"
COUNTERS: Final = "balancing"
DETECTIONS: Final = (SPOTS, COUNTERS)
ENTRIES: Final = "entryCount"
EXITS: Final = "exitCount"
SPOT_STATUS: Final = "status"
SPOT_STATUSES: Final = frozenset({"free", "occupied"})
MAX_SPOTS: Final = 5000
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,47}$")


class LotError(ValueError):
    """A lot request that cannot be carried out, with a message saying why."""


@dataclass(frozen=True, slots=True)
class LotSpec:
    """A lot to register: code, name, place, capacity and how it is counted."""

    code: str
    name: str
    lon: float
    lat: float
    capacity: int
    detection: str
    time_limit_min: int | None = None
    tariff_id: str | None = None


@dataclass(frozen=True, slots=True)
class Registered:
    """The keys issued for a new lot: its controller's, and each spot sensor's (shown once)."""

    lot_key: str
    spot_keys: dict[str, str]


@dataclass(slots=True)
class LotFeed:
    """A lot's static facts and the newest readings of its sensors, as the hub holds them."""

    code: str
    entity_id: str
    name: str
    lon: float | None
    lat: float | None
    capacity: int
    detection: str
    setting: LotSetting | None
    entries: tuple[float, dt.datetime] | None = None
    exits: tuple[float, dt.datetime] | None = None
    # spot entity id -> (status, observed at); spots that never reported are absent
    spot_status: dict[str, tuple[str, dt.datetime]] = field(default_factory=dict)
    spots: int = 0


def entity_id_of(code: str) -> str:
    """Return the hub entity id of a lot code (refusing a code that cannot be one)."""
    if not isinstance(code, str) or not _CODE.match(code):
        raise LotError(f"lot code {code!r}: use letters, digits, '_', '-' and '.' (at most 48)")
    return LOT_PREFIX + code


def code_of(entity_id: str) -> str:
    """Return a lot's code from its entity id."""
    return entity_id.removeprefix(LOT_PREFIX)


def device_id_of(code: str) -> str:
    """Return the id of the lot controller's hub device."""
    return f"parking-lot-{code}"


def spot_entity_id(code: str, number: int) -> str:
    """Return the entity id of a lot's spot (numbered from 1)."""
    return f"{SPOT_PREFIX}{code}:{number}"


def spot_device_id(code: str, number: int) -> str:
    """Return the id of a spot sensor's hub device."""
    return f"parking-spot-{code}-{number}"


def check_spec(spec: LotSpec) -> None:
    """Refuse a lot spec that cannot be registered, saying why."""
    entity_id_of(spec.code)
    if not spec.name.strip():
        raise LotError(f"lot {spec.code}: the name must not be empty")
    if isinstance(spec.capacity, bool) or not isinstance(spec.capacity, int) or spec.capacity < 1:
        raise LotError(f"lot {spec.code}: capacity must be a whole number >= 1")
    if spec.detection not in DETECTIONS:
        raise LotError(
            f"lot {spec.code}: occupancy detection {spec.detection!r} "
            f"(use {' or '.join(DETECTIONS)})"
        )
    if spec.detection == SPOTS and spec.capacity > MAX_SPOTS:
        raise LotError(f"lot {spec.code}: at most {MAX_SPOTS} spots with a sensor each")
    try:
        check_location({"type": "Point", "coordinates": [spec.lon, spec.lat]})
    except RegistryError as exc:
        raise LotError(f"lot {spec.code}: {exc}") from exc


def register_lot(session: Session, spec: LotSpec, actor: str) -> Registered:
    """Create a lot's entity, its controller device, its spots and their sensors.

    Refuses a code already registered. The keys are returned once; the hub keeps digests.
    """
    check_spec(spec)
    entity_id = entity_id_of(spec.code)
    if session.get(Entity, entity_id) is not None or session.get(LotSetting, spec.code) is not None:
        raise LotError(f"lot {spec.code} is already registered")
    properties: dict[str, Any] = {
        "totalSpotNumber": spec.capacity,
        "occupancyDetectionType": [spec.detection],
    }
    location = {"type": "Point", "coordinates": [spec.lon, spec.lat]}
    spot_keys: dict[str, str] = {}
    try:
        upsert_entity(session, entity_id, LOT_TYPE, spec.name, properties, location=location)
        lot_key = register_device(session, device_id_of(spec.code), entity_id, LOT_TYPE, actor)
        if spec.detection == SPOTS:
            for number in range(1, spec.capacity + 1):
                spot_id = spot_entity_id(spec.code, number)
                upsert_entity(
                    session,
                    spot_id,
                    SPOT_TYPE,
                    f"{spec.name} {number}",
                    {"refParkingSite": entity_id},
                    location=location,
                )
                key = register_device(
                    session, spot_device_id(spec.code, number), spot_id, SPOT_TYPE, actor
                )
                spot_keys[spot_id] = key.key
    except RegistryError as exc:
        raise LotError(f"lot {spec.code}: {exc}") from exc
    session.add(
        LotSetting(
            code=spec.code,
            detection=spec.detection,
            spots=spec.capacity if spec.detection == SPOTS else 0,
            time_limit_min=spec.time_limit_min,
            tariff_id=spec.tariff_id,
        )
    )
    session.flush()
    return Registered(lot_key.key, spot_keys)


def _point(location: Any) -> tuple[float | None, float | None]:
    if isinstance(location, dict) and location.get("type") == "Point":
        coordinates = location.get("coordinates")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            return float(coordinates[0]), float(coordinates[1])
    return None, None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _detection(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else COUNTERS


def read_feeds(session: Session, codes: Sequence[str] | None = None) -> list[LotFeed]:
    """Return every registered lot (or those of ``codes``) with its sensors' newest readings."""
    stmt = select(Entity).where(Entity.type == LOT_TYPE)
    if codes is not None:
        stmt = stmt.where(Entity.id.in_([entity_id_of(c) for c in codes]))
    entities = list(session.scalars(stmt.order_by(Entity.id)))
    if not entities:
        return []
    settings = {
        s.code: s
        for s in session.scalars(
            select(LotSetting).where(LotSetting.code.in_([code_of(e.id) for e in entities]))
        )
    }
    feeds: dict[str, LotFeed] = {}
    for entity in entities:
        props = entity.properties or {}
        lon, lat = _point(entity.location)
        code = code_of(entity.id)
        capacity = _number(props.get("totalSpotNumber"))
        setting = settings.get(code)
        feeds[entity.id] = LotFeed(
            code=code,
            entity_id=entity.id,
            name=entity.name or code,
            lon=lon,
            lat=lat,
            capacity=int(capacity) if capacity is not None and capacity >= 0 else 0,
            detection=_detection(props.get("occupancyDetectionType")),
            setting=setting,
            spots=setting.spots if setting is not None else 0,
        )
    _read_counters(session, feeds)
    _read_spots(session, feeds, codes)
    return list(feeds.values())


def _read_counters(session: Session, feeds: dict[str, LotFeed]) -> None:
    ids = [f.entity_id for f in feeds.values() if f.detection == COUNTERS]
    a = Attribute
    for first in range(0, len(ids), 500):
        rows = session.execute(
            select(
                a.entity_id, a.attribute, a.value_type, a.num_value, a.text_value,
                a.observed_at, a.modified_at,
            ).where(
                a.entity_id.in_(ids[first : first + 500]),
                a.attribute.in_((ENTRIES, EXITS)),
                a.dataset_id == "",
            )
        )  # fmt: skip
        for entity_id, attribute, value_type, num, text, observed, modified in rows:
            value = _number(value_of(value_type, num, text))
            # An NGSI-LD write without observedAt is dated by when it was made.
            when = observed or modified
            if value is None or when is None:
                continue
            reading = (value, when)
            if attribute == ENTRIES:
                feeds[entity_id].entries = reading
            else:
                feeds[entity_id].exits = reading


def _read_spots(session: Session, feeds: dict[str, LotFeed], codes: Sequence[str] | None) -> None:
    by_code = {f.code: f for f in feeds.values() if f.detection == SPOTS}
    if not by_code:
        return
    a = Attribute
    stmt = select(
        a.entity_id, a.value_type, a.num_value, a.text_value, a.observed_at, a.modified_at
    )
    stmt = stmt.where(a.attribute == SPOT_STATUS, a.dataset_id == "")
    if codes is not None and len(by_code) == 1:
        stmt = stmt.where(a.entity_id.like(f"{SPOT_PREFIX}{next(iter(by_code))}:%"))
    else:
        stmt = stmt.where(a.entity_id.like(f"{SPOT_PREFIX}%"))
    found: dict[str, dict[str, tuple[str, dt.datetime]]] = defaultdict(dict)
    for entity_id, value_type, num, text, observed, modified in session.execute(stmt):
        code = entity_id.removeprefix(SPOT_PREFIX).rpartition(":")[0]
        value = value_of(value_type, num, text)
        when = observed or modified
        if code in by_code and isinstance(value, str) and when is not None:
            found[code][entity_id] = (value, when)
    for code, statuses in found.items():
        by_code[code].spot_status = statuses
