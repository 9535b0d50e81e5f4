"""The demo's bike stations: registered in the hub, their docks reporting as riders come and go.

Riders are simulated from the Seoul-shaped demand (``citysmart.sim.bikes``): each tick,
pickups are drawn per station, each ride ends 8-25 minutes later at a station drawn from
the hour's return weights (the next one with a free dock when that one is full), and every
station whose count changed reports through the hub as its controller would.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from zoneinfo import ZoneInfo

import numpy as np

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.stations import StationSpec, register_stations, write_station_status
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


def bike_lines(sites: list[BikeStationSite]) -> list[str]:
    """Say plainly what the demo's bike network is."""
    return [
        f"  Public bikes: {len(sites)} stations, {sum(s.bikes for s in sites)} bikes "
        f"({sum(s.capacity for s in sites)} docks); {SITE_SOURCE};",
        f"  riders follow {SEOUL_LABEL}. GBFS feeds: /gbfs/gbfs.json",
    ]
