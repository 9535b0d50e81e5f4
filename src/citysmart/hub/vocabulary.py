"""What readings may say: the units the hub accepts and each attribute's physical range."""

from __future__ import annotations

from dataclasses import dataclass

# SenML units (RFC 8428 section 12.1 and the IANA SenML Units registry) the services use.
UNITS: frozenset[str] = frozenset(
    {
        "ug/m3",
        "mg/m3",
        "%RH",
        "Cel",
        "K",
        "%",
        "/",
        "count",
        "m",
        "mm",
        "cm",
        "km",
        "m/s",
        "km/h",
        "V",
        "A",
        "W",
        "kW",
        "Wh",
        "kWh",
        "VA",
        "var",
        "Hz",
        "ppm",
        "ppb",
        "Pa",
        "hPa",
        "kPa",
        "bar",
        "mmHg",
        "mg/dL",
        "mmol/L",
        "kg",
        "g",
        "s",
        "min",
        "h",
        "d",
        "beat/min",
        "beats",
        "lx",
        "dB",
        "dBW",
        "dBm",
        "rad",
        "deg",
        "lat",
        "lon",
        "m3",
        "l",
        "l/s",
        "m3/s",
        "mm/h",
        "W/m2",
        "S/m",
        "pH",
        "ohm",
        "1/min",
        "J",
    }
)


@dataclass(frozen=True, slots=True)
class AttributeRule:
    """The units an attribute may carry (the first is assumed when none is sent) and its range."""

    units: tuple[str, ...]
    minimum: float | None = None
    maximum: float | None = None


def _rule(units: str, minimum: float | None = None, maximum: float | None = None) -> AttributeRule:
    return AttributeRule(tuple(units.split()), minimum, maximum)


# Ranges are physical limits (the sensor or the world cannot produce more), not alert levels:
# a PM reading cannot be negative, a relative humidity cannot exceed 100 %.
ATTRIBUTE_RULES: dict[str, AttributeRule] = {
    "pm10": _rule("ug/m3", 0, 5000),
    "pm25": _rule("ug/m3", 0, 5000),
    "pm1": _rule("ug/m3", 0, 5000),
    "temperature": _rule("Cel", -60, 80),
    "relativeHumidity": _rule("%RH %", 0, 100),
    "humidity": _rule("%RH %", 0, 100),
    "soilMoisture": _rule("%", 0, 100),
    "atmosphericPressure": _rule("Pa hPa kPa", 0, 200000),
    "windSpeed": _rule("m/s km/h", 0, 150),
    "windDirection": _rule("deg rad", 0, 360),
    "precipitation": _rule("mm mm/h", 0, 1000),
    "co2": _rule("ppm", 0, 100000),
    "no2": _rule("ppm ppb ug/m3", 0, None),
    "o3": _rule("ppm ppb ug/m3", 0, None),
    "co": _rule("ppm ppb mg/m3", 0, None),
    "so2": _rule("ppm ppb ug/m3", 0, None),
    "availableBikeNumber": _rule("count", 0, None),
    "freeSlotNumber": _rule("count", 0, None),
    "availableSpotNumber": _rule("count", 0, None),
    "occupiedSpotNumber": _rule("count", 0, None),
    "occupancy": _rule("% /", 0, 100),
    "waterLevel": _rule("m mm cm", None, None),
    "voltage": _rule("V", None, None),
    "current": _rule("A", None, None),
    "power": _rule("W kW", None, None),
    "bloodPressureSystolic": _rule("mmHg", 0, 350),
    "bloodPressureDiastolic": _rule("mmHg", 0, 250),
    "bloodGlucose": _rule("mg/dL mmol/L", 0, 2000),
    "heartRate": _rule("beat/min 1/min", 0, 350),
    "bodyWeight": _rule("kg", 0, 500),
    "batteryLevel": _rule("% /", 0, 100),
}
