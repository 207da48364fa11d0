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

from jaxdse.codesign.checkpoint import TRACE_FILE, append_record, atomic_write
from jaxdse.codesign.evaluator import DesignEval
from jaxdse.codesign.plots import save_figures
from jaxdse.codesign.saved import RunData
from jaxdse.codesign.space import NOC_KEYS, describe, links
from jaxdse.plan import serving_line


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

    def start_file(self) -> None:
        """Start ``trace.jsonl`` empty (the caller decides: a new run, or a
        resumed one whose explorer replays every entry); nothing is written
        by the constructor."""
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(self.out_dir / TRACE_FILE, "")

    def add(self, step: int, ev: DesignEval, accepted: bool, reason: str, extra: dict | None = None) -> TraceEntry:
        e = TraceEntry(
            step, ev.index, ev.design, ev.total(), ev.budgets, ev.feasible, accepted, reason, dict(extra or {})
        )
        self.entries.append(e)
        if self.out_dir is not None:
            append_record(self.out_dir / TRACE_FILE, e.to_dict())
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
        closest_rule: When infeasible, how the closest design was chosen, in
            words with its figures (``jaxdse.codesign.acceptance.closest``).
        prediction: How far the explorer's predicted latency changes were from
            the measured ones over the run (``acceptance.prediction_errors``:
            count, median and worst absolute error in percentage points).
        run: How the run was made: seed, budget, mapper budget, warm start,
            command line, jaxdse version, date (``api.run_info``).
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
    run: dict = field(default_factory=dict)
    closest_rule: str = ""
    prediction: dict = field(default_factory=dict)

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
        rates, why = self.constraints.get("min_per_s") or {}, self.constraints.get("min_per_s_source") or {}
        if rates:
            lines.append(
                "  throughput limits: "
                + "; ".join(
                    (f"{n} >= {r:g} inferences/s" if r else f"{n} none")
                    + (f" ({why[n]})" if why.get(n, "none") != "none" else "")
                    for n, r in rates.items()
                )
            )
        lines += [f"  {x}" for x in self.explanation()]
        status = "feasible" if self.feasible else f"NO feasible design found; closest is blocked by {self.blocking}"
        if self.closest_rule:
            lines.append(f"  {self.closest_rule}")
        n = self.prediction.get("predictions", 0)
        if n:
            p = self.prediction
            lines.append(
                f"  predicted latency changes were off by {p['median_abs_error_pts']:.1f} points (median) and "
                f"{p['worst_abs_error_pts']:.1f} points at worst (evaluation {p['worst_evaluation']}) over {n} "
                "predictions"
                + "".join(
                    f"; {what}: {q['median_abs_error_pts']:.1f} median, {q['worst_abs_error_pts']:.1f} worst over "
                    f"{q['predictions']}"
                    for what, q in (
                        ("moving PEs, L1 or L2 (remapping guessed)", p.get("guessed_remap") or {}),
                        ("the rest (mappings held)", p.get("mappings_held") or {}),
                    )
                    if q.get("predictions")
                )
            )
        lines.append(f"final ({status}): {describe(self.best.design)}")
        t = self.best.total()
        lines.append(
            f"  latency {t['latency_s'] * 1e3:.3f} ms, energy {t['energy_j'] * 1e3:.3f} mJ, "
            f"area {t['area_mm2']:.2f} mm^2, peak power {t['power_w']:.3f} W; used share of each limit "
            + "(cost / limit, over 100% = broken): "
            + ", ".join(f"{k} {v:.0%}" for k, v in self.best.budgets.items())
        )
        for name, serving in self.serving().items():
            lines.append(f"  {name}: {serving_line(serving)}")
        return "\n".join(lines)

    def path(self) -> list[TraceEntry]:
        """The trace entries that lead to the returned design, ending at it.

        An explorer that records where each design was proposed from
        (``from_evaluation`` in the entry's extra fields: the explainable
        explorer) gives the chain of designs from the start to the returned
        one, after the accepted entries before that start (a warm start's);
        otherwise the accepted entries up to the returned design, then it.
        """
        by_eval = {e.evaluation: e for e in self.trace.entries}
        end = by_eval.get(self.best.index)
        if end is None:
            return [e for e in self.trace.entries if e.accepted]
        if "from_evaluation" in end.extra:
            chain, e, seen = [], end, set()
            while e is not None and e.evaluation not in seen:
                chain.append(e)
                seen.add(e.evaluation)
                e = by_eval.get(e.extra.get("from_evaluation", -1))
            root = chain[-1]  # e.g. the best design of a gradient warm start: its accepted steps lead to it
            before = [x for x in self.trace.entries if x.accepted and x.evaluation < root.evaluation]
            return before + chain[::-1]
        out = [e for e in self.trace.entries if e.accepted and e.evaluation < end.evaluation]
        return out + [end]

    def explanation(self) -> list[str]:
        """``path`` in words: ``[ 12] reason`` per design, the returned one marked
        when the search did not accept it as a step (e.g. a gain below the
        explorer's ``min_gain``)."""
        out = []
        for e in self.path():
            mark = "" if e.accepted or e.evaluation != self.best.index else " (returned: the best evaluated design)"
            out.append(f"[{e.evaluation:>3}] {e.reason}{mark}")
        return out

    def serving(self) -> dict[str, dict]:
        """Serving figures (``jaxdse.plan.serving_figures``) of the LLM passes on the best design."""
        out = {}
        for name, plan in self.best.plans.items():
            t = plan.total()
            if "serving" in t:
                out[name] = t["serving"]
        return out

    def to_dict(self) -> dict:
        layers = {}
        for name, plan in self.best.plans.items():
            layers[name] = [plan.layer_dict(i) for i in range(len(plan.network.layers))]
        return {
            "method": self.method,
            "objective": self.objective,
            "design": self.best.design,
            "design_text": describe(self.best.design),
            "links": {k: links(self.best.design, k) for k in NOC_KEYS},  # physical links, as design_text prints
            "total": self.best.total(),
            "feasible": self.feasible,
            "blocking_constraint": self.blocking or None,
            **({"closest_rule": self.closest_rule} if self.closest_rule else {}),
            "explanation": self.explanation(),
            **({"prediction_error": self.prediction} if self.prediction else {}),
            "constraints": {
                "limits": self.constraints,
                "budgets": self.best.budgets,
            },
            "evaluations": self.evaluations,
            "wall_s": self.wall_s,
            "run": self.run,
            "layers": layers,
            **({"serving": self.serving()} if self.serving() else {}),
        }

    def run_data(self) -> RunData:
        """The result as the figures and the report read it (what ``result.json`` and ``trace.jsonl`` hold)."""
        return RunData(summary=self.to_dict(), trace=tuple(e.to_dict() for e in self.trace.entries))

    def save(self, out_dir: str | Path) -> Path:
        """Write result.json, trace.jsonl (if not streamed already) and figures."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "result.json", json.dumps(self.to_dict(), indent=2))
        if self.trace.out_dir is None or Path(self.trace.out_dir) != out:
            atomic_write(out / TRACE_FILE, "".join(json.dumps(e.to_dict()) + "\n" for e in self.trace.entries))
        save_figures(self, out)  # convergence, breakdown, budgets, design_space (plots.FIGURES)
        return out / "result.json"
