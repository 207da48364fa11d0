"""Multi-objective codesign: a latency / energy / area / power / EDP Pareto front, found the gray-box way.

``jaxdse.explore(..., objectives=("latency", "energy"))`` runs ``pareto_explorer``.
A *point* is a hardware design mapped with one mapper objective (``latency``,
``energy`` or ``edp``): a latency-optimal mapping is not the energy-optimal
one, so one hardware can give several front points, and each (hardware,
mapper objective) pair costs one evaluation of the budget. The front is the
set of evaluated, feasible points that no other such point dominates; every
cost on it is exact (``Evaluator``: mapper in the loop, exact model). Every
mapper objective searches as widely (``pareto_evaluators``: all join the
pruned mapper) and a latency mapping is the least-energy one of the fastest.

The method, and why (a choice among the ideas of issue 16):

1. Scalarised sub-searches aimed at the front's gaps. Objectives are
   compared in log space, each divided by its span on the current front
   (a design twice as fast matters as much at 1 ms as at 100 ms). The
   targets are the front's extremes (push objective k alone, weight e_k) and
   the gaps between neighbouring front points A, B (weights w_k ~ 1 / |log
   A_k - log B_k|: in two objectives the normal of the segment AB, so a step
   that lowers ``w . log f`` lands under the segment, in the gap). A target's
   priority is its size (1 for an extreme, the gap's normalised length)
   divided by 1 + the batches already spent on it without progress (a new
   front point that lowers the target's scalarised cost by at least
   ``ParetoConfig.min_progress`` of the span), so the search fills the
   largest hole first and leaves a dead end or a crawl.
2. Warm start from the neighbouring front point: each sub-search starts
   from the front member that is best for its weights (the neighbour of the
   gap), not from scratch; the front is its memory.
3. The mapper objective of the front region: the weights on latency and
   energy pick the mapper's objective (latency, energy, or EDP in between),
   and a *remap* (same hardware, that mapper objective) is the first move
   tried from a point mapped otherwise: one evaluation, often a new front
   point without any hardware change. Next come the *free* moves, hardware
   changes that cost no area or power and that the mapper alone can value:
   in the Table-1 model every virtual-unicast factor at its largest value
   (it only bounds the mapping space; energy and EDP regions,
   ``Table1Moves.free_moves``), on a hierarchy the array reshaped (the same
   MACs split another way over two fan-outs, at the same area and power)
   while its MACs idle (``hierarchy_pareto.HierarchyMoves.free_moves``).
4. Per-objective bottlenecks and elasticities predict each candidate's
   change in *every* objective before it is evaluated: latency by the
   explainable explorer's bottleneck-tree rules and the cost model on the
   held mappings' traffic (``proposals.layer_votes``,
   ``proposals.predict_design``, pairs included); energy by the relaxed
   model's energy elasticities (mappings held) plus the energy bottleneck
   (the component with the most energy that more reuse below it can still
   remove, DRAM counting only its bytes above the compulsory traffic:
   DRAM -> a larger L2 or L1, L2 or NoC -> a larger L1; a first-order guess
   of a reuse change the held-mapping elasticity cannot see; cheaper accesses
   and less area it does predict, ``REUSE_MOVES``);
   area and peak power exactly (functions of the hardware alone,
   ``Evaluator.hardware_costs``). Candidates (rule moves, one and two legal
   steps of every parameter) are ranked by the predicted scalarised change;
   the best ``per_step`` are evaluated. Moves that would break an area or
   power limit the base meets are never evaluated (exact), nor those
   predicted to break a throughput limit.

5. Compensated pairs (the best one in each batch; all that are predicted to
   help once a target's single moves have stopped paying): a move that would lower a weighted cost but cannot be
   taken alone, because it breaks an area or power limit or costs more in
   another objective than it gains, is joined with the disjoint move
   predicted to pay that back best (twice the PEs paid for within the power
   limit by a smaller L2; a larger L2 paid for by a narrower NoC). Single
   moves stop where the front's points are local optima of one-parameter
   steps; better trade-offs often lie two coupled parameters away (measured
   on bert_base, seed 0: the front's fast end moved from 87 ms to 44 ms
   within 4 W).

Not NSGA: no population, crossover or random mutation drives the search;
sampled neighbours of a front point are only the last resort when no
target has a move left. Until a feasible point exists, the same machinery
aims at the worst violated constraint (throughput -> latency, area, power).

Rejected alternatives: a weighted-sum sweep of single-objective explainable
runs (a fixed grid of weights cannot see where the front has holes and
spends a whole run per weight); running NSGA-II with model-guided
mutations (the population needs hundreds of designs before it moves).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from costmodels import ENERGY_COMPONENTS
from jaxdse.codesign.checkpoint import append_record, evaluation_record
from jaxdse.codesign.constraints import THROUGHPUT
from jaxdse.codesign.elasticity import combine, elasticities
from jaxdse.codesign.evaluator import DesignEval, Evaluator
from jaxdse.codesign.proposals import fmt as _fmt
from jaxdse.codesign.proposals import layer_votes as _layer_votes
from jaxdse.codesign.proposals import predict_design
from jaxdse.codesign.result import Trace
from jaxdse.codesign.space import PARAMS, describe
from workloads.specfile import show

COST_NAMES = ("latency", "energy", "edp", "area", "power")
"""Objectives a Pareto search can minimise (latency and energy summed over networks)."""

MAPPER_FOR = {"latency": "latency", "energy": "energy", "edp": "edp"}


@dataclass(frozen=True)
class ParetoConfig:
    """Knobs of ``pareto_explorer`` (recorded with the run).

    Attributes:
        per_step: Candidates evaluated per step.
        steps: Legal steps tried per parameter, each way.
        min_span: Floor of an objective's log span on the front (normalisation).
        energy_rule_scale: Assumed shrink of the dominant energy component by
            its bottleneck rule (the rule's predicted gain is share x (1 - 1/s)).
        pairs: Moves that cannot be taken alone (they break a limit or cost more
            in another objective than they gain) considered for pairing at each
            step, the most promising first, each with its two best compensating
            moves (``FrontSearch.pairs``); 0 turns pairing off.
        min_progress: Least drop of a target's scalarised cost (its weights on the
            log objectives, each divided by its span on the front) below the best
            front point's for a new front point to count as progress on that
            target; a smaller gain still joins the front, but the target waits as
            after a batch without one. Measured on bert_base, seed 2: most of designs
            83-145 went to links and NoC-width steps at 128 PEs whose front points
            each lowered energy by 0.01-0.05%, while the 256-PE designs waited.
    """

    per_step: int = 4
    steps: tuple[int, ...] = (1, 2)
    min_span: float = 0.05
    energy_rule_scale: float = 2.0
    pairs: int = 4
    min_progress: float = 0.02

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> ValueError:
            return ValueError(f"pareto config: field '{name}' expected {expected}, found {getattr(self, name)!r}")

        def pos_int(v) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 1

        if not pos_int(self.per_step):
            raise bad("per_step", "a positive int")
        if not (pos_int(self.pairs) or self.pairs == 0) or isinstance(self.pairs, bool):
            raise bad("pairs", "an int >= 0")
        if not isinstance(self.steps, tuple) or not self.steps or not all(pos_int(k) for k in self.steps):
            raise bad("steps", "a non-empty tuple of positive ints")
        for name, low in (("min_span", 0.0), ("energy_rule_scale", 1.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= low:
                raise bad(name, f"a finite number > {low:g}")
        v = self.min_progress
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise bad("min_progress", "a finite number >= 0")


def check_objectives(who: str, error, objectives, method: str) -> tuple[str, ...] | None:
    """``objectives`` as a tuple of distinct ``COST_NAMES`` (at least two), or None."""
    if objectives is None:
        if method == "pareto":
            raise error(f"{who} field 'objectives' expected two or more of {list(COST_NAMES)} with method 'pareto', "
                        "found None")  # fmt: skip
        return None
    if isinstance(objectives, str):
        objectives = [o.strip() for o in objectives.split(",")]
    if not isinstance(objectives, (list, tuple)) or not all(isinstance(o, str) for o in objectives):
        raise error(f"{who} field 'objectives' expected a list of names or a comma-separated string, "
                    f"found {show(objectives)}")  # fmt: skip
    bad = [o for o in objectives if o not in COST_NAMES]
    if bad:
        raise error(f"{who} field 'objectives' expected names among {list(COST_NAMES)}, found {bad}")
    if len(set(objectives)) != len(objectives) or len(objectives) < 2:
        raise error(f"{who} field 'objectives' expected at least two distinct names, found {list(objectives)}")
    if method not in ("explainable", "pareto"):
        raise error(f"{who} field 'method' expected 'pareto' (or the default) with 'objectives', found {show(method)}")
    return tuple(objectives)


def costs_of(ev: DesignEval) -> dict[str, float]:
    """Every objective's value of an evaluated point (s, J, J s, mm^2, W)."""
    lat, en = float(sum(ev.latency_s.values())), float(sum(ev.energy_j.values()))
    return {"latency": lat, "energy": en, "edp": lat * en, "area": ev.area_mm2, "power": ev.power_w}


