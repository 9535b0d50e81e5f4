"""A simulated (not measured) fine-dust and weather day, plausible for Sejong in late autumn.

Pure functions of time and a per-site state: a diurnal cycle with rush-hour peaks, an area
level, and AR(1) noise. Everything it produces is labelled as simulated in the demo.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

KST = dt.timezone(dt.timedelta(hours=9))
# Rough area levels (µg/m³ PM10): the old town and the industrial east a little higher.
AREA_LEVEL = {"2901011": 42.0, "2901033": 38.0}
DEFAULT_LEVEL = 32.0


@dataclass
class SiteState:
    """The slowly varying part of one site's simulated air."""

    level: float
    rng: random.Random
    noise: float = 0.0
    bias: float = field(default=0.0)


def new_state(area_code: str | None, seed: str) -> SiteState:
    """Return a site's initial state (deterministic per site)."""
    rng = random.Random(seed)
    level = AREA_LEVEL.get(area_code or "", DEFAULT_LEVEL) * rng.uniform(0.85, 1.15)
    return SiteState(level=level, rng=rng, bias=rng.uniform(-0.08, 0.12))


def _rush(hour: float) -> float:
    morning = math.exp(-((hour - 8.5) ** 2) / 2.0)
    evening = math.exp(-((hour - 20.0) ** 2) / 4.0)
    return 1.0 + 0.35 * morning + 0.3 * evening


def reading(state: SiteState, when: dt.datetime, reference: bool) -> dict[str, float]:
    """Return one simulated reading set (PM10, PM2.5, and weather for low-cost sensors)."""
    local = when.astimezone(KST)
    hour = local.hour + local.minute / 60
    state.noise = 0.9 * state.noise + state.rng.gauss(0, 2.5)
    pm10 = max(1.0, state.level * _rush(hour) + state.noise)
    pm25 = max(0.5, pm10 * state.rng.uniform(0.5, 0.6))
    if not reference:
        # Low-cost optical sensors read high in humid air; the bias is per sensor.
        pm10 *= 1 + state.bias
        pm25 *= 1 + state.bias
    values = {"pm10": round(pm10, 1), "pm25": round(pm25, 1)}
    if not reference:
        temperature = (
            7.0 + 5.5 * math.sin((hour - 9.0) / 24 * 2 * math.pi) + state.rng.gauss(0, 0.3)
        )
        humidity = min(99.0, max(20.0, 75 - 3.2 * (temperature - 7.0) + state.rng.gauss(0, 2)))
        values["temperature"] = round(temperature, 1)
        values["relativeHumidity"] = round(humidity, 1)
    return values


UNITS = {"pm10": "ug/m3", "pm25": "ug/m3", "temperature": "Cel", "relativeHumidity": "%RH"}


def senml_pack(
    device_id: str, values: dict[str, float], when: dt.datetime
) -> list[dict[str, object]]:
    """Encode one reading set as a SenML pack, the way a device sends it."""
    records: list[dict[str, object]] = []
    for index, (name, value) in enumerate(values.items()):
        record: dict[str, object] = {"n": name, "u": UNITS[name], "v": value}
        if index == 0:
            record = {"bn": f"urn:dev:{device_id}:", "bt": round(when.timestamp(), 3), **record}
        records.append(record)
    return records
