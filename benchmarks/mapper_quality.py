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

``--presets a,b`` maps on those hierarchy presets instead
(``costmodels.hierarchy_preset``: eyeriss_like, simba_like, gemmini_like,
tpu_v1_like, explainable_default, ...) with ``jaxdse.map_on_hierarchy``:
the nest search (``jaxdse.mapper.nest_search``, the default) against the
best of ``--random`` random exact mappings per layer (10,000; 1,000 with
``--quick``), objective latency. The preset column names the design; the
search's first network on a preset includes its compile (``compile_s``:
the wall time of a one-layer warm-up run).

    python benchmarks/mapper_quality.py [--quick] [--models a,b] [--csv FILE] [--max-padding F]
    python benchmarks/mapper_quality.py --presets eyeriss_like,simba_like [--quick] [--models a,b] [--random N]
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
from jaxdse.hierarchy_plan import map_on_hierarchy


def run(net, arch, method, budget=None, seed=0, max_padding=jaxdse.DEFAULT_MAX_PADDING):
    t = time.perf_counter()
    plan = jaxdse.map_network(net, arch, method=method, budget=budget, seed=seed, max_padding=max_padding)
    wall = time.perf_counter() - t
    tot = plan.total()
    assert tot["legal"], f"{net.name}/{method}: an illegal mapping was reported"
    return tot["latency_s"], tot["exact_evaluations"], wall


def run_hierarchy(net, hier, method, samples=0):
    """Network latency (s), exact evaluations and wall time of one hierarchy mapping method."""
    t = time.perf_counter()
    plan = map_on_hierarchy(net, hier, method=method, samples=max(samples, 1))
    wall = time.perf_counter() - t
    tot = plan.total()
    assert tot["legal"], f"{net.name}/{method}: an illegal mapping was reported"
    return tot["latency_s"], tot["exact_evaluations"], wall


def main_presets(args, presets: list[str]) -> list[dict]:
    models = args.models.split(",") if args.models else (["resnet18", "bert_base"] if args.quick else w.names())
    samples = args.random or (1_000 if args.quick else 10_000)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, jax {jax.__version__} on {jax.devices()[0].platform}")
    print(f"objective latency; random = best of {samples:,} random exact mappings per layer")
    head = (
        f"{'preset':<20} {'network':<16} {'method':<7} {'latency_ms':>10} {'exact_evals':>12} {'wall_s':>7} "
        f"{'compile_s':>9} {'lat/search':>10} {'evals/search':>12}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for preset in presets:
        hier = cm.hierarchy_preset(preset)
        t = time.perf_counter()
        first = w.get(models[0])
        map_on_hierarchy(w.Network(name=first.name, layers=first.layers[:1], counts=first.counts[:1]), hier)
        compile_s = time.perf_counter() - t
        for name in models:
            net = w.get(name)
            res = {"search": run_hierarchy(net, hier, "search"), "random": run_hierarchy(net, hier, "random", samples)}
            s_lat, s_ev, _ = res["search"]
            for method, (lat, ev, wall) in res.items():
                cs = compile_s if (method == "search" and name == models[0]) else ""
                rows.append(
                    dict(
                        preset=preset,
                        network=name,
                        method=method,
                        latency_ms=lat * 1e3,
                        exact_evaluations=ev,
                        wall_s=wall,
                        compile_s=cs,
                        latency_vs_search=lat / s_lat,
                        evaluations_vs_search=ev / s_ev,
                    )
                )
                csf = f"{cs:>9.1f}" if cs != "" else f"{'':>9}"
                print(
                    f"{preset:<20} {name:<16} {method:<7} {lat * 1e3:>10.3f} {ev:>12,} {wall:>7.2f} {csf} "
                    f"{lat / s_lat:>10.3f} {ev / s_ev:>12.1f}",
                    flush=True,
                )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two small networks, 1,000 random mappings (CI smoke)")
    ap.add_argument("--models", help="comma-separated zoo names (default: all)")
    ap.add_argument("--csv", help="also write the table as CSV")
    ap.add_argument("--max-padding", type=float, default=jaxdse.DEFAULT_MAX_PADDING, help="padding slack per dim")
    ap.add_argument("--presets", help="comma-separated hierarchy presets: nest search vs random on each")
    ap.add_argument("--random", type=int, help="random mappings per layer with --presets [10,000; quick 1,000]")
    args = ap.parse_args()
    if args.presets:
        rows = main_presets(args, args.presets.split(","))
        if args.csv:
            with open(args.csv, "w", newline="") as fh:
                wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
                wr.writeheader()
                wr.writerows(rows)
        return

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
