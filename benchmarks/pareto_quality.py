"""Pareto-front quality (issue 16): jaxdse's gray-box front search vs optuna's
NSGA-II, multi-objective TPE and random search, latency x energy.

Every method evaluates points through the same ``MultiEvaluator`` (the
Table-1 space, the reference's constraints, the gradient mapper in the loop,
exact costs). A point is a hardware design plus the mapper objective it is
mapped with (latency, energy or EDP); the black-box methods choose that
objective as one more categorical variable, so they can reach every point
jaxdse can. Infeasible points are reported to optuna as constraint
violations (``constraints_func``: log budgets, met when <= 0) and never
enter a front.

Budgets: each method runs once per (network, seed) to its largest budget;
the hypervolume at a smaller budget is that of the first B evaluations of
the same run. That is exactly a run with budget B: no method here reads its
budget except to stop (jaxdse's search stops at the budget; optuna's samplers
and the random sampler are given no trial count).

Hypervolume: per network, both objectives are put in log10 space and
normalised by the union of all feasible points every run of every method
evaluated on that network (min -> 0, max -> 1); reference point (1.1, 1.1),
so a front's hypervolume is at most 1.21. Normalisation therefore depends on
the runs present in the results folder: numbers are compared within one
summary, never across summaries. "dominated share" of method A by method B
at the same budget: the share of A's front points that some point of B's
front dominates.

    python benchmarks/pareto_quality.py [--quick] [--networks tiny_cnn,resnet18] [--seeds 0]
        [--methods jaxdse,nsga2,tpe,random] [--max-budget jaxdse=200,nsga2=2000,tpe=200,random=2000]
        [--arch gemmini_like] [--out benchmarks/results/pareto]

``--arch PRESET`` runs every method on that hierarchy's space instead
(``HierarchySpace`` read off the preset, limits twice its area and peak
power, the hierarchy mapper in the loop; jaxdse's search through
``hierarchy_pareto.HierarchyMoves``): give it its own ``--out``.

Raw results: ``OUT/runs/{network}_{method}_s{seed}.json`` (every evaluated
point: index, mapper objective, latency_s, energy_j, area_mm2, power_w,
feasible, design), written as the run goes (a partial run is kept and marked);
``OUT/summary.csv`` (hypervolume per network, method, seed, budget) and
``OUT/dominated.csv`` are rebuilt from them by ``--summarise``, which also
runs after the searches, with ``OUT/fronts_{network}.png`` (seed 0; other
seeds ``fronts_{network}_s{seed}.png``: every method's front at its largest
budget over the greyed evaluated points).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
from common import network, write_csv

from jaxdse.codesign import Constraints, Evaluator, table1_space
from jaxdse.codesign.hierarchy_pareto import hier_costs
from jaxdse.codesign.pareto import (
    FrontSearch,
    MultiEvaluator,
    ParetoConfig,
    costs_of,
    hypervolume,
    non_dominated,
    pareto_evaluators,
    pareto_search,
)
from jaxdse.codesign.result import Trace
from jaxdse.codesign.space import PARAMS
from jaxdse.compile_cache import enable_compile_cache

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = ("latency", "energy")
BUDGETS = (50, 200, 2000)
REF = (1.1, 1.1)
RANDOM_SEED_OFFSET = 1000
"""Random search's sampler seed is ``seed + 1000``: NSGA-II's first generation is
random sampling with the same seed, so equal seeds would give the same designs."""


def multi_evaluator(net, seed: int, mapper_budget: int | None) -> MultiEvaluator:
    kw = {} if mapper_budget is None else {"mapper_budget": mapper_budget}
    base = Evaluator([net], table1_space(), Constraints(), "latency", seed, **kw)
    return MultiEvaluator(pareto_evaluators(base, OBJECTIVES), OBJECTIVES)


def hierarchy_store(net, arch: str, seed: int, mapper_budget: int | None, scale: float = 2.0):
    """The evaluation store of a hierarchy preset's space (``HierarchySpace``, span 2), limits
    ``scale`` x the preset's own area and peak power (as ``hierarchy_explore_quality.py``)."""
    from costmodels import hierarchy_model as hm
    from costmodels.hierarchy import hierarchy_preset
    from jaxdse.codesign.hierarchy_pareto import HierarchyStore
    from jaxdse.codesign.hierarchy_rules import DEFAULT_MAPPER_BUDGET
    from jaxdse.codesign.hierarchy_space import HierarchySpace

    base = hierarchy_preset(arch)
    area = float(hm.area_mm2(base))
    limits = {"area_mm2": scale * area, "power_w": scale * float(hm.peak_power_w(base, area))}
    space = HierarchySpace(base)
    mb = mapper_budget or DEFAULT_MAPPER_BUDGET
    return HierarchyStore.for_objectives([net], space, limits, OBJECTIVES, seed, mb), limits


