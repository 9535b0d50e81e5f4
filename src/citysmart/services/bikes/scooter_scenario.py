"""The e-scooter scenario on the city's own data: stations, trip history, areas.

Demand per station and hour is the mean of the same hour of the week over the stored
trips of the last four weeks; a weekday is simulated from the stations' current bikes with
no rebalancing, and the riders who found no bike are offered the scooters. Coverage uses
Sejong's areas weighted by the population figures given (a CSV of area code and
population), or by area when none are given, and the report says which.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from citysmart.core.admin_areas import load_admin_areas
from citysmart.services.bikes import store
from citysmart.services.bikes.gbfs import SCOOTER_TYPE
from citysmart.services.bikes.scooter_map import scenario_svg
from citysmart.services.bikes.scooters import (
    CoverageOutcome,
    LostTripOutcome,
    city_cells,
    coverage,
    serve_lost_trips,
)
from citysmart.services.bikes.simulation import SimStation, draw_trips, simulate_day
from citysmart.services.bikes.stations import read_stations
from citysmart.services.bikes.trip_counts import hourly_counts

SEOUL = ZoneInfo("Asia/Seoul")
WEEKS = 4


class ScenarioError(ValueError):
    """The scenario cannot run on these inputs, with the reason."""


@dataclass(frozen=True, slots=True)
class ScenarioReport:
    """The scenario's figures and its map."""

    day: dt.date
    stations: int
    trips: int
    lost: Sequence[LostTripOutcome]  # one per fleet size
    coverage: Sequence[CoverageOutcome]
    svg: str


def read_population(path: Path) -> dict[str, float]:
    """Read ``code,population`` rows (a header line first); refuse anything else, saying why."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror or exc}") from exc
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["code", "population"]:
        raise ScenarioError(f"{path}: the first line must be the header 'code,population'")
    population: dict[str, float] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            value = float(row[1])
        except (IndexError, ValueError) as exc:
            raise ScenarioError(f"{path} line {line}: population must be a number") from exc
        if not math.isfinite(value) or value < 0:
            raise ScenarioError(f"{path} line {line}: population must be >= 0")
        population[row[0].strip()] = value
    return population


def hour_of_week_rates(
    session: Session, codes: Sequence[str], day: dt.date
) -> tuple[np.ndarray, np.ndarray]:
    """Mean pickups and returns per station in each hour of ``day``'s weekday (last 4 weeks)."""
    start = dt.datetime.combine(day, dt.time(), SEOUL)
    pickups = np.zeros((len(codes), 24))
    returns = np.zeros((len(codes), 24))
    for week in range(1, WEEKS + 1):
        same_day = start - dt.timedelta(weeks=week)
        counts = hourly_counts(session, codes, same_day, same_day + dt.timedelta(days=1))
        for i, station in enumerate(counts.stations):
            pickups[i] += np.asarray(station.pickups) / WEEKS
            returns[i] += np.asarray(station.returns) / WEEKS
    return pickups, returns


def run_scenario(
    session: Session,
    fleet_sizes: Sequence[int],
    day: dt.date,
    population: dict[str, float] | None = None,
    seed: int = 2020,
) -> ScenarioReport:
    """Simulate ``day`` with no rebalancing and add each fleet of scooters."""
    if not fleet_sizes or any(n < 0 for n in fleet_sizes):
        raise ScenarioError("give one or more fleet sizes, each >= 0")
    states = [
        s for s in read_stations(session)
        if s.lon is not None and s.lat is not None and s.capacity
    ]  # fmt: skip
    if not states:
        raise ScenarioError("no station with a position and a capacity is registered")
    stations = [
        SimStation(s.code, float(s.lon or 0), float(s.lat or 0), int(s.capacity or 0),
                   min(int(s.bikes or 0), int(s.capacity or 0)))
        for s in states
    ]  # fmt: skip
    pickups, returns = hour_of_week_rates(session, [s.station_id for s in stations], day)
    if pickups.sum() == 0:
        raise ScenarioError(f"no stored trips in the {WEEKS} weeks before {day}: import some")
    rng = np.random.default_rng(seed)
    trips = draw_trips(stations, pickups, returns, rng)
    day_result = simulate_day(stations, trips)
    placement = pickups.sum(axis=1) + 1e-6  # operators leave scooters where riders start
    lost = [
        serve_lost_trips(stations, day_result.lost_trips, n, placement,
                         np.random.default_rng(seed + n))
        for n in fleet_sizes
    ]  # fmt: skip
    areas = load_admin_areas()
    cells = city_cells(areas, population)
    covered = [coverage(cells, stations, n) for n in fleet_sizes]
    title = f"{max(fleet_sizes)} e-scooters in Sejong / 세종 공유 킥보드 {max(fleet_sizes)}대"
    svg = scenario_svg(areas, stations, cells, covered[-1], title)
    return ScenarioReport(day, len(stations), len(trips), lost, covered, svg)


SCENARIO_PREFIX = "scenario-escooter-"


def publish_fleet(session: Session, outcome: LostTripOutcome, at: dt.datetime) -> int:
    """Replace the scenario's scooters in the fleet with these (GBFS vehicle_status shows them).

    The positions are simulated: publish them for a pilot or a demo, never as a live fleet.
    """
    old = [
        v.id for v in store.list_vehicles(session, SCOOTER_TYPE) if v.id.startswith(SCENARIO_PREFIX)
    ]
    store.remove_vehicles(session, old)
    for n, ((lon, lat), charge) in enumerate(
        zip(outcome.final_positions, outcome.final_charge, strict=True), start=1
    ):
        vehicle_id = f"{SCENARIO_PREFIX}{n:04d}"
        store.add_vehicle(session, vehicle_id, SCOOTER_TYPE)
        store.report_vehicle(session, vehicle_id, lon, lat, at, fuel_percent=round(charge, 2))
    return len(outcome.final_positions)


def report_lines(report: ScenarioReport) -> list[str]:
    """Write the scenario report as text lines."""
    weighted = report.coverage[0].weighted_by
    lines = [
        f"E-scooter scenario for {report.day.isoformat()} ({report.day:%A}), "
        f"{report.stations} stations, {report.trips} riders drawn from the last {WEEKS} "
        "weeks' trips at that hour of the week, no truck rebalancing.",
        f"Coverage weighted by {weighted}"
        + (
            ""
            if weighted == "population"
            else " (no population figures given: pass --population with code,population per area)"
        )
        + "; walking distance 300 m; 'far' is over 500 m from every station.",  # fmt: skip
        "",
        f"{'scooters':>8} {'lost pickups':>12} {'served':>7} {'share':>6} "
        f"{'far from stations':>17} {'of which reached':>16}",
    ]
    for lost, covered in zip(report.lost, report.coverage, strict=True):
        lines.append(
            f"{lost.scooters:8d} {lost.lost_pickups:12d} {lost.served:7d} "
            f"{lost.served_share:6.0%} {covered.far_share:17.0%} "
            f"{covered.covered_share_of_far:16.0%}"
        )
    return lines
