"""Evaluating a hardware design: map every network, cost it exactly, budget it.

Every explorer, the explainable one and the black-box baselines alike, goes
through ``Evaluator.evaluate(design)``: the gradient mapper maps each network
on the design (hardware and mappings co-optimised: each design is judged by
its best mappings found), the exact model costs it, and the constraints
give budgets. Evaluations are cached by design, so a design proposed twice
is counted once, and ``count`` is the number of distinct designs evaluated
(the reference's "iterations").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodels import AREA_COMPONENTS, Arch, area, peak_power_w
from costmodels.compile import jit
from jaxdse.codesign.checkpoint import append_record, evaluation_record, plans_from_record
from jaxdse.codesign.constraints import Constraints, Limit
from jaxdse.codesign.space import DesignSpace, to_arch
from jaxdse.mapper.api import map_network
from jaxdse.mapper.space import format_objective, objective_of
from jaxdse.plan import Plan
from workloads import Network


@jit
def _area_power(arch: Arch):
    """Total area (mm^2) and peak power (W) of a design: the same functions
    the cost model reports (``costmodels.area``, ``costmodels.peak_power_w``)."""
    a = area(arch).sum()
    return a, peak_power_w(arch, a)


@dataclass
class DesignEval:
    """One evaluated design.

    Attributes:
        design: Parameter values.
        plans: Mapped network plans by network name.
        latency_s, energy_j: Per network.
        area_mm2, power_w: Of the design (peak power).
        area_breakdown_mm2: By component (``costmodels.AREA_COMPONENTS``).
        budgets: Constraint budgets (<= 1 met).
        objective: Sum over networks of latency_s, energy_j, or their product (edp).
        index: 1-based evaluation number (order of first evaluation).
        mapper_evaluations: Exact cost-model evaluations the mapper spent.
    """

    design: dict[str, float]
    plans: dict[str, Plan]
    latency_s: dict[str, float]
    energy_j: dict[str, float]
    area_mm2: float
    power_w: float
    area_breakdown_mm2: dict[str, float]
    budgets: dict[str, float]
    objective: float
    index: int
    mapper_evaluations: int
    wall_s: float = 0.0

    @property
    def feasible(self) -> bool:
        return all(b <= 1.0 + 1e-9 for b in self.budgets.values())

    @property
    def mean_budget(self) -> float:
        return float(np.mean(list(self.budgets.values()))) if self.budgets else 0.0

    @property
    def worst_constraint(self) -> tuple[str, float]:
        if not self.budgets:
            return ("", 0.0)
        k = max(self.budgets, key=self.budgets.get)
        return k, self.budgets[k]

    def total(self) -> dict:
        return {
            "latency_s": float(sum(self.latency_s.values())),
            "energy_j": float(sum(self.energy_j.values())),
            "area_mm2": self.area_mm2,
            "power_w": self.power_w,
            "latency_s_by_network": dict(self.latency_s),
            "energy_j_by_network": dict(self.energy_j),
            "objective": self.objective,
        }


@dataclass
class Evaluator:
    """Maps and costs designs for a set of networks under constraints.

    Attributes:
        networks: The workloads.
        space: The design space.
        constraints: The limits.
        objective: ``latency`` (default), ``energy`` or ``edp``.
        seed: Mapper seed (same seed, same mappings).
        mapper_budget: Exact evaluations per layer for the gradient mapper
            (sets its starts; default 4 starts, ~880 per layer), whose
            candidates are joined with the pruned top-N mapper's (latency
            from 4 starts up, ``jaxdse.mapper.api.JOIN_PRUNED_STARTS``;
            energy and EDP at every budget).
        mapper_join: The mapper's ``join`` (``jaxdse.mapper.map_network``): None
            (its default policy), True (latency joined at every budget too, as a
            multi-objective run sets it: its mapper objectives meet on the same axes)
            or False (never joined).
        mapper_tie_break: The mapper's ``tie_break`` (``jaxdse.mapper.map_network``):
            None, or the objective that picks among mappings tied at the best value
            (a multi-objective run maps latency with ``"energy"``).
        log_path: If set, every newly mapped design is appended to this
            ``evaluations.jsonl`` (``jaxdse.codesign.checkpoint``).
        replay: Stored evaluations by design key (from a checkpoint): such a
            design is rebuilt from its stored mappings instead of mapped again.
        prior_wall_s: Search wall time spent by earlier segments of a resumed
            run (``elapsed_s`` of its last stored evaluation).
        run_budget: The run's whole budget, the denominator of progress lines
            (an explorer given part of it, as the warm start is, still counts to it).
    """

    networks: list[Network]
    space: DesignSpace
    constraints: Constraints
    objective: str = "latency"
    seed: int = 0
    mapper_budget: int = 4 * 3 * 8 * 9 + 9
    mapper_join: bool | None = None
    mapper_tie_break: str | None = None
    cache: dict[tuple, DesignEval] = field(default_factory=dict)
    log_path: Path | None = None
    replay: dict[tuple, dict] = field(default_factory=dict)
    prior_wall_s: float = 0.0
    run_budget: int | None = None
    _hardware: dict[tuple, tuple[float, float]] = field(default_factory=dict, init=False, repr=False)
    _started: float = field(default_factory=time.perf_counter, init=False, repr=False)
    _replay_s: float = field(default=0.0, init=False, repr=False)

    def progress_line(self, ev: DesignEval, budget: int, what: str) -> str:
        """``[12/50] what -> latency 4.58 ms, feasible``: one line per evaluated design, counted to
        the run's budget, the objective with its unit."""
        total = max(self.run_budget or budget, ev.index)
        state = "feasible" if ev.feasible else f"infeasible ({self._worst(ev)})"
        return f"[{ev.index}/{total}] {what} -> {format_objective(self.objective, ev.objective)}, {state}"

    @staticmethod
    def _worst(ev: DesignEval) -> str:
        k, b = ev.worst_constraint
        return f"{k} at {b:.0%} of its limit"

    def elapsed_s(self) -> float:
        """Search wall time over every segment of the run: earlier segments, plus
        this one's time since the evaluator was made less the time spent
        rebuilding stored designs (work the earlier segments already counted)."""
        return self.prior_wall_s + (time.perf_counter() - self._started) - self._replay_s

    def key(self, design: dict[str, float]) -> tuple:
        return tuple(float(design[p]) for p in sorted(design))

    @property
    def count(self) -> int:
        return len(self.cache)

    def seen(self, design: dict[str, float]) -> bool:
        return self.key(design) in self.cache

    def limit(self, key: str) -> Limit:
        """The ``Limit`` (kind, network) of a budget key of this evaluator's designs."""
        return self.constraints.limits(self.networks)[key]

    def hardware_budgets(self, design: dict[str, float]) -> dict[str, float]:
        """Area and peak-power budgets of a design, exact and without mapping it.

        Both are functions of the hardware parameters alone (the template's
        area and Accelergy-style peak power, ``costmodels.model``), so an
        explorer can tell before evaluating that a design breaks an area or
        power limit. Not counted as an evaluation.
        """
        return self.constraints.budgets(*self.hardware_costs(design), {})

    def hardware_costs(self, design: dict[str, float]) -> tuple[float, float]:
        """Exact area (mm^2) and peak power (W) of a design, without mapping it (cached)."""
        k = self.key(design)
        if k not in self._hardware:
            a, p = _area_power(to_arch(design, self.space.fixed))
            self._hardware[k] = (float(a), float(p))
        return self._hardware[k]

    def breaks_hardware_limit(self, design: dict[str, float], current: dict[str, float]) -> bool:
        """Whether ``design`` exceeds an area or power limit that ``current`` meets."""
        now = self.hardware_budgets(current)
        return any(b > 1.0 + 1e-9 and now[c] <= 1.0 + 1e-9 for c, b in self.hardware_budgets(design).items())

    def evaluate(self, design: dict[str, float]) -> DesignEval:
        k = self.key(design)
        if k in self.cache:
            return self.cache[k]
        design = self.space.validate(design)
        t = time.perf_counter()
        arch = to_arch(design, self.space.fixed)
        stored = self.replay.get(k)
        if stored is not None:
            plans = plans_from_record(stored, self.networks, arch)
            wall = float(stored["wall_s"])
            self._replay_s += time.perf_counter() - t
        else:
            plans = {
                n.name: map_network(
                    n,
                    arch,
                    objective=self.objective,
                    budget=self.mapper_budget,
                    seed=self.seed,
                    progress=False,
                    join=self.mapper_join,
                    tie_break=self.mapper_tie_break,
                )
                for n in self.networks
            }
            wall = time.perf_counter() - t
            if self.log_path is not None:
                append_record(self.log_path, evaluation_record(design, plans, wall, self.elapsed_s()))
        lat = {n: p.total()["latency_s"] for n, p in plans.items()}
        en = {n: p.total()["energy_j"] for n, p in plans.items()}
        first = next(iter(plans.values()))
        area = float(first.costs.area_mm2)
        power = float(first.costs.peak_power_w)
        breakdown = dict(zip(AREA_COMPONENTS, np.asarray(first.costs.layers.area_mm2[0]).tolist()))
        obj = objective_of(self.objective, sum(lat.values()), sum(en.values()))
        ev = DesignEval(
            design=design,
            plans=plans,
            latency_s=lat,
            energy_j=en,
            area_mm2=area,
            power_w=power,
            area_breakdown_mm2=breakdown,
            budgets=self.constraints.budgets(area, power, lat, self.networks),
            objective=float(obj),
            index=len(self.cache) + 1,
            mapper_evaluations=sum(p.exact_evaluations for p in plans.values()),
            wall_s=wall,
        )
        self.cache[k] = ev
        return ev
