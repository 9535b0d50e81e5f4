"""The e-scooter scenario: lost pickups a scooter fleet carries, and who it reaches."""

from __future__ import annotations

import numpy as np
import pytest

from citysmart.core.admin_areas import load_admin_areas
from citysmart.services.bikes.scooters import city_cells, coverage, serve_lost_trips
from citysmart.services.bikes.simulation import SimStation, Trip

A = SimStation("a", 127.2600, 36.4800, 10, 0)
B = SimStation("b", 127.2700, 36.4800, 10, 5)  # 900 m east of A
FAR = SimStation("far", 127.3500, 36.5500, 10, 5)


def test_a_scooter_near_the_empty_station_carries_the_rider() -> None:
    lost = [Trip(100.0, 0, 1, 600.0), Trip(200.0, 0, 1, 600.0), Trip(1000.0, 1, 0, 600.0)]
    placement = np.array([1.0, 0.0, 0.0])  # the one scooter starts at A
    outcome = serve_lost_trips([A, B, FAR], lost, 1, placement, np.random.default_rng(1))
    # The first rider takes it to B; the second finds none at A (it is riding); the third
    # finds it at B after it arrived, and rides it back.
    assert outcome.served == 2
    assert outcome.lost_pickups == 3
    assert outcome.served_share == pytest.approx(2 / 3)


def test_no_scooter_within_walking_distance_serves_nobody() -> None:
    lost = [Trip(100.0, 0, 1, 600.0)]
    placement = np.array([0.0, 0.0, 1.0])
    outcome = serve_lost_trips([A, B, FAR], lost, 50, placement, np.random.default_rng(1))
    assert outcome.served == 0


def test_a_scooter_stops_when_its_battery_is_used_up() -> None:
    # Rides of about 13 km each, back and forth: a 30 km battery lasts two.
    lost = [Trip(3600.0 * k, k % 2 * 2, (k + 1) % 2 * 2, 1200.0) for k in range(6)]
    placement = np.array([1.0, 0.0, 0.0])
    outcome = serve_lost_trips([A, B, FAR], lost, 1, placement, np.random.default_rng(1))
    assert outcome.served == 2
    assert outcome.scooters_run_flat == 1


def test_bad_scenarios_are_refused() -> None:
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match=">= 0"):
        serve_lost_trips([A, B], [], -1, np.array([1.0, 1.0]), rng)
    with pytest.raises(ValueError, match="one non-negative weight per station"):
        serve_lost_trips([A, B], [], 5, np.array([1.0]), rng)


def test_cells_carry_each_areas_population() -> None:
    areas = load_admin_areas()
    population = {a.code: 1000.0 * (i + 1) for i, a in enumerate(areas)}
    cells = city_cells(areas, population)
    assert cells.weighted_by == "population"
    for area in areas:
        mine = [w for w, c in zip(cells.weight, cells.area_codes, strict=True) if c == area.code]
        assert sum(mine) == pytest.approx(population[area.code])
    by_area = city_cells(areas)
    assert by_area.weighted_by == "area"
    assert by_area.weight.sum() == pytest.approx(456, rel=0.05)  # km², KOSTAT's outlines
    with pytest.raises(ValueError, match="no population for areas"):
        city_cells(areas, {areas[0].code: 10.0})


def test_more_scooters_reach_more_of_the_people_far_from_stations() -> None:
    cells = city_cells(load_admin_areas())
    stations = [A, B]
    shares = [coverage(cells, stations, n).covered_share_of_far for n in (0, 200, 2000)]
    assert shares[0] == 0.0
    assert 0 < shares[1] < shares[2] < 1
    result = coverage(cells, stations, 200)
    assert 0.95 < result.far_share < 1.0  # two stations serve almost nobody
    assert sum(result.far_by_area.values()) == pytest.approx(result.far_share * cells.weight.sum())
