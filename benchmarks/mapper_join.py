"""The gradient mapper alone vs joined with the pruned top-N mapper, at the explorer's budget.

Why it exists: the explainable explorer's results on the held-apart networks moved by up
to 13% with the seed, and the cause was the mapper, not the search: one design of
swin_t_stage3 (1,024 PEs) mapped to 5.25 / 4.86 / 4.64 ms at mapper seeds 0 / 1 / 2.
Since 2026-12-06 the gradient mapper's candidates are joined with the pruned top-N
mapper's (``jaxdse.mapper.api._with_pruned``, from ``JOIN_PRUNED_STARTS`` starts); this
script measures what that buys and costs, per (design, network), in one process:

* ``gradient``: ``map_network(method="gradient", budget=873)``, the explorer's mapper
  before (``Evaluator.mapper_budget``: 4 starts), seed 0, its pruned join switched off;
* ``joined``: the same call with the join (what ``Evaluator`` runs now);
* network latency = count-weighted sum of each layer's latency; ratio joined / gradient
  (<= 1 by construction: the joined candidates include the gradient mapper's), its
  geometric mean and best case, and the summed wall time of each (second run of each
  mapping, so compilation is not counted) and exact evaluations per layer.

Designs: ``benchmarks/results/mapper_join/designs.json`` (designs the explorer evaluated;
see its ``source``) plus the Table-1 default design.

    python benchmarks/mapper_join.py [--quick] [--networks a,b] [--csv FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import ROOT, network, write_csv

import jaxdse.mapper.api as mapper_api
from jaxdse.codesign.space import table1_space, to_arch
from jaxdse.mapper.api import map_network

DESIGNS = ROOT / "benchmarks/results/mapper_join/designs.json"
HELD_OUT = "workloads/heldout/{}.yaml"
NETWORKS = ",".join(
    [HELD_OUT.format(n) for n in ("swin_t_stage3", "odd_stem", "dlrm_mlperf_mlps")]
    + ["resnet18", "bert_base", "mobilenet_v2"]
)
BUDGET = 873  # Evaluator.mapper_budget: 4 gradient starts


def _mapped(net, arch, join: bool):
    """(per-layer latency x count, wall s, exact evaluations) of the second of two mappings."""
    saved = mapper_api.JOIN_PRUNED_STARTS
    mapper_api.JOIN_PRUNED_STARTS = saved if join else 10**9
    try:
        map_network(net, arch, budget=BUDGET, seed=0, progress=False)  # compile / warm
        t = time.perf_counter()
        plan = map_network(net, arch, budget=BUDGET, seed=0, progress=False)
        wall = time.perf_counter() - t
    finally:
        mapper_api.JOIN_PRUNED_STARTS = saved
    lat = np.asarray(plan.costs.layers.latency_s, np.float64).ravel() * np.asarray(net.counts, np.float64)
    return lat, wall, int(plan.exact_evaluations)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two designs, two networks (CI smoke)")
    ap.add_argument("--networks", default=None, help=f"comma-separated [{NETWORKS}]")
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args()
    space = table1_space()
    designs = json.loads(DESIGNS.read_text())["designs"] + [space.default_design()]
    names = (args.networks or (HELD_OUT.format("swin_t_stage3") + ",resnet18" if args.quick else NETWORKS)).split(",")
    if args.quick:
        designs = designs[:1] + designs[-1:]
    nets = [network(str(ROOT / n) if n.startswith("workloads/") else n) for n in names]
    rows, logs = [], []
    wall = {"gradient": 0.0, "joined": 0.0}
    evals = {"gradient": 0, "joined": 0}
    layers = 0
    print(f"{len(designs)} designs x {len(nets)} networks, mapper budget {BUDGET}, seed 0")
    print(f"{'design':>6} {'network':24} {'gradient ms':>12} {'joined ms':>10} {'joined/gradient':>16}")
    for i, d in enumerate(designs):
        arch = to_arch({k: float(v) for k, v in d.items()}, space.fixed)
        for net in nets:
            g, gw, ge = _mapped(net, arch, join=False)
            j, jw, je = _mapped(net, arch, join=True)
            wall["gradient"] += gw
            wall["joined"] += jw
            evals["gradient"] += ge
            evals["joined"] += je
            layers += len(net.layers)
            ratio = float(j.sum() / g.sum())
            logs.append(np.log(ratio))
            rows.append(dict(design=i, network=net.name, gradient_ms=g.sum() * 1e3, joined_ms=j.sum() * 1e3,
                             ratio=ratio, gradient_wall_s=gw, joined_wall_s=jw))  # fmt: skip
            print(f"{i:>6} {net.name:24} {g.sum() * 1e3:12.4f} {j.sum() * 1e3:10.4f} {ratio:16.4f}", flush=True)
    print(
        f"joined / gradient network latency: geometric mean {np.exp(np.mean(logs)):.4f}, "
        f"best {np.exp(np.min(logs)):.4f}, worst {np.exp(np.max(logs)):.4f} over {len(logs)} (design, network) pairs"
    )
    print(
        f"wall (second runs, summed): gradient {wall['gradient']:.1f} s, joined {wall['joined']:.1f} s "
        f"({wall['joined'] / max(wall['gradient'], 1e-9):.2f}x); exact evaluations per layer: gradient "
        f"{evals['gradient'] / layers:,.0f}, joined {evals['joined'] / layers:,.0f}"
    )
    if args.csv:
        write_csv(args.csv, rows)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
