"""Sejong's public-bike network for the demo: 492 stations, 2,225 bikes, demand from Seoul.

Eoulling's real station list is not public here, so the stations are drawn inside the
real KOSTAT boundaries, denser in the new town and in Jochiwon, with the counts of the
pilot (492 stations, 2,225 bikes). Demand patterns are learned from Seoul's hourly rentals
(UCI data set, 2017-2018): the city-wide rentals by hour of the week, scaled to Sejong's
fleet by rentals per bike. That is Seoul's behaviour on Sejong's map; the demo says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from shapely.geometry import Point, shape

from citysmart.core.paths import data_dir
from citysmart.sim.geography import load_areas

FloatArray = npt.NDArray[np.float64]
STATIONS = 492
BIKES = 2_225
TRUCKS = 4
STAFF = 10
SEOUL_LABEL = "demand patterns learned from Seoul's bike rentals (UCI data set), not Sejong's"
# Ttareungi had about 20,000 bikes in 2018 (Seoul Metropolitan Government); Sejong's riders
# are assumed to use a bike as often as Seoul's.
SEOUL_BIKES_2018 = 20_000
# Stations per area: the seven new-town dongs, Jochiwon, and the new-town quarters that
# the 2018 boundaries still count in Yeongi-myeon and Geumnam-myeon; a few in the villages.
STATIONS_PER_AREA = {
    "2901053": 55,  # Dodam-dong: the Government Complex
    "2901056": 35,  # Jongchon-dong
    "2901058": 60,  # Boram-dong: City Hall
    "2901059": 45,  # Areum-dong
    "2901060": 45,  # Goun-dong
    "2901061": 45,  # Hansol-dong
    "2901062": 45,  # Saerom-dong
    "2901011": 70,  # Jochiwon-eup
    "2901031": 30,  # Yeongi-myeon (new-town quarters 6-x)
    "2901034": 30,  # Geumnam-myeon (new-town quarters 4-x)
    "2901035": 8,
    "2901036": 8,
    "2901032": 6,
    "2901033": 6,
    "2901037": 2,
    "2901038": 2,
}
URBAN_AREAS = frozenset(list(STATIONS_PER_AREA)[:8])  # the new-town dongs and Jochiwon
NEW_TOWN_CENTRE = (127.262, 36.495)
# Where people ride to work in the morning: the Government Complex Sejong, City Hall,
# the BRT hub at Sejong Express Bus Terminal, Jochiwon station and Korea University Sejong.
WORKPLACES = ((127.2605, 36.5040), (127.2890, 36.4800), (127.2570, 36.4790),
              (127.2985, 36.6010), (127.2830, 36.6100))  # fmt: skip
WORK_RADIUS_M = 1200.0


@dataclass(frozen=True, slots=True)
class BikeStationSite:
    """A station of the demo network."""

    station_id: str
    name: str
    name_en: str
    lon: float
    lat: float
    area_code: str
    capacity: int
    bikes: int
    work: float  # 0..1: how much of a workplace the neighbourhood is


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance on the local plane (good to a few metres over a city)."""
    kx = 111_320.0 * math.cos(math.radians(36.5))
    return math.hypot((a[0] - b[0]) * kx, (a[1] - b[1]) * 110_540.0)


def sejong_stations(seed: int = 2020) -> list[BikeStationSite]:
    """Draw the demo's 492 stations inside Sejong's real boundaries (seeded)."""
    rng = np.random.default_rng(seed)
    areas = {a.code: a for a in load_areas()}
    sites: list[tuple[float, float, str, str, str]] = []
    for code, count in STATIONS_PER_AREA.items():
        area = areas[code]
        polygon = shape(area.geometry)
        west, south, east, north = polygon.bounds
        urban = code in URBAN_AREAS
        kept: list[tuple[float, float]] = []
        while len(kept) < count:
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            if not polygon.contains(Point(lon, lat)):
                continue
            if not urban:
                # Myeon stations sit where the new town spills over, not in the hills.
                near = _metres((lon, lat), NEW_TOWN_CENTRE)
                if rng.random() > math.exp(-max(near - 3000.0, 0.0) / 2500.0):
                    continue
            if any(_metres((lon, lat), other) < 150.0 for other in kept):
                continue  # stations are a short walk apart, not on top of each other
            kept.append((lon, lat))
        for lon, lat in kept:
            sites.append((lon, lat, code, area.name, area.name_eng))
    capacities = rng.integers(5, 14, size=len(sites))  # about two docks per bike
    share = capacities / capacities.sum()
    bikes = np.floor(share * BIKES).astype(int)
    for index in np.argsort(-(share * BIKES - bikes))[: BIKES - int(bikes.sum())]:
        bikes[index] += 1
    result = []
    for number, ((lon, lat, code, name, name_en), cap, held) in enumerate(
        zip(sites, capacities, bikes, strict=True), start=1
    ):
        nearest = min(_metres((lon, lat), w) for w in WORKPLACES)
        result.append(
            BikeStationSite(
                station_id=f"eoulling-{number:03d}",
                name=f"{name} {number:03d}",
                name_en=f"{name_en} {number:03d}",
                lon=round(float(lon), 6),
                lat=round(float(lat), 6),
                area_code=code,
                capacity=int(cap),
                bikes=int(min(held, cap)),
                work=round(math.exp(-nearest / WORK_RADIUS_M), 4),
            )
        )
    return result


@cache
def seoul_hour_of_week() -> FloatArray:
    """Seoul's mean city-wide rentals by hour of the week (Monday 00:00 first), 168 values."""
    path = data_dir() / "seoul-bike-sharing-demand" / "SeoulBikeData.csv"
    totals = np.zeros(168)
    counts = np.zeros(168)
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            if row[13] != "Yes":
                continue  # the system was off: no rentals could happen
            day = dt.datetime.strptime(row[0], "%d/%m/%Y").date()  # noqa: DTZ007 (a date)
            slot = day.weekday() * 24 + int(row[2])
            totals[slot] += float(row[1])
            counts[slot] += 1
    result: FloatArray = totals / np.maximum(counts, 1)
    return result


def demand_rates(
    stations: Sequence[BikeStationSite], start: dt.datetime, hours: int
) -> tuple[FloatArray, FloatArray]:
    """Return expected pickups and returns per station and hour from ``start`` (local time).

    The city-wide rate is Seoul's for that hour of the week, per bike, times Sejong's
    fleet. Mornings send riders from homes to workplaces, evenings back; the rest of the
    day mixes both.
    """
    profile = seoul_hour_of_week() * BIKES / SEOUL_BIKES_2018
    work = np.array([s.work for s in stations])
    size = np.array([s.capacity for s in stations], dtype=float)
    home_share = size * (1.0 - work) / (size * (1.0 - work)).sum()
    work_share = size * (0.15 + work) / (size * (0.15 + work)).sum()
    mixed = 0.5 * (home_share + work_share)
    pickups = np.zeros((len(stations), hours))
    returns = np.zeros((len(stations), hours))
    for h in range(hours):
        when = start + dt.timedelta(hours=h)
        total = profile[when.weekday() * 24 + when.hour]
        if when.weekday() < 5 and 6 <= when.hour <= 9:
            origin, destination = home_share, work_share
        elif when.weekday() < 5 and 17 <= when.hour <= 20:
            origin, destination = work_share, home_share
        else:
            origin, destination = mixed, mixed
        pickups[:, h] = total * origin
        returns[:, h] = total * destination
    return pickups, returns