def space_values(me) -> dict[str, list[float]]:
    """Each hardware parameter's legal values (what a black-box sampler chooses among)."""
    if isinstance(me, MultiEvaluator):
        return {p: [float(v) for v in me.space.values[p]] for p in PARAMS}
    return {p.name: [float(v) for v in p.values] for p in me.space.params}


def _row(p) -> dict:
    c = costs_of(p.ev) if isinstance(p.ev.latency_s, dict) else hier_costs(p.ev)  # Table-1 / hierarchy point
    return {
        "index": p.ev.index,
        "mapper_objective": p.mapper_objective,
        "latency_s": c["latency"],
        "energy_j": c["energy"],
        "area_mm2": c["area"],
        "power_w": c["power"],
        "feasible": bool(p.ev.feasible),
        "design": dict(p.ev.design),
    }


class Recorder:
    """Writes a run's points to its JSON file after every evaluation."""

    def __init__(self, path: Path, meta: dict) -> None:
        self.path, self.meta, self.rows, self.t0 = path, meta, [], time.perf_counter()

    def add(self, p) -> None:
        self.rows.append(_row(p))
        self.flush(done=False)

    def flush(self, done: bool) -> None:
        data = {**self.meta, "complete": done, "wall_s": time.perf_counter() - self.t0, "points": self.rows}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)


def run_jaxdse(me, budget: int, rec: Recorder, hier: tuple | None = None) -> None:
    """jaxdse's front search; ``hier`` = (network, limits) on a hierarchy store."""
    seen = 0

    def progress(_line: str) -> None:
        nonlocal seen
        for p in me.points[seen:]:
            rec.add(p)
        seen = len(me.points)

    if hier is None:
        pareto_search(me, budget, Trace(), progress=progress)
    else:
        from jaxdse.codesign.hierarchy_pareto import HierarchyMoves

        cfg = ParetoConfig()
        moves = HierarchyMoves(me, [hier[0]], hier[1], cfg)
        FrontSearch(me, moves, budget, Trace(), cfg, progress).run(moves.start())
    progress("")


def run_optuna(me: MultiEvaluator, method: str, budget: int, seed: int, rec: Recorder) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    values = space_values(me)
    mos = list(me.evaluators)

    def cons(trial) -> list[float]:
        return trial.user_attrs["log_budgets"]

    if method == "nsga2":
        sampler = optuna.samplers.NSGAIISampler(seed=seed, constraints_func=cons)
    elif method == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constraints_func=cons)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed + RANDOM_SEED_OFFSET)
    dists = {p: optuna.distributions.IntDistribution(0, len(v) - 1) for p, v in values.items()}
    dists["mapper_objective"] = optuna.distributions.CategoricalDistribution(mos)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    tries = 0
    while me.count < budget and tries < 20 * budget:
        tries += 1
        trial = study.ask(dists)
        design = {p: v[trial.params[p]] for p, v in values.items()}
        p, new = me.evaluate(design, trial.params["mapper_objective"])
        logb = [math.log(max(b, 1e-300)) for b in p.ev.budgets.values()] or [-1.0]
        if getattr(p.ev, "unmappable", ""):
            logb.append(1.0)  # no legal mapping: a violated constraint
        trial.set_user_attr("log_budgets", logb)
        c = me.costs(p)
        fin = [x if math.isfinite(x) else 1e30 for x in (c["latency"], c["energy"])]
        study.tell(trial, fin)
        if new:
            rec.add(p)


