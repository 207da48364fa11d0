"""Which evaluated design wins: a step's acceptance and a run's returned design.

One rule for both, so the explanation printed with a result leads to the
design it returns:

- Feasible designs: the lowest objective (``pick`` needs a gain of at least
  ``min_gain`` over the current design to move the search; the result
  returns the lowest objective evaluated, and its explanation says when
  that design was below the gain that moves the search).
- No feasible design: ``closest``. A limit is *satisfiable* when some
  evaluated design meets it; the closest design holds every satisfiable
  limit (least summed excess over them, zero when one design holds them
  all), then has the least worst excess (budget - 1) over the others, then
  the least summed excess. Mean budgets are not used: a design far over
  its throughput limit with a small area and power would otherwise beat one
  just over it.
"""

from __future__ import annotations

import numpy as np

from jaxdse.codesign.evaluator import DesignEval, Evaluator
from jaxdse.codesign.result import Result, Trace

TOL = 1e-9  # a budget <= 1 + TOL is met (``DesignEval.feasible``)


def _excess(ev: DesignEval, keys) -> list[float]:
    return [max(ev.budgets[k] - 1.0, 0.0) for k in keys if k in ev.budgets]


def satisfiable(evs: list[DesignEval]) -> list[str]:
    """Budget keys some evaluated design meets, in budget order."""
    keys = list(evs[0].budgets) if evs else []
    return [k for k in keys if any(e.budgets.get(k, np.inf) <= 1.0 + TOL for e in evs)]


def closeness(ev: DesignEval, held: list[str]) -> tuple[float, float, float]:
    """Sort key of an infeasible design (smaller is closer): summed excess over the
    satisfiable limits ``held``, worst excess over the rest, summed excess over the rest."""
    rest = [k for k in ev.budgets if k not in held]
    over = _excess(ev, rest)
    return (round(sum(_excess(ev, held)), 9), round(max(over, default=0.0), 9), round(sum(over), 9))


def closest(evs: list[DesignEval]) -> tuple[DesignEval, str]:
    """The closest design to feasible (module docstring) and the rule, in words, with its figures."""
    held = satisfiable(evs)
    best = min(evs, key=lambda e: (closeness(e, held), e.index))
    rest = [k for k in best.budgets if k not in held]
    over = ", ".join(f"{k} {best.budgets[k] - 1.0:+.1%}" for k in rest if best.budgets[k] > 1.0 + TOL)
    broken = [k for k in held if best.budgets[k] > 1.0 + TOL]
    text = (
        f"no evaluated design meets every limit; closest: the design that holds every limit some evaluated design "
        f"meets ({', '.join(held) or 'none'})"
        + (f" (it cannot hold them all at once: {', '.join(broken)} broken)" if broken else "")
        + f", then the least worst excess over the rest ({over or 'none'}; excess = budget - 1)"
    )
    return best, text


def better(c: DesignEval, cur: DesignEval, min_gain: float, held: list[str] | None = None) -> bool:
    """Whether ``c`` should replace the current design ``cur``."""
    if cur.feasible:
        return c.feasible and c.objective < cur.objective * (1 - min_gain)
    if c.feasible:
        return True
    held = satisfiable([c, cur]) if held is None else held
    return closeness(c, held) < closeness(cur, held)


def pick(cands: list[DesignEval], cur: DesignEval, min_gain: float, held: list[str] | None = None) -> DesignEval | None:
    """The evaluated candidate a step accepts, or None: among those ``better`` than
    ``cur``, the lowest objective if any is feasible, else the closest (``held``:
    the satisfiable limits, default those of ``cands`` and ``cur``; the explorer
    passes those of every design evaluated, as ``returned`` uses)."""
    held = satisfiable([*cands, cur]) if held is None else held
    good = [c for c in cands if better(c, cur, min_gain, held)]
    if not good:
        return None
    feas = [c for c in good if c.feasible]
    if feas:
        return min(feas, key=lambda c: (c.objective, c.index))
    return min(good, key=lambda c: (closeness(c, held), c.index))


def returned(evs: list[DesignEval]) -> tuple[DesignEval, bool, str]:
    """The design a run returns: (design, feasible, closest rule when infeasible)."""
    feas = [e for e in evs if e.feasible]
    if feas:
        return min(feas, key=lambda e: (e.objective, e.index)), True, ""
    best, rule = closest(evs)
    return best, False, rule


def _error_stats(pts: list[tuple[float, int]]) -> dict:
    if not pts:
        return {"predictions": 0}
    worst = max(pts, key=lambda p: p[0])
    return {
        "predictions": len(pts),
        "median_abs_error_pts": float(np.median([p for p, _ in pts])),
        "worst_abs_error_pts": float(worst[0]),
        "worst_evaluation": int(worst[1]),
    }


def prediction_errors(trace: Trace) -> dict:
    """How far the predicted latency changes were from the measured ones over a run.

    Errors in percentage points of relative latency change (predicted -41%,
    measured +2%: 43 points), over every evaluated proposal whose latency the
    explorer predicted (``latency_predicted`` in its trace entry); then split
    into the moves whose prediction guesses a remapping (PEs, L1 or L2 moved:
    ``latency_prediction_guessed``) and the rest (the cost model with the
    mappings held; off only by how much the mapper remaps)."""
    pts = [
        (abs(e.extra["latency_predicted"] - e.extra["latency_measured"]) * 100.0, e.evaluation,
         e.extra.get("latency_prediction_guessed"))
        for e in trace.entries
        if e.extra.get("latency_predicted") is not None and e.extra.get("latency_measured") is not None
    ]  # fmt: skip
    out = _error_stats([(p, i) for p, i, _ in pts])
    if out["predictions"] and any(g is not None for _, _, g in pts):
        out["guessed_remap"] = _error_stats([(p, i) for p, i, g in pts if g])
        out["mappings_held"] = _error_stats([(p, i) for p, i, g in pts if g is False])
    return out


def explorer_result(method: str, evaluator: Evaluator, trace: Trace, wall: float) -> Result:
    """The ``Result`` of a single-objective run: the returned design (``returned``) and its evidence."""
    best, feasible, rule = returned(list(evaluator.cache.values()))
    blocking = "" if feasible else best.worst_constraint[0]
    if not feasible:
        held = satisfiable(list(evaluator.cache.values()))
        over = [k for k in best.budgets if best.budgets[k] > 1.0 + TOL]
        blocking = max(over, key=lambda k: (k not in held, best.budgets[k])) if over else blocking
    return Result(
        method=method,
        objective=evaluator.objective,
        best=best,
        feasible=feasible,
        trace=trace,
        evaluations=evaluator.count,
        wall_s=wall,
        constraints=evaluator.constraints.to_dict(evaluator.networks),
        blocking=blocking,
        closest_rule=rule,
        prediction=prediction_errors(trace),
    )


__all__ = ["better", "closeness", "closest", "explorer_result", "pick", "prediction_errors", "returned", "satisfiable"]
