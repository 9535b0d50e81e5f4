"""The day simulator: lost pickups and returns, truck jobs, replanning."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from citysmart.services.bikes.simulation import (
    SimStation,
    Trip,
    TruckJob,
    TruckState,
    draw_trips,
    simulate_day,
)

A = SimStation("a", 127.26, 36.48, capacity=10, bikes=0)
B = SimStation("b", 127.27, 36.48, capacity=10, bikes=10)
C = SimStation("c", 127.40, 36.60, capacity=10, bikes=5)  # far away


def rides(origin: int, destination: int, times: Sequence[float]) -> list[Trip]:
    return [Trip(t, origin, destination, 600.0) for t in times]


def test_an_empty_station_loses_its_pickups_and_a_full_one_its_returns() -> None:
    trips = rides(0, 1, [100.0, 200.0]) + rides(2, 1, [300.0])
    result = simulate_day([A, B, C], trips)
    assert result.lost_pickups == 2  # A is empty
    assert result.lost_returns == 1  # B is full when the rider from C arrives
    assert result.served == 1
    # The rider docked at the nearest station with room (A), so no bike vanished.
    assert result.final_bikes == [1, 10, 4]
    assert sum(result.final_bikes) == A.bikes + B.bikes + C.bikes
    assert result.lost_by_station == {0: 2, 1: 1}
    assert result.lost_by_hour == {0: 3}
    assert result.lost_trips == trips[:2]


def test_a_truck_that_brings_bikes_in_time_saves_the_pickups() -> None:
    trips = rides(0, 2, [4000.0, 4100.0, 4200.0])

    def planner(now: float, bikes: Sequence[int], trucks: Sequence[TruckState]) -> list[TruckJob]:
        assert list(bikes) == [0, 10, 5]
        assert trucks == [TruckState(0, None, 0, now)]
        return [TruckJob(0, 1, 1000.0, 4), TruckJob(0, 0, 2000.0, -4)]

    without = simulate_day([A, B, C], trips)
    with_truck = simulate_day(
        [A, B, C], trips, planner=planner, plan_times_s=[0.0], truck_capacities=[20]
    )
    assert without.lost_pickups == 3
    assert with_truck.lost_pickups == 0
    assert with_truck.bikes_moved == 8
    assert with_truck.final_bikes == [1, 6, 8]


def test_a_truck_moves_only_what_it_can_carry_and_what_is_there() -> None:
    def planner(now: float, bikes: Sequence[int], trucks: Sequence[TruckState]) -> list[TruckJob]:
        return [TruckJob(0, 1, 10.0, 8), TruckJob(0, 2, 20.0, 9), TruckJob(0, 0, 30.0, -20)]

    result = simulate_day([A, B, C], [], planner=planner, plan_times_s=[0.0], truck_capacities=[6])
    # Six fit on the truck at B; C's bikes find no room; all six go to A.
    assert result.final_bikes == [6, 4, 5]
    assert result.bikes_moved == 12


def test_a_new_plan_replaces_the_jobs_not_yet_done() -> None:
    calls: list[float] = []

    def planner(now: float, bikes: Sequence[int], trucks: Sequence[TruckState]) -> list[TruckJob]:
        calls.append(now)
        if len(calls) == 1:
            return [TruckJob(0, 1, 100.0, 3), TruckJob(0, 0, 5000.0, -3)]
        assert trucks[0].station == 1  # the truck is where its last stop was
        assert trucks[0].load == 3
        return [TruckJob(0, 2, 3000.0, -3)]

    result = simulate_day(
        [A, B, C], [], planner=planner, plan_times_s=[0.0, 1800.0], truck_capacities=[10]
    )
    assert calls == [0.0, 1800.0]
    assert result.plans == 2
    assert result.final_bikes == [0, 7, 8]  # the first plan's delivery to A never happened


def test_a_plan_for_a_truck_that_does_not_exist_is_refused() -> None:
    def planner(now: float, bikes: Sequence[int], trucks: Sequence[TruckState]) -> list[TruckJob]:
        return [TruckJob(3, 0, 10.0, 1)]

    with pytest.raises(ValueError, match="truck 3 of 1"):
        simulate_day([A, B], [], planner=planner, plan_times_s=[0.0], truck_capacities=[5])


def test_drawn_trips_follow_the_rates_and_the_return_weights() -> None:
    rng = np.random.default_rng(7)
    rates = np.array([[20.0, 0.0], [0.0, 0.0], [0.0, 5.0]])
    weights = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])  # everyone rides to B
    trips = draw_trips([A, B, C], rates, weights, rng, start_s=3600.0)
    first_hour = [t for t in trips if t.time_s < 7200.0]
    assert 8 <= len(first_hour) <= 35
    assert all(t.origin == 0 for t in first_hour)
    assert all(3600.0 <= t.time_s < 10800.0 for t in trips)
    assert {t.destination for t in trips} == {1}
    assert [t.time_s for t in trips] == sorted(t.time_s for t in trips)
    assert all(t.duration_s >= 300.0 for t in trips)


def test_drawing_refuses_rates_that_do_not_fit_the_network() -> None:
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="for 3 stations"):
        draw_trips([A, B, C], np.ones((2, 4)), np.ones((2, 4)), rng)
    with pytest.raises(ValueError, match="finite"):
        draw_trips([A], np.array([[np.nan]]), np.ones((1, 1)), rng)
