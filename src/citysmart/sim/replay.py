"""Replay real hourly air-quality series onto Sejong's sensor sites, for the demo.

The series are Beijing's (UCI "Beijing Multi-Site Air-Quality Data", 12 stations,
2016-03-01 to 2017-02-28, shipped in ``data/beijing-multisite-air-quality``): real
measurements, but of another city. Everything replayed is labelled :data:`REPLAY_LABEL`
in the hub (the entities' ``dataSource``), in the air API's ``source`` fields and in the
demo's console output.

- **Which station where.** Each of the nine pilot areas replays one Beijing station: the
  stations and the areas' centres are each scaled to a unit square and matched one to
  one so that the total distance is least (``scipy.optimize.linear_sum_assignment``),
  which keeps some of Beijing's spatial structure (neighbouring stations land in
  neighbouring areas). An AirKorea reference site replays the station of its area, or,
  outside the pilot areas, the station nearest its place in the unit square.
- **When.** Readings at Sejong time ``t`` take the hour of Beijing's year with the same
  month, day and hour (KST against Beijing's local clock): 2016 for March to December,
  2017 for January and February; 29 February uses 28 February. The year-old data is
  thereby shifted to "now", keeping the season and the time of day.
- **What each site sends.** A reference site sends the station's hourly PM10 and PM2.5
  as AirKorea publishes them (whole µg/m³). A low-cost sensor sends the same series as an
  optical sensor would read it: its own gain, more in humid air (hygroscopic growth,
  ``1 + k·h²/(1 − h)``), and noise (AR(1)); plus the station's temperature and relative
  humidity (from the dew point by the Magnus formula) with a little sensor noise. Those
  per-sensor effects are simulated; the levels and their course over time are Beijing's.
  An hour the station did not measure (about 2 % of them) replays its last measured hour
  (:func:`fill_gaps`), so that every device keeps reporting as the demo's devices do.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

from citysmart.core.paths import data_dir
from citysmart.sim.geography import PILOT_AREA_CODES, Area, Site

REPLAY_LABEL = "replayed from Beijing (UCI data set), not Sejong's readings"
SOURCE_URL = "https://archive.ics.uci.edu/dataset/501/beijing+multi+site+air+quality+data"
KST = dt.timezone(dt.timedelta(hours=9))
BEIJING = dt.timezone(dt.timedelta(hours=8))
FIRST_DAY = dt.datetime(2016, 3, 1, tzinfo=BEIJING)
HOURS = 365 * 24  # 2016-03-01 00:00 to 2017-02-28 23:00, Beijing local time
# Magnus formula constants over water (as in the air service's calibration module).
_MAGNUS_A, _MAGNUS_B = 17.625, 243.04


class ReplayError(ValueError):
    """The Beijing data cannot be replayed (missing folder, file or column)."""


@dataclass(frozen=True)
class Station:
    """One Beijing station's hourly series over the year (NaN where not measured)."""

    name: str
    lon: float
    lat: float
    pm25: np.ndarray
    pm10: np.ndarray
    temperature: np.ndarray
    humidity: np.ndarray


def fill_gaps(series: np.ndarray) -> np.ndarray:
    """Carry each measured value forward over the hours after it that were not measured.

    Hours before the first measurement take that first one; a series never measured
    stays missing.
    """
    values = np.asarray(series, dtype=np.float64)
    known = np.isfinite(values)
    if not known.any():
        return values.copy()
    last = np.maximum.accumulate(np.where(known, np.arange(len(values)), -1))
    first = int(np.argmax(known))
    filled: np.ndarray = values[np.where(last >= 0, last, first)]
    return filled


def beijing_folder() -> Path:
    """Return the folder of the shipped Beijing data."""
    return data_dir() / "beijing-multisite-air-quality"


def _number(text: str) -> float:
    text = text.strip()
    return math.nan if text in ("", "NA") else float(text)


def relative_humidity(temperature: np.ndarray, dewpoint: np.ndarray) -> np.ndarray:
    """Return RH (%) from temperature and dew point (°C), capped at 100."""
    ratio = _MAGNUS_A * dewpoint / (_MAGNUS_B + dewpoint) - _MAGNUS_A * temperature / (
        _MAGNUS_B + temperature
    )
    rh: np.ndarray = np.minimum(100.0 * np.exp(ratio), 100.0)
    return rh


