"""Re-map a reference run's best designs with today's mapper.

The 2,500-design reference runs (CMA-ES, the genetic algorithm; issue 15,
section 4) take 20-80 minutes per (network, method, seed) here. When the
mapper changes, the designs they found are still the strongest known
hardware; this script re-evaluates the best ``--top`` feasible designs of
each such run (read back from the run's ``trajectories.jsonl``: a baseline's
reason holds the design as ``space.describe`` wrote it) with today's
``Evaluator`` (same network, seed, Table-1 space and reference constraints
as ``search_quality.py``), and prints, per run, the best objective then and
now. With ``--against`` (a ``search_quality.py`` output folder) it adds each
network's best explainable result at the given budget and its gap to the
re-mapped reference.

This is not a re-run: a black-box search that saw today's mapper's values
could have gone elsewhere. It measures what the reference's own designs
are worth today, a floor under what a re-run would reach (a re-run keeps
its best design unless it finds a better one).

    python benchmarks/remap_references.py benchmarks/results/heldout_s0_b2500/*/trajectories.jsonl \\
        --methods cmaes --budget 2500 --against benchmarks/results/explainable_50_joined_mapper_v2 \\
        --csv benchmarks/results/remap_references/heldout_cmaes_2500.csv
    python benchmarks/remap_references.py --quick     # one run, two designs (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import ROOT, network, write_csv

from jaxdse.codesign import Constraints, Evaluator, table1_space
from jaxdse.codesign.space import SpaceError, describe, parse_described

HELD_OUT = {p.stem: str(p) for p in sorted((ROOT / "workloads/heldout").glob("*.yaml"))}


def best_designs(run: dict, top: int) -> list[tuple[float, dict]]:
    """A run's ``top`` best distinct feasible designs (objective then, design), best first."""
    out, seen = [], set()
    for t in sorted((t for t in run["trajectory"] if t["feasible"]), key=lambda t: t["objective"]):
        try:
            d = parse_described(t["reason"])
        except SpaceError:
            continue  # an explorer's move, not a whole design
        k = tuple(sorted(d.items()))
        if k not in seen:
            seen.add(k)
            out.append((t["objective"], d))
        if len(out) == top:
            break
    return out


def explainable_best(folder: Path, budget: int) -> dict[str, dict[int, float]]:
    """network -> seed -> best feasible objective of the explainable runs at ``budget`` in a results folder."""
    best: dict[str, dict[int, float]] = {}
    for line in open(folder / "trajectories.jsonl"):
        r = json.loads(line)
        if r["method"] == "explainable" and r["budget"] == budget:
            objs = [t["objective"] for t in r["trajectory"] if t["feasible"]]
            if objs:
                best.setdefault(r["network"], {})[r["seed"]] = min(objs)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trajectories", nargs="*", help="trajectories.jsonl files of search_quality.py runs")
    ap.add_argument("--methods", default="cmaes,genetic", help="comma-separated baseline methods to re-map")
    ap.add_argument("--budget", type=int, default=2500, help="the runs' budget (default 2500)")
    ap.add_argument("--top", type=int, default=8, help="best distinct feasible designs re-mapped per run")
    ap.add_argument("--against", type=Path, help="search_quality.py output folder with explainable runs")
    ap.add_argument("--against-budget", type=int, default=50, help="the explainable runs' budget (default 50)")
    ap.add_argument("--csv", type=Path, help="write one row per re-mapped design")
    ap.add_argument("--quick", action="store_true", help="one committed run, two designs")
    args = ap.parse_args(argv)
    if args.quick:
        args.trajectories = [str(ROOT / "benchmarks/results/heldout_s0_b2500/odd_stem/trajectories.jsonl")]
        args.methods, args.top = "cmaes", 2
    if not args.trajectories:
        ap.error("give trajectories.jsonl files (or --quick)")
    methods = args.methods.split(",")
    against = explainable_best(args.against, args.against_budget) if args.against else {}
    rows, summary = [], []
    for path in args.trajectories:
        for line in open(path):
            run = json.loads(line)
            if run["method"] not in methods or run["budget"] != args.budget:
                continue
            designs = best_designs(run, args.top)
            if not designs:
                print(f"{path}: {run['method']} seed {run['seed']}: no feasible design to re-map", file=sys.stderr)
                continue
            net = network(HELD_OUT.get(run["network"], run["network"]))
            ev = Evaluator([net], table1_space(), Constraints(), "latency", run["seed"])
            t = time.perf_counter()
            now = []
            for rank, (then, d) in enumerate(designs, 1):
                e = ev.evaluate(d)
                obj = e.objective if e.feasible else float("inf")
                now.append(obj)
                rows.append({"network": run["network"], "method": run["method"], "seed": run["seed"],
                             "budget": run["budget"], "rank_then": rank, "latency_ms_then": then * 1e3,
                             "latency_ms_now": obj * 1e3, "feasible_now": e.feasible,
                             "design": describe(d)})  # fmt: skip
            then_best, now_best = designs[0][0], min(now)
            ex = against.get(run["network"], {})
            gap = "".join(f"; explainable-{args.against_budget} seed {s} {v * 1e3:.4g} ms ({v / now_best - 1:+.1%})"
                          for s, v in sorted(ex.items()))  # fmt: skip
            summary.append(
                f"{run['network']:<24} {run['method']:<8} seed {run['seed']}: best then {then_best * 1e3:.4g} ms, "
                f"its {len(designs)} best re-mapped now {now_best * 1e3:.4g} ms"
                f" [{time.perf_counter() - t:.0f} s]{gap}"
            )
            print(summary[-1], flush=True)
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        write_csv(args.csv, rows)
    return 0 if summary else 1


if __name__ == "__main__":
    raise SystemExit(main())
