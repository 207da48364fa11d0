"""The explainable explorer's loop: bottleneck-guided, gradient-informed codesign.

One step (Explainable-DSE, Dave et al., ASPLOS 2023, pp. 5-8, and beyond):

1. The current design is evaluated with its best mappings (``Evaluator``).
2. The critical cost is the objective when the design is feasible, else the
   worst violated constraint (a throughput limit -> that network's latency;
   area or power -> their own breakdown), by its ``Limit`` kind.
3. The stage (``Stage``) says what to propose (``jaxdse.codesign.proposals``):
   ``BOTTLENECK`` (the top layers' rules and the elasticity moves), then, when
   a step finds nothing better, the stall escapes in order: ``SECOND_TERM``
   (the second bottleneck term), ``FREE_BUDGET`` (a bottleneck move paid for
   by stacked shrinks), ``FREE_BUDGET_UNCHECKED`` (the cheapest payments that
   fit, whatever the predicted gain, each costing at most ``paid_harm``
   alone), ``NEIGHBOURS`` (one-step neighbours, a batch at a time; each batch
   without a better design goes back to ``FREE_BUDGET`` with what it
   measured), ``FREE_BUDGET_ANY`` (the payments at any cost alone, once every
   neighbour was measured) and ``SAMPLED`` (random neighbours).
   Over an area or power limit: ``BOTTLENECK`` proposes the shrinks, the
   later stages add the neighbours. An accepted step returns to
   ``BOTTLENECK`` (``next_stage``).
4. Acceptance (``jaxdse.codesign.acceptance.pick``): the lowest objective
   among feasible candidates that gain at least ``min_gain``; with none
   feasible, the closest (``acceptance.closest``). Once feasible, the search
   stays feasible, and never evaluates a design that breaks an area or power
   limit (both are exact functions of the hardware).

Every evaluated design gets a reason in words (with the predicted and the
measured change, and the bottleneck fixes an area or power limit blocked);
its trace entry records the design it was proposed from, so the explanation
of a result is the chain of designs that leads to the one it returns. Every
tunable is in ``ExplorerConfig``.
"""

from __future__ import annotations

import math
import time
from enum import IntEnum

import numpy as np

from jaxdse.codesign.acceptance import explorer_result, pick, satisfiable
from jaxdse.codesign.constraints import AREA_LIMIT, POWER_LIMIT, Limit
from jaxdse.codesign.elasticity import combine, elasticities
from jaxdse.codesign.evaluator import DesignEval, Evaluator
from jaxdse.codesign.explorer_config import ExplorerConfig
from jaxdse.codesign.proposals import (
    GUESSED,
    Proposal,
    blocked_fixes,
    dedupe,
    free_and_spend,
    gradient_proposals,
    layer_votes,
    moved_param,
    neighbours,
    random_neighbours,
    shrink_proposals,
    worth_evaluating,
)
from jaxdse.codesign.result import Result, Trace
from jaxdse.codesign.space import describe


class Stage(IntEnum):
    """What the explorer proposes next (module docstring, step 3)."""

    BOTTLENECK = 0
    SECOND_TERM = 1
    FREE_BUDGET = 2
    FREE_BUDGET_UNCHECKED = 3
    NEIGHBOURS = 4
    FREE_BUDGET_ANY = 5
    SAMPLED = 6


def next_stage(stage: Stage, accepted: bool, proposed: bool) -> Stage:
    """The stage after a step: back to ``BOTTLENECK`` when a design was accepted;
    else the next escape, except that ``NEIGHBOURS`` goes back to ``FREE_BUDGET``
    (then ``FREE_BUDGET_UNCHECKED``) after a batch that found nothing better,
    retried with what it measured, while it still has neighbours to propose.
    ``SAMPLED`` is the last."""
    if accepted:
        return Stage.BOTTLENECK
    if stage == Stage.NEIGHBOURS and proposed:
        return Stage.FREE_BUDGET
    return Stage(min(stage + 1, Stage.SAMPLED))


