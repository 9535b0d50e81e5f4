"""Ruin-and-recreate search with simulated annealing for the static BRP.

The method follows the SISR idea (slack induction by string removals,
Christiaens & Vanden Berghe, Transportation Science 2020): remove a few
strings of consecutive stations near a random seed station, re-insert them
greedily with "blinks" (a good position is skipped now and then), and accept
the new solution by simulated annealing with a temperature that falls with
elapsed time. Some recreates put each removed string back whole (a pickup
stays next to the delivery it feeds).

Tight capacities (Q = 10 with demands up to 10) leave few feasible positions,
so the search may overload a route by a few bikes at a penalty per bike; the
penalty adapts so that about FEASIBLE_TARGET of the iterations hold a
feasible solution, and only feasible solutions are kept as the best.

Load feasibility is checked in O(1) per insertion slot: a route is feasible
iff max(prefix sums) - min(prefix sums, 0 included) <= Q, so inserting a
station of demand d after the k-th station is feasible iff
``lo[k] <= d <= hi[k]`` with ``lo = pmax[k] - smin[k] - Q`` and
``hi = Q + pmin[k] - smax[k]`` (p: prefix max/min over P[0..k], s: suffix
max/min over P[k..m]); the overload of an infeasible insertion is as cheap.

``portfolio.solve_brp`` runs this search beside OR-Tools or an exact model.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from citysmart.services.bikes.rebalancing.instance import BrpInstance

Routes = list[list[int]]
_Slots = tuple[
    list[int], list[int], list[float], list[int], list[int], list[int], list[int], list[int]
]

# Parameters of the search; set once on the benchmark family, not per instance.
AVG_REMOVED = 10  # mean number of stations removed per ruin
MAX_STRING = 10  # longest string removed from one route
BLINK = 0.01  # probability of skipping an improving insertion position
T_START = 0.3  # start temperature, in mean arc costs of the first solution
T_END = 0.003  # end temperature, in mean arc costs of the first solution
LAMBDA_START = 1.0  # start penalty per bike of overload, in mean arc costs
LAMBDA_MIN = 0.01
LAMBDA_STEP = 1.3
LAMBDA_PERIOD = 100  # iterations between penalty updates
FEASIBLE_TARGET = 0.8  # wished share of iterations with a feasible current solution
NEAR_ROUTES = 40  # above this many stations, insert only into routes of the nearest ones
LARGE = 200
BLOCK_SHARE = 0.3  # share of recreates that insert the removed strings whole
STOP_PERIOD = 50  # iterations between two questions to the stop callback


@dataclass
class SearchResult:
    """Best routes found, their cost, the ruin-and-recreate steps run, and a proof flag.

    ``optimal`` is True only when an exact solver proved the routes optimal.
    """

    routes: Routes
    cost: float
    iterations: int
    optimal: bool = False


class _Model:
    """Instance data laid out as Python lists for fast scalar access."""

    def __init__(self, instance: BrpInstance) -> None:
        cost = np.asarray(instance.cost, dtype=np.float64)
        self.n = instance.n
        self.q = instance.capacity
        self.d = list(instance.demand)
        self.row: list[list[float]] = cost.tolist()
        self.col: list[list[float]] = cost.T.tolist()
        sym = cost + cost.T
        np.fill_diagonal(sym, -1.0)  # the station itself comes first
        order = np.argsort(sym[1:, 1:], axis=1, kind="stable") + 1
        self.adj: list[list[int]] = [[]] + order.tolist()
        self.large = self.n - 1 > LARGE

    def slots(self, seq: list[int]) -> tuple[_Slots, float, int]:
        """Return a route's insertion slots, its cost and its overload.

        A slot k is the arc (a[k], b[k]) with its cost; the running load
        profile (prefix sums and their prefix/suffix extremes) gives, at the
        slot, the demand window [lo, hi] that keeps the route within Q and the
        overload already present in its prefix or suffix. The windows are
        computed by the callers for the few slots that are cheap enough to
        matter: only C-level accumulations run here, once per route change.
        """
        prefix = list(accumulate(map(self.d.__getitem__, seq), initial=0))
        pmax = list(accumulate(prefix, max))
        pmin = list(accumulate(prefix, min))
        smax = list(accumulate(reversed(prefix), max))
        smax.reverse()
        smin = list(accumulate(reversed(prefix), min))
        smin.reverse()
        a = [0, *seq]
        b = [*seq, 0]
        row = self.row
        base = [row[x][y] for x, y in zip(a, b, strict=True)]
        excess = max(0, pmax[-1] - pmin[-1] - self.q)
        return (a, b, base, prefix, pmax, pmin, smax, smin), sum(base), excess

    def route_cost(self, seq: list[int]) -> float:
        """Return the cost of one route."""
        row = self.row
        prev = 0
        total = 0.0
        for v in seq:
            total += row[prev][v]
            prev = v
        return total + row[prev][0]


class _Solution:
    """Routes with their cached insertion slots, costs and overloads."""

    def __init__(self, model: _Model, routes: Routes) -> None:
        self.model = model
        self.routes = routes
        self.slots: list[_Slots] = []
        self.costs: list[float] = []
        self.excesses: list[int] = []
        for r in routes:
            slots, cost, excess = model.slots(r)
            self.slots.append(slots)
            self.costs.append(cost)
            self.excesses.append(excess)

    def copy(self) -> _Solution:
        """Return a copy that can be changed without touching this one."""
        other = _Solution.__new__(_Solution)
        other.model = self.model
        other.routes = [r[:] for r in self.routes]
        other.slots = self.slots[:]
        other.costs = self.costs[:]
        other.excesses = self.excesses[:]
        return other

    @property
    def cost(self) -> float:
        """Return the total travel cost."""
        return sum(self.costs)

    @property
    def excess(self) -> int:
        """Return the total overload (0 for a feasible solution)."""
        return sum(self.excesses)

    def refresh(self, r: int) -> None:
        """Recompute the caches of route r after it changed."""
        self.slots[r], self.costs[r], self.excesses[r] = self.model.slots(self.routes[r])

    def add(self, seq: list[int]) -> None:
        """Append a new route."""
        self.routes.append(seq)
        slots, cost, excess = self.model.slots(seq)
        self.slots.append(slots)
        self.costs.append(cost)
        self.excesses.append(excess)

    def compact(self) -> None:
        """Drop empty routes."""
        keep = [i for i, r in enumerate(self.routes) if r]
        if len(keep) != len(self.routes):
            self.routes = [self.routes[i] for i in keep]
            self.slots = [self.slots[i] for i in keep]
            self.costs = [self.costs[i] for i in keep]
            self.excesses = [self.excesses[i] for i in keep]


def _route_of(sol: _Solution, n: int) -> list[int]:
    owner = [-1] * n
    for r, seq in enumerate(sol.routes):
        for v in seq:
            owner[v] = r
    return owner


def _ruin(sol: _Solution, rng: random.Random) -> list[list[int]]:
    """Remove strings of stations around a random seed station; return the strings."""
    model = sol.model
    owner = _route_of(sol, model.n)
    stations = model.n - 1
    avg_card = stations / max(1, len(sol.routes))
    ls_max = min(float(MAX_STRING), avg_card)
    ks_max = 4.0 * AVG_REMOVED / (1.0 + ls_max) - 1.0
    ks = int(rng.uniform(1.0, ks_max + 1.0))
    seed = rng.randrange(1, model.n)
    removed: list[list[int]] = []
    ruined: set[int] = set()
    for c in model.adj[seed]:
        if len(ruined) >= ks:
            break
        r = owner[c]
        if r < 0 or r in ruined:
            continue
        seq = sol.routes[r]
        lmax = min(len(seq), ls_max)
        length = int(rng.uniform(1.0, lmax + 1.0))
        pos = seq.index(c)
        start = rng.randint(max(0, pos - length + 1), min(pos, len(seq) - length))
        cut = seq[start : start + length]
        for v in cut:
            owner[v] = -1
        removed.append(cut)
        ruined.add(r)
        sol.routes[r] = seq[:start] + seq[start + length :]
        sol.refresh(r)
    return removed


def _insert_all(sol: _Solution, removed: list[int], rng: random.Random, lam: float) -> None:
    """Insert stations one by one at their cheapest position, with blinks.

    An overloaded position costs ``lam`` per bike of overload.
    """
    model = sol.model
    d = model.d
    q = model.q
    row = model.row
    col = model.col
    mode = rng.random()
    if mode < 4 / 11:
        rng.shuffle(removed)
    elif mode < 8 / 11:
        removed.sort(key=lambda v: -abs(d[v]))
    elif mode < 10 / 11:
        removed.sort(key=lambda v: -(row[0][v] + row[v][0]))
    else:
        removed.sort(key=lambda v: row[0][v] + row[v][0])
    owner = _route_of(sol, model.n) if model.large else []
    rand = rng.random
    for v in removed:
        dv = d[v]
        cin = col[v]
        cout = row[v]
        best = cout[0] + cin[0]
        best_r = -1
        best_k = 0
        if model.large:
            order = list({owner[u] for u in model.adj[v][1 : NEAR_ROUTES + 1] if owner[u] >= 0})
        else:
            order = list(range(len(sol.routes)))
        for r in order:
            a, b, base, _, pmax, pmin, smax, smin = sol.slots[r]
            er = sol.excesses[r]
            bound = best + lam * er
            for k in range(len(a)):
                delta = cin[a[k]] + cout[b[k]] - base[k]
                if delta >= bound:
                    continue
                # the overload already in the prefix or the suffix
                ex = max(0, pmax[k] - pmin[k] - q, smax[k] - smin[k] - q) if er else 0
                lo = pmax[k] - smin[k] - q
                if dv < lo:
                    if lo - dv > ex:
                        ex = lo - dv
                else:
                    hi = q + pmin[k] - smax[k]
                    if dv - hi > ex:  # also covers dv > hi
                        ex = dv - hi
                if ex != er:
                    delta += lam * (ex - er)
                if delta < best and rand() >= BLINK:
                    best = delta
                    best_r = r
                    best_k = k
                    bound = best + lam * er
        if best_r < 0:
            sol.add([v])
            if model.large:
                owner[v] = len(sol.routes) - 1
        else:
            sol.routes[best_r].insert(best_k, v)
            sol.refresh(best_r)
            if model.large:
                owner[v] = best_r


def _insert_blocks(
    sol: _Solution, strings: list[list[int]], rng: random.Random, lam: float
) -> None:
    """Re-insert each removed string whole, at its cheapest position, with blinks.

    Moving a string whole keeps pickups next to the deliveries they feed,
    which single-station insertion cannot do in a route whose load is tight.
    """
    model = sol.model
    d = model.d
    row = model.row
    col = model.col
    q = model.q
    rng.shuffle(strings)
    rand = rng.random
    for block in strings:
        first = block[0]
        last = block[-1]
        sums = list(accumulate(d[v] for v in block))
        total = sums[-1]
        bmax = max(sums)
        bmin = min(sums)
        cin = col[first]
        cout = row[last]
        best = cin[0] + cout[0] + lam * max(0, max(0, bmax) - min(0, bmin) - q)
        best_r = -1
        best_k = 0
        for r in range(len(sol.routes)):
            a, b, base, prefix, pmax, pmin, smax, smin = sol.slots[r]
            er = sol.excesses[r]
            bound = best + lam * er
            for k in range(len(a)):
                delta = cin[a[k]] + cout[b[k]] - base[k]
                if delta >= bound:
                    continue
                pk = prefix[k]
                hi = pmax[k]
                if pk + bmax > hi:
                    hi = pk + bmax
                if smax[k] + total > hi:
                    hi = smax[k] + total
                lo = pmin[k]
                if pk + bmin < lo:
                    lo = pk + bmin
                if smin[k] + total < lo:
                    lo = smin[k] + total
                ex = hi - lo - q
                if ex < 0:
                    ex = 0
                if ex != er:
                    delta += lam * (ex - er)
                if delta < best and rand() >= BLINK:
                    best = delta
                    best_r = r
                    best_k = k
                    bound = best + lam * er
        if best_r < 0:
            sol.add(block[:])
        else:
            seq = sol.routes[best_r]
            seq[best_k:best_k] = block
            sol.refresh(best_r)


def improve(
    instance: BrpInstance,
    time_limit: float,
    seed: int = 0,
    initial: Routes | None = None,
    temperature_scale: float = 1.0,
    stop: Callable[[], bool] | None = None,
) -> SearchResult:
    """Search for cheap feasible routes within time_limit seconds, or until stop() says so.

    ``stop`` is asked every STOP_PERIOD iterations (another process may have
    proved a solution optimal).
    """
    start = time.perf_counter()
    rng = random.Random(seed)
    model = _Model(instance)
    if initial is None:
        cur = _Solution(model, [])
        _insert_all(cur, list(range(1, model.n)), rng, math.inf)
    else:
        cur = _Solution(model, [r[:] for r in initial if r])
    cur.compact()
    best = cur.copy()
    best_cost = cur.cost if cur.excess == 0 else math.inf
    arcs = model.n - 1 + len(cur.routes)
    mean_arc = cur.cost / arcs
    t0 = T_START * temperature_scale * mean_arc
    t1 = T_END * temperature_scale * mean_arc
    lam = LAMBDA_START * mean_arc
    cur_cost, cur_ex = cur.cost, cur.excess
    feasible_seen = 0
    iterations = 0
    elapsed = time.perf_counter() - start
    while elapsed < time_limit:
        temp = t0 * (t1 / t0) ** (elapsed / time_limit)
        cand = cur.copy()
        strings = _ruin(cand, rng)
        if len(strings) > 1 and rng.random() < BLOCK_SHARE:
            _insert_blocks(cand, strings, rng, lam)
        else:
            _insert_all(cand, [v for s in strings for v in s], rng, lam)
        cand.compact()
        cand_cost, cand_ex = cand.cost, cand.excess
        threshold = cur_cost + lam * cur_ex + temp * -math.log(1.0 - rng.random())
        if cand_cost + lam * cand_ex < threshold:
            cur, cur_cost, cur_ex = cand, cand_cost, cand_ex
            if cur_ex == 0 and cur_cost < best_cost - 1e-9:
                best = cur.copy()
                best_cost = cur_cost
        feasible_seen += cur_ex == 0
        iterations += 1
        if iterations % LAMBDA_PERIOD == 0:
            # keep the search near the boundary of feasibility
            if feasible_seen < FEASIBLE_TARGET * LAMBDA_PERIOD:
                lam *= LAMBDA_STEP
            else:
                lam = max(lam / LAMBDA_STEP, LAMBDA_MIN * mean_arc)
            feasible_seen = 0
        if stop is not None and iterations % STOP_PERIOD == 0 and stop():
            break
        elapsed = time.perf_counter() - start
    routes = [r[:] for r in best.routes if r]
    return SearchResult(
        routes=routes, cost=sum(model.route_cost(r) for r in routes), iterations=iterations
    )
