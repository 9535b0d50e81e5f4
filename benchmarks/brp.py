"""Static bike rebalancing (BRP) benchmark: our search against plain OR-Tools.

Each of the 65 Dell'Amico et al. (2014) instances is solved by our
ruin-and-recreate search and by the OR-Tools routing solver (signed demand as
one load dimension with a free start load, guided local search), both with the
same wall-clock limit, in the same run. Every solution is checked by the
independent validator. The gap is to the best known value of
data/brp/bks_dellamico2014.csv (column best_ub_in_these_two_sources); means
are given on all 65, on the 49 proven optima and on the 15 instances over 60
vertices. With --large the 9 Parada et al. (2025) city instances (haversine km,
Q = 40) are solved instead and compared with OR-Tools only (no best known).

    python benchmarks/brp.py --time-limit 10 --json      # the full run (about 22 min)
    python benchmarks/brp.py --instances 01 47 56        # a subset, readable table
    python benchmarks/brp.py --large --time-limit 60

Our solver (``rebalancing.portfolio.solve_brp``) uses ``--workers`` processes
(2 by default, the machine's 2 cores): one searches from scratch; the other,
on instances of at most 40 stations, searches briefly and hands its solution
to the exact CP-SAT model (``ours_proven_optimal`` in the JSON when it proves
optimality, and then both stop early), and on larger ones gives OR-Tools half
its time and searches from its answer. OR-Tools alone runs single-threaded.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from citysmart.core.paths import data_dir
from citysmart.services.bikes.rebalancing.instance import (
    BrpInstance,
    parse_dellamico,
    parse_parada_slr,
)
from citysmart.services.bikes.rebalancing.ortools_routing import solve_ortools
from citysmart.services.bikes.rebalancing.portfolio import solve_brp
from citysmart.services.bikes.rebalancing.validate import check_solution


def _gap(value: float, ref: float) -> float:
    return 100.0 * (value - ref) / ref


def _mean(rows: list[dict[str, Any]], key: str, clip: bool = False) -> float | None:
    values = [max(0.0, r[key]) if clip else r[key] for r in rows if r.get(key) is not None]
    return round(statistics.fmean(values), 3) if values else None


def _run_one(instance: BrpInstance, args: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    ours = solve_brp(instance, args.time_limit, workers=args.workers, seed=args.seed)
    ours_time = time.perf_counter() - t
    verdict = check_solution(instance, ours.routes, ours.cost)
    if not verdict.ok:
        raise SystemExit(f"{instance.name}: our solution is invalid: {verdict.errors}")
    row: dict[str, Any] = {
        "instance": instance.name,
        "n": instance.n,
        "Q": instance.capacity,
        "ours": round(verdict.cost, 3),
        "ours_routes": len(ours.routes),
        "ours_iterations": ours.iterations,
        "ours_proven_optimal": ours.optimal,
        "ours_time_s": round(ours_time, 2),
        # wall-clock limits mean little on a busy machine: keep its load with the figures
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    if not args.no_ortools:
        t = time.perf_counter()
        try:
            base = solve_ortools(instance, args.time_limit)
        except RuntimeError as exc:  # no first solution within the limit
            print(f"{instance.name}: {exc}", file=sys.stderr)
            row.update(ortools=None)
            return row
        base_time = time.perf_counter() - t
        base_verdict = check_solution(instance, base.routes, base.cost)
        if not base_verdict.ok:
            raise SystemExit(
                f"{instance.name}: OR-Tools solution is invalid: {base_verdict.errors}"
            )
        row.update(ortools=round(base_verdict.cost, 3), ortools_time_s=round(base_time, 2))
        row["ours_vs_ortools_pct"] = round(_gap(verdict.cost, base_verdict.cost), 3)
    return row


def run_dellamico(args: argparse.Namespace) -> dict[str, Any]:
    """Solve the Dell'Amico instances and summarise the gaps."""
    root = data_dir() / "brp"
    table = list(csv.DictReader((root / "bks_dellamico2014.csv").open(encoding="utf-8")))
    if args.instances:
        table = [
            r for r in table if any(Path(r["file"]).name.startswith(p) for p in args.instances)
        ]
        if not table:
            raise SystemExit(f"no instance matches {args.instances}")
    rows = []
    for entry in table:
        instance = parse_dellamico(root / entry["file"])
        row = _run_one(instance, args)
        bks = float(entry["best_ub_in_these_two_sources"])
        row.update(
            bks=bks,
            proven_optimal=entry["proven_optimal_2014"] == "1",
            gap_pct=round(_gap(row["ours"], bks), 3),
        )
        if row.get("ortools"):
            row["ortools_gap_pct"] = round(_gap(row["ortools"], bks), 3)
        rows.append(row)
        print(
            f"{row['instance']:32s} ours {row['ours']:>10.0f} ({row['gap_pct']:+.2f}%)"
            + (
                f"  ortools {row['ortools']:>10.0f} ({row['ortools_gap_pct']:+.2f}%)"
                if "ortools" in row
                else ""
            ),
            file=sys.stderr,
            flush=True,
        )
    groups = {
        "all": rows,
        "proven_optimal": [r for r in rows if r["proven_optimal"]],
        "over_60_vertices": [r for r in rows if r["n"] > 60],
    }
    summary = {
        name: {
            "instances": len(group),
            "ours_mean_gap_pct": _mean(group, "gap_pct"),
            "ortools_mean_gap_pct": _mean(group, "ortools_gap_pct"),
            # the goal's measure: a solution below the published bound counts as 0
            "ours_mean_gap_negatives_as_0_pct": _mean(group, "gap_pct", clip=True),
            "ortools_mean_gap_negatives_as_0_pct": _mean(group, "ortools_gap_pct", clip=True),
            "ours_proven_optimal": sum(bool(r.get("ours_proven_optimal")) for r in group),
        }
        for name, group in groups.items()
    }
    return {"rows": rows, "summary": summary}