def _target(cur: DesignEval, evaluator: Evaluator, nets: list[str]) -> tuple[Limit | None, list[str]]:
    """The critical cost: None for latency (with the networks to focus on), else the area or power limit."""
    if cur.feasible:
        return None, nets
    lim = evaluator.limit(cur.worst_constraint[0])
    return (None, [lim.network]) if not lim.hardware else (lim, [])


def _propose(stage: Stage, cur, evaluator, el, nets, focus, target, tight, wb, cfg) -> list[Proposal]:
    space = evaluator.space
    if target is not None:  # over an area or power limit
        props = shrink_proposals(cur, evaluator, el, target, nets, most=cfg.shrinks_per_step)
        return props + (neighbours(cur, evaluator, target) if stage >= Stage.SECOND_TERM else [])
    if stage == Stage.BOTTLENECK:
        props = layer_votes(cur, space, focus, cfg=cfg)
        # target: the bottleneck scaling, or what the violated throughput needs
        s = max([1.0 / max(1.0 + p.predicted, 1e-3) for p in props if p.predicted] + [2.0, wb])
        named = {moved_param(p, cur) for p in props}
        return props + gradient_proposals(cur, evaluator, el, min(s, cfg.max_scale), named, cfg)
    if stage == Stage.SECOND_TERM:
        return layer_votes(cur, space, focus, which=1, cfg=cfg)
    if stage == Stage.FREE_BUDGET:
        # free budget: shrink what is over-provisioned (costs area or power,
        # buys little latency) and spend it on a latency move; tried again
        # after each batch of neighbours, which measure what shrinks really cost
        return free_and_spend(cur, evaluator, el, focus, nets, tight, cfg=cfg)
    if stage == Stage.NEIGHBOURS:
        return neighbours(cur, evaluator, tight)
    if stage == Stage.SAMPLED:
        return []  # the loop samples neighbours when nothing else is left
    # FREE_BUDGET_UNCHECKED / _ANY: the payments that fit even where predicted
    # to cost what they buy (a shrink measured alone often costs less next to
    # the move it pays for, e.g. an L2 shrink next to more bandwidth on a
    # DMA-bound layer). The cheap ones (up to paid_harm alone) before each
    # neighbour batch: a free neighbour step accepted (virtual unicast)
    # restarts the sweep, and on vgg16 seed 0 the budget ran out before the
    # sweep ended, so L2 128 -> 256 KiB paid for by input links 3/64 -> 1/64
    # (+25% alone, 55.5 -> 54.0 ms next to the move) was never tried; the rest
    # once every neighbour was measured (halving PEs or off-chip bandwidth to
    # pay for a move, +60% to +300% alone, never paid off there)
    cap = cfg.paid_harm if stage == Stage.FREE_BUDGET_UNCHECKED else math.inf
    return free_and_spend(cur, evaluator, el, focus, nets, tight, strict=False, cfg=cfg, max_harm=cap)


