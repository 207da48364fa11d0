"""Energy and EDP mapping at a small budget: the pruned join at its full range vs capped at the budget.

Why it exists: below ``JOIN_PRUNED_STARTS`` gradient starts an energy or EDP mapping used
to join only ``budget`` pruned candidates (at the Pareto benchmark's 40 per layer: 4
tilings x 9 orders ranked by utilisation, under dMazeRunner's no-spatial-reduction rule).
A design with more legal mappings (a larger virtual unicast: free in area, power and
every cost of a fixed mapping) then mapped worse, and NSGA-II's many samples of virtual
unicast found lower-energy fronts than the mapper could (README, "Pareto fronts"). Since
2026-12-07 energy and EDP join the full range at every budget (``jaxdse.mapper.api``).
This script measures what that buys and costs, in one process, per design:

* designs: the front points of the committed NSGA-II-2000 runs
  (``benchmarks/results/pareto_grid_s2_energy_pruned/runs/*_nsga2_s*.json``), at most
  ``--per-run`` of them spread along each front, each as NSGA-II chose it (``own``) and
  with virtual unicast 512 on every NoC (``512``: a superset of its legal mappings);
* ``capped``: the join as it was (``budget`` pruned candidates, the rule kept);
  ``full``: the join now; both ``map_network(objective=<the point's mapper objective>,
  budget=40, seed=<the run's seed>)``, second call timed (compilation not counted);
* printed per design: network energy (count-weighted) of each, ``full / capped``, wall
  time and exact evaluations; then the geometric means, and the ``512 / own`` energy
  ratio of each mode (1.0 = a larger mapping space maps no worse).

    python benchmarks/energy_join.py [--quick] [--per-run N] [--csv FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import ROOT, network, write_csv

import jaxdse.mapper.api as mapper_api
from jaxdse.codesign.pareto import non_dominated
from jaxdse.codesign.space import table1_space, to_arch
from jaxdse.mapper.api import map_network

RUNS = ROOT / "benchmarks/results/pareto_grid_s2_energy_pruned/runs"
BUDGET = 40  # benchmarks/pareto_quality.py --mapper-budget 40


def _capped(cand, layer, arch, objective, max_padding):
    """The join before 2026-12-07: ``BUDGET`` pruned candidates, dMazeRunner's rule kept."""
    from jaxdse.mapper.enumerate import pruned

    extra = pruned(layer, arch, objective, BUDGET, np.random.default_rng(0), max_padding=max_padding)
    return cand.joined(extra, "joined with the pruned top-N mapper's candidates, capped")


def _mapped(net, arch, objective: str, seed: int, capped: bool):
    """(count-weighted energy J, wall s, exact evaluations) of the second of two mappings."""
    saved = mapper_api._with_pruned
    if capped:
        mapper_api._with_pruned = _capped
    try:
        map_network(net, arch, objective=objective, budget=BUDGET, seed=seed, progress=False)  # compile / warm
        t = time.perf_counter()
        plan = map_network(net, arch, objective=objective, budget=BUDGET, seed=seed, progress=False)
        wall = time.perf_counter() - t
    finally:
        mapper_api._with_pruned = saved
    return float(plan.total()["energy_j"]), wall, int(plan.exact_evaluations)


def _designs(per_run: int, quick: bool) -> list[tuple[str, int, str, dict]]:
    """(network, seed, mapper objective, design) of each NSGA-II-2000 front, spread along it."""
    out = []
    for path in sorted(RUNS.glob("*_nsga2_s*.json")):
        run = json.loads(path.read_text())
        pts = [p for p in run["points"] if p["feasible"]]
        keep = non_dominated([(p["latency_s"], p["energy_j"]) for p in pts])
        front = sorted({json.dumps(pts[i]["design"], sort_keys=True): pts[i] for i in keep}.values(),
                       key=lambda p: p["latency_s"])  # fmt: skip
        idx = np.unique(np.linspace(0, len(front) - 1, min(per_run, len(front))).round().astype(int))
        out += [(run["network"], int(run["seed"]), front[i]["mapper_objective"], front[i]["design"]) for i in idx]
        if quick and out:
            return out[:1]
    return out


def _ratio(rows: list[dict], a: str, b: str) -> float:
    return sum(r[a] for r in rows) / sum(r[b] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one design (CI smoke)")
    ap.add_argument("--per-run", type=int, default=3, help="front points per NSGA-II run [3]")
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args()
    fixed = table1_space().fixed
    rows = []
    nets: dict = {}
    print(f"{'network':<13}{'seed':>5} {'objective':<10}{'virtual':<8}{'capped mJ':>11}{'full mJ':>10}"
          f"{'full/capped':>12}{'capped s':>9}{'full s':>8}{'capped ev':>10}{'full ev':>9}")  # fmt: skip
    for name, seed, objective, design in _designs(args.per_run, args.quick):
        net = nets.setdefault(name, network(name))
        wide = {**design, **{k: 512.0 for k in design if k.startswith("virtual_")}}
        for label, d in (("own", design), ("512", wide)):
            arch = to_arch(d, fixed)
            (ec, wc, nc), (ef, wf, nf) = (_mapped(net, arch, objective, seed, c) for c in (True, False))
            rows.append(dict(network=name, seed=seed, objective=objective, virtual=label, capped_mj=ec * 1e3,
                             full_mj=ef * 1e3, ratio=ef / ec, capped_s=wc, full_s=wf, capped_evals=nc,
                             full_evals=nf, design=json.dumps(d)))  # fmt: skip
            print(f"{name:<13}{seed:>5} {objective:<10}{label:<8}{ec * 1e3:>11.3f}{ef * 1e3:>10.3f}{ef / ec:>12.4f}"
                  f"{wc:>9.2f}{wf:>8.2f}{nc:>10,}{nf:>9,}", flush=True)  # fmt: skip
    gm = lambda xs: float(np.exp(np.mean(np.log(xs))))  # noqa: E731
    print(f"\ngeometric mean full / capped energy: {gm([r['ratio'] for r in rows]):.4f} "
          f"(best {min(r['ratio'] for r in rows):.4f}, worst {max(r['ratio'] for r in rows):.4f}); "
          f"wall full / capped: {_ratio(rows, 'full_s', 'capped_s'):.2f}x; "
          f"exact evaluations full / capped: {_ratio(rows, 'full_evals', 'capped_evals'):.2f}x")  # fmt: skip
    pairs = list(zip(rows[0::2], rows[1::2]))
    for mode in ("capped", "full"):
        r = [b[f"{mode}_mj"] / a[f"{mode}_mj"] for a, b in pairs]
        print(
            f"{mode}: energy with virtual 512 / with the design's own: geometric mean {gm(r):.4f}, worst {max(r):.4f}"
        )
    if args.csv:
        write_csv(args.csv, rows)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
