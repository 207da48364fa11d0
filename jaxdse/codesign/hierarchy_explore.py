"""Codesign on any hierarchy: the bottleneck-driven explorer and its random baseline.

Issue 15, section 2. The design space comes from the architecture
(``HierarchySpace``); every design is mapped by the hierarchy mapper
(``jaxdse.mapper.nest_search`` through ``map_on_hierarchy``) and costed
exactly. The rules are stated per level and fan-out, from the term that
bounds the dominant layer's latency (``HierarchyPlan`` records it per layer,
``hierarchy_model.terms_cycles``):

- compute-bound: more instances at a fan-out (each fan-out's X and Y one
  step up); when the layer leaves most of the array idle (utilisation under
  ``LOW_UTILISATION``) more instances cannot help, so the move is a larger
  buffer at each level instead (capacity-limited tiling); when it leaves
  some idle (under ``RESHAPE_UTILISATION``) also the array reshaped (X up
  and Y down a step, or the reverse: another aspect ratio, about as many
  instances, for loop sizes that do not divide the current one);
- a level's bandwidth-bound: that level's bandwidth one step up, or more
  reuse below it (the next level down that holds data one step larger);
- a move that breaks a limit (area, power) is also tried with one buffer
  shrunk a step (the largest-area level first), and when every move is
  blocked the reason says which limit blocked it.

The search starts with the gradient explorer (``hierarchy_gradient``) for
up to ``WARM_START_SHARE`` of the budget, as on the Table-1 template, and
the rules continue from its best design; when they converge with budget
left, the rules run again from the base design (``_rules(reuse=True)``:
proposals already evaluated count as candidates at no cost), then from the
best design evaluated that differs in two or more parameters from every
earlier start and end point (``_restart``: a basin not yet climbed), until
the budget is spent or no such design is left; the explanation follows the
path that reached the best design. A step evaluates the proposals of
the dominant layer (then of the next layers, ``LAYERS_TRIED``) and accepts the feasible one with the lowest
objective when it improves on the current design; with no improving move a
free-budget shrink or the neighbourhood stage (``_neighbourhood``: every
parameter one or two steps, every fan-out reshaped one or two steps) follows,
and when nothing improves the search ends early ("converged") and says so.
The knobs are ``HierarchyExplorerConfig``'s. Each accepted step is
explained in words: which layer dominated, what bounded it, what changed.

Limits default to the base design's own area and peak power (iso-area,
iso-power: a better design for the same silicon and power), or are given.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodels import hierarchy_model as hm
from costmodels.hierarchy import Hierarchy
from jaxdse.codesign.baselines import T_END, T_START, IndexWalk, anneal_walk, grid_walk, penalised
from jaxdse.codesign.checkpoint import (
    EVALS_FILE,
    RUN_FILE,
    TRACE_FILE,
    ResumeError,
    atomic_write,
    read_records,
)
from jaxdse.codesign.explorer_config import ConfigDict, ConfigError, check_fields
from jaxdse.codesign.hierarchy_pareto import HierarchyMoves, HierarchyStore, front_records
from jaxdse.codesign.hierarchy_rules import (
    DEFAULT_MAPPER_BUDGET,
    LAYERS_TRIED,
    LOW_UTILISATION,
    RESHAPE_UTILISATION,
    HierarchyEvaluator,
    HierEval,
    Proposal,
    _dominant_layers,
    fanout_pairs,
    fit_limits,
    hardware_budgets,
    held_costs,
    propose,
    reshaped,
    throughput_limits,
)
from jaxdse.codesign.hierarchy_space import HierarchySpace
from jaxdse.codesign.space import SpaceError
from jaxdse.mapper.space import OBJECTIVES, objective_of
from workloads import Network

FREE_HARM = 0.01
"""A free-budget shrink is accepted when it costs at most this share of the objective."""
WARM_START_SHARE = 0.3
"""Share of the explainable explorer's budget first given to the gradient explorer, as on the
Table-1 template (``ExplorerConfig.warm_start_share``). Measured on resnet18 (both presets, seeds
0-2, 50 designs): the gradient explorer alone beat the rules alone on three of the six runs
(eyeriss_like seed 0 6.45 against 10.97 ms), stopping after 6-10 designs."""
NEIGHBOURS_TRIED = 6
"""Neighbours evaluated per batch when no bottleneck rule improves (``_neighbourhood``)."""
FREE_STEPS = 3
"""Free-budget shrinks in a row at most (each must lower the binding budget)."""


@dataclass(frozen=True)
class HierarchyExplorerConfig(ConfigDict):
    """Knobs of the hierarchy explorer (``explore_hierarchy(explorer_config=...)``, CLI
    ``--explorer-config`` with ``--arch``; recorded in ``run.json``). The defaults are the
    module's constants, the values every measured run used.

    Attributes:
        layers_tried: Dominant layers whose bottleneck moves a step tries (``LAYERS_TRIED``).
        low_utilisation: MAC utilisation below which a compute-bound layer is tiling-limited
            and gets larger buffers instead of more instances (``LOW_UTILISATION``).
        reshape_utilisation: MAC utilisation below which a compute-bound layer also gets the
            array reshaped (``RESHAPE_UTILISATION``).
        neighbours_tried: Neighbours evaluated per batch of the neighbourhood stage
            (``NEIGHBOURS_TRIED``).
        free_harm: Largest measured objective cost of one free-budget shrink (``FREE_HARM``).
        free_steps: Free-budget shrinks in a row at most (``FREE_STEPS``).
        warm_start_share: Share of the budget first given to the gradient explorer
            (``hierarchy_gradient``; it often stops sooner, converged); the rules continue
            from its best design, and its steps open the explanation; 0 disables
            (``WARM_START_SHARE``).
    """

    layers_tried: int = LAYERS_TRIED
    low_utilisation: float = LOW_UTILISATION
    reshape_utilisation: float = RESHAPE_UTILISATION
    neighbours_tried: int = NEIGHBOURS_TRIED
    free_harm: float = FREE_HARM
    free_steps: int = FREE_STEPS
    warm_start_share: float = WARM_START_SHARE

    def __post_init__(self) -> None:
        check_fields(
            self,
            "hierarchy explorer config",
            ints={"layers_tried": 1, "neighbours_tried": 1, "free_steps": 0},
            ranges={
                "low_utilisation": (0.0, 1.0, True),
                "reshape_utilisation": (0.0, 1.01, True),
                "free_harm": (0.0, math.inf, True),
                "warm_start_share": (0.0, 1.0, True),
            },
        )


BLACK_BOX = ("genetic", "bayesian_tpe", "cmaes")
"""Black-box baselines on a hierarchy space, through optuna (the ``baselines`` extra): a genetic
algorithm (NSGA-II's selection and crossover with one objective), multivariate TPE, and CMA-ES with
margin, over each parameter's value index, minimising ``baselines.penalised``'s score."""
WALKS = ("grid", "annealing")
"""Baselines walking value indices, shared with the Table-1 baselines (``baselines.grid_walk``,
``baselines.anneal_walk``: a coarse grid sized to the budget in a seeded shuffled order; simulated
annealing from the base design, Metropolis acceptance, geometric cooling), minimising the same score."""
METHODS = ("explainable", "gradient", "random", *WALKS, *BLACK_BOX)


@dataclass
class Step:
    """An accepted step (or the start): the design it reached and why."""

    evaluation: int
    objective: float
    reason: str

    def objective_text(self, objective: str) -> str:
        return f"{self.objective * 1e3:.4f} ms" if objective == "latency" else f"{self.objective:.4g}"


@dataclass
class HierarchyExploreResult:
    """What a hierarchy search did: every evaluation, the accepted steps, the best design."""

    arch: str
    networks: list[str]
    method: str
    objective: str
    limits: dict[str, float]
    space: HierarchySpace
    evaluations: list[HierEval]
    steps: list[Step]
    best: HierEval | None
    stopped: str
    wall_s: float
    objectives: tuple[str, ...] = ()
    pareto: list[dict] = field(default_factory=list)
    trace: list[dict] = field(default_factory=list)
    min_per_s: dict[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.best is not None and self.best.feasible

    def best_hierarchy(self) -> Hierarchy | None:
        return None if self.best is None else self.space.to_hierarchy(self.best.design)

    def summary(self) -> str:
        base = self.evaluations[0]
        aim = f"objectives {', '.join(self.objectives)}" if self.objectives else f"objective {self.objective}"
        lines = [
            f"hierarchy codesign on {self.arch} ({self.method}, {aim}) for "
            f"{', '.join(self.networks)}: {len(self.evaluations)} designs, {self.wall_s:.1f} s; {self.stopped}",
            f"limits: area {self.limits['area_mm2']:.3f} mm^2, peak power {self.limits['power_w']:.3f} W"
            + "".join(f", {n} at least {v:g} inferences/s" for n, v in self.min_per_s.items()),
            "steps:",
        ]
        lines += [f"  [{s.evaluation}] {s.objective_text(self.objective)}  {s.reason}" for s in self.steps]
        if self.objectives:
            lines.append(f"Pareto front over {', '.join(self.objectives)}: {len(self.pareto)} points")
            for f in self.pareto:
                vals = ", ".join(f"{o} {f['costs'][o]:.4g}" for o in self.objectives)
                lines.append(
                    f"  [{f['evaluation']:>3}] {vals} (mapped for {f['mapper_objective']}); vs previous: "
                    f"{f['differs_from_previous']}"
                )
        if self.best is None:
            lines.append("no feasible design found")
            return "\n".join(lines)
        b = self.best
        if not b.feasible:
            over = {k: v for k, v in b.budgets.items() if v > 1.0 + 1e-9}
            lines.append(
                "NO DESIGN MET EVERY LIMIT; returned the closest (area and power held, least excess on the rest): "
                + ", ".join(f"{k} budget {v:.3f}" for k, v in over.items())
            )
        lines += [
            f"best: design {b.index}: latency {b.latency_s * 1e3:.4f} ms, energy {b.energy_j * 1e3:.4f} mJ, "
            f"area {b.area_mm2:.3f} mm^2, peak power {b.power_w:.3f} W "
            f"({base.objective / b.objective:.2f}x better {self.objective} than the base design)",
            f"  {self.space.describe(b.design)}",
        ]
        changed = [
            f"{p.name} {p.show(base.design[p.name])} -> {p.show(b.design[p.name])}"
            for p in self.space.params
            if base.design[p.name] != b.design[p.name]
        ]
        lines.append("  changed from the base: " + ("; ".join(changed) or "nothing"))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "arch": self.arch,
            "networks": self.networks,
            "method": self.method,
            "objective": self.objective,
            "limits": self.limits,
            "min_per_s": self.min_per_s,
            "feasible": self.feasible,
            "stopped": self.stopped,
            "wall_s": self.wall_s,
            "space": {p.name: {"unit": p.unit, "values": list(p.values)} for p in self.space.params},
            "steps": [{"evaluation": s.evaluation, "objective": s.objective, "reason": s.reason} for s in self.steps],
            "best": None
            if self.best is None
            else {**self.best.record(), "plans": {n: p.to_dict() for n, p in self.best.plans.items()}},
            "evaluations": [e.record() for e in self.evaluations],
            **({"objectives": list(self.objectives), "pareto": self.pareto} if self.objectives else {}),
        }

    def save(self, out: str | Path) -> Path:
        """``OUT/result.json`` (everything above, the best design's plans included); a front
        search also rewrites ``trace.jsonl`` with each point's ``pareto`` flag and draws ``front.png``."""
        path = Path(out) / "result.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(self.to_dict(), indent=2))
        if self.objectives:
            from jaxdse.codesign.pareto_plot import draw_front

            atomic_write(Path(out) / TRACE_FILE, "".join(json.dumps(e) + "\n" for e in self.trace))
            draw_front(self.trace, self.pareto, self.objectives, Path(out) / "front.png")
        return path


def _score(e: HierEval) -> float:
    """``baselines.penalised``'s score; an unmappable design (objective inf) scores worst."""
    return penalised(e) if math.isfinite(e.objective) else 1e3


def _hardware_ok(e: HierEval) -> bool:
    """Within area and power, mapped, every mapping legal: all but throughput holds."""
    return (
        not e.unmappable
        and all(e.budgets[k] <= 1.0 + 1e-9 for k in ("area_mm2", "power_w"))
        and all(p.legal for p in e.plans.values())
    )


def _rank(e: HierEval) -> tuple:
    """Order of designs for acceptance and for the design returned: feasible ones by objective;
    then those within area and power (limits every design can be checked against without a
    mapping) by their worst throughput excess; then the rest by their worst budget. So when no
    design meets its throughput limit the closest one is returned: area and power held, the least excess
    on throughput (issue 15, section 1's rule)."""
    if e.feasible:
        return (0, e.objective)
    worst = max(e.budgets.values(), default=math.inf)
    return (1 if _hardware_ok(e) else 2, worst, e.objective)


def _improves(e: HierEval, cur: HierEval) -> bool:
    """``e`` is worth accepting over ``cur``: a lower objective when both are feasible, else a
    better ``_rank`` (an infeasible start climbs towards its throughput limit)."""
    if e.feasible and cur.feasible:
        return e.objective < cur.objective * (1 - 1e-6)
    return _rank(e) < _rank(cur)


class _HierWalk(IndexWalk):
    """The Table-1 baselines' index walk on a hierarchy space: designs go through the explorer's
    ``evaluate`` (progress line, evaluations.jsonl), so nothing is recorded here."""

    def __init__(self, space: HierarchySpace, ev: HierarchyEvaluator, evaluate, budget: int, seed: int) -> None:
        super().__init__([p.name for p in space.params], [p.values for p in space.params], seed)
        self.space, self.ev, self._evaluate, self.budget = space, ev, evaluate, budget

    def index(self, design: dict[str, float]) -> list[int]:
        return [p.values.index(design[p.name]) for p in self.space.params]

    def seen(self, design: dict[str, float]) -> bool:
        return self.space.key(design) in self.ev.cache

    def evaluate(self, design: dict[str, float]) -> tuple[HierEval, bool]:
        new = not self.seen(design)
        self.idle = 0 if new else self.idle + 1
        return self._evaluate(design), new

    def record(self, step: int, ev: HierEval, reason: str) -> None:
        pass

    def count(self) -> int:
        return self.ev.count

    def done(self) -> bool:
        return self.exhausted or self.ev.count >= self.budget

    def score(self, ev: HierEval) -> float:
        return _score(ev)


def _walk(method: str, space: HierarchySpace, ev: HierarchyEvaluator, evaluate, budget: int, seed: int, base) -> None:
    """Grid search or simulated annealing (from the base design) until ``budget`` distinct designs."""
    run = _HierWalk(space, ev, evaluate, budget, seed)
    if method == "grid":
        grid_walk(run, budget)
    else:
        anneal_walk(run, budget, run.index(base), T_START, T_END)


def _black_box(method: str, space: HierarchySpace, ev: HierarchyEvaluator, evaluate, budget: int, seed: int) -> None:
    """Run an optuna sampler over the value indices until ``budget`` distinct designs are evaluated."""
    try:
        import optuna
    except ImportError:
        raise SpaceError(
            f"hierarchy explore: method {method!r} needs optuna: pip install 'jaxdse[baselines]'"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "genetic":
        sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(20, budget // 4)))
    elif method == "bayesian_tpe":
        sampler = optuna.samplers.TPESampler(
            seed=seed, multivariate=True, n_startup_trials=max(2, min(10, budget // 4))
        )
    else:
        sampler = optuna.samplers.CmaEsSampler(seed=seed, with_margin=True, n_startup_trials=1)
    dists = {p.name: optuna.distributions.IntDistribution(0, len(p.values) - 1) for p in space.params}
    study = optuna.create_study(direction="minimize", sampler=sampler)
    tries = 0
    while ev.count < budget and tries < 20 * budget:
        tries += 1
        trial = study.ask(dists)
        design = {p.name: p.values[trial.params[p.name]] for p in space.params}
        study.tell(trial, _score(evaluate(design)))


def _neighbourhood(space, ev, cur, limits, networks, budget, evaluate, per_batch: int = NEIGHBOURS_TRIED):
    """No bottleneck rule improves: try the one- and two-step neighbours of every parameter and every
    fan-out reshaped by one or two steps (a move that breaks a limit paid for by shrinking buffers),
    those the exact model predicts better with the current mappings held first, then those it
    cannot predict (a held mapping no longer fits), growing moves before shrinking ones, then those
    predicted worse, least worse first: the held mappings' cost is only an upper bound, since each
    neighbour is mapped afresh (on gemmini_like's resnet18 the search otherwise ended after 12 of
    50 designs where TPE found a 2-4% better design). Evaluated ``per_batch`` at a time until a
    batch holds an improvement (or the neighbours or the budget run out). Returns (evaluation,
    Proposal) of the best feasible improvement of that batch, or None."""
    predicted, unknown, worse = [], [], []
    moves = [(p.name, k, space.step(cur.design, p.name, k)) for p in space.params for k in (1, -1, 2, -2)]
    # the array reshaped (X up, Y down or the reverse): a pair no single step reaches, same instances
    # (gemmini_like vgg16 seed 0 converged at 32 x 32 where TPE's 16 x 64 was 1.3% faster)
    moves += [(x, k, reshaped(space, cur.design, x, y, k)) for x, y in fanout_pairs(space) for k in (1, -1, 2, -2)]
    for name, k, d in moves:
        if d is None:
            continue
        changed = [q for q in space.params if d[q.name] != cur.design[q.name]]
        what = " and ".join(f"{q.name} {q.show(cur.design[q.name])} -> {q.show(d[q.name])}" for q in changed)
        why = f"no bottleneck rule improves; neighbour {what}"
        if max(hardware_budgets(space, d, limits).values()) > 1.0 + 1e-9:
            fitted = fit_limits(space, d, limits, keep=name)
            if fitted is None:
                continue
            d, why = fitted[0], f"{why}, paid for by {', '.join(fitted[1])}"
        if space.key(d) in ev.cache:
            continue
        held = held_costs(space, networks, cur, d)
        if held is None:
            unknown.append((-k, Proposal(d, f"{why} (mappings must change: no prediction)")))
            continue
        obj = float(objective_of(ev.objective, *held))
        pred = f"predicted {obj / cur.objective - 1:+.1%} with the current mappings held"
        if obj < cur.objective * (1 - 1e-6):
            predicted.append((obj, Proposal(d, f"{why}, {pred}")))
        else:
            worse.append((obj, Proposal(d, f"{why}, {pred} (a new mapping may do better)")))
    order = [q for _, q in sorted(predicted, key=lambda x: x[0])] + [q for _, q in sorted(unknown, key=lambda x: x[0])]
    order += [q for _, q in sorted(worse, key=lambda x: x[0])]
    for start in range(0, len(order), per_batch):  # a batch at a time, until one improves
        tried = []
        for prop in order[start : start + per_batch]:
            if ev.count >= budget:
                break
            tried.append((evaluate(prop.design), prop))
        good = [(e, q) for e, q in tried if _improves(e, cur)]
        if good:
            return min(good, key=lambda x: _rank(x[0]))
        if ev.count >= budget:
            break
    return None


def _free_budget(space, ev, cur, limits, budget, evaluate, blocked: str, harm: float = FREE_HARM):
    """Every move is blocked by a limit: shrink the buffer whose step down lowers the binding
    budget most while costing at most ``harm`` (a share) of the objective (measured), so a later
    move fits. Returns (evaluation, reason) or None."""
    now = hardware_budgets(space, cur.design, limits)
    binding = max(now, key=now.get)
    options = []
    for p in space.params:
        if p.kind != "capacity":
            continue
        d = space.step(cur.design, p.name, -1)
        if d is None or space.key(d) in ev.cache:
            continue
        options.append((hardware_budgets(space, d, limits)[binding], p, d))
    for b, p, d in sorted(options, key=lambda x: x[0])[:2]:
        if ev.count >= budget or b >= now[binding]:
            break
        e = evaluate(d)
        if e.feasible and e.objective <= cur.objective * (1 + harm):
            change = 1 - e.objective / cur.objective
            return e, (
                f"every move is blocked ({blocked}); free budget: {p.name} {p.show(cur.design[p.name])} -> "
                f"{p.show(d[p.name])} takes {binding} from {now[binding]:.2f} to {b:.2f} of its limit, "
                f"measured {-change:+.2%} {ev.objective}"
            )
    return None


def _restart(space, ev, known: list[HierEval]) -> HierEval | None:
    """The best-ranked design evaluated (feasible, else within area and power) that differs in at
    least two parameters from every design in ``known``; None when there is none."""
    keys = [space.key(e.design) for e in known]

    def far(e: HierEval) -> bool:
        k = space.key(e.design)
        return all(sum(a != b for a, b in zip(k, other)) >= 2 for other in keys)

    pool = [e for e in ev.cache.values() if (e.feasible or _hardware_ok(e)) and far(e)]
    return min(pool, key=_rank) if pool else None


def _rules(space, ev, evaluate, networks, limits, budget, cfg, objective, cur, steps, reuse=False):
    """The bottleneck rules from ``cur`` until the budget is spent or no move improves (the
    module docstring); returns the design reached, ``steps`` with the accepted ones appended,
    and why it stopped. ``reuse``: a proposal already evaluated (by an earlier pass) is a
    candidate too, at no cost, instead of being skipped."""
    steps = list(steps)
    free_run = 0
    stopped = f"budget of {budget} designs spent"
    while ev.count < budget:
        accepted = None
        blocked: list[str] = []
        for network, row, share in _dominant_layers(cur)[: cfg.layers_tried]:
            tried: list[tuple[HierEval, Proposal]] = []
            for prop in propose(space, cur, network, row, share, cfg.low_utilisation, cfg.reshape_utilisation):
                if ev.count >= budget:
                    break
                hw = hardware_budgets(space, prop.design, limits)
                if max(hw.values()) > 1.0 + 1e-9:
                    worst = max(hw, key=hw.get)
                    moved = next(k for k in prop.design if prop.design[k] != cur.design[k])
                    fitted = fit_limits(space, prop.design, limits, keep=moved)
                    if fitted is None:
                        blocked.append(f"{prop.reason}: blocked by {worst} ({hw[worst]:.2f} of its limit)")
                        continue
                    d, shrunk = fitted
                    prop = Proposal(d, f"{prop.reason}, paid for within the {worst} limit by {', '.join(shrunk)}")
                if space.key(prop.design) in ev.cache and not reuse:
                    continue
                tried.append((evaluate(prop.design), prop))
            good = [(e, p) for e, p in tried if _improves(e, cur)]
            if good:
                accepted = min(good, key=lambda x: _rank(x[0]))
                break
        if accepted is None and blocked and free_run < cfg.free_steps and ev.count < budget:
            freed = _free_budget(space, ev, cur, limits, budget, evaluate, blocked[0], cfg.free_harm)
            if freed is not None:
                e, why = freed
                steps.append(Step(e.index, e.objective, why))
                cur, free_run = e, free_run + 1
                continue
        if accepted is None and ev.count < budget:
            accepted = _neighbourhood(space, ev, cur, limits, list(networks), budget, evaluate, cfg.neighbours_tried)
        if accepted is None:
            stopped = "converged: no proposed move improves on the current design" + (
                f"; blocked: {blocked[0]}" if blocked else ""
            )
            break
        e, prop = accepted
        measured = f"measured {e.objective / cur.objective - 1:+.1%} {objective}"
        if not cur.feasible:  # climbing towards the limits: say how far it still is
            measured += f", worst budget {max(cur.budgets.values()):.3f} -> {max(e.budgets.values()):.3f}"
        steps.append(Step(e.index, e.objective, f"{prop.reason}; {measured}"))
        cur, free_run = e, 0
    return cur, steps, stopped


def explore_hierarchy(
    networks: list[Network],
    arch: Hierarchy,
    arch_name: str = "hierarchy",
    budget: int = 30,
    objective: str = "latency",
    method: str = "explainable",
    seed: int = 0,
    max_area_mm2: float | None = None,
    max_power_w: float | None = None,
    span: int = 2,
    values: dict[str, list[float]] | None = None,
    mapper_budget: int = DEFAULT_MAPPER_BUDGET,
    progress=print,
    out: str | Path | None = None,
    settings: dict | None = None,
    replay: list[dict] | None = None,
    objectives: tuple[str, ...] | list[str] | None = None,
    pareto_config=None,
    min_fps: float | None = None,
    min_tokens_per_s: float | None = None,
    explorer_config: HierarchyExplorerConfig | None = None,
) -> HierarchyExploreResult:
    """Search hardware and mappings together on a general hierarchy.

    Args:
        networks: Workloads (latency and energy summed over them).
        arch: The base hierarchy (a preset or ``load_hierarchy``).
        arch_name: Its name, for the output.
        budget: Designs evaluated at most (the base design included).
        objective: ``latency``, ``energy`` or ``edp``.
        method: ``explainable`` (bottleneck rules, above), ``gradient``
            (hardware and mappings in one relaxed descent,
            ``hierarchy_gradient``), or a baseline: ``random`` (uniform
            designs of the same space), ``WALKS``, ``BLACK_BOX``.
        seed: Mapper seed (and the random method's sampler).
        max_area_mm2, max_power_w: Limits (default: the base design's own).
        span: Each parameter takes its base value times ``2**-span .. 2**span``.
        values: A space file's values per parameter (narrows or widens them).
        mapper_budget: Exact evaluations per layer of the hierarchy mapper.
        progress: Callable(str) for progress lines, or None.
        out: Folder for ``run.json`` (``settings``), ``evaluations.jsonl``
            (each design as it is mapped, fsynced) and ``result.json`` (at the
            end): an interrupted run loses nothing (``resume_hierarchy``).
        settings: What ``run.json`` records to rebuild the networks and the
            arch on resume (the CLI's model names, workload paths, batch, arch).
        replay: Stored evaluations (``evaluations.jsonl`` lines) served
            instead of mapping those designs again.
        objectives: Two or more of ``pareto.COST_NAMES`` (e.g. ``("latency",
            "energy")``): search a Pareto front instead (``hierarchy_pareto``;
            method ``pareto``); the result's ``pareto`` lists the front.
        pareto_config: ``ParetoConfig`` of the front search (default knobs).
        min_fps: Least inferences/s of every network (a throughput limit,
            budget ``throughput.{network}``); None: none. When no design
            meets it, the closest is returned (area and power held, the least
            throughput excess) and the result is not feasible.
        min_tokens_per_s: Least tokens/s of every LLM prefill/decode pass
            among ``networks`` (turned into passes/s, ``throughput_limits``).
        explorer_config: ``HierarchyExplorerConfig`` of the explainable
            method (default: the module's constants); not with ``objectives``
            (the front search takes ``pareto_config``).

    Raises:
        SpaceError (a ValueError) naming the field for a bad argument or a
        limit the base design cannot meet and no design of the space meets.
    """
    if objective not in OBJECTIVES:
        raise SpaceError(f"hierarchy explore: field 'objective' expected one of {OBJECTIVES}, found {objective!r}")
    if objectives is not None:
        from jaxdse.codesign.pareto import check_objectives

        objectives, method = check_objectives("hierarchy explore:", SpaceError, objectives, method), "pareto"
    elif method not in METHODS:
        raise SpaceError(f"hierarchy explore: field 'method' expected one of {METHODS}, found {method!r}")
    for name, v, lo in (("budget", budget, 1), ("mapper_budget", mapper_budget, 8)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise SpaceError(f"hierarchy explore: field '{name}' expected an int >= {lo}, found {v!r}")
    if not networks:
        raise SpaceError("hierarchy explore: field 'networks' expected at least one network, found none")
    if explorer_config is not None and (objectives or not isinstance(explorer_config, HierarchyExplorerConfig)):
        raise SpaceError(
            "hierarchy explore: field 'explorer_config' expected a HierarchyExplorerConfig of a single-objective "
            f"search (a front takes pareto_config), found {type(explorer_config).__name__}"
            + (f" with objectives {list(objectives)}" if objectives else "")
        )
    cfg = explorer_config or HierarchyExplorerConfig()
    space = HierarchySpace(arch, span, values)
    t0 = time.perf_counter()
    base = space.base_design()
    base_hier = space.to_hierarchy(base)
    base_area = float(hm.area_mm2(base_hier))
    base_power = float(hm.peak_power_w(base_hier, base_area))  # the default limits: iso-area, iso-power
    limits = {}
    for k, given, base_v in (("area_mm2", max_area_mm2, base_area), ("power_w", max_power_w, base_power)):
        ok = given is None or (
            isinstance(given, (int, float)) and not isinstance(given, bool) and 0 < given < 1e308  # no float() overflow
        )
        if not ok:
            raise SpaceError(f"hierarchy explore: field 'max_{k}' expected a positive finite limit, found {given!r}")
        limits[k] = base_v if given is None else float(given)
    per_s = throughput_limits(list(networks), min_fps, min_tokens_per_s)
    ev = HierarchyEvaluator(list(networks), space, limits, objective, seed, mapper_budget, min_per_s=per_s)
    if replay:
        ev.replay = {space.key(space.validate(r["design"])): r for r in replay}
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        run = {
            "kind": "hierarchy",
            "arch_name": arch_name,
            "budget": budget,
            "objective": objective,
            "method": method,
            "seed": seed,
            "max_area_mm2": max_area_mm2,
            "max_power_w": max_power_w,
            "span": span,
            "values": values,
            "mapper_budget": mapper_budget,
            "objectives": list(objectives) if objectives else None,
            "min_fps": min_fps,
            "min_tokens_per_s": min_tokens_per_s,
            "explorer_config": cfg.to_dict(),
            **(settings or {}),
        }
        atomic_write(folder / RUN_FILE, json.dumps(run, indent=2))
        ev.log_path = folder / EVALS_FILE
        if not replay:
            atomic_write(ev.log_path, "")

    def say(line: str) -> None:
        if progress is not None:
            progress(line)

    if objectives:
        return _explore_front(
            networks, space, arch_name, limits, objectives, budget, seed, mapper_budget, ev.log_path, replay,
            pareto_config, say, out, t0, per_s,
        )  # fmt: skip

    def evaluate(d: dict[str, float]) -> HierEval:
        """The evaluator's answer; a progress line for a design not evaluated before."""
        known = space.key(d) in ev.cache
        e = ev.evaluate(d)
        if known:
            return e
        say(
            f"[{e.index}/{budget}] {e.latency_s * 1e3:.4f} ms, {e.energy_j * 1e3:.4f} mJ, area {e.area_mm2:.3f} mm^2 "
            f"({e.budgets['area_mm2']:.2f} of limit), power {e.power_w:.3f} W ({e.budgets['power_w']:.2f}), "
            f"{'feasible' if e.feasible else 'infeasible'}"
        )
        return e

    cur = base_ev = evaluate(base)
    steps = [Step(cur.index, cur.objective, f"base design: {space.describe(base)}")]
    stopped = f"budget of {budget} designs spent"
    if method in BLACK_BOX:
        _black_box(method, space, ev, evaluate, budget, seed)
    elif method in WALKS:
        _walk(method, space, ev, evaluate, budget, seed, base)
    elif method == "gradient":
        from jaxdse.codesign.hierarchy_gradient import gradient_walk

        found, stopped = gradient_walk(space, ev, evaluate, cur, budget, _improves, say)
        steps += [Step(i, obj, why) for i, obj, why in found]
    elif method == "random":
        rng = np.random.default_rng(seed)
        tries = 0
        while ev.count < budget and tries < 50 * budget:
            tries += 1
            d = {p.name: p.values[int(rng.integers(len(p.values)))] for p in space.params}
            evaluate(d)  # a design drawn again costs nothing and does not count
    else:
        if cfg.warm_start_share > 0 and budget > 4:
            from jaxdse.codesign.hierarchy_gradient import gradient_walk

            warm = min(budget - 1, max(2, int(round(budget * cfg.warm_start_share))))
            found, _ = gradient_walk(space, ev, evaluate, cur, warm, _improves, say)
            steps += [Step(i, obj, f"gradient warm start: {why}") for i, obj, why in found]
            if found:
                cur = next(e for e in ev.cache.values() if e.index == found[-1][0])
        first = cur
        cur, steps, stopped = _rules(space, ev, evaluate, networks, limits, budget, cfg, objective, cur, steps)
        starts, ends = [first], [cur]
        while stopped.startswith("converged") and ev.count < budget:
            # budget left after the rules converged: the rules again, first from the base design (the
            # path without the warm start), then from the best design evaluated so far that differs
            # in at least two parameters from every earlier start and end point (a basin not yet
            # climbed; one-parameter neighbours of an end point were all tried); proposals already
            # evaluated count at no cost, so a restart that climbs back into a known basin costs
            # nothing. The explanation follows the path that reached the best design.
            from_base = all(st is not base_ev for st in starts)
            start = base_ev if from_base else _restart(space, ev, starts + ends)
            if start is None:
                stopped += "; no evaluated design left to restart from"
                break
            head = steps[:1]
            if not from_base:
                why = (
                    f"restart with {budget - ev.count} designs left: design {start.index}, the best evaluated "
                    "design at least two parameters away from every earlier start and end point"
                )
                head = head + [Step(start.index, start.objective, why)]
            again, steps2, stopped2 = _rules(
                space, ev, evaluate, networks, limits, budget, cfg, objective, start, head, reuse=True
            )
            starts.append(start)
            ends.append(again)
            where = "from the base design" if from_base else f"from design {start.index}"
            if _rank(again) < _rank(cur):
                cur, steps = again, steps2
                stopped = f"{stopped2} (pass {len(starts)}, {where}: the pass before had {stopped})"
            else:
                stopped = f"{stopped2} (pass {len(starts)}, {where}, did not beat design {cur.index})"
    ranked = [e for e in ev.cache.values() if e.feasible or _hardware_ok(e)]
    best = min(ranked, key=_rank) if ranked else None  # feasible first; else the closest (``_rank``)
    on_path = [i for i, st in enumerate(steps) if best is not None and st.evaluation == best.index]
    if on_path and on_path[-1] < len(steps) - 1:  # the explanation ends at the design returned
        cut = len(steps) - 1 - on_path[-1]
        steps = steps[: on_path[-1] + 1]
        stopped += f"; the last {cut} step(s) (free-budget shrinks) did not improve on design {best.index}, returned"
    if method == "explainable" and best is not None and best.index != steps[-1].evaluation:
        steps.append(Step(best.index, best.objective, "the best design evaluated: a candidate not accepted when tried"))
    elif best is not None and best.index != steps[-1].evaluation:
        what = {
            "random": "uniform random designs",
            "gradient": "snapped points of the joint gradient descent",
            "grid": "grid points (shuffled coarse grid)",
            "annealing": "designs visited by simulated annealing",
        }.get(method, f"designs proposed by {method} (black box)")
        steps.append(Step(best.index, best.objective, f"best of {ev.count} {what}"))
    result = HierarchyExploreResult(
        arch=arch_name,
        networks=[n.name for n in networks],
        method=method,
        objective=objective,
        limits=limits,
        space=space,
        evaluations=list(ev.cache.values()),
        steps=steps,
        best=best,
        stopped=stopped,
        # a resumed run counts the stored designs' mapping time too (not only this segment's)
        wall_s=time.perf_counter() - t0 + sum(float(r.get("wall_s", 0.0)) for r in (replay or [])),
        min_per_s=per_s,
    )
    if out is not None:
        result.save(out)
    return result


def _explore_front(
    networks, space, arch_name, limits, objectives, budget, seed, mapper_budget, log_path, replay, cfg, say, out, t0,
    min_per_s=None,
) -> HierarchyExploreResult:  # fmt: skip
    """The front search of ``hierarchy_pareto`` (``explore_hierarchy(objectives=...)``)."""
    from jaxdse.codesign.pareto import FrontSearch, ParetoConfig
    from jaxdse.codesign.result import Trace

    cfg = cfg or ParetoConfig()
    store = HierarchyStore.for_objectives(
        networks, space, limits, objectives, seed, mapper_budget, log_path=log_path, min_per_s=min_per_s
    )
    for r in replay or []:
        m = r.get("mapper_objective", "latency")
        if m in store.evaluators:
            store.evaluators[m].replay[space.key(space.validate(r["design"]))] = r
    trace = Trace(out_dir=None if out is None else Path(out))
    trace.start_file()
    moves = HierarchyMoves(store, networks, limits, cfg)
    FrontSearch(store, moves, budget, trace, cfg, say).run(moves.start())
    front = front_records(store)
    on_front = {f["evaluation"] for f in front}
    for e in trace.entries:
        e.extra["pareto"] = e.evaluation in on_front
    by_index = {p.ev.index: p for p in store.points}
    best = by_index[front[0]["evaluation"]].ev if front else None
    steps = [Step(s["evaluation"], by_index[s["evaluation"]].ev.objective, s["reason"]) for s in front[0]["steps"]]
    steps = steps if front else []
    stopped = f"budget of {budget} designs spent" if store.count >= budget else "no move or neighbour left to try"
    result = HierarchyExploreResult(
        arch=arch_name,
        networks=[n.name for n in networks],
        method="pareto",
        objective=objectives[0],
        limits=limits,
        space=space,
        evaluations=[p.ev for p in store.points],
        steps=steps,
        best=best,
        stopped=stopped,
        wall_s=time.perf_counter() - t0 + sum(float(r.get("wall_s", 0.0)) for r in (replay or [])),
        objectives=tuple(objectives),
        min_per_s=min_per_s or {},
        pareto=front,
        trace=[e.to_dict() for e in trace.entries],
    )
    if out is not None:
        result.save(out)
    return result


def resume_hierarchy(folder: str | Path, networks: list[Network], arch: Hierarchy, progress=print):
    """Continue a hierarchy run from ``folder`` (its ``run.json`` and ``evaluations.jsonl``):
    stored designs are rebuilt, not mapped again, so the search retraces its steps and goes on;
    the result equals an uninterrupted run's. ``networks`` and ``arch`` are rebuilt by the
    caller from ``run.json`` (``read_hierarchy_run``)."""
    folder = Path(folder)
    run = read_hierarchy_run(folder)
    keys = ("arch_name", "budget", "objective", "method", "seed", "max_area_mm2", "max_power_w", "span", "values",
            "mapper_budget")  # fmt: skip
    kw = {k: run[k] for k in keys}
    kw["objectives"] = run.get("objectives")
    for k in ("min_fps", "min_tokens_per_s"):  # absent in runs written before they were recorded: no limit, as they ran
        kw[k] = run.get(k)
    if run.get("explorer_config") is not None and not kw["objectives"]:  # absent before it was recorded: defaults
        try:
            kw["explorer_config"] = HierarchyExplorerConfig.from_dict(
                run["explorer_config"], where=f"resume: {Path(folder) / RUN_FILE} explorer_config"
            )
        except ConfigError as e:
            raise ResumeError(str(e)) from None
    extra = {
        k: v
        for k, v in run.items()
        if k not in keys and k not in ("kind", "objectives", "min_fps", "min_tokens_per_s", "explorer_config")
    }
    return explore_hierarchy(
        networks, arch, progress=progress, out=folder, settings=extra, replay=read_records(folder / EVALS_FILE), **kw
    )


def read_hierarchy_run(folder: str | Path) -> dict:
    """``run.json`` of a hierarchy run (``kind: hierarchy``); ResumeError naming what is wrong otherwise."""
    path = Path(folder) / RUN_FILE
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResumeError(f"resume: expected '{path}', found it missing") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:  # RecursionError: nesting too deep
        raise ResumeError(f"resume: '{path}' expected JSON, found error: {type(e).__name__}: {e}") from None
    if not isinstance(run, dict) or run.get("kind") != "hierarchy":
        raise ResumeError(f"resume: '{path}' expected a hierarchy run (kind: hierarchy), found another kind")
    return run


def is_hierarchy_run(folder: str | Path) -> bool:
    try:
        return read_hierarchy_run(folder) is not None
    except ResumeError:
        return False


__all__ = [
    "DEFAULT_MAPPER_BUDGET",
    "METHODS",
    "HierEval",
    "HierarchyEvaluator",
    "HierarchyExploreResult",
    "HierarchyExplorerConfig",
    "explore_hierarchy",
    "is_hierarchy_run",
    "propose",
    "read_hierarchy_run",
    "resume_hierarchy",
]
