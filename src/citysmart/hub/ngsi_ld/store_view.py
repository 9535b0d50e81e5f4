"""Read the hub's tables as NGSI-LD entities: an ``entity`` row and its ``latest_value`` rows.

The store keeps short names (``AirQualityObserved``, ``pm10``); here they become terms of
the NGSI-LD core context's default vocabulary (``.../default-context/pm10``), so the
result is an expanded :class:`~citysmart.hub.ngsi_ld.model.EntityFragment` that the API
compacts with the client's @context.

Until the ``attribute`` table of docs/ngsi-ld.md exists, an attribute's ``createdAt`` and
``modifiedAt`` are both its reading's ``observed_at`` (the store keeps no other time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from citysmart.hub.models import Entity, LatestValue
from citysmart.hub.ngsi_ld.context import core_context
from citysmart.hub.ngsi_ld.model import AttributeInstance, EntityFragment, Kind, is_geometry
from citysmart.hub.queries import value_of

# SenML unit (RFC 8428, IANA SenML Units) -> UN/CEFACT Recommendation 20 common code.
UNIT_CODES: Final[Mapping[str, str]] = {
    "ug/m3": "GQ",  # microgram per cubic metre
    "mg/m3": "GP",  # milligram per cubic metre
    "Cel": "CEL",
    "K": "KEL",
    "%RH": "P1",  # percent
    "%": "P1",
    "ppm": "59",  # part per million
    "ppb": "61",  # part per billion
    "Pa": "PAL",
    "hPa": "A97",
    "kPa": "KPA",
    "bar": "BAR",
    "mmHg": "HN",  # millimetre of mercury
    "m": "MTR",
    "mm": "MMT",
    "cm": "CMT",
    "km": "KMT",
    "m/s": "MTS",
    "km/h": "KMH",
    "V": "VLT",
    "A": "AMP",
    "W": "WTT",
    "kW": "KWT",
    "Wh": "WHR",
    "kWh": "KWH",
    "Hz": "HTZ",
    "kg": "KGM",
}


def unit_code(unit: str | None) -> str | None:
    """Return the UN/CEFACT code of a SenML unit, or ``None`` (``count``, unknown units)."""
    return None if unit is None else UNIT_CODES.get(unit)


def expand_name(name: str) -> str:
    """Expand a stored short name (type or attribute) with the core context."""
    return core_context().expand_term(name)


def _property(name: str, value: Any, **extra: Any) -> AttributeInstance:
    kind = Kind.GEO_PROPERTY if name == "location" and is_geometry(value) else Kind.PROPERTY
    return AttributeInstance(name=expand_name(name), kind=kind, value=value, **extra)


def entity_fragment(entity: Entity, latest: Iterable[LatestValue]) -> EntityFragment:
    """Turn an ``entity`` row and its latest values into an expanded NGSI-LD entity."""
    attributes: list[AttributeInstance] = []
    if entity.name is not None:
        attributes.append(_property("name", entity.name))
    if entity.location is not None:
        attributes.append(_property("location", entity.location))
    for key, value in sorted((entity.properties or {}).items()):
        if key not in ("name", "location") and value is not None:
            attributes.append(_property(key, value))
    seen = {a.name for a in attributes}
    for row in sorted(latest, key=lambda r: r.attribute):
        name = expand_name(row.attribute)
        if name in seen:
            continue
        attributes.append(
            AttributeInstance(
                name=name,
                kind=Kind.PROPERTY,
                value=value_of(row.value_type, row.num_value, row.text_value),
                observed_at=row.observed_at,
                unit_code=unit_code(row.unit),
                created_at=row.observed_at,
                modified_at=row.observed_at,
            )
        )
    return EntityFragment(
        id=entity.id,
        types=(expand_name(entity.type),),
        attributes=tuple(attributes),
        created_at=entity.created_at,
        modified_at=entity.modified_at,
    )


__all__ = ["UNIT_CODES", "entity_fragment", "expand_name", "unit_code"]