def load_stations(folder: Path | None = None) -> list[Station]:
    """Read the 12 stations' hourly PM2.5, PM10, temperature and humidity, by name."""
    folder = folder or beijing_folder()
    coordinates_file = folder / "stations.csv"
    if not coordinates_file.is_file():
        raise ReplayError(f"{coordinates_file} not found")
    with coordinates_file.open(encoding="utf-8", newline="") as handle:
        where = {
            r["station"]: (float(r["longitude"]), float(r["latitude"]))
            for r in csv.DictReader(handle)
        }
    stations = []
    for path in sorted(folder.glob("PRSA_Data_*.csv")):
        series = np.full((4, HOURS), np.nan)
        dewpoint = np.full(HOURS, np.nan)
        name = ""
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    when = dt.datetime(
                        int(row["year"]), int(row["month"]), int(row["day"]), int(row["hour"]),
                        tzinfo=BEIJING,
                    )  # fmt: skip
                    index = int((when - FIRST_DAY).total_seconds() // 3600)
                    if 0 <= index < HOURS:
                        series[0, index] = _number(row["PM2.5"])
                        series[1, index] = _number(row["PM10"])
                        series[2, index] = _number(row["TEMP"])
                        dewpoint[index] = _number(row["DEWP"])
                    name = row["station"]
                except (KeyError, ValueError) as exc:
                    raise ReplayError(f"{path}: unreadable row ({exc})") from exc
        if name not in where:
            raise ReplayError(f"{path}: station {name!r} is not in stations.csv")
        with np.errstate(invalid="ignore"):
            series[3] = relative_humidity(series[2], dewpoint)
        lon, lat = where[name]
        filled = [fill_gaps(row) for row in series]
        stations.append(Station(name, lon, lat, *filled))
    if not stations:
        raise ReplayError(f"{folder}: no PRSA_Data_*.csv files")
    return stations


def replay_index(when: dt.datetime) -> int:
    """Return the hour of Beijing's year replayed at ``when`` (same month, day and hour).

    KST month-day-hour against Beijing's local clock; 2016 for March-December, 2017 for
    January-February; 29 February falls back to the 28th.
    """
    local = when.astimezone(KST)
    year = 2016 if local.month >= 3 else 2017
    day = 28 if (local.month, local.day) == (2, 29) else local.day
    source = dt.datetime(year, local.month, day, local.hour, tzinfo=BEIJING)
    return int((source - FIRST_DAY).total_seconds() // 3600)


def _unit(points: np.ndarray) -> np.ndarray:
    """Scale points into the unit square (each axis on its own)."""
    low, high = points.min(axis=0), points.max(axis=0)
    scaled: np.ndarray = (points - low) / np.where(high > low, high - low, 1.0)
    return scaled


def _centre(area: Area) -> tuple[float, float]:
    """Return the mean of an area's outer-ring vertices (enough to place it in the square)."""
    polygons = area.geometry["coordinates"]
    if area.geometry["type"] == "Polygon":
        polygons = [polygons]
    ring = np.array([p for polygon in polygons for p in polygon[0]], dtype=float)
    return float(ring[:, 0].mean()), float(ring[:, 1].mean())


def assign_stations(
    areas: Sequence[Area], sites: Sequence[Site], stations: Sequence[Station]
) -> dict[str, Station]:
    """Return the station each site replays, by device id (see the module)."""
    pilots = sorted((a for a in areas if a.code in PILOT_AREA_CODES), key=lambda a: a.code)
    if len(stations) < len(pilots):
        raise ReplayError(f"{len(stations)} stations for {len(pilots)} pilot areas")
    sejong = np.array([_centre(a) for a in areas])
    beijing = np.array([(s.lon, s.lat) for s in stations])
    low, high = sejong.min(axis=0), sejong.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    placed = {a.code: (np.array(_centre(a)) - low) / span for a in areas}
    unit_stations = _unit(beijing)
    cost = np.array([[np.hypot(*(placed[a.code] - s)) for s in unit_stations] for a in pilots])
    rows, columns = linear_sum_assignment(cost)
    by_area = {pilots[r].code: stations[c] for r, c in zip(rows, columns, strict=True)}
    chosen = {}
    for site in sites:
        if site.area_code in by_area:
            chosen[site.device_id] = by_area[site.area_code]
            continue
        area = _area_of(site, areas)
        if area is not None and area.code in by_area:
            chosen[site.device_id] = by_area[area.code]
            continue
        where = (np.array([site.lon, site.lat]) - low) / span
        nearest = int(np.argmin([np.hypot(*(where - s)) for s in unit_stations]))
        chosen[site.device_id] = stations[nearest]
    return chosen


def _area_of(site: Site, areas: Sequence[Area]) -> Area | None:
    from citysmart.core.geo import point_in_multipolygon

    for area in areas:
        polygons = area.geometry["coordinates"]
        if area.geometry["type"] == "Polygon":
            polygons = [polygons]
        if point_in_multipolygon(site.lon, site.lat, polygons):
            return area
    return None


@dataclass
class SensorEffects:
    """How one simulated low-cost sensor distorts what it measures (fixed per sensor)."""

    gain: float
    humid: float  # k in 1 + k·h²/(1 − h)
    rng: random.Random
    noise: float = 0.0
    noise_10: float = 0.0


def sensor_effects(device_id: str) -> SensorEffects:
    """Return a sensor's effects, the same every run (seeded by its id)."""
    rng = random.Random(f"replay-{device_id}")
    return SensorEffects(gain=rng.uniform(0.85, 1.35), humid=rng.uniform(0.04, 0.12), rng=rng)


def _growth(rh: float) -> float:
    h = min(max(rh, 0.0), 95.0) / 100.0
    return h * h / (1.0 - h)


@dataclass
class Replay:
    """The readings of every site at any instant: Beijing's series plus sensor effects."""

    stations: dict[str, Station]  # device id -> station
    effects: dict[str, SensorEffects] = field(default_factory=dict)

    def station_of(self, site: Site) -> Station:
        """Return the station a site replays."""
        return self.stations[site.device_id]

    def values(self, site: Site, when: dt.datetime) -> dict[str, float]:
        """Return one reading set of a site at ``when`` (PM left out where Beijing had none)."""
        station = self.stations[site.device_id]
        index = replay_index(when)
        pm25, pm10 = float(station.pm25[index]), float(station.pm10[index])
        out: dict[str, float] = {}
        if site.reference:
            if math.isfinite(pm10):
                out["pm10"] = float(round(pm10))
            if math.isfinite(pm25):
                out["pm25"] = float(round(pm25))
            return out
        effects = self.effects.get(site.device_id)
        if effects is None:
            effects = self.effects[site.device_id] = sensor_effects(site.device_id)
        rng = effects.rng
        temperature = float(station.temperature[index])
        rh = float(station.humidity[index])
        if math.isfinite(temperature):
            out["temperature"] = round(temperature + rng.gauss(0, 0.3), 1)
        humid = 1.0
        if math.isfinite(rh):
            sensed = min(100.0, max(5.0, rh + rng.gauss(0, 2.0)))
            out["relativeHumidity"] = round(sensed, 1)
            humid = 1.0 + effects.humid * _growth(sensed)
        effects.noise = 0.8 * effects.noise + rng.gauss(0, 1.0)
        effects.noise_10 = 0.8 * effects.noise_10 + rng.gauss(0, 1.0)
        if math.isfinite(pm25):
            read = pm25 * effects.gain * humid + effects.noise * (1.0 + 0.04 * pm25)
            out["pm25"] = round(max(0.0, read), 1)
        if math.isfinite(pm10):
            read = pm10 * effects.gain * humid + effects.noise_10 * (1.5 + 0.04 * pm10)
            out["pm10"] = round(max(0.0, read), 1)
        return out


def make_replay(areas: Sequence[Area], sites: Sequence[Site], folder: Path | None = None) -> Replay:
    """Load Beijing's data and assign a station to every site."""
    return Replay(assign_stations(areas, sites, load_stations(folder)))


__all__ = [
    "REPLAY_LABEL",
    "SOURCE_URL",
    "Replay",
    "ReplayError",
    "SensorEffects",
    "Station",
    "assign_stations",
    "fill_gaps",
    "load_stations",
    "make_replay",
    "relative_humidity",
    "replay_index",
    "sensor_effects",
]
