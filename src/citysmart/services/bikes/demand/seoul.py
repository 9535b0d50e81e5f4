"""Load the Seoul bike-sharing demand data set (UCI): Seoul's city-wide hourly rentals."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DATA_LABEL = (
    "Seoul Bike Sharing Demand (UCI): Seoul's city-wide hourly rentals with KMA weather, "
    "2017-12 to 2018-11 (Seoul's data, not Sejong's)"
)
SEOUL_TZ = ZoneInfo("Asia/Seoul")
_COLUMNS = {
    "date": "Date",
    "count": "Rented Bike Count",
    "hour": "Hour",
    "temperature": "Temperature(C)",
    "humidity": "Humidity(percentage)",
    "wind": "Wind speed (m/s)",
    "rain": "Rainfall(mm)",
    "snow": "Snowfall (cm)",
    "functioning": "Functioning Day",
}


class SeoulDataError(ValueError):
    """The Seoul demand file is missing, malformed or not on a gap-free hourly index."""


@dataclass(frozen=True)
class SeoulData:
    """City-wide hourly rentals and weather on a gap-free hourly index (Seoul local time)."""

    times: tuple[datetime, ...]  # aware, Asia/Seoul, one per hour
    counts: FloatArray  # rentals in the hour; NaN where the system was not functioning
    functioning: BoolArray  # False: system off ('Functioning Day' = No), nobody could rent
    temperature: FloatArray  # °C
    rain: FloatArray  # mm in the hour
    humidity: FloatArray  # %
    wind: FloatArray  # m/s
    snow: FloatArray  # cm

    @property
    def label(self) -> str:
        """Say whose data this is, for every output that shows it."""
        return DATA_LABEL

    def head(self, hours: int) -> SeoulData:
        """Return the first ``hours`` hours (for quick runs and tests)."""
        return SeoulData(
            times=self.times[:hours],
            counts=self.counts[:hours],
            functioning=self.functioning[:hours],
            temperature=self.temperature[:hours],
            rain=self.rain[:hours],
            humidity=self.humidity[:hours],
            wind=self.wind[:hours],
            snow=self.snow[:hours],
        )


def _parse_time(date_text: str, hour_text: str) -> datetime:
    """Parse ``day/month/year`` (leading zeros optional) and an hour 0-23 into Seoul time."""
    day, month, year = (int(part) for part in date_text.strip().split("/"))
    hour = int(hour_text)
    if not 0 <= hour <= 23:
        raise ValueError(f"hour {hour} outside 0-23")
    return datetime(year, month, day, hour, tzinfo=SEOUL_TZ)


def load_seoul(path: Path) -> SeoulData:
    """Read SeoulBikeData.csv; 'Functioning Day' = No hours get a NaN count (system off)."""
    if not path.is_file():
        raise SeoulDataError(f"{path} not found: expected the UCI SeoulBikeData.csv file")
    times: list[datetime] = []
    values: dict[str, list[float]] = {key: [] for key in _COLUMNS if key != "date"}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or ()
            missing = [name for name in _COLUMNS.values() if name not in header]
            if missing:
                raise SeoulDataError(
                    f"{path}: missing columns {', '.join(missing)}; is this SeoulBikeData.csv?"
                )
            for number, row in enumerate(reader, start=2):
                try:
                    times.append(_parse_time(row[_COLUMNS["date"]], row[_COLUMNS["hour"]]))
                    flag = row[_COLUMNS["functioning"]].strip()
                    if flag not in ("Yes", "No"):
                        raise ValueError(f"'Functioning Day' is {flag!r}, not Yes or No")
                    values["functioning"].append(1.0 if flag == "Yes" else 0.0)
                    for key in ("count", "temperature", "humidity", "wind", "rain", "snow"):
                        values[key].append(float(row[_COLUMNS[key]]))
                except (TypeError, ValueError, AttributeError) as exc:
                    raise SeoulDataError(f"{path}:{number}: bad row ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise SeoulDataError(f"{path}: not a UTF-8/ASCII CSV file ({exc})") from exc
    if len(times) < 24:
        raise SeoulDataError(f"{path}: {len(times)} data rows, need at least one day (24)")
    for previous, current in zip(times, times[1:], strict=False):
        if current - previous != timedelta(hours=1):
            raise SeoulDataError(
                f"{path}: hours not consecutive ({previous:%Y-%m-%d %H:00} then "
                f"{current:%Y-%m-%d %H:00}); the file must be one gap-free hourly series"
            )
    functioning = np.asarray(values["functioning"]) > 0.5
    counts = np.asarray(values["count"], dtype=np.float64)
    if np.any(counts < 0):
        raise SeoulDataError(f"{path}: negative rental counts")
    # Nobody can rent while the system is off: such an hour's 0 is no demand observation.
    counts = np.where(functioning, counts, np.nan)
    return SeoulData(
        times=tuple(times),
        counts=counts,
        functioning=functioning,
        temperature=np.asarray(values["temperature"], dtype=np.float64),
        rain=np.asarray(values["rain"], dtype=np.float64),
        humidity=np.asarray(values["humidity"], dtype=np.float64),
        wind=np.asarray(values["wind"], dtype=np.float64),
        snow=np.asarray(values["snow"], dtype=np.float64),
    )
