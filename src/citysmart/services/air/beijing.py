"""Load the Beijing multi-site air-quality data set (real data from Beijing, not Sejong)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DATA_LABEL = "Beijing multi-site air quality (UCI), 12 stations, 2016-03 to 2017-02: Beijing's data"
# The files do not state a time zone; Beijing local time (UTC+8) is implied (see SOURCE.md).
BEIJING_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_REQUIRED_COLUMNS = ("year", "month", "day", "hour", "PM2.5", "PM10", "station")


class BeijingDataError(ValueError):
    """The Beijing data folder is missing a file or holds something unexpected."""


@dataclass(frozen=True)
class BeijingData:
    """Hourly PM2.5 and PM10 of Beijing's stations on one common hourly index."""

    stations: tuple[str, ...]
    lon: FloatArray
    lat: FloatArray
    times: tuple[datetime, ...]
    pm25: FloatArray  # (hours, stations), NaN where missing
    pm10: FloatArray

    @property
    def label(self) -> str:
        """Say whose data this is, for every output that shows it."""
        return DATA_LABEL


def _float_or_nan(text: str) -> float:
    """Parse a value, the literal ``NA`` (or nothing) being missing."""
    text = text.strip()
    if text in ("", "NA"):
        return float("nan")
    return float(text)


def _read_coordinates(folder: Path) -> dict[str, tuple[float, float]]:
    """Read stations.csv: station name -> (longitude, latitude)."""
    path = folder / "stations.csv"
    if not path.is_file():
        raise BeijingDataError(f"{path} not found: the station coordinates are needed")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    coordinates: dict[str, tuple[float, float]] = {}
    for number, row in enumerate(rows, start=2):
        try:
            coordinates[row["station"]] = (float(row["longitude"]), float(row["latitude"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BeijingDataError(f"{path}:{number}: bad station row ({exc})") from exc
    return coordinates


def _read_station(path: Path) -> tuple[str, dict[datetime, tuple[float, float]]]:
    """Read one station's hourly file: its name and time -> (PM2.5, PM10)."""
    readings: dict[datetime, tuple[float, float]] = {}
    name = ""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise BeijingDataError(f"{path}: missing columns {', '.join(missing)}")
        for number, row in enumerate(reader, start=2):
            try:
                time = datetime(
                    int(row["year"]),
                    int(row["month"]),
                    int(row["day"]),
                    int(row["hour"]),
                    tzinfo=BEIJING_TZ,
                )
                readings[time] = (_float_or_nan(row["PM2.5"]), _float_or_nan(row["PM10"]))
            except ValueError as exc:
                raise BeijingDataError(f"{path}:{number}: {exc}") from exc
            name = row["station"]
    if not readings:
        raise BeijingDataError(f"{path}: no rows")
    return name, readings


def load_beijing(folder: Path, stations: tuple[str, ...] | None = None) -> BeijingData:
    """Load the hourly files of ``folder`` (all stations, or only ``stations``) onto one index."""
    if not folder.is_dir():
        raise BeijingDataError(f"{folder} is not a folder")
    coordinates = _read_coordinates(folder)
    files = sorted(folder.glob("PRSA_Data_*.csv"))
    if not files:
        raise BeijingDataError(f"{folder}: no PRSA_Data_*.csv files")
    series: dict[str, dict[datetime, tuple[float, float]]] = {}
    for path in files:
        name, readings = _read_station(path)
        if stations is not None and name not in stations:
            continue
        if name not in coordinates:
            raise BeijingDataError(f"{path}: station {name!r} is not in stations.csv")
        series[name] = readings
    if stations is not None and set(stations) - set(series):
        raise BeijingDataError(f"stations not found: {sorted(set(stations) - set(series))}")
    names = tuple(sorted(series))
    start = min(min(s) for s in series.values())
    end = max(max(s) for s in series.values())
    count = int((end - start) / timedelta(hours=1)) + 1
    times = tuple(start + timedelta(hours=k) for k in range(count))
    pm25 = np.full((count, len(names)), np.nan)
    pm10 = np.full((count, len(names)), np.nan)
    for column, name in enumerate(names):
        for time, (v25, v10) in series[name].items():
            row = int((time - start) / timedelta(hours=1))
            pm25[row, column] = v25
            pm10[row, column] = v10
    return BeijingData(
        stations=names,
        lon=np.array([coordinates[n][0] for n in names]),
        lat=np.array([coordinates[n][1] for n in names]),
        times=times,
        pm25=pm25,
        pm10=pm10,
    )
