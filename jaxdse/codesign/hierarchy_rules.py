"""What the hierarchy explorer and the hierarchy front search share: a design's exact evaluation
(``HierarchyEvaluator`` maps it with the hierarchy mapper and costs it, ``HierEval`` holds the
result), the bottleneck rules (``propose``: the moves one layer's bounding term calls for, per
level and fan-out), the limits (``hardware_budgets``, ``fit_limits``: area and peak power without
mapping) and ``held_costs`` (a design's cost with another design's mappings held, no search).

Issue 15, section 2; the rules are explained in ``hierarchy_explore``'s docstring. Kept apart so
that ``hierarchy_explore`` (single objective) and ``hierarchy_pareto`` (fronts) both read them
without importing each other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from costmodels import hierarchy_model as hm
from jaxdse.codesign.checkpoint import ResumeError, append_record
from jaxdse.codesign.constraints import THROUGHPUT, Constraints
from jaxdse.codesign.hierarchy_space import HierarchySpace
from jaxdse.codesign.space import SpaceError
from jaxdse.hierarchy_plan import HierarchyPlan, map_on_hierarchy
from jaxdse.mapper.nest_search import NestSearchConfig
from jaxdse.mapper.space import MapperError, objective_of
from workloads import Network

LOW_UTILISATION = 0.5
"""Below this MAC utilisation a compute-bound layer is tiling-limited, not instance-limited."""
RESHAPE_UTILISATION = 0.9
"""Below this MAC utilisation a compute-bound layer also gets the array reshaped (a fan-out's X one
step up and its Y one step down, or the reverse): about as many instances, another aspect ratio,
for loops whose sizes do not divide the current one (resnet18 on eyeriss_like, seed 2: the grid
found 56 x 6 PEs with larger scratchpads 4% faster than the explorer's 28 x 12)."""
LAYERS_TRIED = 3
"""Dominant layers whose moves a step tries before it ends the search."""
DEFAULT_MAPPER_BUDGET = 300
"""Exact evaluations per layer of the hierarchy mapper for each design (resnet18 on eyeriss_like:
about 2 s per design on 2 CPU cores, measured; the plan of a design is within a few % of budget 1,000's)."""


@dataclass
class HierEval:
    """One evaluated design."""

    index: int
    design: dict[str, float]
    plans: dict[str, HierarchyPlan]
    latency_s: float
    energy_j: float
    area_mm2: float
    power_w: float
    budgets: dict[str, float]
    objective: float
    wall_s: float
    unmappable: str = ""
    mapper_objective: str = "latency"

    @property
    def feasible(self) -> bool:
        return (
            not self.unmappable
            and all(b <= 1.0 + 1e-9 for b in self.budgets.values())
            and all(p.legal for p in self.plans.values())
        )

    def record(self) -> dict:
        return {
            "index": self.index,
            "design": self.design,
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "area_mm2": self.area_mm2,
            "power_w": self.power_w,
            "budgets": self.budgets,
            "objective": self.objective,
            "feasible": self.feasible,
            "unmappable": self.unmappable,
            "mapper_objective": self.mapper_objective,
            "wall_s": self.wall_s,
        }

    def total(self) -> dict:
        """Latency, energy, area and peak power (``trace.jsonl``'s ``total``)."""
        return {
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "area_mm2": self.area_mm2,
            "power_w": self.power_w,
        }


@dataclass
class HierarchyEvaluator:
    """Maps and costs designs of one ``HierarchySpace`` (cached by design)."""

    networks: list[Network]
    space: HierarchySpace
    limits: dict[str, float]
    objective: str = "latency"
    seed: int = 0
    mapper_budget: int = DEFAULT_MAPPER_BUDGET
    cache: dict[tuple, HierEval] = field(default_factory=dict)
    log_path: Path | None = None
    replay: dict[tuple, dict] = field(default_factory=dict)
    min_per_s: dict[str, float] = field(default_factory=dict)
    """Least inferences/s per network name (``throughput_limits``): budget ``throughput.{network}``
    = that network's latency x its limit (the Table-1 constraints' key and form,
    ``constraints.Limit``), > 1 when too slow."""
    mapper_tie_break: str | None = None
    """Another objective that picks among the mappings tied at the best value
    (``map_on_hierarchy``'s ``tie_break``; ``pareto.mapper_tie_break``)."""

    def _throughput(self, latencies: dict[str, float]) -> dict[str, float]:
        return {f"{THROUGHPUT}.{n}": lat * self.min_per_s[n] for n, lat in latencies.items() if n in self.min_per_s}

    def evaluate(self, design: dict[str, float]) -> HierEval:
        k = self.space.key(design)
        if k in self.cache:
            return self.cache[k]
        stored = self.replay.get(k)
        if stored is not None:  # a resumed run: rebuilt from evaluations.jsonl, not mapped again
            ev = self._from_record(stored)
            self.cache[k] = ev
            return ev
        ev = self._map(design)
        ev.mapper_objective = self.objective
        if self.log_path is not None:
            plans = {n: p.to_dict() for n, p in ev.plans.items()}
            append_record(self.log_path, {**ev.record(), "plans": plans})
        return ev

    def _from_record(self, rec: dict) -> HierEval:
        try:
            hier = self.space.to_hierarchy(rec["design"])
            plans = {
                n: HierarchyPlan(network=n, hierarchy=hier, layers=list(p["layers"]), method=p["method"])
                for n, p in rec["plans"].items()
            }
            fields_ = {k: rec[k] for k in ("design", "latency_s", "energy_j", "area_mm2", "power_w", "budgets")}
            return HierEval(
                index=len(self.cache) + 1,
                plans=plans,
                objective=float(rec["objective"]),
                wall_s=float(rec["wall_s"]),
                unmappable=str(rec.get("unmappable", "")),
                mapper_objective=str(rec.get("mapper_objective", self.objective)),
                **fields_,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ResumeError(f"resume: a stored hierarchy evaluation expected its fields, found: {e}") from None

    def _map(self, design: dict[str, float]) -> HierEval:
        k = self.space.key(design)
        t = time.perf_counter()
        hier = self.space.to_hierarchy(design)
        cfg = NestSearchConfig(budget=self.mapper_budget, starts=min(256, max(1, self.mapper_budget // 2)))
        try:
            plans = {
                n.name: map_on_hierarchy(
                    n, hier, objective=self.objective, seed=self.seed, config=cfg, tie_break=self.mapper_tie_break
                )
                for n in self.networks
            }
        except MapperError as e:  # e.g. a buffer too small for any tile: a design, not a crash
            area, power = (v * self.limits[k] for k, v in hardware_budgets(self.space, design, self.limits).items())
            ev = HierEval(
                index=len(self.cache) + 1,
                design=dict(design),
                plans={},
                latency_s=math.inf,
                energy_j=math.inf,
                area_mm2=area,
                power_w=power,
                budgets={
                    "area_mm2": area / self.limits["area_mm2"],
                    "power_w": power / self.limits["power_w"],
                    **self._throughput({n.name: math.inf for n in self.networks}),
                },
                objective=math.inf,
                wall_s=time.perf_counter() - t,
                unmappable=str(e),
            )
            self.cache[k] = ev
            return ev
        totals = {n: p.total() for n, p in plans.items()}
        lat = sum(t_["latency_s"] for t_ in totals.values())
        en = sum(t_["energy_j"] for t_ in totals.values())
        first = next(iter(totals.values()))  # area and power are the hardware's: the same in every plan
        area, power = first["area_mm2"], first["power_w"]
        ev = HierEval(
            index=len(self.cache) + 1,
            design=dict(design),
            plans=plans,
            latency_s=lat,
            energy_j=en,
            area_mm2=area,
            power_w=power,
            budgets={
                "area_mm2": area / self.limits["area_mm2"],
                "power_w": power / self.limits["power_w"],
                **self._throughput({n: t_["latency_s"] for n, t_ in totals.items()}),
            },
            objective=float(objective_of(self.objective, lat, en)),
            wall_s=time.perf_counter() - t,
        )
        self.cache[k] = ev
        return ev

    @property
    def count(self) -> int:
        return len(self.cache)


@dataclass(frozen=True)
class Proposal:
    design: dict[str, float]
    reason: str


def _dominant_layers(ev: HierEval) -> list[tuple[str, dict, float]]:
    """(network, layer record, share of total latency), largest share first."""
    rows = [(n, r, r["latency_s"] * r["count"] / ev.latency_s) for n, p in ev.plans.items() for r in p.layers]
    return sorted(rows, key=lambda x: -x[2])


def _level_below(space: HierarchySpace, level: int) -> list[str]:
    """Capacity parameters of the levels below ``level``, nearest first."""
    return [p.name for p in sorted(space.params, key=lambda p: p.level) if p.kind == "capacity" and p.level > level]


def fanout_pairs(space: HierarchySpace) -> list[tuple[str, str]]:
    """(X, Y) parameter names of every fan-out whose both dimensions are in the space."""
    xs = {p.level: p.name for p in space.params if p.kind == "fanout_x"}
    ys = {p.level: p.name for p in space.params if p.kind == "fanout_y"}
    return [(xs[lv], ys[lv]) for lv in sorted(set(xs) & set(ys))]


def reshaped(space: HierarchySpace, design: dict[str, float], x: str, y: str, k: int) -> dict[str, float] | None:
    """``design`` with fan-out X ``k`` places up and Y ``k`` places down (same instances on power-of-two
    ladders); None past either end."""
    d = space.step(design, x, k)
    return None if d is None else space.step(d, y, -k)


def propose(
    space: HierarchySpace,
    ev: HierEval,
    network: str,
    row: dict,
    share: float,
    low_utilisation: float = LOW_UTILISATION,
    reshape_utilisation: float = RESHAPE_UTILISATION,
) -> list[Proposal]:
    """The moves the bottleneck of one layer calls for (per level and fan-out)."""
    names = list(space.base.names)
    bound = row["bound"]
    util = row["utilisation"]
    head = f"{network}:{row['name']} is {share:.0%} of latency and bound by {bound}"
    moves: list[tuple[str, int, str]] = []
    reshapes: list[tuple[str, str, int]] = []
    if bound == "compute":
        if util >= low_utilisation:
            for p in space.params:
                if p.kind in ("fanout_x", "fanout_y"):
                    moves.append((p.name, 1, f"(MAC utilisation {util:.0%}): more instances at {p.name}"))
        else:
            for p in space.params:
                if p.kind == "capacity":
                    moves.append((p.name, 1, f"but uses {util:.0%} of the MACs (tiling-limited): a larger {p.name}"))
        if util < reshape_utilisation:  # idle MACs: the layer's loops may fit another aspect ratio better
            reshapes = [(x, y, k) for x, y in fanout_pairs(space) for k in (1, -1)]
    elif bound.endswith(" bandwidth"):
        level = names.index(bound[: -len(" bandwidth")])
        bw = f"{names[level]}.read_bw"
        if bw in space.by_name:
            moves.append((bw, 1, f"more {names[level]} bandwidth"))
        for cap in _level_below(space, level):  # any level below (hierarchy_pareto's energy rule, measured)
            moves.append((cap, 1, f"more reuse below {names[level]}: a larger {cap}"))
    else:  # a NoC stream or the DMA of the Explainable-DSE template models
        for p in space.params:
            if p.kind == "read_bw" and p.level == 0:
                moves.append((p.name, 1, "more off-chip bandwidth"))
    out = []
    for name, k, what in moves:
        d = space.step(ev.design, name, k)
        if d is not None:
            p = space.by_name[name]
            out.append(Proposal(d, f"{head} {what}: {p.show(ev.design[name])} -> {p.show(d[name])}"))
    for x, y, k in reshapes:
        d = reshaped(space, ev.design, x, y, k)
        if d is not None:
            px, py = space.by_name[x], space.by_name[y]
            out.append(
                Proposal(
                    d,
                    f"{head} (MAC utilisation {util:.0%}): the array reshaped, {x} {px.show(ev.design[x])} -> "
                    f"{px.show(d[x])} and {y} {py.show(ev.design[y])} -> {py.show(d[y])}",
                )
            )
    return out


def throughput_limits(
    networks: list[Network], min_fps: float | None, min_tokens_per_s: float | None
) -> dict[str, float]:
    """``{network: least inferences/s}`` from a rate every network must reach (``min_fps``) and a
    tokens/s every LLM prefill/decode pass must reach (``min_tokens_per_s``, turned into passes/s
    by ``Constraints.resolve``: tokens/s / tokens per pass, the stricter limit kept). Raises
    SpaceError naming the field for a bad value or a tokens/s limit with no LLM pass."""
    for name, v in (("min_fps", min_fps), ("min_tokens_per_s", min_tokens_per_s)):
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e308):
            raise SpaceError(f"hierarchy explore: field '{name}' expected a positive finite rate, found {v!r}")
    llm = [n.name for n in networks if n.phase]
    if min_tokens_per_s is not None and not llm:
        raise SpaceError(
            "hierarchy explore: field 'min_tokens_per_s' expected at least one LLM prefill/decode network, found "
            f"none among {[n.name for n in networks]}"
        )
    per_s = {} if min_fps is None else {n.name: float(min_fps) for n in networks}
    tokens = {} if min_tokens_per_s is None else {name: float(min_tokens_per_s) for name in llm}
    cons = Constraints(None, None, min_per_s=per_s, default_throughput=False, min_tokens_per_s=tokens)
    return dict(cons.resolve(networks).min_per_s)


def hardware_budgets(space: HierarchySpace, design: dict[str, float], limits: dict[str, float]) -> dict[str, float]:
    """Area and peak-power budgets of a design, exact and without mapping it (memoised per design
    in ``space.hardware_cache``: a front search asks for the same designs' budgets many times)."""
    key = space.key(space.validate(design))
    cost = space.hardware_cache.get(key)
    if cost is None:
        hier = space.to_hierarchy(design)
        area = float(hm.area_mm2(hier))
        cost = space.hardware_cache[key] = (area, float(hm.peak_power_w(hier, area)))
    return {"area_mm2": cost[0] / limits["area_mm2"], "power_w": cost[1] / limits["power_w"]}


def fit_limits(
    space: HierarchySpace, design: dict[str, float], limits: dict[str, float], keep: str
) -> tuple[dict[str, float], list[str]] | None:
    """Pay for a move that breaks area or power: shrink buffers, one step at a time, the one
    that lowers the worse budget most first (never ``keep``, the moved parameter), until both
    limits hold; when buffers alone cannot pay, lower bandwidths too (a level's read bandwidth
    costs peak power). Returns (design, what was shrunk) or None when nothing is enough. Only
    area and peak power are computed (no mapping): cheap. (Bandwidths came in after bert_base on
    gemmini_like, seed 0: with buffers only, twice the PEs could not be paid for and the
    explorer stopped at 21.8 ms where annealing found 12.4 ms with the DRAM bandwidth halved.
    Buffers stay first: with both kinds always open, three of six resnet18 runs on
    eyeriss_like ended 0.4-4% worse.)"""
    for kinds in (("capacity",), ("capacity", "read_bw")):
        fitted = _shrink_to_fit(space, design, limits, keep, kinds)
        if fitted is not None:
            return fitted
    return None


def _shrink_to_fit(space, design, limits, keep, kinds) -> tuple[dict[str, float], list[str]] | None:
    """``fit_limits`` with steps down of parameters of ``kinds`` only."""
    d, shrunk = dict(design), []
    for _ in range(4 * len(space.params)):
        b = hardware_budgets(space, d, limits)
        if max(b.values()) <= 1.0 + 1e-9:
            return d, shrunk
        worst = max(b, key=b.get)
        options = []
        for p in space.params:
            if p.kind not in kinds or p.name == keep:
                continue
            nd = space.step(d, p.name, -1)
            if nd is not None:
                options.append((hardware_budgets(space, nd, limits)[worst], p.name, nd))
        if not options:
            return None
        _, name, nd = min(options, key=lambda x: x[0])
        p = space.by_name[name]
        shrunk.append(f"{name} {p.show(d[name])} -> {p.show(nd[name])}")
        d = nd
    return None


def held_costs(space: HierarchySpace, networks: list[Network], base: HierEval, design: dict, cache=None):
    """(latency s, energy J) of ``base``'s mappings held on ``design`` (the exact model, no search);
    None when ``base`` has no plans or a held mapping no longer fits. ``cache``: a dict kept by the
    caller for the mappings read back from ``base``'s plans."""
    from costmodels import nest_mapping_from_dict
    from jaxdse.hierarchy_plan import evaluate_on_hierarchy

    if not base.plans:
        return None
    held = None if cache is None else cache.get(base.index)
    if held is None:
        held = {n: [nest_mapping_from_dict(r["mapping"]) for r in p.layers] for n, p in base.plans.items()}
        if cache is not None:
            cache[base.index] = held
    hier = space.to_hierarchy(design)
    lat = en = 0.0
    for net in networks:
        plan = evaluate_on_hierarchy(net, hier, held[net.name])
        if not plan.legal:
            return None
        dl, de = plan.latency_energy()
        lat, en = lat + dl, en + de
    return lat, en