def run(
    name: str, method: str, seed: int, budget: int, out: Path, mapper_budget: int | None, cache: dict, arch=None
) -> None:
    path = out / "runs" / f"{name}_{method}_s{seed}.json"
    if path.exists():  # a grid stopped midway restarts where it was: finished runs are kept
        old = json.loads(path.read_text())
        if old.get("complete") and old.get("budget", 0) >= budget and old.get("mapper_budget") == mapper_budget:
            print(f"{name} {method} seed {seed}: kept ({len(old['points'])} points in {path})", flush=True)
            return
    net = network(name)
    key = (name, seed)
    if key not in cache:  # one mapper per (network, seed): methods share mapped designs, not budgets
        cache[key] = (
            multi_evaluator(net, seed, mapper_budget)
            if arch is None
            else hierarchy_store(net, arch, seed, mapper_budget)
        )
    if arch is None:
        me, hier = MultiEvaluator(cache[key].evaluators, OBJECTIVES), None
    else:
        from jaxdse.codesign.hierarchy_pareto import HierarchyStore

        store, limits = cache[key]
        me, hier = HierarchyStore(store.evaluators, OBJECTIVES, seed), (net, limits)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"network": name, "method": method, "seed": seed, "budget": budget, "mapper_budget": mapper_budget}
    meta |= {"arch": arch} if arch else {}
    rec = Recorder(path, meta)
    t = time.perf_counter()
    if method == "jaxdse":
        run_jaxdse(me, budget, rec, hier)
    else:
        run_optuna(me, method, budget, seed, rec)
    rec.flush(done=True)
    print(f"{name} {method} seed {seed}: {me.count} points in {time.perf_counter() - t:.0f} s", flush=True)


def _front(points: list[dict]) -> list[tuple]:
    v = [(p["latency_s"], p["energy_j"]) for p in points if p["feasible"]]
    return [v[i] for i in non_dominated(v)]


def keep_orphaned_summary(out: Path, runs: list[dict]) -> None:
    """Hypervolumes are normalised over every run in ``OUT/runs``, so a summary is rebuilt
    whole. When the existing ``summary.csv`` names runs whose raw files are gone (a folder
    copied without ``runs/``), its numbers cannot be rebuilt: move it and ``dominated.csv``
    aside (``*.orphaned-<time>.csv``) instead of overwriting them, and say so."""
    path = out / "summary.csv"
    if not path.exists():
        return
    present = {(r["network"], r["method"], str(r["seed"])) for r in runs}
    with path.open() as f:
        listed = {(row["network"], row["method"], row["seed"]) for row in csv.DictReader(f)}
    missing = sorted(listed - present)
    if not missing:
        return
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for name in ("summary", "dominated"):
        if (out / f"{name}.csv").exists():
            (out / f"{name}.csv").rename(out / f"{name}.orphaned-{stamp}.csv")
    print(
        f"{path}: {len(missing)} summarised run(s) have no raw file in {out / 'runs'} "
        f"(e.g. {'/'.join(missing[0])}); the old tables are kept as *.orphaned-{stamp}.csv",
        flush=True,
    )


def summarise(out: Path, budgets: tuple[int, ...] = BUDGETS) -> list[dict]:
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    keep_orphaned_summary(out, runs)
    rows, dom = [], []
    for net in sorted({r["network"] for r in runs}):
        rs = [r for r in runs if r["network"] == net]
        feasible = [(p["latency_s"], p["energy_j"]) for r in rs for p in r["points"] if p["feasible"]]
        if not feasible:
            print(f"{net}: no feasible point yet in {len(rs)} run(s): no hypervolume")
            continue
        allpts = np.log10(feasible)
        lo, hi = allpts.min(0), allpts.max(0)
        span = np.where(hi > lo, hi - lo, 1.0)

        def norm(front, lo=lo, span=span):
            return [tuple((np.log10(f) - lo) / span) for f in front]

        fronts = {}
        for r in rs:
            for b in budgets:
                if len(r["points"]) < b:
                    continue  # the run did not reach this budget: no number
                pts = r["points"][:b]
                f = _front(pts)
                fronts[(r["method"], r["seed"], b)] = f
                rows.append(
                    {
                        "network": net,
                        "method": r["method"],
                        "seed": r["seed"],
                        "budget": b,
                        "hypervolume": round(hypervolume(norm(f), REF), 4),
                        "front_size": len(f),
                        "feasible_points": sum(p["feasible"] for p in pts),
                        "wall_s_run": round(r["wall_s"], 1),
                    }
                )
        for (ma, sa, ba), fa in fronts.items():
            if ma != "jaxdse":
                continue
            for (mb, sb, bb), fb in fronts.items():
                if mb == "jaxdse" or sb != sa:
                    continue
                a_by_b = sum(any(_dom(y, x) for y in fb) for x in fa) / max(len(fa), 1)
                b_by_a = sum(any(_dom(x, y) for x in fa) for y in fb) / max(len(fb), 1)
                dom.append(
                    {
                        "network": net,
                        "seed": sa,
                        "jaxdse_budget": ba,
                        "other": mb,
                        "other_budget": bb,
                        "jaxdse_front_dominated_by_other": round(a_by_b, 3),
                        "other_front_dominated_by_jaxdse": round(b_by_a, 3),
                    }
                )
    write_csv(out / "summary.csv", rows)
    write_csv(out / "dominated.csv", dom)
    for net, seed in sorted({(r["network"], r["seed"]) for r in runs}):
        name = f"fronts_{net}.png" if seed == 0 else f"fronts_{net}_s{seed}.png"
        plot_fronts(out / name, net, [r for r in runs if r["network"] == net], seed)
    return rows


