"""Registered devices as FIWARE Smart Data Models ``Device`` entities in the NGSI-LD view.

The registry keeps what authenticates a device (its key hash, in ``device``); the city
also wants to find its sensors through NGSI-LD like anything else. Each device therefore
has an entity ``urn:ngsi-ld:Device:<device id>`` of type ``Device`` (dataModel.Device)
with ``controlledAsset`` (a Relationship to the entity it reports for), ``deviceState``
(``active`` or ``revoked``) and ``name``. The registry writes it when a device is
registered or revoked; readings stay on the asset's entity, as in Smart Data Models.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy.orm import Session

from citysmart.hub.models import Device
from citysmart.hub.ngsi_ld import entity_ops
from citysmart.hub.ngsi_ld.codec import expanded_name, expanded_type
from citysmart.hub.ngsi_ld.model import AttributeInstance, EntityFragment, Kind

DEVICE_TYPE: Final = "Device"


def device_entity_id(device_id: str) -> str:
    """Return the NGSI-LD id of a device's entity."""
    return f"urn:ngsi-ld:Device:{device_id}"


def device_entity(device: Device) -> EntityFragment:
    """Return the Smart Data Models Device entity of a registered device (names expanded)."""
    return EntityFragment(
        id=device_entity_id(device.id),
        types=(expanded_type(DEVICE_TYPE),),
        attributes=(
            AttributeInstance(name=expanded_name("name"), kind=Kind.PROPERTY, value=device.id),
            AttributeInstance(
                name=expanded_name("controlledAsset"),
                kind=Kind.RELATIONSHIP,
                value=device.entity_id,
            ),
            AttributeInstance(
                name=expanded_name("deviceState"), kind=Kind.PROPERTY, value=device.status
            ),
        ),
    )


def sync_device_entity(session: Session, device: Device, now: dt.datetime) -> None:
    """Create or update a device's entity to match the registry."""
    entity = device_entity(device)
    assert entity.id is not None
    current = entity_ops.load(session, entity.id)
    written = entity_ops.upsert(entity_ops.Rules(now=now), entity, current, replace_existing=False)
    entity_ops.save(session, written, now)


__all__ = ["DEVICE_TYPE", "device_entity", "device_entity_id", "sync_device_entity"]
