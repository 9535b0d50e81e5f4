"""The demo's bike stations: registered in the hub, their docks reporting as riders come and go.

Riders are simulated from the Seoul-shaped demand (``citysmart.sim.bikes``): each tick,
pickups are drawn per station, each ride ends 8-25 minutes later at a station drawn from
the hour's return weights (the next one with a free dock when that one is full), and every
station whose count changed reports through the hub as its controller would.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.simulation import SimStation, draw_trips
from citysmart.services.bikes.stations import StationSpec, register_stations, write_station_status
from citysmart.services.bikes.store import count_trips
from citysmart.services.bikes.trip_import import import_trips
from citysmart.sim.bikes import SEOUL_LABEL, BikeStationSite, demand_rates, sejong_stations

logger = logging.getLogger(__name__)
SEOUL_TZ = ZoneInfo("Asia/Seoul")
SITE_SOURCE = "demo layout drawn inside Sejong's KOSTAT boundaries (not Eoulling's real sites)"


def seed_bike_stations(runtime: HubRuntime, at: dt.datetime | None = None) -> list[BikeStationSite]:
    """Register the demo's 492 stations in the hub and report their starting bikes."""
    sites = sejong_stations()
    specs = [
        StationSpec(s.station_id, s.name, s.name_en, s.lon, s.lat, s.capacity, source=SITE_SOURCE)
        for s in sites
    ]
    register_stations(runtime, specs, actor="demo")
    for site in sites:
        write_station_status(
            runtime, site.station_id, site.bikes, site.capacity - site.bikes, at=at
        )
    return sites


def write_trip_history(
    sites: list[BikeStationSite], path: Path, end: dt.datetime, days: int = 28, seed: int = 2018
) -> int:
    """Write ``days`` of trips before ``end`` as the operator's CSV export would; return rows.

    The trips are drawn from the Seoul-shaped demand, so the demo's forecasts have a
    history to learn from.
    """
    rng = np.random.default_rng(seed)
    stations = [SimStation(s.station_id, s.lon, s.lat, s.capacity, s.bikes) for s in sites]
    first = (end.astimezone(SEOUL_TZ) - dt.timedelta(days=days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["bike_id", "start_station", "start_time", "end_station", "end_time"])
        for day in range(days):
            start = first + dt.timedelta(days=day)
            pickups, returns = demand_rates(sites, start, 24)
            for trip in draw_trips(stations, pickups, returns, rng):
                began = start + dt.timedelta(seconds=trip.time_s)
                ended = began + dt.timedelta(seconds=trip.duration_s)
                if ended >= end:
                    continue
                bike = f"EB-{int(rng.integers(1, 2226)):04d}"
                out.writerow([bike, sites[trip.origin].station_id, began.isoformat(),
                              sites[trip.destination].station_id, ended.isoformat()])  # fmt: skip
                rows += 1
    return rows


def seed_trip_history(runtime: HubRuntime, sites: list[BikeStationSite], folder: Path) -> int:
    """Import four weeks of demo trips unless trips are already stored; return trips stored."""
    with runtime.sessions() as session:
        if count_trips(session) > 0:
            return 0
    path = folder / "demo-trips.csv"
    write_trip_history(sites, path, dt.datetime.now(dt.UTC))
    return import_trips(runtime.sessions, path).stored


class BikeRiders:
    """Riders moving bikes between the demo's stations, reported through the hub."""

    def __init__(
        self, runtime: HubRuntime, sites: list[BikeStationSite], tick_s: float = 30.0
    ) -> None:
        """Start from the stations' starting bikes."""
        self.runtime = runtime
        self.sites = sites
        self.tick_s = tick_s
        self.bikes = np.array([s.bikes for s in sites])
        self.capacity = np.array([s.capacity for s in sites])
        self.riding: list[tuple[dt.datetime, int]] = []
        self.rng = np.random.default_rng(2225)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self, now: dt.datetime) -> int:
        """Advance one tick to ``now``; return how many stations reported."""
        local = now.astimezone(SEOUL_TZ).replace(minute=0, second=0, microsecond=0)
        pickups, returns = demand_rates(self.sites, local, 1)
        before = self.bikes.copy()
        arrived = [dest for when, dest in self.riding if when <= now]
        self.riding = [(when, dest) for when, dest in self.riding if when > now]
        for dest in arrived:
            if self.bikes[dest] >= self.capacity[dest]:
                free = np.flatnonzero(self.bikes < self.capacity)
                if free.size == 0:
                    continue
                dest = int(self.rng.choice(free))
            self.bikes[dest] += 1
        weights = returns[:, 0] + 1e-9
        weights = weights / weights.sum()
        counts = self.rng.poisson(pickups[:, 0] * self.tick_s / 3600.0)
        for origin in np.flatnonzero(counts):
            taken = min(int(counts[origin]), int(self.bikes[origin]))
            self.bikes[origin] -= taken
            for _ in range(taken):
                minutes = float(self.rng.uniform(8, 25))
                dest = int(self.rng.choice(len(self.sites), p=weights))
                self.riding.append((now + dt.timedelta(minutes=minutes), dest))
        changed = np.flatnonzero(self.bikes != before)
        for index in changed:
            held = int(self.bikes[index])
            write_station_status(
                self.runtime,
                self.sites[index].station_id,
                held,
                int(self.capacity[index]) - held,
                at=now,
            )
        return len(changed)

    def start(self) -> None:
        """Run the riders in a background thread until ``stop``."""

        def run() -> None:
            while not self._stop.wait(self.tick_s):
                try:
                    self.step(dt.datetime.now(dt.UTC))
                except Exception:  # a bad tick must not end the demo's riders
                    logger.exception("bike riders: a tick failed")

        self._thread = threading.Thread(target=run, name="bike-riders", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def bike_lines(sites: list[BikeStationSite], trips: int) -> list[str]:
    """Say plainly what the demo's bike network is."""
    history = f"{trips} trips of history imported" if trips else "trip history kept"
    return [
        f"  Public bikes: {len(sites)} stations, {sum(s.bikes for s in sites)} bikes "
        f"({sum(s.capacity for s in sites)} docks); {SITE_SOURCE};",
        f"  riders follow {SEOUL_LABEL} ({history}). GBFS feeds: /gbfs/gbfs.json",
    ]