PLOT_STYLE = {"jaxdse": ("C3", "o"), "nsga2": ("C0", "s"), "tpe": ("C2", "^"), "random": ("C7", "v")}


def plot_fronts(path: Path, net: str, runs: list[dict], seed: int = 0) -> None:
    """One network, one seed: each method's front at its largest budget (latency x energy,
    log-log), every feasible point any method evaluated greyed behind them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    runs = [r for r in runs if r["seed"] == seed]
    if not runs:
        return
    fig, ax = plt.subplots(figsize=(7, 4.8))
    pts = np.array([(p["latency_s"], p["energy_j"]) for r in runs for p in r["points"] if p["feasible"]])
    if not len(pts):
        plt.close(fig)
        return
    ax.scatter(pts[:, 0] * 1e3, pts[:, 1] * 1e3, s=5, c="0.85", label="evaluated (any method), feasible")
    for r in sorted(runs, key=lambda r: r["method"]):
        f = sorted(_front(r["points"]))
        if not f:
            continue
        colour, marker = PLOT_STYLE.get(r["method"], ("k", "x"))
        lat, en = np.array(f).T * 1e3
        label = f"{r['method']} @ {len(r['points'])} designs ({len(f)} on its front)"
        ax.plot(lat, en, c=colour, lw=0.9, drawstyle="steps-post")
        ax.scatter(lat, en, c=colour, marker=marker, s=28, edgecolors="k", linewidths=0.4, label=label, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # labels at 1, 2, 5 x 10^k: a front often spans less than a decade
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy (mJ)")
    ax.set_title(f"{net}, seed {seed}: fronts at each run's largest budget (lower left is better)", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _dom(a, b) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny_cnn, seed 0, 12 jaxdse / 24 baseline points (CI)")
    ap.add_argument("--networks", default="tiny_cnn,resnet18")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--methods", default="jaxdse,nsga2,tpe,random")
    ap.add_argument("--max-budget", default="jaxdse=200,nsga2=2000,tpe=200,random=2000")
    ap.add_argument("--mapper-budget", type=int, default=None, help="exact evaluations per layer (default: mapper's)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/pareto")
    ap.add_argument("--summarise", action="store_true", help="only rebuild summary.csv from OUT/runs")
    ap.add_argument("--arch", default=None, help="a hierarchy preset (eyeriss_like, gemmini_like, ...): its space "
                    "(HierarchySpace, limits 2x the preset's area and peak power) instead of Table 1")  # fmt: skip
    args = ap.parse_args()
    enable_compile_cache()
    if args.quick:
        args.networks, args.seeds, args.methods = "tiny_cnn", "0", "jaxdse,nsga2,random"
        args.max_budget, args.mapper_budget = "jaxdse=12,nsga2=24,random=24", args.mapper_budget or 40
        args.out = args.out / "quick"
    if not args.summarise:
        budgets = dict(kv.split("=") for kv in args.max_budget.split(","))
        cache: dict = {}
        for name in args.networks.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                for method in args.methods.split(","):
                    run(name, method, seed, int(budgets[method]), args.out, args.mapper_budget, cache, args.arch)
    rows = summarise(args.out, (12, 24) if args.quick else BUDGETS)
    print(f"{'network':<10} {'method':<7} {'seed':>4} {'budget':>6} {'HV':>7} {'front':>5}")
    for r in rows:
        print(f"{r['network']:<10} {r['method']:<7} {r['seed']:>4} {r['budget']:>6} {r['hypervolume']:>7.4f} "
              f"{r['front_size']:>5}")  # fmt: skip


if __name__ == "__main__":
    main()