def mapper_objectives(objectives: tuple[str, ...]) -> tuple[str, ...]:
    """Mapper objectives a front over ``objectives`` uses: each of latency /
    energy / edp named, plus EDP between latency and energy."""
    out = [o for o in ("latency", "energy", "edp") if o in objectives]
    if "latency" in out and "energy" in out and "edp" not in out:
        out.append("edp")
    return tuple(out) or ("latency",)


def mapper_tie_break(m: str) -> str | None:
    """The tie-break of a front's mapper objective ``m``: latency ties are common (integer
    cycles; compute-bound layers reach the same count under many tilings) and their energies
    differ, so the latency mapper returns the least-energy of its fastest mappings."""
    return "energy" if m == "latency" else None


def pareto_evaluators(evaluator: Evaluator, objectives) -> dict[str, Evaluator]:
    """One evaluator per mapper objective of a multi-objective run, with ``evaluator``'s settings.

    Each joins the pruned mapper at every budget (``Evaluator.mapper_join``), so that no
    mapper objective maps with a smaller search than another; the latency mapper picks,
    of its fastest mappings, the one with the least energy (``Evaluator.mapper_tie_break``):
    an arbitrary one of the tied latency mappings put a design's latency-mapped point above
    its least energy (tiny_cnn, seed 2's front designs: 0.0459 mJ where the least-energy
    mapping of equal latency, 0.0234 ms, costs 0.0431 mJ).
    """
    return {
        m: dataclasses.replace(
            evaluator,
            objective=m,
            cache={},
            replay={},
            mapper_join=True,
            mapper_tie_break=mapper_tie_break(m),
        )
        for m in mapper_objectives(objectives)
    }


