"""Search quality on general hierarchies (issue 15, section 2): the bottleneck
explorer against the gradient explorer and the black-box baselines, same
space, same evaluator.

The space of each preset is read off the hierarchy (``HierarchySpace``,
span 2: each parameter at its preset value times 1/4 .. 4). Limits: ``--scale``
times the preset's own area and peak power (default 2: room to grow, so
both methods have something to find). Every design is mapped by the
hierarchy mapper with ``--mapper-budget`` exact evaluations per layer.
Prints, per (preset, network, seed), the best latency of each method at its
budget and its ratio to the explainable explorer's (> 1: the explorer is
better): random at ``--random-budgets``, and the baselines at the
explorer's budget (``--baselines``: the DOSA-style gradient explorer,
``jaxdse.codesign.hierarchy_gradient``; grid search and simulated annealing,
the Table-1 walks over the hierarchy's value indices; a genetic algorithm,
multivariate TPE and CMA-ES through optuna).

    python benchmarks/hierarchy_explore_quality.py [--presets eyeriss_like,gemmini_like]
        [--networks resnet18] [--seeds 0] [--budget 30] [--random-budgets 30,150] [--csv FILE]

Measured (README, "Exploring a general hierarchy"): four networks at seeds
0-2 at budget 50; at budget 500 only seed 0 of bert_base (CPU time).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from common import network, write_csv

from costmodels import hierarchy_model as hm
from costmodels.hierarchy import hierarchy_preset
from jaxdse.codesign.hierarchy_explore import explore_hierarchy
from jaxdse.codesign.hierarchy_space import HierarchySpace
from jaxdse.compile_cache import enable_compile_cache


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="tiny_cnn on gemmini_like, budget 6, random and gradient (CI smoke run)"
    )
    ap.add_argument("--presets", default="eyeriss_like,gemmini_like")
    ap.add_argument("--networks", default="resnet18")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--budget", type=int, default=30)
    ap.add_argument("--random-budgets", default="30,150")
    ap.add_argument(
        "--baselines", default="gradient,grid,annealing,genetic,bayesian_tpe,cmaes", help="methods at --budget"
    )
    ap.add_argument("--scale", type=float, default=2.0, help="limits = scale x the preset's area and peak power")
    ap.add_argument("--mapper-budget", type=int, default=200)
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.presets, args.networks, args.budget, args.random_budgets = "gemmini_like", "tiny_cnn", 6, "6"
        args.mapper_budget, args.baselines = 100, "gradient"
    enable_compile_cache()
    rows = []
    print(f"{'preset':<14} {'network':<10} {'seed':>4} {'method':<12} {'budget':>6} {'evals':>5} {'best ms':>9} "
          f"{'x expl':>11}")  # fmt: skip
    for preset in args.presets.split(","):
        hier = hierarchy_preset(preset)
        base = HierarchySpace(hier).to_hierarchy(HierarchySpace(hier).base_design())
        area = float(hm.area_mm2(base))
        limits = {"max_area_mm2": args.scale * area, "max_power_w": args.scale * float(hm.peak_power_w(base, area))}
        for name in args.networks.split(","):
            net = network(name)
            for seed in (int(s) for s in args.seeds.split(",")):
                runs = [("explainable", args.budget)]
                runs += [("random", int(b)) for b in args.random_budgets.split(",") if b]
                runs += [(m, args.budget) for m in args.baselines.split(",") if m]
                best = {}
                for method, budget in runs:
                    r = explore_hierarchy([net], hier, preset, budget=budget, method=method, seed=seed,
                                          mapper_budget=args.mapper_budget, progress=None, **limits)  # fmt: skip
                    lat = r.best.latency_s * 1e3 if r.best is not None else math.inf
                    best[(method, budget)] = lat
                    ratio = lat / best[("explainable", args.budget)]
                    rows.append({"preset": preset, "network": name, "seed": seed, "method": method, "budget": budget,
                                 "evaluations": len(r.evaluations), "best_latency_ms": round(lat, 5),
                                 "over_explainable": round(ratio, 4), "wall_s": round(r.wall_s, 1)})  # fmt: skip
                    print(f"{preset:<14} {name:<10} {seed:>4} {method:<12} {budget:>6} {len(r.evaluations):>5} "
                          f"{lat:>9.4f} {ratio:>11.3f}", flush=True)  # fmt: skip
                    if args.csv:  # after every run: an interrupted invocation keeps what it measured
                        write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
