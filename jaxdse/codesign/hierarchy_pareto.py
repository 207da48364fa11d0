"""Pareto fronts on any hierarchy: issue 16's front search on the general model.

``explore_hierarchy(..., objectives=("latency", "energy"))`` runs the same
search as the Table-1 front (``pareto.FrontSearch``: targets at the front's
extremes and gaps, warm starts from the neighbouring front point, the mapper
objective of the front region, a remap as the first move) over a
``HierarchySpace``. What this module adds is what the search must know of a
hierarchy, stated per level and fan-out like ``hierarchy_explore``'s rules:

- latency moves: the bottleneck rules of ``hierarchy_explore.propose`` for
  the dominant layers (a move that breaks area or power is paid for by
  shrinking buffers, ``fit_limits``);
- energy moves, from the part with the most energy a hardware change can
  still remove (each layer's plan records every level's access energy, the
  MACs', the NoC's and leakage; the outermost level counts only its bytes
  above the compulsory traffic, ``top_level_excess``):
  a level's accesses -> a larger level below it, any of them (more reuse
  below it, fewer accesses to it) or that level smaller (cheaper accesses); the NoC -> fewer
  instances at a fan-out; leakage -> a smaller buffer;
- one and two legal steps of every parameter;
- free moves: the array reshaped while its MACs idle (``free_moves``).

Predictions (``HierarchyMoves.delta``): latency and energy by the exact
model on the base point's mappings held on the new hardware
(``evaluate_on_hierarchy``), the way the Table-1 explorer predicts with the
held mappings' traffic; an energy rule's own guess (share x (1 - 1/s)) where
it names a reuse change that held mappings cannot show; no latency or energy
prediction (0) where a held mapping no longer fits; area and peak power
exact (``hardware_budgets``).
"""

from __future__ import annotations

import math

from jaxdse.codesign.hierarchy_rules import (
    LAYERS_TRIED,
    RESHAPE_UTILISATION,
    HierarchyEvaluator,
    HierEval,
    _dominant_layers,
    _level_below,
    fit_limits,
    hardware_budgets,
    held_costs,
    propose,
    reshaped,
)
from jaxdse.codesign.hierarchy_space import HierarchySpace
from jaxdse.codesign.pareto import (
    ParetoConfig,
    Point,
    energy_reason,
    mapper_objectives,
    mapper_tie_break,
    non_dominated,
)
from workloads import Network

LIMIT_COST = {"area_mm2": "area", "power_w": "power"}
"""The cost a search lowers to meet each hardware limit."""


def hier_costs(ev: HierEval) -> dict[str, float]:
    """Every objective's value of an evaluated hierarchy design (s, J, J s, mm^2, W)."""
    lat, en = ev.latency_s, ev.energy_j
    return {"latency": lat, "energy": en, "edp": lat * en, "area": ev.area_mm2, "power": ev.power_w}


class HierarchyStore:
    """One ``HierarchyEvaluator`` per mapper objective behind one budget (``pareto.MultiEvaluator``
    for a hierarchy): a point is (design, mapper objective), numbered globally from 1."""

    def __init__(self, evaluators: dict[str, HierarchyEvaluator], objectives: tuple[str, ...], seed: int) -> None:
        self.evaluators, self.objectives, self.seed = evaluators, tuple(objectives), seed
        self.space: HierarchySpace = next(iter(evaluators.values())).space
        self.points: list[Point] = []
        self._by_key: dict[tuple, Point] = {}

    @classmethod
    def for_objectives(
        cls,
        networks: list[Network],
        space: HierarchySpace,
        limits: dict[str, float],
        objectives: tuple[str, ...],
        seed: int,
        mapper_budget: int,
        log_path=None,
        min_per_s: dict[str, float] | None = None,
    ) -> HierarchyStore:
        """The store of a front search over ``objectives``: one evaluator per mapper objective
        (``pareto.mapper_objectives``), the latency mapper breaking ties by energy
        (``pareto.mapper_tie_break``), as ``pareto.pareto_evaluators`` on the Table-1 space."""
        evs = {
            m: HierarchyEvaluator(
                list(networks),
                space,
                limits,
                m,
                seed,
                mapper_budget,
                log_path=log_path,
                min_per_s=dict(min_per_s or {}),
                mapper_tie_break=mapper_tie_break(m),
            )
            for m in mapper_objectives(objectives)
        }
        return cls(evs, objectives, seed)

    @property
    def count(self) -> int:
        return len(self.points)

    @property
    def mappers(self) -> tuple[str, ...]:
        return tuple(self.evaluators)

    def seen(self, design: dict, m: str) -> bool:
        return (m, self.space.key(design)) in self._by_key

    def evaluate(self, design: dict, m: str, parent: int | None = None, reason: str = "") -> tuple[Point, bool]:
        k = (m, self.space.key(design))
        if k in self._by_key:
            return self._by_key[k], False
        ev = self.evaluators[m].evaluate(design)
        ev.index = self.count + 1
        ev.objective = hier_costs(ev)[self.objectives[0]]  # the run's first objective (summary, steps)
        p = Point(ev, m, parent, reason)
        self.points.append(p)
        self._by_key[k] = p
        return p, True

    def costs(self, p: Point) -> dict[str, float]:
        return hier_costs(p.ev)

    def worst(self, p: Point) -> tuple[str, float]:
        """The most violated limit and its budget; an unmappable design: ``("mapping", inf)``."""
        if p.ev.unmappable:
            return "mapping", math.inf
        k = max(p.ev.budgets, key=p.ev.budgets.get)
        return k, p.ev.budgets[k]

    def describe(self, design: dict) -> str:
        return self.space.describe(design)

    def vector(self, p: Point) -> tuple:
        c = hier_costs(p.ev)
        return tuple(c[o] for o in self.objectives)

    def front(self) -> list[Point]:
        feas = [p for p in self.points if p.ev.feasible]
        return [feas[i] for i in non_dominated([self.vector(p) for p in feas])]


