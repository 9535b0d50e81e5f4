"""The exact CP-SAT model proves small BRP optima and gives valid routes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from citysmart.core.paths import data_dir
from citysmart.services.bikes.rebalancing.exact import solve_exact
from citysmart.services.bikes.rebalancing.instance import BrpInstance, parse_dellamico
from citysmart.services.bikes.rebalancing.portfolio import solve_brp
from citysmart.services.bikes.rebalancing.validate import check_solution

ROOT = data_dir() / "brp" / "dellamico2014"


def _brute_force(inst: BrpInstance) -> float:
    """Return the optimum by trying every ordered partition of the stations into routes."""
    stations = list(range(1, inst.n))
    best = float("inf")

    def feasible(route: tuple[int, ...]) -> bool:
        running = list(itertools.accumulate((inst.demand[v] for v in route), initial=0))
        return max(running) - min(running) <= inst.capacity

    def cost(route: tuple[int, ...]) -> float:
        path = [0, *route, 0]
        return float(sum(inst.cost[a, b] for a, b in itertools.pairwise(path)))

    def extend(rest: list[int], total: float) -> None:
        nonlocal best
        if not rest:
            best = min(best, total)
            return
        first = rest[0]  # the route holding the lowest remaining station
        others = rest[1:]
        for size in range(len(others) + 1):
            for chosen in itertools.combinations(others, size):
                for order in itertools.permutations((first, *chosen)):
                    if feasible(order):
                        left = [v for v in others if v not in chosen]
                        extend(left, total + cost(order))

    extend(stations, 0.0)
    return best


@pytest.mark.parametrize("trial", range(6))
def test_matches_brute_force_on_tiny_random_instances(trial: int) -> None:
    rng = np.random.default_rng(100 + trial)
    n = int(rng.integers(3, 7))
    q = int(rng.integers(2, 8))
    demand = (0, *(int(x) for x in rng.integers(-q, q + 1, n - 1)))
    cost = rng.integers(1, 50, (n, n)).astype(np.float64)
    np.fill_diagonal(cost, 0)
    inst = BrpInstance(name=f"tiny{trial}", capacity=q, demand=demand, cost=cost)
    result = solve_exact(inst, time_limit=5.0)
    assert result.optimal
    assert result.routes is not None
    verdict = check_solution(inst, result.routes, result.cost)
    assert verdict.ok, verdict.errors
    assert result.cost == pytest.approx(_brute_force(inst))


def test_proves_the_bari10_optimum() -> None:
    inst = parse_dellamico(ROOT / "03-Bari10_RBRP.txt")
    result = solve_exact(inst, time_limit=20.0)
    assert result.optimal
    assert result.routes is not None
    assert check_solution(inst, result.routes, result.cost).ok
    assert result.cost == 20600  # proven optimum (Dell'Amico et al. 2014)


def test_a_hint_is_accepted_and_never_made_worse() -> None:
    inst = parse_dellamico(ROOT / "02-Bari20_RBRP.txt")
    hint = [[v] for v in range(1, inst.n)]  # one truck per station: feasible, poor
    result = solve_exact(inst, time_limit=20.0, hint=hint)
    assert result.optimal
    assert result.cost == 15700


def test_rejects_fractional_costs() -> None:
    cost = np.array([[0.0, 1.5], [1.5, 0.0]])
    inst = BrpInstance(name="km", capacity=5, demand=(0, 2), cost=cost)
    with pytest.raises(ValueError, match="integer arc costs"):
        solve_exact(inst, time_limit=1.0)


def test_portfolio_proves_a_small_instance_and_stops_early() -> None:
    inst = parse_dellamico(ROOT / "01-Bari30_RBRP.txt")
    result = solve_brp(inst, time_limit=20.0, workers=2)
    assert check_solution(inst, result.routes, result.cost).ok
    assert result.cost == 14600
    assert result.optimal
