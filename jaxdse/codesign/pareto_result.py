"""The outcome of a multi-objective exploration: ``ParetoResult``.

A ``Result`` (so the report, figures and ``explain`` work unchanged; its
``best`` is the front point lowest in the first objective) plus the front:
every evaluated, feasible, non-dominated point with its mappings (per-layer
loop nests), exact costs, the mapper objective it was mapped with, the
chain of steps that led to it from the initial design, and what differs
from its neighbour along the first objective. ``to_dict`` adds
``objectives`` and ``pareto`` to ``result.json``; ``save`` rewrites
``trace.jsonl`` with ``"pareto": true`` on front members.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from jaxdse.codesign.acceptance import closest
from jaxdse.codesign.checkpoint import atomic_write
from jaxdse.codesign.pareto import MultiEvaluator, Point, costs_of
from jaxdse.codesign.pareto_plot import plot_front
from jaxdse.codesign.result import Result, Trace
from jaxdse.codesign.space import PARAMS, UNITS, describe


def _short(p: str, v: float) -> str:
    return f"{v:g}" + (f" {UNITS[p]}" if p in UNITS and not p.startswith("links_") else "")


def difference(a: Point | None, b: Point) -> str:
    """What ``b`` changes from ``a`` (hardware parameters and mapper objective), in a few words."""
    if a is None:
        return "first"
    parts = [f"{p} {_short(p, b.ev.design[p])}" for p in PARAMS if a.ev.design[p] != b.ev.design[p]]
    if a.mapper_objective != b.mapper_objective:
        parts.append(f"mapped for {b.mapper_objective}")
    return ", ".join(parts) or "same design"


@dataclass
class ParetoResult(Result):
    """``Result`` of ``explore(..., objectives=...)``.

    Attributes:
        objectives: The objectives minimised (``pareto.COST_NAMES``).
        front: Front points, sorted by the first objective.
        points: Every evaluated point, in evaluation order.
    """

    objectives: tuple[str, ...] = ()
    front: list[Point] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)

    def steps(self, p: Point) -> list[dict]:
        """The evaluations that led to ``p``: its ancestors from the initial design, then ``p``."""
        by_index = {q.ev.index: q for q in self.points}
        chain, q = [], p
        while q is not None:
            chain.append({"evaluation": q.ev.index, "mapper_objective": q.mapper_objective, "reason": q.reason})
            q = by_index.get(q.parent) if q.parent is not None else None
        return chain[::-1]

    def front_dicts(self) -> list[dict]:
        out, prev = [], None
        for p in self.front:
            out.append(
                {
                    "evaluation": p.ev.index,
                    "mapper_objective": p.mapper_objective,
                    "design": p.ev.design,
                    "design_text": describe(p.ev.design),
                    "costs": costs_of(p.ev),
                    "total": p.ev.total(),
                    "budgets": p.ev.budgets,
                    "differs_from_previous": difference(prev, p),
                    "steps": self.steps(p),
                    "layers": {
                        name: [plan.layer_dict(i) for i in range(len(plan.network.layers))]
                        for name, plan in p.ev.plans.items()
                    },
                }
            )
            prev = p
        return out

    def explain(self) -> str:
        lines = [super().explain(), f"Pareto front over {', '.join(self.objectives)}: {len(self.front)} points"]
        prev = None
        for p in self.front:
            c = costs_of(p.ev)
            vals = ", ".join(f"{o} {c[o]:.4g}" for o in self.objectives)
            lines.append(f"  [{p.ev.index:>3}] {vals} (mapped for {p.mapper_objective}); vs previous: "
                         f"{difference(prev, p)}")  # fmt: skip
            prev = p
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "objectives": list(self.objectives), "pareto": self.front_dicts()}

    def save(self, out_dir: str | Path) -> Path:
        path = super().save(out_dir)
        # the front is known only at the end: rewrite the streamed trace with its flags
        text = "".join(json.dumps(e.to_dict()) + "\n" for e in self.trace.entries)
        atomic_write(Path(out_dir) / "trace.jsonl", text)
        plot_front(self, Path(out_dir) / "front.png")
        return path


def pareto_result(me: MultiEvaluator, trace: Trace, wall: float) -> ParetoResult:
    """The result of a finished ``pareto_search``: front, best point, trace flags."""
    front = sorted(me.front(), key=lambda p: (me.vector(p), p.ev.index))
    on_front = {p.ev.index for p in front}
    for e in trace.entries:
        e.extra["pareto"] = e.evaluation in on_front
    if front:
        best, blocking, rule = front[0].ev, "", ""
    else:
        best, rule = closest([p.ev for p in me.points])
        blocking = best.worst_constraint[0]
    return ParetoResult(
        method="pareto",
        objective=me.objectives[0],
        best=best,
        feasible=bool(front),
        trace=trace,
        evaluations=me.count,
        wall_s=wall,
        constraints=me.hw.constraints.to_dict(me.networks),
        blocking=blocking,
        closest_rule=rule,
        objectives=tuple(me.objectives),
        front=front,
        points=list(me.points),
    )


__all__ = ["ParetoResult", "difference", "pareto_result"]