def energy_parts(ev: HierEval) -> dict[str, float]:
    """Energy by part over every network (J, x layer counts); empty for plans stored without it."""
    out: dict[str, float] = {}
    for plan in ev.plans.values():
        for r in plan.layers:
            for part, e in (r.get("energy_parts_j") or {}).items():
                out[part] = out.get(part, 0.0) + e * r["count"]
    return out


def top_level_excess(ev: HierEval, networks: list[Network]) -> float | None:
    """Share of the outermost level's bytes (reads and updates, x layer counts) above the
    compulsory traffic (every operand moved once, ``Layer.compulsory_bytes``): the part of its
    energy that more reuse below it can still remove (``pareto.dram_excess`` on a hierarchy;
    words weighed by their operand's bits, read and write energies taken as equal).
    None when a plan was stored without its access counts."""
    by_name = {n.name: n for n in networks}
    moved = floor = 0.0
    for name, plan in ev.plans.items():
        net = by_name.get(name)
        if net is None:
            return None
        for layer, r in zip(net.layers, plan.layers, strict=True):
            c = r.get("counts")
            if not c:
                return None
            wb = [b / 8.0 for b in layer.bits]
            moved += r["count"] * sum((rd + up) * b for rd, up, b in zip(c["reads"][0], c["updates"][0], wb))
            floor += r["count"] * sum(layer.compulsory_bytes().values())
    return max(0.0, 1.0 - floor / moved) if moved > 0 else None