def run_large(args: argparse.Namespace) -> dict[str, Any]:
    """Solve the large city instances and compare with OR-Tools."""
    root = data_dir() / "brp" / "parada2025_slr"
    paths = sorted(root.glob("*.txt"), key=lambda p: int("".join(c for c in p.stem if c.isdigit())))
    if args.instances:
        paths = [p for p in paths if any(p.stem.startswith(x) for x in args.instances)]
    rows = []
    for path in paths:
        instance = parse_parada_slr(path)
        row = _run_one(instance, args)
        rows.append(row)
        print(
            f"{row['instance']:20s} ours {row['ours']:9.2f} km"
            + (
                f"  ortools {row['ortools']:9.2f} km ({row['ours_vs_ortools_pct']:+.2f}%)"
                if "ortools" in row
                else ""
            ),
            file=sys.stderr,
            flush=True,
        )
    return {
        "rows": rows,
        "summary": {"ours_vs_ortools_mean_pct": _mean(rows, "ours_vs_ortools_pct")},
    }


def _num(value: float | None, width: int, decimals: int) -> str:
    return f"{value:{width}.{decimals}f}" if value is not None else " " * (width - 1) + "-"


def _print_table(result: dict[str, Any], large: bool) -> None:
    rows = result["rows"]
    if large:
        print(
            f"{'instance':20s} {'stations':>8s} {'ours km':>10s} "
            f"{'OR-Tools km':>12s} {'diff %':>8s}"
        )
        for r in rows:
            print(
                f"{r['instance']:20s} {r['n'] - 1:8d} {_num(r['ours'], 10, 2)} "
                f"{_num(r.get('ortools'), 12, 2)} {_num(r.get('ours_vs_ortools_pct'), 8, 2)}"
            )
        print(f"mean difference to OR-Tools: {result['summary']['ours_vs_ortools_mean_pct']}%")
        return
    head = ("instance", "n", "Q", "best known", "ours", "gap %", "OR-Tools", "gap %")
    print("{:32s} {:>4s} {:>3s} {:>11s} {:>10s} {:>7s} {:>10s} {:>7s}".format(*head))
    for r in rows:
        print(
            f"{r['instance']:32s} {r['n']:4d} {r['Q']:3d} {r['bks']:11.0f} "
            f"{_num(r['ours'], 10, 0)} "
            f"{_num(r['gap_pct'], 7, 2)} {_num(r.get('ortools'), 10, 0)} "
            f"{_num(r.get('ortools_gap_pct'), 7, 2)}"
        )
    for name, s in result["summary"].items():
        print(
            f"mean gap on {name} ({s['instances']}): ours {s['ours_mean_gap_pct']}%, "
            f"OR-Tools {s['ortools_mean_gap_pct']}%; negatives as 0: ours "
            f"{s['ours_mean_gap_negatives_as_0_pct']}%, "
            f"OR-Tools {s['ortools_mean_gap_negatives_as_0_pct']}%; "
            f"proven optimal by ours: {s['ours_proven_optimal']}"
        )


def main() -> None:
    """Parse the options, run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per instance and solver (10; 60 with --large)",
    )
    parser.add_argument(
        "--instances", nargs="*", help="file-name prefixes to solve, e.g. 01 47 or boston"
    )
    parser.add_argument(
        "--large", action="store_true", help="solve the 9 Parada et al. (2025) city instances"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes for our search (default 2)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ortools", action="store_true", help="skip the OR-Tools baseline")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args()
    if args.time_limit is None:
        args.time_limit = 60.0 if args.large else 10.0
    if args.time_limit <= 0:
        parser.error("--time-limit must be positive")
    result = run_large(args) if args.large else run_dellamico(args)
    result["settings"] = {
        "time_limit_s": args.time_limit,
        "workers": args.workers,
        "seed": args.seed,
        "cpus": os.cpu_count(),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        _print_table(result, args.large)


if __name__ == "__main__":
    main()
