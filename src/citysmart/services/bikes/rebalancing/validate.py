"""Independent check of a static BRP solution.

Deliberately shares nothing with the solver except the instance type, so a
bug in the search cannot hide itself here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from citysmart.services.bikes.rebalancing.instance import BrpInstance


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: the recomputed cost and every problem found."""

    cost: float
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Return True when the solution breaks no rule."""
        return not self.errors


def check_solution(
    instance: BrpInstance,
    routes: Sequence[Sequence[int]],
    claimed_cost: float | None = None,
) -> Verdict:
    """Check every BRP rule on routes given as station lists (depot 0 implied at both ends).

    Rules: each station 1..n-1 appears exactly once; the depot and unknown
    vertices never appear inside a route; for some start load in [0, Q] the
    load stays in [0, Q] after every station; the claimed cost, if given,
    equals the recomputed sum of arc costs.
    """
    errors: list[str] = []
    n = instance.n
    q = instance.capacity
    seen = Counter(v for route in routes for v in route)
    for v, times in sorted(seen.items()):
        if not isinstance(v, int) or v < 1 or v >= n:
            errors.append(f"vertex {v!r} is not a station (stations are 1..{n - 1})")
        elif times > 1:
            errors.append(f"station {v} is visited {times} times")
    missing = [v for v in range(1, n) if seen[v] == 0]
    if missing:
        errors.append(f"{len(missing)} stations never visited, e.g. {missing[:5]}")
    total = 0.0
    for index, route in enumerate(routes):
        if not route:
            errors.append(f"route {index} is empty")
            continue
        if any(not isinstance(v, int) or v < 1 or v >= n for v in route):
            continue
        # the truck may leave with any load; the lowest feasible start load is
        # minus the lowest running sum of demands (or 0)
        running = [0]
        for v in route:
            running.append(running[-1] + instance.demand[v])
        start_load = -min(running)
        peak = start_load + max(running)
        if peak > q:
            errors.append(
                f"route {index} needs a load range of {max(running) - min(running)} bikes, "
                f"capacity is {q}"
            )
        path = [0, *route, 0]
        total += sum(float(instance.cost[a, b]) for a, b in zip(path, path[1:], strict=False))
    if claimed_cost is not None and abs(total - claimed_cost) > 1e-6 * max(1.0, abs(total)):
        errors.append(f"claimed cost {claimed_cost} but the routes cost {total}")
    return Verdict(cost=total, errors=tuple(errors))