class HierarchyMoves:
    """The moves and predictions of the module docstring (``pareto.Table1Moves``'s interface)."""

    def __init__(self, store: HierarchyStore, networks: list[Network], limits: dict[str, float], cfg: ParetoConfig):
        self.store, self.networks, self.limits, self.cfg = store, list(networks), limits, cfg
        self.space = store.space
        self.params = tuple(p.name for p in self.space.params)
        self._held: dict[int, dict[str, list]] = {}
        self._predicted: dict[tuple, tuple[float, float] | None] = {}

    def free_moves(self, base: Point, m: str) -> list[tuple[dict, str]]:
        """The array reshaped: every two fan-outs, one ``k`` steps up and the other ``k`` down (k = 1,
        2; the same MACs on power-of-two ladders, split another way: X x Y of one level, or instances
        moved between levels, ``hierarchy_rules.reshaped``) where that costs the same area and peak
        power as ``base`` (exact, ``hardware_budgets``), while ``base``'s MACs idle
        (latency-weighted MAC utilisation under ``RESHAPE_UTILISATION``), for any mapper ``m``.
        A hierarchy's one move that, like the Table-1 space's virtual unicast, only changes what
        the mapper can do: the held mappings rarely fit the new shape, so ``delta`` cannot rank
        it and the bottleneck rule's reshape was never evaluated. Measured on tiny_cnn seed 0:
        gemmini_like, NSGA-II-2000's whole front is a 16 x 64 array, which dominated jaxdse-200's
        64 x 16 (same area and power; 4.5 against 6.0 us) and which jaxdse never evaluated
        (benchmarks/results/pareto_gemmini/progress). Equal cost, not "no more": on simba_like,
        whose fan-outs sit on three levels, moving instances between levels changes area, and taking
        every cheaper one as free (fewer PEs, more lanes each) pulled the whole front to 4 PEs
        (hypervolume 1.0288 -> 0.9114, benchmarks/results/pareto_simba/reshape_levels)."""
        ev = base.ev
        rows = _dominant_layers(ev) if ev.plans and ev.latency_s > 0 else []
        util = sum(share * r["utilisation"] for _, r, share in rows)
        if not rows or util >= RESHAPE_UTILISATION:
            return []
        b0 = hardware_budgets(self.space, ev.design, self.limits)
        fanouts = [p.name for p in self.space.params if p.kind in ("fanout_x", "fanout_y")]
        out = []
        for i, x in enumerate(fanouts):
            for y in fanouts[i + 1 :]:
                for k in (1, -1, 2, -2):
                    d = reshaped(self.space, ev.design, x, y, k)
                    if d is None:
                        continue
                    b1 = hardware_budgets(self.space, d, self.limits)
                    if any(abs(b1[c] / b0[c] - 1.0) > 1e-6 for c in b0):
                        continue  # cheaper is not free: a smaller array would pull every target down
                    shown = ", ".join(
                        f"{q} {self.space.by_name[q].show(ev.design[q])} -> {self.space.by_name[q].show(d[q])}"
                        for q in (x, y)
                    )
                    free = "free for the hardware (same area and power)"
                    out.append((d, f"MACs {util:.0%} used: the array reshaped, {free}, {shown}"))
        return out

    def start(self) -> dict:
        return self.space.base_design()

    def _fit(self, design: dict, moved: str, why: str) -> tuple[dict, str] | None:
        """``design`` within the limits (buffers shrunk to pay for it), or None."""
        hw = hardware_budgets(self.space, design, self.limits)
        if max(hw.values()) <= 1.0 + 1e-9:
            return design, why
        fitted = fit_limits(self.space, design, self.limits, keep=moved)
        if fitted is None:
            return None
        worst = max(hw, key=hw.get)
        return fitted[0], f"{why}, paid for within the {worst} limit by {', '.join(fitted[1])}"

    def energy_rules(self, ev: HierEval) -> list[tuple[dict, str, float]]:
        """(design, why, predicted log energy change) from the part that dominates energy."""
        parts = energy_parts(ev)
        total = sum(parts.values())
        if not parts or total <= 0:
            return []
        names = list(self.space.base.names)
        # the outermost level counts only its bytes above the compulsory traffic (``pareto._energy_rules``)
        top, excess = names[0], top_level_excess(ev, self.networks)
        removable = {k: v / total * (excess if k == top and excess is not None else 1.0) for k, v in parts.items()}
        part = max(removable, key=removable.get)
        share = parts[part] / total
        gain = math.log(max(1.0 - min(share * (1.0 - 1.0 / self.cfg.energy_rule_scale), removable[part]), 1e-6))
        head = energy_reason(part, parts, top, excess)
        moves: list[tuple[str, int, str]] = []
        if part in names:
            lv = names.index(part)
            # every level below, not the nearest two: gemmini_like tiny_cnn (seed 0), DRAM 80% of
            # energy, a PE weight register 4 -> 8 B cut DRAM energy by 30% (remapped: 60.8 -> 38.7 uJ)
            for cap in _level_below(self.space, lv):
                moves.append((cap, 1, f"more reuse below {part}: a larger {cap}"))
            # kept here, unlike the Table-1 rule (``pareto.REUSE_MOVES``): a held mapping that no
            # longer fits a smaller level gives no prediction (``delta``), so without the rule's
            # guess such a move never ranks; measured on gemmini_like tiny_cnn seed 0, reuse moves
            # alone: 1.1515 against 1.2100 with these (benchmarks/results/pareto_gemmini/top_level_floor)
            own = f"{part}.capacity"
            if own in self.space.by_name:
                moves.append((own, -1, f"cheaper {part} accesses: a smaller {own}"))
        elif part == "NoC":
            moves += [
                (p.name, -1, f"fewer instances at {p.name}") for p in self.space.params if p.kind.startswith("fanout")
            ]
        elif part == "leakage":
            moves += [(p.name, -1, f"less area: a smaller {p.name}") for p in self.space.params if p.kind == "capacity"]
        out = []
        for name, k, what in moves:
            d = self.space.step(ev.design, name, k)
            if d is None:
                continue
            p = self.space.by_name[name]
            fitted = self._fit(d, name, f"{head}; {what}: {p.show(ev.design[name])} -> {p.show(d[name])}")
            if fitted is not None:
                out.append((fitted[0], fitted[1], gain))
        return out

    def moves(self, base: Point, w: dict[str, float]) -> list[tuple[dict, str, dict | None]]:
        ev = base.ev
        out: list[tuple[dict, str, dict | None]] = []
        if ev.plans and w.get("latency", 0) + w.get("edp", 0) > 0:
            for network, row, share in _dominant_layers(ev)[:LAYERS_TRIED]:
                for prop in propose(self.space, ev, network, row, share):
                    moved = next(k for k in prop.design if prop.design[k] != ev.design[k])
                    fitted = self._fit(prop.design, moved, prop.reason)
                    if fitted is not None:
                        out.append((fitted[0], fitted[1], None))
        if ev.plans and w.get("energy", 0) + w.get("edp", 0) > 0:
            out += [(d, why, {"energy": g}) for d, why, g in self.energy_rules(ev)]
        for p in self.space.params:
            for k in self.cfg.steps:
                for sign in (1, -1):
                    d = self.space.step(ev.design, p.name, sign * k)
                    if d is not None:
                        out.append((d, f"step: {p.name} {p.show(ev.design[p.name])} -> {p.show(d[p.name])}", None))
        return out

    def held_costs(self, base: Point, design: dict) -> tuple[float, float] | None:
        """(latency s, energy J) of ``base``'s mappings on ``design``; None when one no longer fits.
        Memoised: a target's base is predicted against the same moves batch after batch."""
        k = (base.ev.index, self.space.key(design))
        if k not in self._predicted:
            self._predicted[k] = held_costs(self.space, self.networks, base.ev, design, self._held)
        return self._predicted[k]

    def delta(self, base: Point, design: dict, rule: dict | None = None) -> dict[str, float]:
        dl = {"latency": 0.0, "energy": 0.0}
        held = self.held_costs(base, design)
        if held is not None and base.ev.latency_s > 0 and base.ev.energy_j > 0:
            dl["latency"] = math.log(max(held[0], 1e-30) / base.ev.latency_s)
            dl["energy"] = math.log(max(held[1], 1e-30) / base.ev.energy_j)
        for c, v in (rule or {}).items():
            dl[c] = min(dl[c], v)  # a reuse rule adds what held mappings cannot show
        b0 = hardware_budgets(self.space, base.ev.design, self.limits)
        b1 = hardware_budgets(self.space, design, self.limits)
        dl["area"] = math.log(b1["area_mm2"] / b0["area_mm2"])
        dl["power"] = math.log(b1["power_w"] / b0["power_w"])
        dl["edp"] = dl["latency"] + dl["energy"]
        return dl

    def breaks_limit(self, design: dict, base_design: dict) -> bool:
        b0 = hardware_budgets(self.space, base_design, self.limits)
        b1 = hardware_budgets(self.space, design, self.limits)
        return any(b1[k] > 1.0 + 1e-9 >= b0[k] for k in b1)

    def predicted_infeasible(self, base: Point, dl: dict[str, float]) -> bool:
        return False  # no throughput limits on a hierarchy run: area and power are exact (breaks_limit)

    def cost_of_limit(self, name: str) -> str:
        return LIMIT_COST.get(name, "latency")

    def neighbour(self, base: Point, rng) -> dict:
        d = dict(base.ev.design)
        for i in rng.choice(len(self.params), size=min(2, len(self.params)), replace=False):
            nd = self.space.step(d, self.params[int(i)], int(rng.choice([-2, -1, 1, 2])))
            d = nd if nd is not None else d
        return d


