"""Search quality: the explainable explorer against black-box baselines, side by side.

Networks x methods x seeds x budgets, every method through the same
``Evaluator`` (the gradient mapper maps each network on each design, exact
costs, the reference's constraints: area 75 mm^2, peak power 4 W, per-network
throughput). Per run it records

- best feasible objective (latency in ms by default; ``-`` when no evaluated
  design met every constraint),
- evaluated designs to come within 2% of the best-known design (the best
  feasible design any method found for that network in this invocation),
- the share of evaluated designs that are feasible,
- wall time,
- the ratio of the best objective and of the designs-to-2% to the
  explainable explorer's (same network, seed and budget; > 1: explainable better),

and prints a table (medians / geometric means over seeds), writes
``runs.csv`` (one row per run), ``summary.csv`` (the table), ``curves.csv``,
``trajectories.jsonl`` (every run's evaluated designs with their reasons)
and one ``convergence_<network>.png`` per network (best feasible objective vs
evaluated designs, from each run's trace, ``Result.best_so_far()``).

Each (method, budget) is its own run, exactly what ``jaxdse explore
--method M --budget B`` does. Runs of one network and seed share a memo of
mapped designs, so a design met again in another run is not mapped twice;
it is still counted as an evaluation of the run that meets it, and its
first mapping time is charged to that run's wall time (``wall_s`` is the time
the run would take alone, after compilation). Before timing, every method
runs once per network on a throwaway memo (compiling the mapper and the
explorers' own jitted code).

    python benchmarks/search_quality.py --quick          # resnet18, budgets 10 and 30, 1 seed: minutes
    python benchmarks/search_quality.py                  # 4 networks, budgets 10..2500, 3 seeds: very slow
    python benchmarks/search_quality.py --networks resnet18 --budgets 10,50,100 --seeds 0,1 --out runs/sq

Full mode is slow: one design costs about 0.25 s of mapping for resnet18
on 2 cores (measured; more for larger networks, about 1 s or more), so a
budget of 2,500 is 10 minutes to an hour or more per (network, method, seed),
and optuna's GP sampler adds a GP fit per proposal that grows with the trials
scored (0.5-1 s at 30-40 trials; thousands of trials are impractical). Pick
``--budgets`` and ``--methods`` to fit the time you have. Methods that need a
missing optional library (``pip install 'jaxdse[baselines]'``) are reported
and skipped.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from common import network

from jaxdse.codesign import Constraints, DesignEval, Evaluator, Trace, table1_space
from jaxdse.codesign.api import EXPLORERS
from jaxdse.codesign.baselines import BaselineUnavailable

METHODS = ("explainable", "random", "grid", "annealing", "genetic", "bayesian_tpe", "bayesian_gp", "cmaes")
FULL_NETWORKS = ("resnet18", "mobilenet_v2", "vgg16", "bert_base")
HELD_OUT = tuple(str(p.relative_to(Path(__file__).resolve().parents[1])) for p in
                 sorted((Path(__file__).resolve().parents[1] / "workloads/heldout").glob("*.yaml")))  # fmt: skip
"""Networks the explorer was never tuned on (issue 15, section 4): ``--networks heldout``;
reported apart from the zoo."""
FULL_BUDGETS = (10, 50, 100, 500, 2500)
WITHIN = 0.02
WARM_UP = 5  # designs per method before timing (5: the explainable explorer's gradient warm start runs too)


@dataclass
class MemoEvaluator(Evaluator):
    """An ``Evaluator`` whose mapped designs are shared through ``memo`` with
    other runs of the same network, seed and mapper budget. ``count``,
    ``index`` and the cache stay per run; ``charged_s`` is the mapping time of
    designs taken from the memo (as first measured)."""

    memo: dict = field(default_factory=dict)
    charged_s: float = 0.0

    def evaluate(self, design: dict[str, float]) -> DesignEval:
        k = self.key(design)
        if k in self.cache:
            return self.cache[k]
        hit = self.memo.get(k)
        if hit is None:
            ev = super().evaluate(design)
            self.memo[k] = ev
            return ev
        ev = dataclasses.replace(hit, index=len(self.cache) + 1)
        self.cache[k] = ev
        self.charged_s += hit.wall_s
        return ev


@dataclass
class Run:
    network: str
    method: str
    seed: int
    budget: int
    evaluations: int = 0
    best: float = math.inf  # best feasible objective
    feasible_share: float = 0.0
    wall_s: float = 0.0
    curve: list = field(default_factory=list)
    error: str = ""
    to_within: float = math.nan  # evaluations to come within WITHIN of the best known (inf: never)
    trajectory: list = field(default_factory=list)  # every evaluated design: evaluation, accepted, objective, reason
    explanation: list = field(default_factory=list)  # the steps that lead to the returned design
    prediction: dict = field(default_factory=dict)  # the explorer's prediction errors (explainable)


def run_one(net, method, seed, budget, memo, constraints, objective, mapper_budget) -> Run:
    kw = {} if mapper_budget is None else {"mapper_budget": mapper_budget}
    ev = MemoEvaluator([net], table1_space(), constraints, objective, seed, memo=memo, **kw)
    out = Run(net.name, method, seed, budget)
    t = time.perf_counter()
    try:
        res = EXPLORERS[method](ev, budget, Trace())
    except BaselineUnavailable as e:
        out.error = str(e)
        return out
    out.wall_s = time.perf_counter() - t + ev.charged_s
    out.evaluations = res.evaluations
    out.curve = res.best_so_far().tolist()
    out.best = out.curve[-1] if out.curve else math.inf
    out.feasible_share = float(np.mean([e.feasible for e in res.trace.entries])) if res.trace.entries else 0.0
    out.trajectory = [
        {"evaluation": e.evaluation, "accepted": e.accepted, "feasible": e.feasible,
         "objective": e.total["objective"], "reason": e.reason}
        for e in res.trace.entries
    ]  # fmt: skip
    out.explanation, out.prediction = res.explanation(), dict(res.prediction)
    return out


def mark_to_within(runs: list[Run], within: float = WITHIN) -> dict[str, float]:
    """The best objective each network reached over ``runs`` (failed runs left out), and each
    run's ``to_within`` set: designs evaluated until its curve came within ``within`` of that
    best (inf: never). A run without a curve (a stopped invocation's, read back) keeps nan."""
    best_known: dict[str, float] = {}
    for r in runs:
        if not r.error:
            best_known[r.network] = min(best_known.get(r.network, math.inf), r.best)
    for r in runs:
        if r.curve and not r.error:
            hit = [i + 1 for i, v in enumerate(r.curve) if v <= best_known[r.network] * (1 + within)]
            r.to_within = float(hit[0]) if hit else math.inf
    return best_known


def geomean(xs) -> float:
    xs = [x for x in xs if np.isfinite(x) and x > 0]
    return float(np.exp(np.mean(np.log(xs)))) if xs else math.nan


def summarise(runs: list[Run], methods, scale: float) -> list[dict]:
    """One row per (network, budget, method): aggregates over seeds and ratios to the explainable explorer."""
    rows = []
    keyed = {(r.network, r.method, r.seed, r.budget): r for r in runs}
    for net in dict.fromkeys(r.network for r in runs):
        for budget in sorted({r.budget for r in runs if r.network == net}):
            for method in methods:
                rs = [r for r in runs if (r.network, r.method, r.budget) == (net, method, budget) and not r.error]
                if not rs:
                    continue
                obj_ratio, evals_ratio = [], []
                for r in rs:
                    ex = keyed.get((net, "explainable", r.seed, budget))
                    if ex is None or ex.error:
                        continue
                    if np.isfinite(r.best) and np.isfinite(ex.best):
                        obj_ratio.append(r.best / ex.best)
                    if np.isfinite(r.to_within) and np.isfinite(ex.to_within):
                        evals_ratio.append(r.to_within / ex.to_within)
                to_within = float(np.median([r.to_within for r in rs]))
                rows.append(
                    dict(
                        network=net,
                        budget=budget,
                        method=method,
                        seeds=len(rs),
                        feasible_runs=sum(np.isfinite(r.best) for r in rs),
                        best_objective=geomean([r.best * scale for r in rs]),
                        evals_to_within_2pct=to_within,
                        feasible_share=float(np.mean([r.feasible_share for r in rs])),
                        wall_s=float(np.mean([r.wall_s for r in rs])),
                        objective_vs_explainable=geomean(obj_ratio),
                        evals_vs_explainable=geomean(evals_ratio),
                    )
                )
    return rows


def _fmt(x, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def print_table(rows: list[dict], unit: str) -> None:
    head = (
        f"{'network':<13} {'budget':>6} {'method':<13} {'best ' + unit:>10} {'feas.runs':>9} {'to 2%':>6} "
        f"{'feasible':>8} {'wall_s':>8} {'best/expl':>9} {'to2%/expl':>9}"
    )
    print(head)
    print("-" * len(head))
    last = None
    for r in rows:
        if last is not None and (r["network"], r["budget"]) != last:
            print()
        last = (r["network"], r["budget"])
        print(
            f"{r['network']:<13} {r['budget']:>6} {r['method']:<13} {_fmt(r['best_objective'], '.4g'):>10} "
            f"{r['feasible_runs']:>4}/{r['seeds']:<4} {_fmt(r['evals_to_within_2pct'], '.0f'):>6} "
            f"{r['feasible_share']:>8.1%} {r['wall_s']:>8.1f} {_fmt(r['objective_vs_explainable'], '.3f'):>9} "
            f"{_fmt(r['evals_vs_explainable'], '.2f'):>9}"
        )


def plot(runs: list[Run], best_known: dict, out: Path, scale: float, unit: str, methods) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    colours = dict(zip(methods, plt.get_cmap("tab10").colors))
    for net in dict.fromkeys(r.network for r in runs):
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        top = max(r.budget for r in runs if r.network == net)
        for method in methods:
            for i, r in enumerate(
                [r for r in runs if (r.network, r.method, r.budget) == (net, method, top) and r.curve]
            ):
                y = np.asarray(r.curve) * scale
                x = np.arange(1, len(y) + 1)
                label = None if i else (method if np.isfinite(y[-1]) else f"{method} (nothing feasible)")
                ax.step(x, np.where(np.isfinite(y), y, np.nan), where="post", color=colours[method],
                        alpha=0.9 if i == 0 else 0.4, label=label)  # fmt: skip
        if np.isfinite(best_known.get(net, math.inf)):
            ax.axhline(best_known[net] * scale * (1 + WITHIN), color="grey", ls=":", lw=1, label="best known + 2%")
        ax.set_yscale("log")
        ax.set_xlabel("evaluated designs")
        ax.set_ylabel(f"best feasible objective ({unit})")
        ax.set_title(f"{net}: convergence (budget {top}, every seed)")
        ax.legend(fontsize=8, ncol=2)
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        p = out / f"convergence_{net}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


TRAJECTORIES = "trajectories.jsonl"
"""One line per run: every evaluated design with its reason, the explanation, the prediction errors."""

RUN_FIELDS = ("network", "method", "seed", "budget", "evaluations", "best", "evals_to_within_2pct", "feasible_share",
              "wall_s", "error")  # fmt: skip


def _append_run(out: Path, r: Run, scale: float, unit: str) -> None:
    """Append one finished run to ``runs.csv`` and its convergence curve to ``curves.csv`` at once, so a long
    invocation that is stopped keeps what it measured (``merge_results.py`` reads both). ``evals_to_within_2pct``
    needs the best known design over the whole invocation; it is in ``summary.csv``."""
    new = not (out / "runs.csv").exists()
    with open(out / "runs.csv", "a", newline="") as fh:
        wr = csv.writer(fh)
        if new:
            wr.writerow([f if f != "best" else f"best_{unit}" for f in RUN_FIELDS if f != "evals_to_within_2pct"])
        wr.writerow([r.network, r.method, r.seed, r.budget, r.evaluations, r.best * scale,
                     round(r.feasible_share, 4), round(r.wall_s, 3), r.error])  # fmt: skip
    with open(out / TRAJECTORIES, "a") as fh:  # the exact trajectory (reasons), which tests no longer pin
        keys = ("network", "method", "seed", "budget", "explanation", "prediction", "trajectory")
        fh.write(json.dumps({k: getattr(r, k) for k in keys}) + "\n")
    new = not (out / "curves.csv").exists()
    with open(out / "curves.csv", "a", newline="") as fh:
        wr = csv.writer(fh)
        if new:
            wr.writerow(["network", "method", "seed", "budget", "evaluation", f"best_feasible_{unit}"])
        for i, v in enumerate(r.curve):
            wr.writerow([r.network, r.method, r.seed, r.budget, i + 1, v * scale])


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="resnet18, budgets 10 and 30, seed 0, every method")
    ap.add_argument(
        "--networks",
        help=f"zoo names or workload files, comma-separated, or 'heldout' for the held-apart set "
        f"(workloads/heldout/*.yaml) (default {','.join(FULL_NETWORKS)})",
    )
    ap.add_argument("--methods", help=f"comma-separated explorers (default {','.join(METHODS)})")
    ap.add_argument("--budgets", help="comma-separated budgets of distinct designs (default 10,50,100,500,2500)")
    ap.add_argument("--seeds", help="comma-separated seeds (default 0,1,2; quick: 0)")
    ap.add_argument("--objective", default="latency", choices=("latency", "energy", "edp"))
    ap.add_argument("--mapper-budget", type=int, help="exact evaluations per layer for the mapper in the loop")
    ap.add_argument(
        "--cap",
        action="append",
        default=[],
        metavar="METHOD=N",
        help="skip METHOD's runs with budgets above N (e.g. bayesian_gp=100: its GP fit grows with the trials)",
    )
    ap.add_argument("--out", default=None, help="output folder (default runs/search_quality[_quick])")
    args = ap.parse_args(argv)
    caps: dict[str, int] = {}
    for c in args.cap:
        m, _, n = c.partition("=")
        if m not in EXPLORERS or not n.isdigit():
            ap.error(f"--cap: expected METHOD=N with METHOD one of {sorted(EXPLORERS)}, found {c!r}")
        caps[m] = int(n)

    networks = args.networks.split(",") if args.networks else (["resnet18"] if args.quick else list(FULL_NETWORKS))
    networks = [n for name in networks for n in (HELD_OUT if name == "heldout" else (name,))]
    methods = args.methods.split(",") if args.methods else list(METHODS)
    budgets = _ints(args.budgets) if args.budgets else ([10, 30] if args.quick else list(FULL_BUDGETS))
    seeds = _ints(args.seeds) if args.seeds else ([0] if args.quick else [0, 1, 2])
    unknown = [m for m in methods if m not in EXPLORERS]
    if unknown:
        ap.error(f"--methods: unknown {unknown}; expected some of {sorted(EXPLORERS)}")
    if not budgets or min(budgets) < 1:
        ap.error("--budgets: expected positive integers")
    out = Path(args.out or ("runs/search_quality_quick" if args.quick else "runs/search_quality"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs.csv").unlink(missing_ok=True)
    (out / "curves.csv").unlink(missing_ok=True)
    (out / TRAJECTORIES).unlink(missing_ok=True)
    scale, unit = {"latency": (1e3, "ms"), "energy": (1e3, "mJ"), "edp": (1e6, "mJ*ms")}[args.objective]

    import jax

    py = sys.version.split()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {py}, jax {jax.__version__}")
    print(
        f"networks {networks}, methods {methods}, budgets {budgets}, seeds {seeds}, objective {args.objective}, "
        "Table-1 space, reference constraints"
    )
    t_all = time.perf_counter()
    constraints = Constraints()
    runs: list[Run] = []
    for name in networks:
        net = network(name)
        name = net.name
        t = time.perf_counter()
        warm: dict = {}
        for method in methods:  # compile the mapper and each explorer's own jitted code; not counted
            run_one(net, method, 0, WARM_UP, warm, constraints, args.objective, args.mapper_budget)
        print(f"{name}: compiled and warmed up (every method, {WARM_UP} designs) in {time.perf_counter() - t:.1f} s")
        for seed in seeds:
            memo: dict = {}
            for method in methods:
                for budget in sorted(budgets):
                    if budget > caps.get(method, budget):
                        print(f"  {name} {method:<13} seed {seed} budget {budget:>5}: skipped (--cap {caps[method]})")
                        continue
                    r = run_one(net, method, seed, budget, memo, constraints, args.objective, args.mapper_budget)
                    runs.append(r)
                    _append_run(out, r, scale, unit)
                    if r.error:
                        print(f"  {name} {method:<13} seed {seed} budget {budget:>5}: skipped: {r.error}")
                        break
                    print(
                        f"  {name} {method:<13} seed {seed} budget {budget:>5}: best {_fmt(r.best * scale, '.4g')} "
                        f"{unit}, {r.evaluations} designs, {r.feasible_share:.0%} feasible, {r.wall_s:.1f} s",
                        flush=True,
                    )

    best_known = mark_to_within(runs)
    rows = summarise(runs, methods, scale)
    print()
    print(
        "best known (any method, any run): "
        + ", ".join(f"{n} {_fmt(v * scale, '.4g')} {unit}" for n, v in best_known.items())
    )
    print(
        "best: geometric mean over seeds of the best feasible objective; feas.runs: runs that found a feasible "
        "design; to 2%: median designs evaluated to come within 2% of the best known (- never); feasible: share "
        "of evaluated designs meeting every constraint; wall_s: mean per run; best/expl, to2%/expl: geometric "
        "mean ratio to the explainable explorer (> 1: explainable better)"
    )
    print()
    print_table(rows, unit)

    with open(out / "summary.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["network"])
        wr.writeheader()
        wr.writerows(rows)
    figs = plot(runs, best_known, out, scale, unit, methods)
    print()
    print(f"wrote {out / 'runs.csv'}, {out / 'summary.csv'}, {out / 'curves.csv'}, " + ", ".join(map(str, figs)))
    print(f"total wall time {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
