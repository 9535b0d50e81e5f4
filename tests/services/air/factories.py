"""Plain functions that put air-service test data in place: sensors and their readings."""

from __future__ import annotations

import datetime as dt
import math
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import text

from citysmart.hub.registry import register_device, upsert_entity
from citysmart.hub.runtime import HubRuntime
from citysmart.hub.senml import Reading
from citysmart.services.air.areas import areas_by_code
from citysmart.services.air.models import AIR_TABLES

UNITS = {"pm10": "ug/m3", "pm25": "ug/m3", "temperature": "Cel", "relativeHumidity": "%RH"}
# A value of each variable at an instant (epoch seconds); NaN = not sent.
Signal = Callable[[float], dict[str, float]]


def clear_air_tables(runtime: HubRuntime) -> None:
    """Empty the air service's tables (the shared fixtures empty only the hub's)."""
    with runtime.engine.begin() as conn:
        for table in AIR_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))


def point_in(code: str, shift: float = 0.0) -> tuple[float, float]:
    """Return a point inside an area (shifted east by ``shift`` degrees, still inside)."""
    point = areas_by_code()[code].geometry.representative_point()
    return point.x + shift, point.y


def add_sensor(
    runtime: HubRuntime,
    name: str,
    code: str,
    *,
    reference: bool = False,
    shift: float = 0.0,
    interval_s: float = 600.0,
    source: str | None = None,
) -> tuple[str, str]:
    """Register a device and its AirQualityObserved entity; return (entity id, device id)."""
    entity_id = f"urn:ngsi-ld:AirQualityObserved:{name}"
    lon, lat = point_in(code, shift)
    properties: dict[str, Any] = {
        "reference": reference,
        "areaCode": code,
        "reportingIntervalS": interval_s,
    }
    if source:
        properties["dataSource"] = source
    with runtime.sessions.begin() as session:
        register_device(
            session,
            name,
            entity_id,
            "AirQualityObserved",
            location={"type": "Point", "coordinates": [lon, lat]},
            name=f"sensor {name}",
        )
        upsert_entity(session, entity_id, "AirQualityObserved", properties=properties)
    return entity_id, name


def steady(pm10: float, pm25: float, rh: float = 50.0) -> Signal:
    """Readings that wobble a little (never stuck) around fixed levels."""

    def signal(t: float) -> dict[str, float]:
        wobble = 0.4 * math.sin(t / 97.0)
        return {
            "pm10": round(pm10 + wobble, 2),
            "pm25": round(pm25 + wobble, 2),
            "temperature": round(5.0 + wobble, 2),
            "relativeHumidity": round(rh + wobble, 2),
        }

    return signal


def store_readings(
    runtime: HubRuntime,
    sensor: tuple[str, str],
    signal: Signal,
    start: dt.datetime,
    end: dt.datetime,
    step_s: float = 600.0,
) -> int:
    """Store a sensor's readings every ``step_s`` in ``[start, end)`` as the hub's ingest does."""
    entity_id, device_id = sensor
    readings = []
    t = start.timestamp()
    while t < end.timestamp():
        for name, value in signal(t).items():
            if not math.isnan(value):
                readings.append(Reading(name, round(t * 1e6), value, None, "n", UNITS[name]))
        t += step_s
    return runtime.ingestor.store_readings(entity_id, device_id, readings)


def decode_png(data: bytes) -> tuple[np.ndarray, list[tuple[int, int, int]], bytes]:
    """Decode an 8-bit indexed PNG (every CRC checked): indices, palette, alpha."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, bytes] = {}
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (8, 3)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8)
    rows = raw.reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()
    plte = chunks[b"PLTE"]
    colours = [tuple(plte[i : i + 3]) for i in range(0, len(plte), 3)]
    return rows[:, 1:], colours, chunks[b"tRNS"]  # type: ignore[return-value]
