"""The entity and device registry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.core import audit
from citysmart.core.security import digest_secret, new_secret
from citysmart.core.time import utcnow
from citysmart.hub.device_entities import sync_device_entity
from citysmart.hub.models import Device, Entity
from citysmart.hub.ngsi_ld.entity_store import sync_registry_entity

_URN = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+$")
_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,127}$")
_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
GEOMETRY_TYPES = {
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
}


class RegistryError(ValueError):
    """A registry request that cannot be carried out, with a message that says why."""


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """A newly issued device key: shown once, stored only as a digest."""

    device_id: str
    key: str


def check_urn(entity_id: str) -> str:
    """Return the id if it is a URN (RFC 8141), else raise RegistryError."""
    if not _URN.match(entity_id):
        raise RegistryError(f"entity id {entity_id!r} is not a URN (e.g. urn:ngsi-ld:Type:id)")
    return entity_id


def check_location(location: Any) -> dict[str, Any] | None:
    """Validate a GeoJSON geometry (WGS84 lon/lat)."""
    if location is None:
        return None
    if not isinstance(location, dict) or location.get("type") not in GEOMETRY_TYPES:
        raise RegistryError("location must be a GeoJSON geometry (Point, Polygon, ...)")
    if "coordinates" not in location:
        raise RegistryError("location has no coordinates")
    if location["type"] == "Point":
        coords = location["coordinates"]
        if (
            not isinstance(coords, list)
            or len(coords) not in (2, 3)
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
        ):
            raise RegistryError("a Point's coordinates are [longitude, latitude]")
        lon, lat = coords[0], coords[1]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise RegistryError(f"point [{lon}, {lat}] is not a longitude/latitude pair")
    return location


def upsert_entity(
    session: Session,
    entity_id: str,
    entity_type: str,
    name: str | None = None,
    properties: dict[str, Any] | None = None,
    location: dict[str, Any] | None = None,
) -> Entity:
    """Create an entity, or update the type, name, properties and location of one."""
    check_urn(entity_id)
    if not _TYPE.match(entity_type):
        raise RegistryError(
            f"entity type {entity_type!r} must be a name such as AirQualityObserved"
        )
    location = check_location(location)
    entity = session.get(Entity, entity_id)
    if entity is None:
        entity = Entity(id=entity_id, type=entity_type, properties={})
        session.add(entity)
    elif entity.type != entity_type:
        raise RegistryError(f"entity {entity_id} already exists with type {entity.type}")
    if name is not None:
        entity.name = name
    if properties is not None:
        entity.properties = {**(entity.properties or {}), **properties}
    if location is not None:
        entity.location = location
    entity.modified_at = utcnow()
    sync_registry_entity(session, entity, entity.modified_at)
    return entity


def register_device(
    session: Session,
    device_id: str,
    entity_id: str,
    entity_type: str,
    actor: str = "cli",
    location: dict[str, Any] | None = None,
    name: str | None = None,
) -> DeviceKey:
    """Register a device for an entity (created if new) and issue its key."""
    if not _DEVICE_ID.match(device_id):
        raise RegistryError(
            f"device id {device_id!r}: use letters, digits, '_', '-' and '.' (max 128)"
        )
    if session.get(Device, device_id) is not None:
        raise RegistryError(f"device {device_id} is already registered (rotate its key instead)")
    upsert_entity(session, entity_id, entity_type, name=name, location=location)
    session.flush()  # the entity row must exist before the device row that refers to it
    key, key_hash, prefix = new_secret("csd")
    device = Device(
        id=device_id, entity_id=entity_id, key_hash=key_hash, key_prefix=prefix, status="active"
    )
    session.add(device)
    session.flush()
    sync_device_entity(session, device, utcnow())
    audit.record(session, actor, "device.key_created", device_id, entity=entity_id)
    return DeviceKey(device_id, key)


def rotate_device_key(session: Session, device_id: str, actor: str = "cli") -> DeviceKey:
    """Issue a new key for a device; the old key stops working at once."""
    device = _get_device(session, device_id)
    key, key_hash, prefix = new_secret("csd")
    device.key_hash, device.key_prefix, device.status = key_hash, prefix, "active"
    audit.record(session, actor, "device.key_rotated", device_id)
    return DeviceKey(device_id, key)


def revoke_device(session: Session, device_id: str, actor: str = "cli") -> Device:
    """Revoke a device's key: its readings are refused from now on."""
    device = _get_device(session, device_id)
    device.status = "revoked"
    sync_device_entity(session, device, utcnow())
    audit.record(session, actor, "device.key_revoked", device_id)
    return device


def find_device_by_key(session: Session, key: str) -> Device | None:
    """Return the device a key belongs to, if any."""
    return session.scalars(select(Device).where(Device.key_hash == digest_secret(key))).first()


def _get_device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise RegistryError(f"no device {device_id!r}")
    return device
