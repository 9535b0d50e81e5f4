"""Open data: the AirQualityObserved attributes of an hour, the CSV and GeoJSON downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from citysmart.hub.ngsi_ld.codec import stored_name, stored_type
from citysmart.hub.ngsi_ld.model import AttributeInstance, Kind
from citysmart.services.air.grades import overall_grade
from citysmart.services.air.opendata import (
    COLUMNS,
    HOURLY_DATASET,
    ExportRow,
    air_quality_observed,
    export_csv,
    export_geojson,
)
from citysmart.services.air.pipeline import HourResult, SensorHour, SensorMeta

HOUR = dt.datetime(2026, 11, 25, 7, tzinfo=dt.UTC)
SENSOR = SensorMeta(
    id="urn:ngsi-ld:AirQualityObserved:iot-1",
    name="Dodam sensor 1",
    kind="lowcost",
    lon=127.25,
    lat=36.51,
    area_code="2901053",
    device_id="iot-1",
    source="replayed from Beijing (UCI data set), not Sejong's readings",
)


def row(variable: str, value: float | None, sufficient: bool = True) -> SensorHour:
    return SensorHour(
        sensor_id=SENSOR.id,
        variable=variable,
        hour=HOUR,
        raw=value,
        corrected=None,
        value=value if sufficient else None,
        count=6 if sufficient else 2,
        readings=6 if sufficient else 2,
        expected=6,
        capture=1.0 if sufficient else 1 / 3,
        sufficient=sufficient,
        flags={},
        last_at=HOUR + dt.timedelta(minutes=50),
    )


def by_name(attributes: tuple[AttributeInstance, ...]) -> dict[str, AttributeInstance]:
    return {stored_name(a.name): a for a in attributes}


def test_an_hour_becomes_smart_data_model_attributes() -> None:
    rows = (
        row("pm10", 42.04),
        row("pm25", 27.96),
        row("temperature", 3.2),
        row("relativeHumidity", 81.0),
    )
    graded = overall_grade(42.04, 27.96)
    assert graded is not None
    result = HourResult(HOUR, rows, {}, {SENSOR.id: graded})
    fragment = air_quality_observed(SENSOR, result, "도담동 (Dodam-dong)")
    assert fragment is not None
    assert fragment.id == SENSOR.id
    assert [stored_type(t) for t in fragment.types] == ["AirQualityObserved"]
    attributes = by_name(fragment.attributes)
    pm25 = attributes["pm25"]
    assert (pm25.value, pm25.dataset_id, pm25.observed_at, pm25.unit_code) == (
        28.0, HOURLY_DATASET, HOUR, "GQ",
    )  # fmt: skip
    assert attributes["relativeHumidity"].value == pytest.approx(0.81)
    assert attributes["relativeHumidity"].unit_code == "C62"
    assert attributes["temperature"].unit_code == "CEL"
    level = attributes["airQualityLevel"]
    assert (level.value, level.observed_at, level.dataset_id) == ("moderate", HOUR, None)
    assert attributes["airQualityIndex"].value == graded.index
    assert attributes["dateObserved"].value == "2026-11-25T07:00:00Z"
    assert attributes["refDevice"].kind is Kind.RELATIONSHIP
    assert attributes["refDevice"].value == "urn:ngsi-ld:Device:iot-1"
    assert attributes["areaServed"].value == "도담동 (Dodam-dong)"
    assert attributes["source"].value == SENSOR.source


def test_hours_short_of_capture_publish_no_value_and_no_grade() -> None:
    rows = (
        row("pm10", 42.0, sufficient=False),
        row("pm25", 28.0, sufficient=False),
        row("temperature", 3.0),
    )
    fragment = air_quality_observed(SENSOR, HourResult(HOUR, rows, {}, {}))
    assert fragment is not None
    names = set(by_name(fragment.attributes))
    assert {"pm10", "pm25", "airQualityLevel", "airQualityIndex"}.isdisjoint(names)
    assert "temperature" in names
    # Nothing at all from this sensor: nothing to publish.
    assert air_quality_observed(SENSOR, HourResult(HOUR, (), {}, {})) is None


def export_rows() -> list[ExportRow]:
    common = {
        "sensor_id": SENSOR.id, "name": SENSOR.name, "kind": "lowcost",
        "area_code": "2901053", "lon": 127.25, "lat": 36.51, "source": SENSOR.source,
    }  # fmt: skip
    return [
        ExportRow(
            hour=HOUR,
            values={"pm10": 42.04, "pm25": 27.96, "temperature": 3.2, "relativeHumidity": 81.0},
            raw={"pm10": 50.0, "pm25": 33.3},
            capture={"pm10": 1.0, "pm25": 1.0},
            **common,  # type: ignore[arg-type]
        ),
        ExportRow(
            hour=HOUR + dt.timedelta(hours=1),
            values={"pm10": None, "pm25": None},
            raw={"pm10": None, "pm25": None},
            capture={"pm10": 0.5, "pm25": 0.5},
            **common,  # type: ignore[arg-type]
        ),
    ]


def test_csv_download() -> None:
    text = export_csv(export_rows())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert rows[0]["hour"] == "2026-11-25T07:00:00Z"
    assert (rows[0]["pm25"], rows[0]["pm25_raw"], rows[0]["relative_humidity"]) == (
        "28.0",
        "33.3",
        "81.0",
    )
    assert rows[1]["pm25"] == ""
    assert rows[1]["pm25_capture"] == "0.5"
    assert rows[1]["source"] == SENSOR.source
    assert export_csv([]).strip() == ",".join(COLUMNS)


def test_geojson_download() -> None:
    start, end = HOUR, HOUR + dt.timedelta(hours=2)
    body = export_geojson(export_rows(), start, end)
    assert body["type"] == "FeatureCollection"
    assert body["period"] == {"start": "2026-11-25T07:00:00Z", "end": "2026-11-25T09:00:00Z"}
    assert body["sources"] == [SENSOR.source]
    first, second = body["features"]
    assert first["geometry"] == {"type": "Point", "coordinates": [127.25, 36.51]}
    assert first["properties"]["pm10"] == 42.0
    assert second["properties"]["pm10"] is None
    assert first["id"] != second["id"]
