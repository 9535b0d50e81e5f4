"""GBFS v3.0 feeds built from plain data: no database, no HTTP.

Each builder returns one feed document (``last_updated``, ``ttl``, ``version`` "3.0",
``data``). Times are RFC 3339 with Seoul's offset (the system's time zone). Names are
GBFS v3 localized strings: a list of ``{"text", "language"}``, Korean then English.

A station's status is reported honestly when it is stale: GBFS asks that near-real-time
data be at most five minutes old, so a station that has not reported for
``stale_after`` keeps its true (old) ``last_reported`` and its last known counts, but
is reported as neither renting nor returning (``is_renting``/``is_returning`` false): a
rider must not walk to a station whose state nobody knows. A station that never
reported is listed with no bikes, not renting, ``last_reported`` at its registration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from citysmart.services.bikes.stations import StationState

VERSION: Final = "3.0"
SEOUL: Final = ZoneInfo("Asia/Seoul")
BIKE_TYPE: Final = "bike"
SCOOTER_TYPE: Final = "escooter"
# Feeds gbfs.json lists, in the order the spec lists them.
FEEDS: Final = (
    "system_information",
    "vehicle_types",
    "station_information",
    "station_status",
    "vehicle_status",
)
TTL: Final = {
    "gbfs": 3600,
    "system_information": 3600,
    "vehicle_types": 3600,
    "station_information": 300,
    "station_status": 60,
    "vehicle_status": 60,
}
DEFAULT_STALE_AFTER: Final = dt.timedelta(minutes=15)
# Statuses (FIWARE BikeHireDockingStation) under which a station rents and takes returns.
OPEN_STATUSES: Final = frozenset({"working", "full", "almostFull", "empty", "almostEmpty"})
Localized = list[dict[str, str]]


def localized(ko: str, en: str | None = None) -> Localized:
    """Return a GBFS localized string: Korean, then English when there is one."""
    out = [{"text": ko, "language": "ko"}]
    if en:
        out.append({"text": en, "language": "en"})
    return out


def rfc3339(when: dt.datetime) -> str:
    """Format an aware instant as RFC 3339 in Seoul time, to the second."""
    if when.tzinfo is None:
        raise ValueError("GBFS times must be timezone-aware")
    return when.astimezone(SEOUL).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """The facts system_information publishes."""

    system_id: str
    name_ko: str
    name_en: str
    operator_ko: str
    operator_en: str
    timezone: str
    opening_hours: str
    feed_contact_email: str
    url: str | None = None


# Sejong's public bike system. Opening hours are an assumption of the demo (24/7),
# and the contact address is configurable (CITYSMART_GBFS_CONTACT_EMAIL).
EOULLING: Final = SystemInfo(
    system_id="kr-sejong-eoulling",
    name_ko="어울링",
    name_en="Eoulling",
    operator_ko="세종특별자치시",
    operator_en="Sejong Special Self-Governing City",
    timezone="Asia/Seoul",
    opening_hours="24/7",
    feed_contact_email="opendata@citysmart.example.org",
)


@dataclass(frozen=True, slots=True)
class VehicleType:
    """A GBFS vehicle type (bikes at docks, dockless e-scooters)."""

    id: str
    form_factor: str
    propulsion_type: str
    name_ko: str
    name_en: str
    return_constraint: str
    max_range_meters: float | None = None
    max_permitted_speed: int | None = None


VEHICLE_TYPES: Final = (
    VehicleType(BIKE_TYPE, "bicycle", "human", "어울링 자전거", "Eoulling bike", "any_station"),
    # Korean law caps personal mobility devices at 25 km/h; the range is the scenario's.
    VehicleType(
        SCOOTER_TYPE,
        "scooter_standing",
        "electric",
        "전동킥보드",
        "E-scooter",
        "free_floating",
        max_range_meters=25_000.0,
        max_permitted_speed=25,
    ),
)


@dataclass(frozen=True, slots=True)
class ScooterState:
    """A dockless vehicle as vehicle_status publishes it (``public_id`` rotates per trip)."""

    public_id: str
    vehicle_type_id: str
    lon: float
    lat: float
    is_reserved: bool
    is_disabled: bool
    last_reported: dt.datetime
    fuel_percent: float | None


def envelope(feed: str, data: dict[str, Any], last_updated: dt.datetime) -> dict[str, Any]:
    """Wrap a feed's data with last_updated, ttl and version."""
    return {
        "last_updated": rfc3339(last_updated),
        "ttl": TTL[feed],
        "version": VERSION,
        "data": data,
    }


def gbfs_discovery(urls: Mapping[str, str], now: dt.datetime) -> dict[str, Any]:
    """Build gbfs.json: the feeds published, each with its absolute URL."""
    feeds = [{"name": "gbfs", "url": urls["gbfs"]}] if "gbfs" in urls else []
    feeds += [{"name": name, "url": urls[name]} for name in FEEDS if name in urls]
    return envelope("gbfs", {"feeds": feeds}, now)


