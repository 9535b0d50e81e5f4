"""Run the BRP search in several processes beside a second method; keep the best answer.

With two or more workers, worker 0 runs a second method and the others
(the calling process included) run our search from scratch:

* small instances (at most EXACT_MAX_STATIONS stations, integer costs):
  worker 0 searches for a share of the time, then the exact CP-SAT model
  (``exact.py``) continues from that solution as a hint; when it proves
  optimality, every search stops early and the answer says it is optimal;
* larger ones: worker 0 gives OR-Tools (guided local search) a share of the
  time and improves its solution with our search.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from citysmart.services.bikes.rebalancing.exact import solve_exact
from citysmart.services.bikes.rebalancing.instance import BrpInstance
from citysmart.services.bikes.rebalancing.ortools_routing import solve_ortools
from citysmart.services.bikes.rebalancing.search import LARGE, SearchResult, improve

# Set once on the benchmark family, not per instance.
EXACT_MAX_STATIONS = 40  # CP-SAT proves most of these in seconds; above, its bound lags
EXACT_WARMUP = 0.1  # share of the time the exact worker searches before CP-SAT takes over
ORTOOLS_SHARE = 0.5  # share of the time the OR-Tools-seeded worker gives OR-Tools
# above LARGE stations our Python search makes few steps: OR-Tools gets most of the time
ORTOOLS_SHARE_LARGE = 0.9
SEEDED_TEMPERATURE = 0.3  # cooler search from a good OR-Tools solution
STARTUP_MARGIN = 0.15  # seconds kept for forking and collecting the workers


def _route_cost(instance: BrpInstance, routes: list[list[int]]) -> float:
    total = 0.0
    for route in routes:
        path = [0, *route, 0]
        total += sum(float(instance.cost[a, b]) for a, b in zip(path, path[1:], strict=False))
    return total


def exact_fits(instance: BrpInstance) -> bool:
    """Return True when the exact model is worth running on this instance."""
    return instance.n - 1 <= EXACT_MAX_STATIONS and instance.integral_cost


def _run_exact(instance: BrpInstance, time_limit: float, seed: int, done: Event) -> SearchResult:
    """Search briefly, then let CP-SAT improve or prove that solution."""
    start = time.perf_counter()
    warm = improve(instance, EXACT_WARMUP * time_limit, seed=seed, stop=done.is_set)
    rest = time_limit - (time.perf_counter() - start)
    if rest <= 0.05:
        return warm
    exact = solve_exact(instance, rest, hint=warm.routes, workers=1)
    if exact.optimal:
        done.set()  # the other searches cannot do better
    if exact.routes is None:
        return warm
    cost = _route_cost(instance, exact.routes)
    if cost > warm.cost + 1e-9:
        return warm
    return SearchResult(exact.routes, cost, warm.iterations, optimal=exact.optimal)


def _run_seeded(instance: BrpInstance, time_limit: float, seed: int, share: float) -> SearchResult:
    """Search from the solution OR-Tools finds in a share of the time."""
    start = time.perf_counter()
    try:
        first = solve_ortools(instance, share * time_limit)
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
    role: str,
    share: float,
    done: Event,
    out: Queue[SearchResult | None],
) -> None:
    try:
        if role == "exact":
            result = _run_exact(instance, time_limit, seed, done)
        elif role == "ortools":
            result = _run_seeded(instance, time_limit, seed, share)
        else:
            result = improve(instance, time_limit, seed=seed, stop=done.is_set)
        out.put(result)
    except Exception:  # the caller still has its own search; never leave it waiting
        out.put(None)
        raise


def solve_brp(
    instance: BrpInstance,
    time_limit: float,
    workers: int = 1,
    seed: int = 0,
    ortools_share: float | None = None,
    exact: bool | None = None,
) -> SearchResult:
    """Run searches in ``workers`` processes, worker 0 with a second method; return the best.

    ``exact`` chooses the CP-SAT worker (by default on small instances with
    integer costs, see ``exact_fits``); otherwise worker 0 spends
    ``ortools_share`` of the time (by default ORTOOLS_SHARE, or
    ORTOOLS_SHARE_LARGE above LARGE stations) on OR-Tools. ``time_limit`` is
    wall-clock seconds for the whole call; process start-up is taken out of it.
    """
    if workers <= 1:
        return improve(instance, time_limit, seed=seed)
    use_exact = exact_fits(instance) if exact is None else exact
    if ortools_share is None:
        ortools_share = ORTOOLS_SHARE if instance.n - 1 <= LARGE else ORTOOLS_SHARE_LARGE
    start = time.perf_counter()
    ctx = multiprocessing.get_context("fork")  # the instance is inherited, not pickled
    out: Queue[SearchResult | None] = ctx.Queue()
    done = ctx.Event()
    budget = max(0.1, time_limit - STARTUP_MARGIN)
    first_role = "exact" if use_exact else "ortools"
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                instance,
                budget,
                seed + w + 1,
                first_role if w == 0 else "search",
                ortools_share,
                done,
                out,
            ),
            daemon=True,
        )
        for w in range(workers - 1)
    ]
    for p in procs:
        p.start()
    results = [
        improve(instance, budget - (time.perf_counter() - start), seed=seed, stop=done.is_set)
    ]
    for _ in procs:
        got = out.get()
        if got is not None:
            results.append(got)
    for p in procs:
        p.join()
    best = min(results, key=lambda r: (r.cost, not r.optimal))
    # a search that reached the proven optimum's cost is optimal too
    optimal = any(r.optimal and r.cost <= best.cost + 1e-9 for r in results)
    return SearchResult(
        routes=best.routes,
        cost=best.cost,
        iterations=sum(r.iterations for r in results),
        optimal=optimal,
    )
