"""Our BRP search gives valid solutions and finds known optima on small instances."""

from __future__ import annotations

import time

import numpy as np
import pytest

from citysmart.core.paths import data_dir
from citysmart.services.bikes.rebalancing.instance import BrpInstance, parse_dellamico
from citysmart.services.bikes.rebalancing.ortools_routing import solve_ortools
from citysmart.services.bikes.rebalancing.portfolio import solve_brp
from citysmart.services.bikes.rebalancing.search import improve
from citysmart.services.bikes.rebalancing.validate import check_solution

ROOT = data_dir() / "brp" / "dellamico2014"


def test_reaches_the_bari30_optimum() -> None:
    inst = parse_dellamico(ROOT / "01-Bari30_RBRP.txt")
    result = improve(inst, time_limit=1.0, seed=3)
    verdict = check_solution(inst, result.routes, result.cost)
    assert verdict.ok, verdict.errors
    assert result.cost == 14600  # proven optimum (Dell'Amico et al. 2014)


@pytest.mark.parametrize(
    "name", ["03-Bari10_RBRP.txt", "09-Bergamo12_RBRP.txt", "29-Brescia11_RBRP.txt"]
)
def test_tight_capacity_instances_are_valid(name: str) -> None:
    inst = parse_dellamico(ROOT / name)
    result = improve(inst, time_limit=0.5, seed=1)
    verdict = check_solution(inst, result.routes, result.cost)
    assert verdict.ok, verdict.errors


def test_random_instances_are_valid_and_no_worse_than_single_trips() -> None:
    rng = np.random.default_rng(7)
    for trial in range(5):
        n = int(rng.integers(5, 30))
        q = int(rng.integers(3, 15))
        demand = (0, *(int(x) for x in rng.integers(-q, q + 1, n - 1)))
        cost = rng.integers(1, 100, (n, n)).astype(np.float64)
        np.fill_diagonal(cost, 0)
        inst = BrpInstance(name=f"random{trial}", capacity=q, demand=demand, cost=cost)
        result = improve(inst, time_limit=0.2, seed=trial)
        verdict = check_solution(inst, result.routes, result.cost)
        assert verdict.ok, verdict.errors
        single_trips = float(cost[0, 1:].sum() + cost[1:, 0].sum())
        assert result.cost <= single_trips


def test_two_workers_return_a_valid_solution() -> None:
    inst = parse_dellamico(ROOT / "04-ReggioEmilia30_RBRP.txt")
    result = solve_brp(inst, time_limit=1.0, workers=2)
    assert check_solution(inst, result.routes, result.cost).ok
    assert result.cost == 16900  # proven optimum


def test_ortools_baseline_is_valid() -> None:
    inst = parse_dellamico(ROOT / "02-Bari20_RBRP.txt")
    result = solve_ortools(inst, time_limit=0.5)
    verdict = check_solution(inst, result.routes, result.cost)
    assert verdict.ok, verdict.errors
    assert result.cost >= 15700  # never below the proven optimum


def test_stop_callback_ends_the_search_early() -> None:
    inst = parse_dellamico(ROOT / "36-Guadalajara30_RBRP.txt")
    start = time.perf_counter()
    result = improve(inst, time_limit=30.0, seed=1, stop=lambda: True)
    assert time.perf_counter() - start < 10.0
    assert result.iterations <= 50  # asked every STOP_PERIOD iterations
    assert check_solution(inst, result.routes, result.cost).ok
