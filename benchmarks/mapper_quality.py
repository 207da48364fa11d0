"""Mapper quality and speed: gradient vs pruned top-N vs 10,000 random mappings.

For each zoo network on the ``explainable_default`` design, maps every
unique layer with each method in the same process and prints the network
latency (count-weighted sum of the best legal mapping per layer), the exact
cost-model evaluations spent (all layers together), the wall time, and the
gradient mapper's ratios to each baseline. Random = Timeloop-style random
legal mappings, 10,000 per layer (Explainable-DSE's black-box setting);
pruned = dMazeRunner-style pruned top-N linear search.

The gradient mapper is run twice per network: the first run includes
compilation (reported separately as ``compile_s``), the second is timed.

Every method searches padded factorisations up to ``--max-padding`` (default
``jaxdse.DEFAULT_MAX_PADDING``; 0 = exact factorisations only, the mappers as
they were before issue 14).

    python benchmarks/mapper_quality.py [--quick] [--models a,b] [--csv FILE] [--max-padding F]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time

import jax

import costmodels as cm
import jaxdse
import workloads as w


def run(net, arch, method, budget=None, seed=0, max_padding=jaxdse.DEFAULT_MAX_PADDING):
    t = time.perf_counter()
    plan = jaxdse.map_network(net, arch, method=method, budget=budget, seed=seed, max_padding=max_padding)
    wall = time.perf_counter() - t
    tot = plan.total()
    assert tot["legal"], f"{net.name}/{method}: an illegal mapping was reported"
    return tot["latency_s"], tot["exact_evaluations"], wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two small networks, 1,000 random mappings (CI smoke)")
    ap.add_argument("--models", help="comma-separated zoo names (default: all)")
    ap.add_argument("--csv", help="also write the table as CSV")
    ap.add_argument("--max-padding", type=float, default=jaxdse.DEFAULT_MAX_PADDING, help="padding slack per dim")
    args = ap.parse_args()

    arch = cm.preset("explainable_default")
    models = args.models.split(",") if args.models else (["resnet18", "bert_base"] if args.quick else w.names())
    random_budget = 1_000 if args.quick else 10_000
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, jax {jax.__version__} on {jax.devices()[0].platform}")
    print(
        f"design: explainable_default; random = {random_budget:,} legal mappings per layer; "
        f"padding up to {args.max_padding:.1%}"
    )
    pad = args.max_padding
    head = (
        f"{'network':<16} {'method':<9} {'latency_ms':>10} {'exact_evals':>12} {'wall_s':>7} {'compile_s':>9} "
        f"{'lat/grad':>8} {'evals/grad':>10}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for name in models:
        net = w.get(name)
        t = time.perf_counter()
        jaxdse.map_network(net, arch, method="gradient", seed=1, max_padding=pad)  # compile (and warm up)
        compile_s = time.perf_counter() - t
        results = {"gradient": run(net, arch, "gradient", max_padding=pad)}
        results["pruned"] = run(net, arch, "pruned", max_padding=pad)
        results["random"] = run(net, arch, "random", budget=random_budget, max_padding=pad)
        g_lat, g_ev, _ = results["gradient"]
        for method, (lat, ev, wall) in results.items():
            row = dict(
                network=name,
                method=method,
                latency_ms=lat * 1e3,
                exact_evaluations=ev,
                wall_s=wall,
                compile_s=compile_s if method == "gradient" else "",
                latency_vs_gradient=lat / g_lat,
                evaluations_vs_gradient=ev / g_ev,
            )
            rows.append(row)
            cs = f"{compile_s:>9.1f}" if method == "gradient" else f"{'':>9}"
            print(
                f"{name:<16} {method:<9} {lat * 1e3:>10.3f} {ev:>12,} {wall:>7.2f} {cs} "
                f"{lat / g_lat:>8.3f} {ev / g_ev:>10.1f}"
            )
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
            wr.writeheader()
            wr.writerows(rows)


if __name__ == "__main__":
    main()