def front_records(store: HierarchyStore) -> list[dict]:
    """The front, sorted by the first objective: each point's design, costs, mapper objective,
    what differs from the previous point and the chain of steps that led to it."""
    front = sorted(store.front(), key=lambda p: (store.vector(p), p.ev.index))
    by_index = {p.ev.index: p for p in store.points}
    out, prev = [], None
    for p in front:
        chain, q = [], p
        while q is not None:
            chain.append({"evaluation": q.ev.index, "mapper_objective": q.mapper_objective, "reason": q.reason})
            q = by_index.get(q.parent) if q.parent is not None else None
        out.append(
            {
                "evaluation": p.ev.index,
                "mapper_objective": p.mapper_objective,
                "design": p.ev.design,
                "design_text": store.space.describe(p.ev.design),
                "costs": hier_costs(p.ev),
                "total": p.ev.total(),
                "differs_from_previous": difference(store.space, prev, p),
                "steps": chain[::-1],
                "plans": {n: plan.to_dict() for n, plan in p.ev.plans.items()},
            }
        )
        prev = p
    return out


def difference(space: HierarchySpace, a: Point | None, b: Point) -> str:
    """What ``b`` changes from ``a`` (parameters and mapper objective), in a few words."""
    if a is None:
        return "first"
    parts = [
        f"{p.name} {p.show(b.ev.design[p.name])}" for p in space.params if a.ev.design[p.name] != b.ev.design[p.name]
    ]
    if a.mapper_objective != b.mapper_objective:
        parts.append(f"mapped for {b.mapper_objective}")
    return ", ".join(parts) or "same design"


__all__ = [
    "HierarchyMoves",
    "HierarchyStore",
    "difference",
    "energy_parts",
    "front_records",
    "hier_costs",
    "top_level_excess",
]
