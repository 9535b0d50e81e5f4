"""Open data: hourly means as FIWARE AirQualityObserved entities, CSV and GeoJSON.

**AirQualityObserved (Smart Data Models, dataModel.Environment).** Each sensor already
is an ``AirQualityObserved`` entity in the hub (its device's raw readings are its
default instances of ``pm10``, ``pm25``, ...). The hourly job adds to that same entity,
one per sensor:

- ``pm10``, ``pm25`` (µg/m³, unitCode ``GQ``), ``temperature`` (``CEL``) and
  ``relativeHumidity`` (a fraction 0-1 as the data model defines it, unitCode ``C62``)
  as instances with ``datasetId`` :data:`HOURLY_DATASET` and ``observedAt`` = the start
  of the hour: the hourly means (calibrated where a fit exists), next to the raw instances
  rather than over them; hours under 75 % capture are not published;
- ``airQualityIndex`` (the Korean CAI score of the worse pollutant), ``airQualityLevel``
  (its grade: good, moderate, unhealthy, very_unhealthy) and ``dateObserved`` (the hour's
  start), each with the same ``observedAt``;
- ``refDevice`` (Relationship to the device's ``Device`` entity), ``areaServed`` (the
  dong/eup/myeon), ``typeofLocation`` ("outdoor"), ``dataProvider`` and ``source``: what
  the readings are ("measured", "simulated", or a replay's label such as "replayed from
  Beijing (UCI data set), not Sejong's readings"), so no consumer mistakes them.

**CSV and GeoJSON** downloads hold one row (feature) per sensor and hour, PM values empty
where capture was under 75 %, and the same ``source`` label.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from citysmart.core.time import isoformat
from citysmart.hub.device_entities import device_entity_id
from citysmart.hub.ngsi_ld.codec import expanded_name, expanded_type
from citysmart.hub.ngsi_ld.model import AttributeInstance, EntityFragment, Kind
from citysmart.services.air.pipeline import HourResult, SensorMeta

HOURLY_DATASET: Final = "urn:ngsi-ld:Dataset:hourlyMean"
ENTITY_TYPE: Final = "AirQualityObserved"
DATA_PROVIDER: Final = "citysmart air service (hourly means of the hub's readings)"
_UNITS: Final = {"pm10": "GQ", "pm25": "GQ", "temperature": "CEL", "relativeHumidity": "C62"}
# Attributes written once and kept while unchanged (no history point each hour).
STATIC_ATTRIBUTES: Final = ("refDevice", "areaServed", "typeofLocation", "dataProvider", "source")


def _property(
    name: str,
    value: Any,
    observed_at: dt.datetime | None = None,
    dataset_id: str | None = None,
    unit_code: str | None = None,
) -> AttributeInstance:
    return AttributeInstance(
        name=expanded_name(name),
        kind=Kind.PROPERTY,
        value=value,
        dataset_id=dataset_id,
        observed_at=observed_at,
        unit_code=unit_code,
    )


def air_quality_observed(
    sensor: SensorMeta, result: HourResult, area_name: str | None = None
) -> EntityFragment | None:
    """Return the attributes one hour adds to a sensor's entity, or None if it has nothing."""
    hour = result.hour
    attributes: list[AttributeInstance] = []
    for row in result.sensors:
        if row.sensor_id != sensor.id or row.value is None or not row.sufficient:
            continue
        value = row.value / 100.0 if row.variable == "relativeHumidity" else row.value
        digits = 3 if row.variable == "relativeHumidity" else 1
        attributes.append(
            _property(
                row.variable, round(value, digits), hour, HOURLY_DATASET, _UNITS[row.variable]
            )
        )
    if not attributes:
        return None
    graded = result.grades.get(sensor.id)
    if graded is not None:
        attributes += [
            _property("airQualityIndex", graded.index, hour),
            _property("airQualityLevel", graded.key, hour),
        ]
    attributes.append(_property("dateObserved", isoformat(hour), hour))
    if sensor.device_id:
        attributes.append(
            AttributeInstance(
                name=expanded_name("refDevice"),
                kind=Kind.RELATIONSHIP,
                value=device_entity_id(sensor.device_id),
            )
        )
    if area_name:
        attributes.append(_property("areaServed", area_name))
    attributes += [
        _property("typeofLocation", "outdoor"),
        _property("dataProvider", DATA_PROVIDER),
        _property("source", sensor.source),
    ]
    return EntityFragment(
        id=sensor.id, types=(expanded_type(ENTITY_TYPE),), attributes=tuple(attributes)
    )


@dataclass(frozen=True)
class ExportRow:
    """One sensor's hour for the downloads (PM values None where capture was short)."""

    hour: dt.datetime
    sensor_id: str
    name: str
    kind: str
    area_code: str | None
    lon: float
    lat: float
    source: str
    values: Mapping[str, float | None]  # pm10, pm25, temperature, relativeHumidity
    raw: Mapping[str, float | None]  # uncorrected PM means
    capture: Mapping[str, float | None]  # share of expected readings, per variable


COLUMNS: Final = (
    "hour",
    "sensor_id",
    "name",
    "kind",
    "area_code",
    "lon",
    "lat",
    "pm10",
    "pm25",
    "pm10_raw",
    "pm25_raw",
    "pm10_capture",
    "pm25_capture",
    "temperature",
    "relative_humidity",
    "source",
)


def _cell(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def export_record(row: ExportRow) -> dict[str, Any]:
    """Return one row as the downloads give it (hours ISO 8601 UTC, µg/m³, °C, %)."""
    return {
        "hour": isoformat(row.hour),
        "sensor_id": row.sensor_id,
        "name": row.name,
        "kind": row.kind,
        "area_code": row.area_code,
        "lon": row.lon,
        "lat": row.lat,
        "pm10": _cell(row.values.get("pm10"), 1),
        "pm25": _cell(row.values.get("pm25"), 1),
        "pm10_raw": _cell(row.raw.get("pm10"), 1),
        "pm25_raw": _cell(row.raw.get("pm25"), 1),
        "pm10_capture": _cell(row.capture.get("pm10"), 3),
        "pm25_capture": _cell(row.capture.get("pm25"), 3),
        "temperature": _cell(row.values.get("temperature"), 1),
        "relative_humidity": _cell(row.values.get("relativeHumidity"), 1),
        "source": row.source,
    }


def export_csv(rows: Sequence[ExportRow]) -> str:
    """Return the rows as CSV with a header line (empty cells for missing values)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in export_record(row).items()})
    return out.getvalue()


def export_geojson(
    rows: Sequence[ExportRow], start: dt.datetime, end: dt.datetime
) -> dict[str, Any]:
    """Return the rows as a GeoJSON FeatureCollection of points, one per sensor and hour."""
    features = []
    for row in rows:
        record = export_record(row)
        features.append(
            {
                "type": "Feature",
                "id": f"{row.sensor_id}@{record['hour']}",
                "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
                "properties": {k: v for k, v in record.items() if k not in ("lon", "lat")},
            }
        )
    sources = sorted({row.source for row in rows})
    return {
        "type": "FeatureCollection",
        "period": {"start": isoformat(start), "end": isoformat(end)},
        "sources": sources,
        "features": features,
    }


__all__ = [
    "COLUMNS",
    "DATA_PROVIDER",
    "ENTITY_TYPE",
    "HOURLY_DATASET",
    "STATIC_ATTRIBUTES",
    "ExportRow",
    "air_quality_observed",
    "export_csv",
    "export_geojson",
    "export_record",
]
