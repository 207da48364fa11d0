"""The outcome of an exploration: trace, best design, explanation, files.

``Trace`` records one line per evaluated design (``design``, ``total``,
``budgets``, ``accepted``, ``reason``) and, when given a folder, appends it
to ``trace.jsonl`` as it goes (flushed per line), so an interrupted run
loses nothing already computed. ``Result.save`` writes ``result.json`` (via a
temporary file and an atomic rename) and the figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jaxdse.codesign.checkpoint import append_record, atomic_write
from jaxdse.codesign.evaluator import DesignEval
from jaxdse.codesign.space import describe


@dataclass
class TraceEntry:
    step: int
    evaluation: int
    design: dict
    total: dict
    budgets: dict
    feasible: bool
    accepted: bool
    reason: str
    extra: dict = field(default_factory=dict)  # e.g. a multi-objective run's mapper objective and front flag

    def to_dict(self) -> dict:
        return {
            **self.extra,
            "step": self.step,
            "evaluation": self.evaluation,
            "design": self.design,
            "total": self.total,
            "budgets": self.budgets,
            "feasible": self.feasible,
            "accepted": self.accepted,
            "reason": self.reason,
        }


@dataclass
class Trace:
    """Every evaluated design in order, optionally streamed to ``trace.jsonl``."""

    out_dir: Path | None = None
    entries: list[TraceEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.out_dir is not None:
            self.out_dir = Path(self.out_dir)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "trace.jsonl").write_text("")

    def add(self, step: int, ev: DesignEval, accepted: bool, reason: str, extra: dict | None = None) -> TraceEntry:
        e = TraceEntry(
            step, ev.index, ev.design, ev.total(), ev.budgets, ev.feasible, accepted, reason, dict(extra or {})
        )
        self.entries.append(e)
        if self.out_dir is not None:
            append_record(self.out_dir / "trace.jsonl", e.to_dict())
        return e


@dataclass
class Result:
    """What ``jaxdse.explore`` returns.

    Attributes:
        method: Explorer name.
        objective: Objective name.
        best: Best feasible design's evaluation, or the closest design
            (lowest mean budget) when none is feasible.
        feasible: Whether ``best`` meets every constraint.
        trace: Every evaluated design with its reason.
        evaluations: Distinct designs evaluated.
        wall_s: Wall time of the search.
        constraints: The constraint limits used.
        blocking: When infeasible, the constraint that blocks the closest design.
    """

    method: str
    objective: str
    best: DesignEval
    feasible: bool
    trace: Trace
    evaluations: int
    wall_s: float
    constraints: dict
    blocking: str = ""

    def best_so_far(self) -> np.ndarray:
        """Best feasible objective after each evaluation (inf before the first feasible)."""
        out, best = [], np.inf
        for e in self.trace.entries:
            if e.feasible:
                best = min(best, e.total["objective"])
            out.append(best)
        return np.asarray(out)

    def explain(self) -> str:
        """Every accepted step in words, then the outcome."""
        lines = [f"{self.method} explorer, objective {self.objective}, {self.evaluations} designs evaluated:"]
        for e in self.trace.entries:
            if e.accepted:
                lines.append(f"  [{e.evaluation:>3}] {e.reason}")
        status = "feasible" if self.feasible else f"NO feasible design found; closest is blocked by {self.blocking}"
        lines.append(f"final ({status}): {describe(self.best.design)}")
        t = self.best.total()
        lines.append(
            f"  latency {t['latency_s'] * 1e3:.3f} ms, energy {t['energy_j'] * 1e3:.3f} mJ, "
            f"area {t['area_mm2']:.2f} mm^2, peak power {t['power_w']:.3f} W; budgets "
            + ", ".join(f"{k} {v:.2f}" for k, v in self.best.budgets.items())
        )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        layers = {}
        for name, plan in self.best.plans.items():
            layers[name] = [plan.layer_dict(i) for i in range(len(plan.network.layers))]
        return {
            "method": self.method,
            "objective": self.objective,
            "design": self.best.design,
            "design_text": describe(self.best.design),
            "total": self.best.total(),
            "feasible": self.feasible,
            "blocking_constraint": self.blocking or None,
            "constraints": {
                "limits": self.constraints,
                "budgets": self.best.budgets,
            },
            "evaluations": self.evaluations,
            "wall_s": self.wall_s,
            "layers": layers,
        }

    def save(self, out_dir: str | Path) -> Path:
        """Write result.json, trace.jsonl (if not streamed already) and figures."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "result.json", json.dumps(self.to_dict(), indent=2))
        if self.trace.out_dir is None or Path(self.trace.out_dir) != out:
            atomic_write(out / "trace.jsonl", "".join(json.dumps(e.to_dict()) + "\n" for e in self.trace.entries))
        from jaxdse.codesign.plots import save_figures

        save_figures(self, out)  # convergence, breakdown, budgets, design_space (plots.FIGURES)
        return out / "result.json"