def explainable(
    evaluator: Evaluator,
    budget: int = 50,
    per_step: int | None = None,
    start: dict[str, float] | None = None,
    trace: Trace | None = None,
    progress=None,
    config: ExplorerConfig | None = None,
) -> Result:
    """Run the explainable explorer for ``budget`` evaluated designs.

    Args:
        evaluator: Maps, costs and budgets designs (and counts them).
        budget: Distinct designs to evaluate at most.
        per_step: Candidates evaluated per step (default ``config.per_step``).
        start: Initial design (default: ``space.default_design()``).
        trace: Where to record every evaluated design.
        progress: Optional callable(str) for progress lines.
        config: The tunables (default ``ExplorerConfig()``).
    """
    cfg = config or ExplorerConfig()
    per_step = cfg.per_step if per_step is None else per_step
    t0 = time.perf_counter()
    rng = np.random.default_rng(evaluator.seed)
    trace = trace or Trace()
    nets = [n.name for n in evaluator.networks]
    start = start or evaluator.space.default_design()
    seen_before = evaluator.seen(start)  # e.g. the best design of a gradient warm start, already traced
    cur = evaluator.evaluate(start)
    if not seen_before:
        trace.add(0, cur, True, f"initial design: {describe(cur.design)}")
    step, stage = 0, Stage.BOTTLENECK
    blocked: list[str] = []  # bottleneck fixes an area or power limit forbids, not yet said
    while evaluator.count < budget:
        step += 1
        el = combine([elasticities(cur.plans[n]) for n in nets], [cur.latency_s[n] for n in nets])
        target, focus = _target(cur, evaluator, nets)
        tight = max((AREA_LIMIT, POWER_LIMIT), key=lambda c: cur.budgets.get(c.key, 0.0))
        room = min(per_step, budget - evaluator.count)
        raw = _propose(stage, cur, evaluator, el, nets, focus, target, tight, cur.worst_constraint[1], cfg)
        if target is None and stage in (Stage.BOTTLENECK, Stage.SECOND_TERM):
            # said with the next designs evaluated (this stage's, or a later one's when it proposes nothing)
            blocked = blocked_fixes(cur, evaluator, [p for p in raw if p.source == "rule"]) or blocked
        proposals = dedupe([p for p in raw if worth_evaluating(evaluator, cur, p.design)])
        if target is None:
            # infeasible (throughput): moves that would also break an area or
            # power limit that now holds go last
            for p in proposals:
                if evaluator.breaks_hardware_limit(p.design, cur.design):
                    p.priority -= 10.0
                    p.why += " (exceeds an area/power limit)"
        proposals.sort(key=lambda p: -p.priority)
        proposals = proposals[:room]
        if not proposals:
            if stage != Stage.SAMPLED:
                stage = next_stage(stage, accepted=False, proposed=False)
                continue
            proposals = random_neighbours(cur, evaluator, rng, room)
            if not proposals:
                break
        evals = []
        for p in proposals:
            ev = evaluator.evaluate(p.design)
            evals.append(ev)
            if progress is not None:
                progress(evaluator.progress_line(ev, budget, p.why))
        chosen = pick(evals, cur, cfg.min_gain, satisfiable(list(evaluator.cache.values())))
        note = f"; blocked by a limit: {'; '.join(blocked)}" if blocked else ""
        blocked = []
        for p, ev in zip(proposals, evals):
            measured = sum(ev.latency_s.values()) / sum(cur.latency_s.values()) - 1.0
            extra = {"from_evaluation": cur.index, "stage": stage.name.lower()}
            if p.latency_predicted is not None:
                guessed = any(p.design[q] != cur.design[q] for q in GUESSED)
                extra.update(latency_predicted=float(p.latency_predicted), latency_measured=float(measured),
                             latency_prediction_guessed=guessed)  # fmt: skip
            trace.add(step, ev, ev is chosen, _reason(p, ev, cur, target) + note, extra)
        if chosen is not None:
            cur = chosen
        stage = next_stage(stage, accepted=chosen is not None, proposed=True)
    return explorer_result("explainable", evaluator, trace, time.perf_counter() - t0)


def _reason(p: Proposal, ev: DesignEval, cur: DesignEval, target: Limit | None) -> str:
    if target is None:
        name, before, after = "latency", sum(cur.latency_s.values()), sum(ev.latency_s.values())
    elif target == AREA_LIMIT:
        name, before, after = "area", cur.area_mm2, ev.area_mm2
    else:
        name, before, after = "power", cur.power_w, ev.power_w
    measured = after / before - 1.0
    predicted = p.latency_predicted if p.predicted is None and target is None else p.predicted
    pred = f"predicted {predicted:+.0%} {name}, " if predicted is not None else ""
    status = "feasible" if ev.feasible else f"infeasible ({ev.worst_constraint[0]} budget {ev.worst_constraint[1]:.2f})"
    return f"{p.why}, {pred}measured {measured:+.0%} {name}; {status}"


__all__ = ["Stage", "explainable", "next_stage"]
