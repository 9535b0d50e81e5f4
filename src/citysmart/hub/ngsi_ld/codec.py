"""Map NGSI-LD attribute instances to and from the store's rows and JSON.

Stored names are compacted with the NGSI-LD core context (``pm10`` for
``https://uri.etsi.org/ngsi-ld/default-context/pm10``, the full IRI when no term fits), so
device ingest's short names and NGSI-LD's expanded ones meet in one table. A value goes in
the typed column that lets ``q`` use an index: numbers and booleans in ``num_value``,
strings (and a Relationship's object) in ``text_value``, anything else as JSON text.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from citysmart.hub.ngsi_ld.context import core_context
from citysmart.hub.ngsi_ld.model import AttributeInstance, Kind
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


# The core GeoProperties go by their short names in expanded entities (context_entity).
_CORE_GEO: Final = ("location", "observationSpace", "operationSpace")
_CORE_GEO_IRIS: Final = {"https://uri.etsi.org/ngsi-ld/" + n: n for n in _CORE_GEO}


def canonical_name(iri: str) -> str:
    """Return an expanded attribute name as expanded entities carry it."""
    return _CORE_GEO_IRIS.get(iri, iri)


@lru_cache(maxsize=4096)
def stored_name(iri: str) -> str:
    """Return the name the store keeps for an expanded attribute name."""
    return core_context().compact_iri(iri)


@lru_cache(maxsize=4096)
def stored_type(iri: str) -> str:
    """Return the name the store keeps for an expanded entity type."""
    return core_context().compact_type(iri)


@lru_cache(maxsize=4096)
def expanded_name(name: str) -> str:
    """Return the expanded attribute name of a stored one."""
    return canonical_name(core_context().expand_term(name))


@lru_cache(maxsize=4096)
def expanded_type(name: str) -> str:
    """Return the expanded entity type of a stored one."""
    return core_context().expand_type(name)


_FLOAT_LIMIT: Final = 10**308  # larger integers have no float: they are kept as JSON


def typed_value(value: Any) -> tuple[str, float | None, str | None]:
    """Return (value_type, num_value, text_value) for a JSON value."""
    if isinstance(value, bool):
        return "b", float(value), None
    if isinstance(value, int) and abs(value) < _FLOAT_LIMIT:
        # An integer keeps its digits in text_value (unused by numbers), so it reads back
        # as 121, not 121.0, and exactly past 2**53; comparisons use num_value as for floats.
        return "n", float(value), str(value)
    if isinstance(value, float):
        return "n", value, None
    if isinstance(value, str):
        return "s", None, value
    return "j", None, json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def bounding_box(geometry: Any) -> tuple[float, float, float, float] | None:
    """Return (min_lon, min_lat, max_lon, max_lat) of a GeoJSON geometry, or None."""
    lons: list[float] = []
    lats: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, list) and len(node) >= 2 and all(_is_number(c) for c in node[:2]):
            lons.append(float(node[0]))
            lats.append(float(node[1]))
        elif isinstance(node, list):
            for part in node:
                walk(part)

    if isinstance(geometry, Mapping):
        walk(geometry.get("coordinates"))
    return (min(lons), min(lats), max(lons), max(lats)) if lons else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def instance_meta(instance: AttributeInstance) -> dict[str, Any] | None:
    """Return what an instance has beyond its value and times, or None when nothing."""
    meta: dict[str, Any] = {}
    if instance.unit_code:
        meta["unitCode"] = instance.unit_code
    if instance.object_type:
        meta["objectType"] = list(instance.object_type)
    if instance.value_type:
        meta["valueType"] = instance.value_type
    if instance.sub_attributes:
        meta["subs"] = [encode_instance(s) for s in instance.sub_attributes]
    return meta or None


def encode_instance(instance: AttributeInstance) -> dict[str, Any]:
    """Return a sub-attribute as JSON the store keeps (names stay expanded)."""
    out: dict[str, Any] = {"name": instance.name, "kind": instance.kind.value}
    out["value"] = instance.value
    if instance.dataset_id is not None:
        out["datasetId"] = instance.dataset_id
    for key, when in (
        ("observedAt", instance.observed_at),
        ("createdAt", instance.created_at),
        ("modifiedAt", instance.modified_at),
    ):
        if when is not None:
            out[key] = when.isoformat()
    meta = instance_meta(instance)
    if meta:
        out.update(meta)
    return out


def decode_instance(data: Mapping[str, Any]) -> AttributeInstance:
    """Read back what :func:`encode_instance` wrote."""
    return AttributeInstance(
        name=data["name"],
        kind=Kind(data["kind"]),
        value=data.get("value"),
        dataset_id=data.get("datasetId"),
        observed_at=_time(data.get("observedAt")),
        created_at=_time(data.get("createdAt")),
        modified_at=_time(data.get("modifiedAt")),
        **decode_meta(data),
    )


def decode_meta(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the AttributeInstance fields held in a ``meta`` object."""
    if not meta:
        return {}
    return {
        "unit_code": meta.get("unitCode"),
        "object_type": tuple(meta.get("objectType") or ()),
        "value_type": meta.get("valueType"),
        "sub_attributes": tuple(decode_instance(s) for s in meta.get("subs") or ()),
    }


def _time(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def row_instance(row: Any, fallback_time: dt.datetime | None) -> AttributeInstance:
    """Turn an ``attribute`` or ``observation`` row into an expanded AttributeInstance."""
    fields = decode_meta(row.meta)
    if row.unit is not None:
        fields["unit_code"] = unit_code(row.unit) or fields.get("unit_code")
    kind = Kind(getattr(row, "kind", None) or (row.meta or {}).get("kind") or "Property")
    created = getattr(row, "created_at", None) or row.observed_at or fallback_time
    modified = getattr(row, "modified_at", None) or row.observed_at or created
    return AttributeInstance(
        name=expanded_name(row.attribute),
        kind=kind,
        value=value_of(row.value_type, row.num_value, row.text_value),
        dataset_id=row.dataset_id or None,
        observed_at=row.observed_at,
        created_at=created,
        modified_at=modified,
        **fields,
    )


__all__ = [
    "UNIT_CODES",
    "bounding_box",
    "canonical_name",
    "decode_instance",
    "decode_meta",
    "encode_instance",
    "expanded_name",
    "expanded_type",
    "instance_meta",
    "row_instance",
    "stored_name",
    "stored_type",
    "typed_value",
    "unit_code",
]
