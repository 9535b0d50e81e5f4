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

``solve_brp`` can run two searches in two processes: one from scratch, one
from the solution OR-Tools (guided local search) finds in half the time.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import time
from dataclasses import dataclass
from itertools import accumulate
from multiprocessing.queues import Queue

import numpy as np

from citysmart.services.bikes.rebalancing.instance import BrpInstance
from citysmart.services.bikes.rebalancing.ortools_routing import solve_ortools

Routes = list[list[int]]
_Slots = tuple[
    list[int], list[int], list[float], list[int], list[int], list[int], tuple[list[int], ...]
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
ORTOOLS_SHARE = 0.5  # share of the time the OR-Tools-seeded worker gives OR-Tools
# above LARGE stations our Python search makes few steps: OR-Tools gets most of the time
ORTOOLS_SHARE_LARGE = 0.9
SEEDED_TEMPERATURE = 0.3  # cooler search from a good OR-Tools solution
STARTUP_MARGIN = 0.15  # seconds kept for forking and collecting the workers


@dataclass
class SearchResult:
    """Best routes found, their cost and how many ruin-and-recreate steps ran."""

    routes: Routes
    cost: float
    iterations: int


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

        A slot is an arc (a, b) with its cost, the demand window [lo, hi] that
        keeps the route within Q, and the overload already present in its
        prefix or suffix.
        """
        q = self.q
        d = self.d
        prefix = list(accumulate([d[v] for v in seq], initial=0))
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
        lo = [x - y - q for x, y in zip(pmax, smin, strict=True)]
        hi = [q + x - y for x, y in zip(pmin, smax, strict=True)]
        excess = pmax[-1] - pmin[-1] - q
        if excess > 0:
            e0 = [
                max(0, w - x - q, y - z - q)
                for w, x, y, z in zip(pmax, pmin, smax, smin, strict=True)
            ]
        else:
            excess = 0
            e0 = [0] * len(a)
        profile = (prefix, pmax, pmin, smax, smin)
        return (a, b, base, lo, hi, e0, profile), sum(base), excess

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
            a, b, base, lo, hi, e0, _ = sol.slots[r]
            er = sol.excesses[r]
            bound = best + lam * er
            for k in range(len(a)):
                delta = cin[a[k]] + cout[b[k]] - base[k]
                if delta >= bound:
                    continue
                ex = e0[k]
                if dv < lo[k]:
                    if lo[k] - dv > ex:
                        ex = lo[k] - dv
                elif dv - hi[k] > ex:  # also covers dv > hi[k]
                    ex = dv - hi[k]
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
            a, b, base, _, _, _, profile = sol.slots[r]
            prefix, pmax, pmin, smax, smin = profile
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
) -> SearchResult:
    """Search for cheap feasible routes within time_limit seconds."""
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
        elapsed = time.perf_counter() - start
    routes = [r[:] for r in best.routes if r]
    return SearchResult(
        routes=routes, cost=sum(model.route_cost(r) for r in routes), iterations=iterations
    )


def _run(instance: BrpInstance, time_limit: float, seed: int, ortools_share: float) -> SearchResult:
    """Search from scratch, or from an OR-Tools solution found in a share of the time."""
    if ortools_share <= 0.0:
        return improve(instance, time_limit, seed=seed)
    start = time.perf_counter()
    try:
        first = solve_ortools(instance, ortools_share * time_limit)
    except RuntimeError:  # no first solution in time (very large instances)
        return improve(instance, time_limit - (time.perf_counter() - start), seed=seed)
    rest = time_limit - (time.perf_counter() - start)
    return improve(
        instance, rest, seed=seed, initial=first.routes, temperature_scale=SEEDED_TEMPERATURE
    )


def _worker(
    instance: BrpInstance,
    time_limit: float,
    seed: int,
    share: float,
    out: Queue[SearchResult | None],
) -> None:
    try:
        out.put(_run(instance, time_limit, seed, share))
    except Exception:  # the caller still has its own search; never leave it waiting
        out.put(None)
        raise


def solve_brp(
    instance: BrpInstance,
    time_limit: float,
    workers: int = 1,
    seed: int = 0,
    ortools_share: float | None = None,
) -> SearchResult:
    """Run independent searches in ``workers`` processes and return the best.

    With two or more workers, the first one spends ``ortools_share`` of the
    time (by default ORTOOLS_SHARE, ORTOOLS_SHARE_LARGE above LARGE stations)
    on OR-Tools (guided local search) and improves its solution with our
    search; the others search from scratch. ``time_limit`` is wall-clock
    seconds for the whole call; process start-up is taken out of it.
    """
    if workers <= 1:
        return improve(instance, time_limit, seed=seed)
    if ortools_share is None:
        ortools_share = ORTOOLS_SHARE if instance.n - 1 <= LARGE else ORTOOLS_SHARE_LARGE
    start = time.perf_counter()
    ctx = multiprocessing.get_context("fork")  # the instance is inherited, not pickled
    out: Queue[SearchResult | None] = ctx.Queue()
    budget = max(0.1, time_limit - STARTUP_MARGIN)
    procs = [
        ctx.Process(
            target=_worker,
            args=(instance, budget, seed + w + 1, ortools_share if w == 0 else 0.0, out),
            daemon=True,
        )
        for w in range(workers - 1)
    ]
    for p in procs:
        p.start()
    results = [improve(instance, budget - (time.perf_counter() - start), seed=seed)]
    for _ in procs:
        got = out.get()
        if got is not None:
            results.append(got)
    for p in procs:
        p.join()
    best = min(results, key=lambda r: r.cost)
    return SearchResult(
        routes=best.routes, cost=best.cost, iterations=sum(r.iterations for r in results)
    )
