"""The independent validator catches each broken rule."""

from __future__ import annotations

import numpy as np
import pytest

from citysmart.services.bikes.rebalancing.instance import BrpInstance
from citysmart.services.bikes.rebalancing.validate import check_solution


@pytest.fixture
def inst() -> BrpInstance:
    cost = np.arange(25, dtype=np.float64).reshape(5, 5)
    np.fill_diagonal(cost, 0)
    return BrpInstance(name="toy", capacity=10, demand=(0, 6, -4, 5, -7), cost=cost)


def test_accepts_a_feasible_solution(inst: BrpInstance) -> None:
    # route 1: +6 -4 +5 -> running 0 6 2 7 (range 7); route 2: -7 (start loaded)
    verdict = check_solution(inst, [[1, 2, 3], [4]], claimed_cost=1 + 7 + 13 + 15 + 4 + 20)
    assert verdict.ok, verdict.errors
    assert verdict.cost == 60


def test_catches_capacity(inst: BrpInstance) -> None:
    verdict = check_solution(inst, [[1, 3], [2, 4]])  # 0 6 11: range 11 > 10
    assert not verdict.ok
    assert any("capacity" in e for e in verdict.errors)


def test_catches_a_missed_station(inst: BrpInstance) -> None:
    verdict = check_solution(inst, [[1, 2, 3]])
    assert any("never visited" in e and "[4]" in e for e in verdict.errors)


def test_catches_a_duplicated_station(inst: BrpInstance) -> None:
    verdict = check_solution(inst, [[1, 2, 3], [4, 2]])
    assert any("station 2 is visited 2 times" in e for e in verdict.errors)


def test_catches_the_depot_inside_a_route(inst: BrpInstance) -> None:
    verdict = check_solution(inst, [[1, 0, 2, 3], [4]])
    assert any("not a station" in e for e in verdict.errors)


def test_catches_a_wrong_cost(inst: BrpInstance) -> None:
    verdict = check_solution(inst, [[1, 2, 3], [4]], claimed_cost=59)
    assert any("claimed cost" in e for e in verdict.errors)
