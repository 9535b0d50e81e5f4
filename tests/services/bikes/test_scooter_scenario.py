"""The e-scooter scenario on stored stations and trips, and its command."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.models import Trip
from citysmart.services.bikes.scooter_scenario import (
    ScenarioError,
    read_population,
    report_lines,
    run_scenario,
)
from citysmart.services.bikes.stations import write_station_status
from citysmart.services.bikes.store import dockless_vehicles
from tests.services.bikes.factories import add_stations

KST = dt.timezone(dt.timedelta(hours=9))
DAY = dt.date(2026, 11, 26)  # a Thursday


def rush_hours(runtime: HubRuntime) -> None:
    """Four Thursdays of a morning rush out of SJ001 (which holds only two bikes)."""
    add_stations(runtime)
    now = dt.datetime.now(dt.UTC)
    write_station_status(runtime, "SJ001", 2, 18, at=now)
    write_station_status(runtime, "SJ002", 5, 10, at=now)
    write_station_status(runtime, "SJ003", 5, 5, at=now)
    rows = []
    for week in range(1, 5):
        day = dt.datetime.combine(DAY - dt.timedelta(weeks=week), dt.time(8), KST)
        for k in range(12):
            began = day + dt.timedelta(minutes=5 * k)
            ended = began + dt.timedelta(minutes=15)
            rows.append(Trip(bike_id=f"B{k}", start_time=began, start_station="SJ001",
                             end_station="SJ002", end_time=ended))  # fmt: skip
    with runtime.sessions.begin() as session:
        session.add_all(rows)


def test_scooters_serve_riders_the_empty_station_turned_away(bikes_runtime: HubRuntime) -> None:
    rush_hours(bikes_runtime)
    with bikes_runtime.sessions() as session:
        report = run_scenario(session, [0, 50], DAY)
    none, fleet = report.lost
    assert report.stations == 3
    assert 4 <= report.trips <= 25  # about twelve riders at 8:00
    assert none.lost_pickups >= 2  # two bikes for about twelve riders
    assert none.served == 0
    assert 0 < fleet.served <= fleet.lost_pickups
    assert report.coverage[0].weighted_by == "area"
    assert report.coverage[1].covered_share_of_far > report.coverage[0].covered_share_of_far
    assert report.svg.startswith("<svg")
    text = "\n".join(report_lines(report))
    assert "weighted by area" in text
    assert "--population" in text


def test_no_trips_or_no_fleet_is_said_plainly(bikes_runtime: HubRuntime) -> None:
    add_stations(bikes_runtime)
    with bikes_runtime.sessions() as session:
        with pytest.raises(ScenarioError, match="no stored trips"):
            run_scenario(session, [10], DAY)
        with pytest.raises(ScenarioError, match="fleet sizes"):
            run_scenario(session, [], DAY)


def test_population_files_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "people.csv"
    good.write_text("code,population\n2901011,45000\n2901061,25000\n", encoding="utf-8")
    assert read_population(good) == {"2901011": 45000.0, "2901061": 25000.0}
    for body, words in (
        ("area,people\n", "header"),
        ("code,population\n2901011,many\n", "line 2"),
        ("code,population\n2901011,-5\n", ">= 0"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(ScenarioError, match=words):
            read_population(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        read_population(tmp_path / "missing.csv")


def test_the_command_prints_the_report_and_writes_the_map(
    bikes_runtime: HubRuntime, tmp_path: Path
) -> None:
    rush_hours(bikes_runtime)
    env = {
        **os.environ,
        "CITYSMART_DATABASE_URL": bikes_runtime.settings.database_url,
        "CITYSMART_DATA_DIR": str(tmp_path),
    }
    svg = tmp_path / "map.svg"
    args = ["bikes", "scooters", "--day", DAY.isoformat(), "--count", "0", "--count", "40",
            "--map", str(svg), "--json"]  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "citysmart", *args], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert [f["scooters"] for f in body["fleets"]] == [0, 40]
    assert body["weighted_by"] == "area"
    assert svg.read_text(encoding="utf-8").startswith("<svg")
    assert body["published"] == 0
    # Published, the largest fleet appears in GBFS vehicle_status (twice: replaced, not added).
    for _ in range(2):
        published = subprocess.run(
            [sys.executable, "-m", "citysmart", *args[:-1], "--publish"],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert published.returncode == 0, published.stderr
        assert "40 simulated scooters published" in published.stdout
    with bikes_runtime.sessions() as session:
        scooters = dockless_vehicles(session)
    assert len(scooters) == 40
    people = tmp_path / "people.csv"
    people.write_text("code,population\n2901011,1\n", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "citysmart", *args[:4], "--population", str(people)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "no population for areas" in refused.stderr