def dominates(a: tuple, b: tuple) -> bool:
    """``a`` is no worse than ``b`` in every objective and better in one (minimisation)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def non_dominated(vectors: list[tuple]) -> list[int]:
    """Indices of the vectors no other dominates (the first of equal copies kept)."""
    keep = []
    for i, v in enumerate(vectors):
        if any(dominates(w, v) or (w == v and j < i) for j, w in enumerate(vectors) if j != i):
            continue
        keep.append(i)
    return keep


def hypervolume(points: list[tuple], ref: tuple) -> float:
    """Volume dominated by ``points`` and bounded by ``ref`` (minimisation), any dimension.

    Exact, by slicing along the last objective (While et al., "A faster
    algorithm for calculating hypervolume", IEEE TEC 2006: HSO); points not
    strictly below ``ref`` in every objective add nothing.
    """
    pts = sorted({tuple(p) for p in points if all(x < r for x, r in zip(p, ref))}, key=lambda p: p[-1])
    if not pts:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in pts)
    vol = 0.0
    for i, p in enumerate(pts):
        upper = pts[i + 1][-1] if i + 1 < len(pts) else ref[-1]
        if upper > p[-1]:
            vol += (upper - p[-1]) * hypervolume([q[:-1] for q in pts[: i + 1]], ref[:-1])
    return vol


@dataclass
class Point:
    """One evaluation: a hardware design mapped with one mapper objective."""

    ev: DesignEval
    mapper_objective: str
    parent: int | None  # evaluation index of the point it was derived from
    reason: str


class MultiEvaluator:
    """One ``Evaluator`` per mapper objective behind one budget.

    ``evaluate(design, m)`` maps ``design`` with mapper objective ``m``; the
    pair is one evaluation (global ``index``, 1-based). Newly mapped pairs are
    appended to ``log_path`` (``evaluations.jsonl``) with their
    ``mapper_objective``; ``replay`` takes such records back (resume).
    """

    def __init__(self, evaluators: dict[str, Evaluator], objectives: tuple[str, ...]) -> None:
        self.evaluators = evaluators
        self.objectives = objectives
        self.points: list[Point] = []
        self._by_key: dict[tuple, Point] = {}
        self.log_path = None
        first = next(iter(evaluators.values()))
        self.space, self.networks, self.seed = first.space, first.networks, first.seed
        self.hw = first  # area and power are the same for every mapper objective

    @property
    def count(self) -> int:
        return len(self.points)

    def key(self, design: dict, m: str) -> tuple:
        return (m, self.hw.key(design))

    def seen(self, design: dict, m: str) -> bool:
        return self.key(design, m) in self._by_key

    def elapsed_s(self) -> float:
        """Search wall time over every segment of the run (``Evaluator.elapsed_s``; the
        evaluators share a start, each subtracts only its own replay time)."""
        return self.hw.elapsed_s() - sum(e._replay_s for e in self.evaluators.values() if e is not self.hw)

    def replay(self, record: dict) -> None:
        m = record.get("mapper_objective", "latency")
        self.evaluators[m].replay[self.hw.key(record["design"])] = record

    def evaluate(self, design: dict, m: str, parent: int | None = None, reason: str = "") -> tuple[Point, bool]:
        """The point (new or cached) and whether it was new."""
        k = self.key(design, m)
        if k in self._by_key:
            return self._by_key[k], False
        ev_ = self.evaluators[m]
        replayed = k[1] in ev_.replay
        ev = ev_.evaluate(design)
        ev.index = self.count + 1
        ev.objective = costs_of(ev)[self.objectives[0]]  # the run's first objective (convergence plots)
        if not replayed and self.log_path is not None:
            record = evaluation_record(ev.design, ev.plans, ev.wall_s, self.elapsed_s())
            append_record(self.log_path, {**record, "mapper_objective": m})
        p = Point(ev, m, parent, reason)
        self.points.append(p)
        self._by_key[k] = p
        return p, True

    @property
    def mappers(self) -> tuple[str, ...]:
        return tuple(self.evaluators)

    def costs(self, p: Point) -> dict[str, float]:
        return costs_of(p.ev)

    def worst(self, p: Point) -> tuple[str, float]:
        """The most violated constraint and its budget (used / limit)."""
        return p.ev.worst_constraint

    def describe(self, design: dict) -> str:
        return describe(design)

    def vector(self, p: Point) -> tuple:
        c = costs_of(p.ev)
        return tuple(c[o] for o in self.objectives)

    def front(self) -> list[Point]:
        feas = [p for p in self.points if p.ev.feasible]
        return [feas[i] for i in non_dominated([self.vector(p) for p in feas])]


@dataclass
class _Cand:
    design: dict
    mapper: str
    why: str
    delta: dict[str, float] = field(default_factory=dict)  # predicted change of log cost, per cost
    score: float = 0.0


def signature(params, before: dict, after: dict) -> tuple:
    """The parameters a move changes and their directions (``(("l2_kib", 1),)``)."""
    return tuple((q, 1 if after[q] > before[q] else -1) for q in params if after[q] != before[q])


class Table1Moves:
    """What the front search knows of the Table-1 template (``DesignSpace``): the moves a point
    calls for and their predicted effect on every cost. ``hierarchy_pareto.HierarchyMoves`` is
    the same interface for any hierarchy; ``FrontSearch`` reads nothing else of the space."""

    def __init__(self, me: MultiEvaluator, cfg: ParetoConfig) -> None:
        self.me, self.cfg = me, cfg
        self.params = PARAMS
        self.nets = [n.name for n in me.networks]
        self._el: dict[int, dict] = {}
        self._free: list[str] | None = None

    def start(self) -> dict:
        return self.me.space.default_design()

    def elast(self, p: Point) -> dict:
        if p.ev.index not in self._el:
            ev = p.ev
            self._el[ev.index] = combine(
                [elasticities(ev.plans[n]) for n in self.nets], [ev.latency_s[n] for n in self.nets]
            )
        return self._el[p.ev.index]

    def delta(self, base: Point, design: dict, rule: dict | None = None) -> dict[str, float]:
        """Predicted change of log cost per cost name (mappings held; area and power exact)."""
        d0, el = base.ev.design, self.elast(base)
        moved = [q for q in PARAMS if design[q] != d0[q]]
        dl = {c: sum(el[c].get(q, 0.0) * math.log(design[q] / d0[q]) for q in moved) for c in ("latency", "energy")}
        r = predict_design(base.ev, design) if moved else None  # pairs too: PEs 256 -> 64 is not linear
        if r is not None:
            dl["latency"] = math.log(max(1.0 + r, 1e-6))
        for c, v in (rule or {}).items():
            dl[c] = v
        a0, p0 = self.me.hw.hardware_costs(d0)
        a1, p1 = self.me.hw.hardware_costs(design)
        dl["area"], dl["power"] = math.log(a1 / a0), math.log(p1 / p0)
        dl["edp"] = dl["latency"] + dl["energy"]
        return dl

    def moves(self, base: Point, w: dict[str, float]) -> list[tuple[dict, str, dict | None]]:
        """(design, why, rule's predicted log change or None) for every move worth predicting."""
        ev, space, cfg = base.ev, self.me.space, self.cfg
        out: list[tuple[dict, str, dict | None]] = []
        if w.get("latency", 0) + w.get("edp", 0) > 0:
            lims = [self.me.hw.limit(c) for c in ev.budgets]
            focus = self.nets if ev.feasible else [lim.network for lim in lims if lim.kind == THROUGHPUT]
            for prop in _layer_votes(ev, space, focus or self.nets):
                out.append((prop.design, prop.why, None))
        if w.get("energy", 0) + w.get("edp", 0) > 0:
            for p, new, rule_why, gain in _energy_rules(ev, space, cfg):
                out.append(({**ev.design, p: new}, rule_why, {"energy": math.log(max(1 + gain, 1e-6))}))
        for p in PARAMS:
            for k in cfg.steps:
                for sign in (1, -1):
                    new = space.step(p, ev.design[p], sign * k)
                    if new != ev.design[p]:
                        txt = f"elasticities: {p} {_fmt(p, ev.design[p])} -> {_fmt(p, new)}"
                        out.append(({**ev.design, p: new}, txt, None))
        return out

    def free_moves(self, base: Point, m: str) -> list[tuple[dict, str]]:
        """The move to the largest value of every *free* parameter: one whose values all give the
        same area and peak power (exact) and that changes no cost of the held mappings (predicted),
        for a point mapped for energy or EDP (``m``); none for latency, where it cost bert_base seed
        2 its fast end (the budget went to free moves from fast points; README "The free move").
        In the Table-1 model these are the NoCs' virtual-unicast factors: they only bound the
        mapping space (workgroups <= links x virtual, Explainable-DSE p. 7), so the largest value
        keeps every mapping legal and admits more; the mapper decides what the freedom is worth.
        The held-mapping prediction cannot see that (it is zero), so such a move would never rank
        among the candidates; NSGA-II-2000's lowest-energy fronts used virtual unicast 64-512 where
        jaxdse's kept the default 8 (benchmarks/results/pareto_grid_s2, resnet18 and mobilenet_v2
        seed 1)."""
        space = self.me.space
        if m == "latency":
            return []
        if self._free is None:
            d0 = self.start()
            costs = self.me.hw.hardware_costs
            self._free = [
                q for q in PARAMS if costs({**d0, q: min(space.values[q])}) == costs({**d0, q: max(space.values[q])})
            ]
        d, moved = dict(base.ev.design), []
        for q in self._free:
            top = max(space.values[q])
            if d[q] != top:
                moved.append(f"{q} {_fmt(q, d[q])} -> {_fmt(q, top)}")
                d[q] = top
        if not moved:
            return []
        dl = self.delta(base, d)
        if abs(dl["latency"]) > 1e-9 or abs(dl["energy"]) > 1e-9:
            return []
        return [(d, f"free for the hardware: {', '.join(moved)} (no area, power or cost; more mappings legal)")]

    def breaks_limit(self, design: dict, base_design: dict) -> bool:
        """An area or power limit the base meets, broken by ``design`` (exact, no mapping)."""
        return self.me.hw.breaks_hardware_limit(design, base_design)

    def predicted_infeasible(self, base: Point, dl: dict[str, float]) -> bool:
        """A throughput limit predicted broken (2% slack) by a move of predicted change ``dl``."""
        return any(
            self.me.hw.limit(c).kind == THROUGHPUT and b * math.exp(dl["latency"]) > 1.02
            for c, b in base.ev.budgets.items()
        )

    def cost_of_limit(self, name: str) -> str:
        """The cost to lower to meet constraint ``name``."""
        lim = self.me.hw.limit(name)
        return "latency" if lim.kind == THROUGHPUT else lim.kind

    def neighbour(self, base: Point, rng) -> dict:
        """Two parameters of ``base`` moved up to two legal steps each, at random."""
        d = dict(base.ev.design)
        for i in rng.choice(len(PARAMS), size=2, replace=False):
            q = PARAMS[int(i)]
            d[q] = self.me.space.step(q, d[q], int(rng.choice([-2, -1, 1, 2])))
        return d


def energy_components(ev: DesignEval) -> dict[str, float]:
    """Energy of a design by component (``costmodels.ENERGY_COMPONENTS``), pJ, summed over its networks."""
    comp = np.zeros(len(ENERGY_COMPONENTS))
    for plan in ev.plans.values():
        e = np.asarray(plan.costs.layers.energy_pj, dtype=np.float64)
        comp += (np.asarray(plan.costs.counts, dtype=np.float64)[:, None] * e).sum(0)
    return dict(zip(ENERGY_COMPONENTS, comp.tolist()))


def dram_excess(ev: DesignEval) -> float:
    """Share of a design's DRAM bytes above the compulsory traffic (every operand moved once,
    ``Layer.compulsory_bytes``), over its networks x layer counts: the part of DRAM energy
    that more on-chip reuse can still remove (0: at the floor)."""
    moved = floor = 0.0
    for plan in ev.plans.values():
        counts = np.asarray(plan.costs.counts, dtype=np.float64)
        dram = np.asarray(plan.costs.layers.traffic.dram_bytes, dtype=np.float64).sum(-1)
        moved += float(np.sum(counts * dram))
        floor += sum(float(c) * sum(layer.compulsory_bytes().values()) for c, layer in zip(counts, plan.network.layers))
    return max(0.0, 1.0 - floor / moved) if moved > 0 else 0.0


def energy_reason(part: str, parts: dict[str, float], top: str, excess: float | None) -> str:
    """The energy rule's reason for ``part`` (Table 1 or any hierarchy): its share of the
    energy, and how far the outermost level ``top`` (DRAM) is above its compulsory traffic
    (``excess``, None: not known) where that level holds more energy but was not chosen."""
    total = max(sum(parts.values()), 1e-30)
    head = f"{part} is {parts[part] / total:.0%} of energy"
    if part == top and excess is not None:
        return head + f" ({excess:.0%} of its bytes above the compulsory traffic)"
    if parts.get(top, 0.0) > parts[part]:
        far = (
            "at its compulsory traffic"
            if excess is None or excess < 0.005
            else f"only {excess:.0%} of its bytes above the compulsory traffic"
        )
        return f"{top} is {parts[top] / total:.0%} of energy but {far}; " + head
    return head


REUSE_MOVES: dict[str, list[tuple[str, int]]] = {
    "dram": [("l2_kib", +1), ("l1_bytes", +1)],
    "l2": [("l1_bytes", +1)],
    "noc": [("l1_bytes", +1)],
}
"""The energy rule's moves: more reuse below each component that has a level below it (fewer
DRAM bytes, fewer L2 accesses, fewer NoC deliveries). The MACs and L1 have none; cheaper
accesses (a smaller L1 or L2, fewer PEs: shorter NoC wires) and less leakage (less area) are
what the held mappings predict exactly (the energy elasticities), so they come as the ordinary
one- and two-step moves, ranked by that prediction instead of a guess."""


def _energy_rules(ev: DesignEval, space, cfg: ParetoConfig) -> list[tuple[str, float, str, float]]:
    """Energy bottleneck: (parameter, new value, why, predicted relative energy change).

    The bottleneck is the component with the most energy that more reuse below it can still
    remove: DRAM's share above its compulsory traffic (``dram_excess``), the L2's and the NoC's
    whole share (``REUSE_MOVES``); the rule's gain is that share x (1 - 1/s), at most what is
    removable. Why the floor: on tiny_cnn (seed 2) the rule grew L2 and L1 of DRAM-dominated
    (75%) points 20 times, predicted -37% each, measured +1% to +4%, on traffic already at
    the floor. Why reuse only: with the floor, bert_base's (seed 2) energy end had L1 at 21% of
    its energy and DRAM 17% above its floor; a "smaller L1" rule at a guessed -10% outranked
    the larger L2 that cut DRAM's excess to 6% (NSGA-II's and the earlier run's front).
    Reuse at every level below (DRAM: a larger L2 or L1), as the hierarchy rule
    (``HierarchyMoves.energy_rules``): on tiny_cnn (seed 2) NSGA-II's lower-energy points had
    L1 64 B where every jaxdse point kept 32 B, DRAM being 73% of their energy. (The hierarchy
    rule keeps its cheaper-access moves: there a held mapping that no longer fits a smaller
    level predicts nothing, where the Table-1 elasticities always do.)"""
    parts = energy_components(ev)
    total = max(sum(parts.values()), 1e-30)
    excess = dram_excess(ev)
    removable = {k: parts.get(k, 0.0) / total * (excess if k == "dram" else 1.0) for k in REUSE_MOVES}
    name = max(removable, key=removable.get)
    if removable[name] <= 0:
        return []
    share = parts[name] / total
    d, s = ev.design, cfg.energy_rule_scale
    gain = -min(share * (1 - 1 / s), removable[name])
    head = energy_reason(name, parts, "dram", excess)
    out = []
    for p, k in REUSE_MOVES[name]:
        new = space.step(p, d[p], k)
        if new != d[p]:
            out.append((p, new, f"{head}; more reuse below it: {p} {_fmt(p, d[p])} -> {_fmt(p, new)}", gain))
    return out


class FrontSearch:
    """The front search of the module docstring over any design space.

    ``store`` evaluates and remembers points (``MultiEvaluator``, or
    ``hierarchy_pareto.HierarchyStore``): ``evaluate(design, m, parent, reason)``,
    ``seen``, ``points``, ``count``, ``front()``, ``vector(p)``, ``costs(p)``,
    ``objectives``, ``mappers``, ``seed``, ``worst(p)``. ``moves`` knows the space
    (``Table1Moves`` or ``hierarchy_pareto.HierarchyMoves``): ``start()``,
    ``moves(p, weights)``, ``free_moves(p, mapper)``, ``delta(p, design, rule)``, ``breaks_limit``,
    ``predicted_infeasible``, ``cost_of_limit``, ``neighbour``, ``params``.
    """

    def __init__(self, store, moves, budget: int, trace: Trace, cfg: ParetoConfig, progress) -> None:
        self.me, self.mv, self.budget, self.trace, self.cfg, self.progress = store, moves, budget, trace, cfg, progress
        self.tries: dict[tuple, int] = {}  # batches without a new front point, per target
        self.used: dict[str, int] = {}  # batches per kind of target ("extreme latency", "gap"): rotation
        self.miss: dict[tuple, int] = {}  # moves (parameter, direction) measured not to help as predicted
        self.rng = np.random.default_rng(store.seed)
        self.weights: dict[str, float] = {}  # of the target being searched
        self.spans: dict[str, float] = {}  # log span of each objective on the front (normalisation)

    # -------------------------------------------------------------- candidates
    def candidates(
        self, base: Point, w: dict[str, float], spans: dict[str, float], why: str, pairs: int | None = None
    ) -> list[_Cand]:
        """Moves from ``base`` predicted to lower ``w``'s scalarised cost, best first, with the best
        ``pairs`` compensated pairs among them (None: every pair predicted to help)."""
        ev = base.ev
        m = self.mapper_for(w)
        out: list[_Cand] = []
        if m != base.mapper_objective and m in self.me.mappers and not self.me.seen(ev.design, m):
            out.append(_Cand(dict(ev.design), m, f"{why}: same hardware remapped for {m}", score=-math.inf))
        for design, txt in self.mv.free_moves(base, m):  # after the remap (``free_moves``)
            if not self.me.seen(design, m):
                out.append(_Cand(design, m, f"{why}: {txt}", self.mv.delta(base, design, None), score=-math.inf))
        singles: list[tuple[dict, str, dict | None, dict, bool]] = []  # design, why, rule, predicted, usable alone
        for design, txt, rule in self.mv.moves(base, w):
            breaks = ev.feasible and self.mv.breaks_limit(design, ev.design)
            dl = self.mv.delta(base, design, rule)
            if not breaks and ev.feasible and self.mv.predicted_infeasible(base, dl):
                continue
            score = self.score(ev.design, design, dl, w, spans)
            usable = not breaks and score < -1e-6
            singles.append((design, txt, rule, dl, usable))
            if usable and not self.me.seen(design, m):
                out.append(_Cand(design, m, f"{why}: {txt}", dl, score))
        out += sorted(self.pairs(base, m, w, spans, why, singles), key=lambda c: c.score)[:pairs]
        seen, uniq = set(), []
        for c in sorted(out, key=lambda c: c.score):
            key = (c.mapper, tuple(c.design[q] for q in self.mv.params))
            if key not in seen:
                seen.add(key)
                uniq.append(c)
        return uniq

    def target_candidates(self, key: tuple, base: Point, w: dict, spans: dict, why: str) -> list[_Cand]:
        """A target's candidates: single moves and the best compensated pair; every pair predicted
        to help once the target has had a batch without a new front point, or no single move is left."""
        stalled = self.tries.get(key, 0) >= 1
        cands = self.candidates(base, w, spans, why, pairs=None if stalled else 1)
        return cands if cands or stalled else self.candidates(base, w, spans, why, pairs=None)

    def score(
        self, d0: dict, design: dict, dl: dict[str, float], w: dict[str, float], spans: dict[str, float]
    ) -> float:
        """Predicted change of the scalarised log cost (negative: better), halved per recorded miss."""
        score = sum(wk * dl[c] / spans.get(c, 1.0) for c, wk in w.items())
        return score * 0.5 ** self.miss.get(signature(self.mv.params, d0, design), 0)

    def pairs(self, base: Point, m: str, w: dict, spans: dict, why: str, singles: list) -> list[_Cand]:
        """Compensated moves: a move that lowers a weighted cost but cannot be taken alone (it breaks
        an area or power limit, or costs more in another objective than it gains) joined with the
        move predicted to pay that back best (a disjoint parameter that lowers the cost it raises).
        The pair is predicted as one design (``delta`` of both changes)."""
        if self.cfg.pairs <= 0:
            return []
        ev, params = base.ev, self.mv.params

        def gain(dl: dict) -> float:  # what the move does for the weighted costs it lowers
            return sum(wk * min(dl[c], 0.0) / spans.get(c, 1.0) for c, wk in w.items())

        harmful = [s for s in singles if not s[4] and gain(s[3]) < -1e-6]
        harmful = sorted(harmful, key=lambda s: gain(s[3]))[: self.cfg.pairs]
        out: list[_Cand] = []
        for design_a, txt_a, rule_a, dl_a, _ in harmful:
            moved_a = {q for q in params if design_a[q] != ev.design[q]}
            broken = ev.feasible and self.mv.breaks_limit(design_a, ev.design)
            worse = [c for c, wk in w.items() if dl_a[c] > 0] + (["area", "power"] if broken else [])
            fixes = []
            for design_b, txt_b, rule_b, dl_b, _ in singles:
                moved_b = {q for q in params if design_b[q] != ev.design[q]}
                if moved_b & moved_a:
                    continue
                pay = sum(min(dl_b.get(c, 0.0), 0.0) for c in worse)
                if pay < -1e-9:
                    fixes.append((pay, design_b, txt_b, rule_b))
            for _, design_b, txt_b, rule_b in sorted(fixes, key=lambda f: f[0])[:2]:
                design = {**design_a, **{q: design_b[q] for q in params if design_b[q] != ev.design[q]}}
                if self.me.seen(design, m) or (ev.feasible and self.mv.breaks_limit(design, ev.design)):
                    continue
                rule = {
                    c: (rule_a or {}).get(c, 0.0) + (rule_b or {}).get(c, 0.0)
                    for c in {*(rule_a or {}), *(rule_b or {})}
                }
                dl = self.mv.delta(base, design, rule or None)
                if ev.feasible and self.mv.predicted_infeasible(base, dl):
                    continue
                score = self.score(ev.design, design, dl, w, spans)
                if score < -1e-6:
                    out.append(_Cand(design, m, f"{why}: {txt_a}, paid for by {txt_b}", dl, score))
        return out

    def mapper_for(self, w: dict[str, float]) -> str:
        mo = tuple(self.me.mappers)
        lat = w.get("latency", 0.0) + 0.5 * w.get("edp", 0.0)
        en = w.get("energy", 0.0) + 0.5 * w.get("edp", 0.0)
        if lat + en <= 0:
            return mo[0]
        r = lat / (lat + en)
        want = "latency" if r > 2 / 3 else "energy" if r < 1 / 3 else "edp"
        return want if want in mo else mo[0]

    # ----------------------------------------------------------------- targets
    def targets(self, front: list[Point]) -> list[tuple[float, tuple, Point, dict, str]]:
        objs = self.me.objectives
        logs = np.log(np.maximum([self.me.vector(p) for p in front], 1e-300))
        spans = {o: max(float(np.ptp(logs[:, i])), self.cfg.min_span) for i, o in enumerate(objs)}
        self.spans = spans
        out = []
        for i, o in enumerate(objs):
            j = int(np.argmin(logs[:, i]))
            key = ("extreme", o, front[j].ev.index)
            why = f"push {o} at the front's end (point {front[j].ev.index})"
            out.append((1.0, key, front[j], {o: 1.0}, why, f"extreme {o}"))
        if len(front) > 1:
            order = np.argsort(logs[:, 0], kind="stable")
            for a, b in zip(order[:-1], order[1:]):
                diff = np.abs(logs[a] - logs[b]) / np.array([spans[o] for o in objs])
                size = float(np.linalg.norm(diff))
                wv = 1.0 / np.maximum(diff, 1e-3)
                w = {o: float(x / wv.sum()) for o, x in zip(objs, wv)}
                pa, pb = front[int(a)], front[int(b)]
                scal = [sum(w[o] * math.log(v) / spans[o] for o, v in zip(objs, self.me.vector(p))) for p in (pa, pb)]
                base = pa if scal[0] <= scal[1] else pb
                key = ("gap", pa.ev.index, pb.ev.index)
                wtxt = ", ".join(f"{o} {x:.2f}" for o, x in w.items())
                why = (
                    f"fill the gap between points {pa.ev.index} and {pb.ev.index} (weights {wtxt}) "
                    f"from point {base.ev.index}"
                )
                out.append((size, key, base, w, why, "gap"))
        ranked = [
            (s / (1 + self.tries.get(k, 0) + 0.25 * self.used.get(kind, 0)), k, b, w, t, kind)
            for s, k, b, w, t, kind in out
        ]
        return sorted(ranked, key=lambda x: (-x[0], str(x[1])))

    # -------------------------------------------------------------------- loop
    def record(self, step: int, p: Point, joined: bool, base: Point | None, cand: _Cand | None) -> None:
        text = p.reason
        if base is not None and cand is not None:
            before, after = self.me.costs(base), self.me.costs(p)
            meas = ", ".join(f"{o} {after[o] / before[o] - 1:+.0%}" for o in self.me.objectives)
            pred = ", ".join(f"{o} {math.exp(cand.delta[o]) - 1:+.0%}" for o in self.me.objectives if o in cand.delta)
            text += (f"; predicted {pred}" if pred else "") + f"; measured {meas}"
        status = "feasible" if p.ev.feasible else f"infeasible ({self.me.worst(p)[0]})"
        text += f"; {status}, " + ("joins the front" if joined else "not on the front")
        p.reason = text
        self.trace.add(step, p.ev, joined, text, {"mapper_objective": p.mapper_objective, "parent": p.parent})
        if self.progress is not None:
            self.progress(f"[{p.ev.index}/{self.budget}] {text}")

    def scalarised(self, p: Point) -> float:
        """The current target's cost of ``p``: its weights on the log objectives over their spans."""
        c = self.me.costs(p)
        return sum(wk * math.log(max(c[o], 1e-300)) / self.spans.get(o, 1.0) for o, wk in self.weights.items())

    def evaluate(self, step: int, base: Point | None, cands: list[_Cand]) -> bool:
        """Evaluate ``cands`` in order (to the budget); True when one joined the front and lowered
        the target's scalarised cost by at least ``min_progress`` below the front's best."""
        progress = False
        front = self.me.front()
        best = min((self.scalarised(q) for q in front), default=math.inf) if self.weights else math.inf
        for c in cands:
            if self.me.count >= self.budget:
                break
            vec_front = [self.me.vector(q) for q in self.me.front()]
            p, new = self.me.evaluate(c.design, c.mapper, base.ev.index if base else None, c.why)
            if not new:
                continue
            v = self.me.vector(p)
            joined = p.ev.feasible and not any(dominates(f, v) or f == v for f in vec_front)
            if base is not None and c.delta:
                # calibrate: a move that did not lower the scalarised cost as predicted is tried later next time
                got = self.scalarised(p) - self.scalarised(base)
                sig = signature(self.mv.params, base.ev.design, c.design)
                self.miss[sig] = self.miss.get(sig, 0) + 1 if not got < 0 else max(self.miss.get(sig, 0) - 1, 0)
            if joined and self.weights and math.isfinite(best):
                progress |= self.scalarised(p) < best - self.cfg.min_progress
            else:
                progress |= joined
            self.record(step, p, joined, base, c)
        return progress

    def run(self, start: dict) -> None:
        step = 0
        text = self.me.describe(start)
        init = [_Cand(dict(start), m, f"initial design mapped for {m}: {text}") for m in self.me.mappers]
        self.evaluate(step, None, init)
        while self.me.count < self.budget:
            step += 1
            front = self.me.front()
            chosen = None
            if not front:
                base = min(self.me.points, key=lambda p: (self.me.worst(p)[1], p.ev.index))
                worst = self.me.worst(base)[0]
                cost = self.mv.cost_of_limit(worst)
                key = ("feasible", base.ev.index)
                self.weights, self.spans = {cost: 1.0}, {}
                cands = self.target_candidates(key, base, self.weights, {}, f"infeasible: reduce {worst}")
                chosen = (key, base, cands)
            else:
                for _, key, base, w, why, kind in self.targets(front):
                    cands = self.target_candidates(key, base, w, self.spans, why)
                    if cands:
                        chosen = (key, base, cands)
                        self.used[kind] = self.used.get(kind, 0) + 1
                        self.weights = w
                        break
                    self.tries[key] = self.tries.get(key, 0) + 1000  # nothing left to try here
            if chosen is None or not chosen[2]:
                if not self.sampled(step, front):
                    break
                continue
            key, base, cands = chosen
            before = self.me.count
            if not self.evaluate(step, base, cands[: self.cfg.per_step]):
                # no new front point: this target waits; nothing new evaluated at all: it is spent
                self.tries[key] = self.tries.get(key, 0) + (1 if self.me.count > before else 1000)

    def sampled(self, step: int, front: list[Point]) -> bool:
        """Last resort: a random neighbour (two parameters, up to two steps) of a front point."""
        pool = front or self.me.points
        mappers = tuple(self.me.mappers)
        for _ in range(200):
            base = pool[int(self.rng.integers(len(pool)))]
            d = self.mv.neighbour(base, self.rng)
            m = mappers[int(self.rng.integers(len(mappers)))]
            if not self.me.seen(d, m) and not (base.ev.feasible and self.mv.breaks_limit(d, base.ev.design)):
                cand = _Cand(d, m, f"no target has a move left; sampled neighbour of point {base.ev.index}")
                cand.delta = self.mv.delta(base, d)
                self.evaluate(step, base, [cand])
                return True
        return False


def pareto_search(
    me: MultiEvaluator,
    budget: int,
    trace: Trace,
    progress=None,
    start: dict | None = None,
    config: ParetoConfig | None = None,
) -> None:
    """Search a Pareto front over ``me.objectives`` with ``budget`` evaluations
    (every point is in ``me.points``, every evaluation traced; the front is
    ``me.front()``; ``jaxdse.codesign.pareto_result`` turns it into a result)."""
    cfg = config or ParetoConfig()
    moves = Table1Moves(me, cfg)
    FrontSearch(me, moves, budget, trace, cfg, progress).run(start or moves.start())


__all__ = [
    "COST_NAMES",
    "FrontSearch",
    "MultiEvaluator",
    "ParetoConfig",
    "Point",
    "Table1Moves",
    "check_objectives",
    "costs_of",
    "dominates",
    "dram_excess",
    "energy_reason",
    "hypervolume",
    "mapper_objectives",
    "non_dominated",
    "pareto_search",
]
