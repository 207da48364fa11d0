"""Codesign explorer quality per zoo network (issue 4's targets).

For each network, on the Table-1 space under the reference's constraints,
runs in one process: the explainable explorer (gradient warm start, the
default), the gradient explorer alone, and random search, each with the same
budget of evaluated designs (and random search with ``--random-budget``).
Prints per run: feasible or not, best feasible latency, evaluated designs
until the run came within 2% of the best-known design (the best feasible
design any run found for that network here), wall time; then the median
designs-to-2% of the explainable explorer.

    python benchmarks/explore_quality.py [--quick] [--networks a,b] [--budget 50] [--random-budget 200] [--csv F]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time

import jax
import numpy as np

import jaxdse
import workloads as w


def designs_to_within(result, target: float, tol: float = 0.02) -> int | None:
    best = result.best_so_far()
    hit = np.flatnonzero(best <= target * (1 + tol))
    return int(hit[0]) + 1 if hit.size else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="resnet18 only, budget 20 (CI smoke run)")
    ap.add_argument("--networks", help="comma-separated zoo names (default: all)")
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument("--random-budget", type=int, default=0, help="extra random-search run with this budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--csv")
    args = ap.parse_args()
    nets = args.networks.split(",") if args.networks else (["resnet18"] if args.quick else w.names())
    budget = 20 if args.quick else args.budget
    runs = [("explainable", budget), ("gradient", budget), ("random", budget)]
    if args.random_budget:
        runs.append(("random", args.random_budget))

    print(f"machine: {platform.machine()} {os.cpu_count()} cores, jax {jax.__version__} on {jax.devices()[0].platform}")
    print("space: Explainable-DSE Table 1; constraints: 75 mm^2, 4 W, per-network throughput (reference)")
    head = f"{'network':<16} {'method':<12} {'budget':>6} {'feasible':>8} {'latency_ms':>10} {'to_2%':>6} {'wall_s':>7}"
    print(head)
    print("-" * len(head))
    rows, to2 = [], []
    for name in nets:
        results = []
        for method, b in runs:
            t = time.perf_counter()
            r = jaxdse.explore(name, method=method, budget=b, seed=args.seed)
            results.append((method, b, r, time.perf_counter() - t))
        feas = [r.best.objective for _, _, r, _ in results if r.feasible]
        best_known = min(feas) if feas else float("inf")
        for method, b, r, wall in results:
            k = designs_to_within(r, best_known) if r.feasible else None
            if method == "explainable":
                to2.append(k if k is not None else b + 1)
            lat = r.best.total()["latency_s"] * 1e3
            rows.append(
                dict(
                    network=name,
                    method=method,
                    budget=b,
                    feasible=r.feasible,
                    latency_ms=lat,
                    designs_to_2pct=k,
                    wall_s=wall,
                    best_known_ms=best_known * 1e3,
                )
            )
            print(f"{name:<16} {method:<12} {b:>6} {str(r.feasible):>8} {lat:>10.3f} {str(k):>6} {wall:>7.1f}")
    print(
        f"explainable explorer: median designs to within 2% of best-known = {float(np.median(to2)):.1f} "
        f"(a run that never got there counts as budget + 1)"
    )
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
            wr.writeheader()
            wr.writerows(rows)


if __name__ == "__main__":
    main()
