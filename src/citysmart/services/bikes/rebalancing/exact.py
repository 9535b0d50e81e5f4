"""Exact static BRP model on CP-SAT, for small instances: a proof or a better solution.

A multi-vehicle one-commodity pickup-and-delivery TSP: one Boolean per arc,
``AddMultipleCircuit`` makes every station lie on exactly one circuit through
the depot (one circuit per truck, as many trucks as wished), and an integer
load per station (the load after the visit, within [0, Q] before and after)
follows ``load[j] = load[i] + d[j]`` on every chosen arc between two
stations. Arcs from the depot leave the start load free. Arcs that no start
load can make feasible (two pickups or two deliveries that together exceed
Q) are left out.

With one worker and full linearisation, CP-SAT proves most benchmark
instances of up to 40 stations optimal within 10 s (not all: tight ones
such as Q = 10 or 11 with 22-40 stations often stay open); above about 40
stations its bound stays far from the optimum, so ``portfolio.solve_brp``
uses it only on small ones, warm-started with the search's solution as a
hint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from citysmart.services.bikes.rebalancing.instance import BrpInstance

# Full linearisation (circuit cuts in the LP) proves 20-40 station instances that the
# default level leaves open; arc-flow load variables were tried and slowed it down.
LINEARIZATION = 2


@dataclass(frozen=True)
class ExactResult:
    """The best routes CP-SAT found (None if none), their cost, and whether they are optimal."""

    routes: list[list[int]] | None
    cost: float | None
    optimal: bool
    bound: float


def _routes_from_arcs(n: int, successor: dict[int, list[int]]) -> list[list[int]]:
    """Follow the chosen arcs from the depot into routes."""
    routes = []
    for first in successor.get(0, []):
        route = []
        v = first
        while v != 0:
            route.append(v)
            v = successor[v][0]
            if len(route) > n:  # cannot happen with a valid circuit; never loop forever
                raise RuntimeError("CP-SAT returned arcs that do not form routes")
        routes.append(route)
    return routes


def solve_exact(
    instance: BrpInstance,
    time_limit: float,
    hint: Sequence[Sequence[int]] | None = None,
    workers: int = 1,
) -> ExactResult:
    """Solve the BRP with CP-SAT within time_limit seconds; integer arc costs only."""
    if not instance.integral_cost:
        raise ValueError(f"{instance.name}: the exact model needs integer arc costs")
    n = instance.n
    q = instance.capacity
    d = instance.demand
    model = cp_model.CpModel()
    load = [model.new_int_var(max(0, d[i]), min(q, q + d[i]), f"load{i}") for i in range(n)]
    arcs: dict[tuple[int, int], cp_model.IntVar] = {}
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            if i and j and (d[i] + d[j] > q or d[i] + d[j] < -q):
                continue  # no start load serves both in a row
            x = model.new_bool_var(f"x{i}_{j}")
            arcs[i, j] = x
            if i and j:
                model.add(load[j] == load[i] + d[j]).only_enforce_if(x)
    model.add_multiple_circuit([(i, j, x) for (i, j), x in arcs.items()])
    model.minimize(sum(int(instance.cost[i, j]) * x for (i, j), x in arcs.items()))
    if hint:
        used: set[tuple[int, int]] = set()
        for route in hint:
            path = [0, *route, 0]
            used.update(zip(path, path[1:], strict=False))
        for key, x in arcs.items():
            model.add_hint(x, key in used)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit)
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.linearization_level = LINEARIZATION
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(None, None, False, solver.best_objective_bound)
    successor: dict[int, list[int]] = {}
    for (i, j), x in arcs.items():
        if solver.boolean_value(x):
            successor.setdefault(i, []).append(j)
    routes = _routes_from_arcs(n, successor)
    return ExactResult(
        routes=routes,
        cost=float(solver.objective_value),
        optimal=status == cp_model.OPTIMAL,
        bound=float(solver.best_objective_bound),
    )