def system_information(system: SystemInfo, now: dt.datetime) -> dict[str, Any]:
    """Build system_information.json."""
    data: dict[str, Any] = {
        "system_id": system.system_id,
        "languages": ["ko", "en"],
        "name": localized(system.name_ko, system.name_en),
        "operator": localized(system.operator_ko, system.operator_en),
        "opening_hours": system.opening_hours,
        "feed_contact_email": system.feed_contact_email,
        "timezone": system.timezone,
    }
    if system.url:
        data["url"] = system.url
    return envelope("system_information", data, now)


def vehicle_types(types: Sequence[VehicleType], now: dt.datetime) -> dict[str, Any]:
    """Build vehicle_types.json."""
    out = []
    for t in types:
        item: dict[str, Any] = {
            "vehicle_type_id": t.id,
            "form_factor": t.form_factor,
            "propulsion_type": t.propulsion_type,
            "name": localized(t.name_ko, t.name_en),
            "rider_capacity": 1,
            "wheel_count": 2,
            "return_constraint": t.return_constraint,
        }
        if t.max_range_meters is not None:
            item["max_range_meters"] = t.max_range_meters
        if t.max_permitted_speed is not None:
            item["max_permitted_speed"] = t.max_permitted_speed
        out.append(item)
    return envelope("vehicle_types", {"vehicle_types": out}, now)


def _located(stations: Sequence[StationState]) -> list[StationState]:
    # A station without a point cannot be placed on a map: GBFS requires lat and lon.
    return [s for s in stations if s.lon is not None and s.lat is not None]


def station_information(stations: Sequence[StationState], now: dt.datetime) -> dict[str, Any]:
    """Build station_information.json from the registered stations."""
    out = []
    for s in _located(stations):
        item: dict[str, Any] = {
            "station_id": s.code,
            "name": localized(s.name_ko, s.name_en),
            "lat": s.lat,
            "lon": s.lon,
            "is_virtual_station": False,
        }
        if s.address:
            item["address"] = s.address
        if s.capacity is not None:
            item["capacity"] = s.capacity
        out.append(item)
    return envelope("station_information", {"stations": out}, now)


def station_status_item(
    station: StationState, now: dt.datetime, stale_after: dt.timedelta
) -> dict[str, Any]:
    """Return one station's status entry (see the module docstring for stale stations)."""
    reported = station.last_reported
    fresh = reported is not None and now - reported <= stale_after
    status = station.status or "working"
    open_ = fresh and station.bikes is not None and status in OPEN_STATUSES
    bikes = station.bikes or 0
    item: dict[str, Any] = {
        "station_id": station.code,
        "num_vehicles_available": bikes,
        "vehicle_types_available": [{"vehicle_type_id": BIKE_TYPE, "count": bikes}],
        "is_installed": True,  # registered stations are on the street; outOfService too
        "is_renting": open_,
        "is_returning": open_,
        "last_reported": rfc3339(reported or station.registered_at or now),
    }
    if station.docks is not None:
        item["num_docks_available"] = station.docks
    elif station.capacity is not None and station.bikes is not None:
        item["num_docks_available"] = max(station.capacity - station.bikes, 0)
    return item


def station_status(
    stations: Sequence[StationState],
    now: dt.datetime,
    stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
) -> dict[str, Any]:
    """Build station_status.json from the stations' newest status in the hub."""
    items = [station_status_item(s, now, stale_after) for s in _located(stations)]
    return envelope("station_status", {"stations": items}, now)


def vehicle_status(
    vehicles: Sequence[ScooterState],
    types: Sequence[VehicleType],
    now: dt.datetime,
) -> dict[str, Any]:
    """Build vehicle_status.json from the dockless vehicles' last reports."""
    ranges = {t.id: t.max_range_meters for t in types}
    out = []
    for v in vehicles:
        item: dict[str, Any] = {
            "vehicle_id": v.public_id,
            "lat": v.lat,
            "lon": v.lon,
            "is_reserved": v.is_reserved,
            "is_disabled": v.is_disabled,
            "vehicle_type_id": v.vehicle_type_id,
            "last_reported": rfc3339(v.last_reported),
        }
        max_range = ranges.get(v.vehicle_type_id)
        if v.fuel_percent is not None:
            fuel = min(max(v.fuel_percent, 0.0), 1.0)
            item["current_fuel_percent"] = round(fuel, 3)
            if max_range is not None:
                item["current_range_meters"] = round(fuel * max_range, 1)
        elif max_range is not None:
            item["current_range_meters"] = 0.0  # unknown charge: promise no range
        out.append(item)
    return envelope("vehicle_status", {"vehicles": out}, now)
