"""Sejong's real geography for the demo: KOSTAT boundaries and AirKorea station sites."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from typing import Any

from citysmart.core.geo import random_points_in
from citysmart.core.paths import data_dir

# The nine areas of the fine-dust pilot: the seven new-town dongs, Jochiwon-eup and
# Bugang-myeon (the task names Hansol, Areum, Jochiwon and Bugang among them).
PILOT_AREA_CODES = (
    "2901011",
    "2901033",
    "2901053",
    "2901056",
    "2901058",
    "2901059",
    "2901060",
    "2901061",
    "2901062",
)
SENSORS_PER_AREA = 10


@dataclass(frozen=True, slots=True)
class Area:
    """An eup, myeon or dong."""

    code: str
    name: str
    name_eng: str
    geometry: dict[str, Any]

    @property
    def entity_id(self) -> str:
        """The area's URN."""
        return f"urn:ngsi-ld:AdministrativeArea:kostat-{self.code}"


@dataclass(frozen=True, slots=True)
class Site:
    """Where a (simulated) device stands."""

    device_id: str
    entity_id: str
    name: str
    lon: float
    lat: float
    area_code: str | None
    reference: bool


def load_areas() -> list[Area]:
    """Return Sejong's 17 eup/myeon/dong with their polygons (KOSTAT 2018)."""
    path = data_dir() / "sejong-admin-boundaries" / "sejong_emd_2018.geojson"
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return [
        Area(
            f["properties"]["code"],
            f["properties"]["name"],
            f["properties"]["name_eng"],
            f["geometry"],
        )
        for f in features
    ]


def reference_sites() -> list[Site]:
    """Return Sejong's six AirKorea stations (real locations)."""
    path = data_dir() / "airkorea-stations" / "airkorea_stations_sejong.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    sites = []
    for number, row in enumerate(rows, start=1):
        device_id = f"airkorea-{number:02d}"
        sites.append(
            Site(
                device_id,
                f"urn:ngsi-ld:AirQualityObserved:{device_id}",
                f"AirKorea {row['stationName']} ({row['mangName']})",
                float(row["dmY"]),
                float(row["dmX"]),
                None,
                True,
            )
        )
    return sites


def iot_sites(areas: list[Area], seed: int = 2020) -> list[Site]:
    """Place ten low-cost sensors in each pilot area, at random points inside it."""
    rng = random.Random(seed)
    sites = []
    for area in areas:
        if area.code not in PILOT_AREA_CODES:
            continue
        points = random_points_in(area.geometry["coordinates"], SENSORS_PER_AREA, rng)
        for number, (lon, lat) in enumerate(points, start=1):
            device_id = f"iot-{area.code}-{number:02d}"
            sites.append(
                Site(
                    device_id,
                    f"urn:ngsi-ld:AirQualityObserved:{device_id}",
                    f"{area.name} sensor {number}",
                    lon,
                    lat,
                    area.code,
                    False,
                )
            )
    return sites
