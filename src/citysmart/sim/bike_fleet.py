"""The demo's bike stations: registered in the hub, their docks reporting as riders come and go.

The simulator is a device fleet, so it speaks only to the hub, as Eoulling's station
controllers would: each station is a ``BikeHireDockingStation`` entity (FIWARE Smart Data
Model: ``totalSlotNumber``, ``alternateName``) with one controller device that reports
``availableBikeNumber``, ``freeSlotNumber`` and ``status``. Riders are simulated from the
Seoul-shaped demand (``citysmart.sim.bikes``): each tick, pickups are drawn per station,
each ride ends 8-25 minutes later at a station drawn from the hour's return weights (the
next one with a free dock when that one is full), and every station whose count changed
reports. The trip history is written as the operator's CSV export into the bikes service's
import folder, as a back office would deliver it.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from citysmart.hub.models import Device
from citysmart.hub.registry import register_device, upsert_entity
from citysmart.hub.runtime import HubRuntime
from citysmart.hub.senml import Reading
from citysmart.sim.bikes import SEOUL_LABEL, BikeStationSite, demand_rates, sejong_stations

logger = logging.getLogger(__name__)
SEOUL_TZ = ZoneInfo("Asia/Seoul")
SITE_SOURCE = "demo layout drawn inside Sejong's KOSTAT boundaries (not Eoulling's real sites)"
STATION_TYPE = "BikeHireDockingStation"
# Where the bikes service picks up trip CSV files (see its trip_inbox module).
TRIP_INBOX = Path("bikes") / "trip-inbox"
HEARTBEAT_S = 300.0


def entity_id_of(code: str) -> str:
    """Return a station's entity URN."""
    return f"urn:ngsi-ld:{STATION_TYPE}:{code}"


def device_id_of(code: str) -> str:
    """Return the id of a station controller's device."""
    return f"bike-dock-{code}"


def seed_bike_stations(runtime: HubRuntime, at: dt.datetime | None = None) -> list[BikeStationSite]:
    """Register the demo's 492 stations in the hub and report their starting bikes."""
    sites = sejong_stations()
    with runtime.sessions.begin() as session:
        for site in sites:
            location = {"type": "Point", "coordinates": [site.lon, site.lat]}
            properties = {
                "alternateName": site.name_en,
                "totalSlotNumber": site.capacity,
                "dataSource": SITE_SOURCE,
            }
            upsert_entity(
                session, entity_id_of(site.station_id), STATION_TYPE, site.name, properties,
                location,
            )  # fmt: skip
            if session.get(Device, device_id_of(site.station_id)) is None:
                register_device(
                    session, device_id_of(site.station_id), entity_id_of(site.station_id),
                    STATION_TYPE, actor="demo",
                )  # fmt: skip
    when = at or dt.datetime.now(dt.UTC)
    for site in sites:
        report(runtime, site, site.bikes, when)
    return sites


def report(runtime: HubRuntime, site: BikeStationSite, bikes: int, at: dt.datetime) -> None:
    """Store a station controller's report of its bikes and free docks."""
    micros = round(at.timestamp() * 1_000_000)
    readings = [
        Reading("availableBikeNumber", micros, float(bikes), None, "n", "count"),
        Reading("freeSlotNumber", micros, float(site.capacity - bikes), None, "n", "count"),
        Reading("status", micros, None, "working", "s", None),
    ]
    runtime.ingestor.store_readings(
        entity_id_of(site.station_id), device_id_of(site.station_id), readings
    )


def write_trip_history(
    sites: list[BikeStationSite], path: Path, end: dt.datetime, days: int = 28, seed: int = 2018
) -> int:
    """Write ``days`` of trips before ``end`` as the operator's CSV export would; return rows.

    Pickups per station and hour are Poisson draws of the Seoul-shaped demand; each ride
    ends at a station drawn from the hour's return weights, 8-25 minutes later.
    """
    rng = np.random.default_rng(seed)
    first = (end.astimezone(SEOUL_TZ) - dt.timedelta(days=days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rows = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["bike_id", "start_station", "start_time", "end_station", "end_time"])
        hours = int((end - first) / dt.timedelta(hours=1)) + 1  # through the current hour
        for hour in range(hours):
            began_hour = first + dt.timedelta(hours=hour)
            pickups, returns = demand_rates(sites, began_hour, 1)
            weights = returns[:, 0] + 1e-9
            counts = rng.poisson(pickups[:, 0])
            for origin in np.flatnonzero(counts):
                for _ in range(int(counts[origin])):
                    began = began_hour + dt.timedelta(seconds=float(rng.uniform(0, 3600)))
                    ended = began + dt.timedelta(minutes=float(rng.uniform(8, 25)))
                    if ended >= end:
                        continue
                    dest = int(rng.choice(len(sites), p=weights / weights.sum()))
                    bike = f"EB-{int(rng.integers(1, 2226)):04d}"
                    out.writerow([bike, sites[origin].station_id, began.isoformat(),
                                  sites[dest].station_id, ended.isoformat()])  # fmt: skip
                    rows += 1
    partial.replace(path)  # the service never sees a half-written file
    return rows


def drop_trip_history(sites: list[BikeStationSite], data_dir: Path) -> Path | None:
    """Put four weeks of trips in the service's import folder, once; return the file."""
    marker = data_dir / TRIP_INBOX.parent / "demo-history-delivered"
    if marker.exists():
        return None
    path = data_dir / TRIP_INBOX / "demo-trips.csv"
    write_trip_history(sites, path, dt.datetime.now(dt.UTC))
    marker.write_text("the demo's trip history was delivered once\n", encoding="utf-8")
    return path


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
        self.last_report = np.full(len(sites), dt.datetime.now(dt.UTC).timestamp())
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
        # A controller reports on every change and, like real ones, every few minutes anyway
        # (a heartbeat), so a quiet station is not taken for a silent one.
        due = (self.bikes != before) | (self.last_report <= now.timestamp() - HEARTBEAT_S)
        reporting = np.flatnonzero(due)
        for index in reporting:
            report(self.runtime, self.sites[index], int(self.bikes[index]), now)
        self.last_report[reporting] = now.timestamp()
        return len(reporting)

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


def bike_lines(sites: list[BikeStationSite], trips: Path | None) -> list[str]:
    """Say plainly what the demo's bike network is."""
    history = "four weeks of trip history delivered" if trips else "trip history kept"
    return [
        f"  Public bikes: {len(sites)} stations, {sum(s.bikes for s in sites)} bikes "
        f"({sum(s.capacity for s in sites)} docks); {SITE_SOURCE};",
        f"  riders follow {SEOUL_LABEL} ({history}). GBFS feeds: /gbfs/gbfs.json",
    ]
