"""The explainable explorer: bottleneck-guided, gradient-informed codesign.

One step (Explainable-DSE, Dave et al., ASPLOS 2023, pp. 5-8, and beyond):

1. The current design is evaluated with its best mappings (``Evaluator``).
2. The critical cost is the objective when the design is feasible, else the
   worst violated constraint (throughput -> that network's latency; area or
   power -> their own breakdown).
3. Latency: the top-K (5) layers whose share of latency exceeds half the
   mean share vote. Each layer's bottleneck tree is walked; its dominant
   term and the scaling s = term / next term select a mitigation rule:
   compute -> PEs x s; NoC -> width (beats), links (time-sharing rounds) or
   L1 (too many small requests); DMA -> bandwidth (transfer) or L2 (burst
   setup). Values are snapped up to legal; when layers disagree the minimum
   wins (the reference's choice). One candidate per (parameter, value).
4. Beyond the paper: elasticities of the relaxed model (d log latency /
   d log parameter, mappings held) add candidates for parameters the rules
   did not name and size them (``p x s^(1/|e|)``), and one multi-parameter
   candidate moves every parameter with a strong elasticity at once. Area
   or power over budget: the shrinks (by 2x and 4x) with the best ratio of
   exact area (power) saved to predicted latency lost.
5. Acceptance: feasible candidates that improve the objective (by at least
   ``MIN_GAIN``, the mapper's noise) win by objective x mean budget; with
   none feasible, the lowest mean budget, if it improves on the current
   one. Once feasible, the search stays feasible.
6. Stall escapes (the reference's greedy stall, e.g. VGG16): the second
   bottleneck term; then moves that free budget: a bottleneck move (or its
   one-step version) paid for by stacked shrinks of what buys little
   latency, until the binding limit holds (``_free_and_spend``); then
   one-step neighbours of every parameter, a batch at a time, each batch
   followed by the free-budget move again with what it measured; then the
   free-budget stacks that fit even where their predicted gain is nil
   (shrinks measured alone overstate their cost next to the move they pay
   for); then sampled neighbours.
7. Area and peak power are exact functions of the hardware (no mapping
   needed), so once feasible the search never evaluates a design that
   breaks their limits, and the free-budget moves know their budgets.

Every evaluated design gets a reason in words; accepted ones also the
predicted and the measured change.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from costmodels import STREAMS, bottleneck_tree
from jaxdse.codesign.elasticity import combine, elasticities
from jaxdse.codesign.evaluator import DesignEval, Evaluator
from jaxdse.codesign.result import Result, Trace
from jaxdse.codesign.space import NOC_KEYS, PARAMS, UNITS, DesignSpace, describe, links

TOP_K = 5
MAX_SCALE = 8.0
STRONG_ELASTICITY = 0.05
FREE_HARM = 0.20  # largest latency cost of one shrink in a free-budget move (measured where known)
MIN_GAIN = 0.005
"""Least relative gain for a feasible design to replace the current one: the
mapper's own noise (a superset of legal mappings, e.g. more virtual unicast,
measures up to ~2% better or worse). Smaller gains still count in the
result (the best evaluated design); they just do not restart the search
around a design that is not really different."""
FREE_GAIN = 0.01  # least predicted latency gain of a free-budget move, shrinks included
LAST_ESCAPE = 5  # stall escapes: second bottleneck, free budget <-> neighbours, free budget unchecked, sampled
GUESSED = ("l1_bytes", "l2_kib")  # parameters whose latency effect ``predict`` only guesses


@dataclass
class Proposal:
    """A candidate design and why it was proposed."""

    design: dict[str, float]
    why: str
    predicted: float | None = None  # predicted relative change of the critical cost (e.g. -0.3)
    priority: float = 0.0
    harm: float = 0.0  # shrinks only: predicted relative latency increase


def _fmt(param: str, v: float) -> str:
    if param.startswith("links_"):
        return f"{v:g}/64 of PEs"  # the stored index i; describe() prints the physical links
    return f"{v:g} {UNITS.get(param, '')}".strip()


def _change(design: dict, param: str, value: float) -> dict:
    d = dict(design)
    d[param] = value
    return d


def predict(ev: DesignEval, nets: list[str], param: str, new: float) -> float | None:
    """Predicted relative latency change of changing one parameter, mappings held.

    Rescales the latency terms that the parameter drives, per layer, from
    the exact breakdown: PEs divide compute; NoC width re-computes the beats
    and links the time-sharing rounds of each NoC; bandwidth divides DMA
    transfer time; L2 divides DMA bursts and L1 NoC requests (bigger tiles,
    a first-order guess). Each layer's latency is the max of its terms.
    """
    d = ev.design
    f = new / d[param]
    before = after = 0.0
    for net in nets:
        c = ev.plans[net].costs.layers
        counts = np.asarray(ev.plans[net].costs.counts, dtype=np.float64)
        t = np.asarray(c.terms_cycles, dtype=np.float64)
        t2 = t.copy()
        if param == "num_pes":
            t2[:, 0] /= f
        elif param == "noc_width_bits":
            b = np.asarray(c.traffic.noc_bytes_per_request, dtype=np.float64)
            beats = np.maximum(np.asarray(c.noc_beats, dtype=np.float64), 1.0)
            t2[:, 1:5] *= np.maximum(np.ceil(b / (new / 8.0) - 1e-9), 1.0) / beats
        elif param.startswith("links_"):
            i = NOC_KEYS.index(param[6:])
            wg = np.asarray(c.traffic.workgroups, dtype=np.float64)[:, i]
            rounds = np.maximum(np.asarray(c.noc_rounds, dtype=np.float64)[:, i], 1.0)
            t2[:, 1 + i] *= np.ceil(wg / links(_change(d, param, new), param[6:]) - 1e-9) / rounds
        elif param == "dram_mb_per_s":
            tr = np.asarray(c.dma_transfer_cycles, dtype=np.float64).sum(-1)
            t2[:, 5] = tr / f + np.asarray(c.dma_setup_cycles, dtype=np.float64).sum(-1)
        elif param == "l2_kib":
            t2[:, 5] = np.asarray(c.dma_transfer_cycles).sum(-1) + np.asarray(c.dma_setup_cycles).sum(-1) / f
        elif param == "l1_bytes":
            t2[:, 1:5] /= f
        else:
            return None
        before += float(np.sum(counts * t.max(axis=1)))
        after += float(np.sum(counts * t2.max(axis=1)))
    return after / before - 1.0 if before > 0 else None


def _layer_votes(ev: DesignEval, space: DesignSpace, networks: list[str], which: int = 0) -> list[Proposal]:
    """Rule-based mitigations of the top layers' ``which``-th largest term."""
    d = ev.design
    votes: dict[str, list[tuple[float, str, float]]] = {}
    for net in networks:
        plan = ev.plans[net]
        lat = np.asarray(plan.costs.layers.latency_cycles) * np.asarray(plan.costs.counts)
        total = lat.sum()
        n_unique = len(lat)
        order = np.argsort(-lat)[:TOP_K]
        for li in order:
            share = lat[li] / total
            if share < 0.5 / n_unique:
                continue
            c = plan.layer_costs(int(li))
            tree = bottleneck_tree(c)
            terms = sorted(tree.children, key=lambda n: n.value, reverse=True)
            if which + 1 >= len(terms) or terms[which].value <= 0:
                continue
            top, nxt = terms[which], terms[which + 1]
            s = min(MAX_SCALE, top.value / max(nxt.value, 1e-9)) if which == 0 else MAX_SCALE**0.5
            if s <= 1.0 + 1e-6:
                s = 1.5  # tied terms: both must shrink; ask for a modest step
            name = plan.network.layers[int(li)].name
            ratio = top.value / max(nxt.value, 1e-9)
            where = f"{net}:{name} is {share:.0%} of latency and {top.name}-bound ({top.name} {ratio:.2f}x {nxt.name})"
            pred = -share * (1 - 1 / s)
            for param, value in _mitigate(top.name, s, c, d, space):
                votes.setdefault(param, []).append((value, where, pred))
    out = []
    if "num_pes" in votes:
        # more PEs on the same physical NoC: links are PEs x i / 64, so scale
        # the link indices down with the PE count (keeps NoC area and power)
        value = min(v for v, _, _ in votes["num_pes"])
        f = value / d["num_pes"]
        nd = _change(d, "num_pes", value)
        for k in NOC_KEYS:
            nd[f"links_{k}"] = space.snap(f"links_{k}", d[f"links_{k}"] / f)
        if nd != _change(d, "num_pes", value):
            pred = predict(ev, networks, "num_pes", value)
            out.append(
                Proposal(
                    nd,
                    f"{votes['num_pes'][0][1]}; num_pes {_fmt('num_pes', d['num_pes'])} -> "
                    f"{_fmt('num_pes', value)} on the same physical NoC links",
                    pred,
                    -(pred if pred is not None else 0.0) + 1e-3,
                )
            )
    for param, vs in votes.items():
        value = min(v for v, _, _ in vs)  # the reference takes the minimum vote
        if value == d[param]:
            continue
        why = vs[[v for v, _, _ in vs].index(value)][1]
        pred = predict(ev, networks, param, value)
        if pred is None:
            pred = max(sum(p for _, _, p in vs), -0.95)
        out.append(
            Proposal(
                _change(d, param, value), f"{why}; {param} {_fmt(param, d[param])} -> {_fmt(param, value)}", pred, -pred
            )
        )
    return out


def _mitigate(term: str, s: float, c, d: dict, space: DesignSpace) -> list[tuple[str, float]]:
    """Explainable-DSE's mitigation rules for one dominant term (p. 7)."""
    out = []
    if term == "compute":
        out.append(("num_pes", space.snap("num_pes", d["num_pes"] * s)))
    elif term.startswith("noc_"):
        i = STREAMS.index(term[4:])
        k = NOC_KEYS[i]
        rounds, beats = float(c.noc_rounds[i]), float(c.noc_beats[i])
        bytes_req = float(c.traffic.noc_bytes_per_request[i])
        wg = float(c.traffic.workgroups[i])
        if beats > 1:
            w = min(d["noc_width_bits"] * s, bytes_req * 8)
            out.append(("noc_width_bits", space.snap("noc_width_bits", w)))
        if rounds > 1:
            lk = min(links(d, k) * s, wg)
            out.append((f"links_{k}", space.snap(f"links_{k}", math.ceil(lk * 64 / d["num_pes"]))))
        if rounds <= 1 and beats <= 1:
            out.append(("l1_bytes", space.snap("l1_bytes", d["l1_bytes"] * s)))  # more reuse, fewer requests
    elif term == "dma":
        transfer = float(np.sum(c.dma_transfer_cycles))
        setup = float(np.sum(c.dma_setup_cycles))
        if transfer >= setup:
            out.append(("dram_mb_per_s", space.snap("dram_mb_per_s", d["dram_mb_per_s"] * s)))
        # bigger L2 tiles: fewer bursts and less re-fetching
        out.append(("l2_kib", space.snap("l2_kib", d["l2_kib"] * s)))
    return [(p, v) for p, v in out if v != d[p]]


def _gradient_proposals(ev: DesignEval, evaluator: Evaluator, el: dict, s: float, named: set) -> list[Proposal]:
    """Elasticity-sized moves for parameters the rules did not name, plus one joint move."""
    d, space = ev.design, evaluator.space
    out, joint, joint_pred = [], dict(d), 0.0
    strong = sorted(
        (p for p in PARAMS if el["latency"].get(p, 0.0) < -STRONG_ELASTICITY), key=lambda p: el["latency"][p]
    )
    for p in strong:
        e = el["latency"][p]
        factor = min(MAX_SCALE, s ** (1.0 / abs(e)))
        new = space.snap(p, d[p] * factor)
        if new == d[p]:
            continue
        pred = math.exp(e * math.log(new / d[p])) - 1.0
        joint[p] = new
        joint_pred += e * math.log(new / d[p])
        if p in named:
            continue
        out.append(
            Proposal(
                _change(d, p, new),
                f"latency elasticity to {p} is {e:.2f}; {p} {_fmt(p, d[p])} -> {_fmt(p, new)}",
                pred,
                -pred,
            )
        )
    moved = [p for p in PARAMS if joint[p] != d[p]]
    # keep the joint step within the area/power limits the design meets
    # (exact): undo the moves that cost most area+power per latency gained
    while len(moved) >= 2 and evaluator.breaks_hardware_limit(joint, d):

        def spent(p: str) -> float:
            now, undone = evaluator.hardware_budgets(joint), evaluator.hardware_budgets(_change(joint, p, d[p]))
            return sum(math.log(now[c] / undone[c]) for c in now) / abs(el["latency"][p])

        worst = max(moved, key=spent)
        joint_pred -= el["latency"][worst] * math.log(joint[worst] / d[worst])
        joint[worst] = d[worst]
        moved.remove(worst)
    if len(moved) >= 2:
        txt = ", ".join(f"{p} {_fmt(p, d[p])} -> {_fmt(p, joint[p])}" for p in moved)
        out.append(
            Proposal(
                joint,
                f"joint gradient step on {len(moved)} parameters ({txt})",
                math.exp(joint_pred) - 1.0,
                -(math.exp(joint_pred) - 1.0),
            )
        )
    return out


def _shrink_proposals(
    ev: DesignEval, evaluator: Evaluator, el: dict, cost: str, nets: list[str], most: int = 6
) -> list[Proposal]:
    """The ``most`` best shrinks of what buys the most ``cost`` (area or power)
    per latency lost, by 2x and 4x (snapped down to legal values).

    The saving is exact (``Evaluator.hardware_budgets``: area and peak power
    are functions of the hardware alone); the harm is the predicted latency
    increase of the move (``predict``: it knows e.g. that fewer PEs slow the
    compute-bound layers, which the elasticity with mappings held cannot see),
    falling back to the latency elasticity.
    """
    d, space, key = ev.design, evaluator.space, _budget_key(cost)
    now = evaluator.hardware_budgets(d)[key]
    ranked = []
    for p in PARAMS:
        for k in (2.0, 4.0):
            new = space.snap(p, d[p] / k, up=False)
            if new == d[p]:
                new = space.step(p, d[p], -1)
            if new == d[p]:
                continue
            cut = 1.0 - evaluator.hardware_budgets(_change(d, p, new))[key] / now
            if cut <= 1e-3:
                continue
            harm = predict(ev, nets, p, new)
            if harm is None:
                harm = math.exp(el["latency"].get(p, 0.0) * math.log(new / d[p])) - 1.0
            ranked.append((cut / (max(harm, 0.0) + 0.01), p, new, -cut, harm))
    out = []
    for _, p, new, pred, harm in sorted(ranked, key=lambda r: -r[0])[:most]:
        out.append(
            Proposal(
                _change(d, p, new),
                f"shrink {p} {_fmt(p, d[p])} -> {_fmt(p, new)}: {-pred:.0%} less {cost}, "
                f"predicted latency cost {harm:+.0%}",
                pred,
                -pred,
                max(harm, 0.0),
            )
        )
    return out


def _neighbours(ev: DesignEval, evaluator: Evaluator, tight: str) -> list[Proposal]:
    """One legal step up and down in every parameter, most informative first:
    shrinks that save ``tight`` budget and whose latency cost ``predict``
    only guesses (``GUESSED``; measuring them lets ``_free_and_spend`` use
    them), then moves that cost no area or power (exact), then the rest."""
    d, space = ev.design, evaluator.space
    key = _budget_key(tight)
    now = evaluator.hardware_budgets(d)
    out = []
    for p in PARAMS:
        for k in (1, -1):
            new = space.step(p, d[p], k)
            if new == d[p]:
                continue
            nd = _change(d, p, new)
            hw = evaluator.hardware_budgets(nd)
            if p in GUESSED and hw.get(key, 0.0) < now.get(key, 0.0):
                rank = 2.0
            elif hw == now:
                rank = 1.0
            else:
                rank = 0.0
            out.append(Proposal(nd, f"neighbour: {p} {_fmt(p, d[p])} -> {_fmt(p, new)}", priority=rank))
    return out


def _budget_key(cost: str) -> str:
    return "area_mm2" if cost == "area" else "power_w"


def _one_step(cur: DesignEval, space: DesignSpace, grow: Proposal, nets: list[str]) -> Proposal | None:
    """The same move as ``grow`` but only one legal step in each parameter it
    moves more than one step (cheaper in area and power). Its predicted
    latency change: ``predict`` for a one-parameter move, else the grow's
    prediction scaled by the share of the log-distance kept."""
    d, moved = dict(grow.design), []
    for p in PARAMS:
        old, new = cur.design[p], grow.design[p]
        if new != old and abs(space.index(p, new) - space.index(p, old)) > 1:
            d[p] = space.step(p, old, 1 if new > old else -1)
            moved.append(p)
    if not moved:
        return None
    changed = [p for p in PARAMS if d[p] != cur.design[p]]
    pred = predict(cur, nets, changed[0], d[changed[0]]) if len(changed) == 1 else None
    if pred is None and grow.predicted is not None:
        keep = sum(math.log(d[p] / cur.design[p]) for p in changed)
        full = sum(math.log(grow.design[p] / cur.design[p]) for p in changed)
        pred = grow.predicted * keep / full if full else None
    why = f"{grow.why.split('; ')[0]}; one step only: " + ", ".join(
        f"{p} {_fmt(p, cur.design[p])} -> {_fmt(p, d[p])}" for p in moved
    )
    return Proposal(d, why, pred, -(pred or 0.0))


def _free_and_spend(
    cur: DesignEval, evaluator: Evaluator, el: dict, focus: list[str], nets: list[str], tight: str, strict: bool = True
) -> list[Proposal]:
    """Stall escape: pay for a latency move with shrinks of what is over-provisioned.

    For each of the top bottleneck moves (and its one-step version), shrinks
    that cost at most ``FREE_HARM`` latency each (measured where that shrink
    alone was evaluated from the current design, else predicted), best
    ``tight`` budget saved per latency lost first (``_shrink_proposals``),
    are stacked one parameter at a time (a later shrink of a parameter
    replaces the earlier one) until the design meets the ``tight`` limit
    again, as long as the stack still gains ``FREE_GAIN`` (not checked when
    ``strict`` is false) and was not evaluated already. Area and power
    budgets are exact here (``Evaluator.hardware_budgets``); the latency
    gain of the move is measured where that move alone was evaluated, else
    predicted.

    This is the move a greedy search cannot make in one step when the
    binding constraint is saturated (the reference's VGG16 stall): e.g. L2 1024 -> 256 KiB and psum links 2/64 ->
    1/64 to pay for off-chip 8192 -> 12800 MB/s on vgg16; L2 2048 -> 512 KiB
    and L1 32 -> 16 B for the same on bert_base.
    """
    key = _budget_key(tight)
    b = cur.budgets.get(key)
    if b is None:
        return []

    def measured(design: dict) -> float | None:
        seen = evaluator.cache.get(evaluator.key(design))
        return seen.objective / cur.objective - 1.0 if seen is not None else None

    def harm_of(sh: Proposal) -> float:
        m = measured(sh.design)
        return sh.harm if m is None else m

    shrinks = [sh for sh in _shrink_proposals(cur, evaluator, el, tight, nets, most=2 * len(PARAMS))
               if harm_of(sh) <= FREE_HARM]  # fmt: skip
    grows = sorted(_layer_votes(cur, evaluator.space, focus), key=lambda p: -p.priority)[:3]
    grows += [g for g in (_one_step(cur, evaluator.space, g, nets) for g in grows) if g is not None]
    out = []
    for g in grows:
        gain = measured(g.design)
        gain = (g.predicted or 0.0) if gain is None else gain
        grown = {p for p in PARAMS if g.design[p] != cur.design[p]}
        chosen: dict[str, Proposal] = {}  # parameter -> its shrink (a later one replaces an earlier one)
        for sh in shrinks:
            (p,) = [q for q in PARAMS if sh.design[q] != cur.design[q]]
            if p in grown or (p in chosen and chosen[p].design[p] == sh.design[p]):
                continue  # 2x and 4x can snap to the same legal value
            trial = {**chosen, p: sh}
            harm = (1.0 + gain) * math.prod(1.0 + harm_of(s) for s in trial.values())
            if strict and harm > 1.0 - FREE_GAIN:
                continue  # this shrink would cost what the move buys
            d = dict(g.design)
            d.update({q: s.design[q] for q, s in trial.items()})
            if evaluator.seen(d):
                continue  # measured already (it did not win): try the next stack instead
            chosen = trial
            after = evaluator.hardware_budgets(d)[key]
            if after <= 1.0:
                paid = ", ".join(f"{q} {_fmt(q, cur.design[q])} -> {_fmt(q, d[q])}" for q in chosen)
                out.append(
                    Proposal(
                        d,
                        f"{tight} is the binding limit ({b:.2f} of budget); free it: shrink {paid} "
                        f"({tight} budget {after:.2f}); and spend it: {g.why}",
                        harm - 1.0,
                        1.0 - harm,
                    )
                )
                break
    return out


def _worth_evaluating(evaluator: Evaluator, cur: DesignEval, design: dict) -> bool:
    """Not evaluated yet, and, once the search is feasible, within the area and
    power limits: both are exact functions of the hardware, so a design that
    breaks them is never worth an evaluation."""
    if evaluator.seen(design):
        return False
    return not (cur.feasible and evaluator.breaks_hardware_limit(design, cur.design))


def _random_neighbours(cur: DesignEval, evaluator: Evaluator, rng, n: int) -> list[Proposal]:
    """The reference's fallback: sample designs worth evaluating one or two
    legal steps away in one or two parameters."""
    space, out = evaluator.space, []
    for _ in range(50 * n):
        d = dict(cur.design)
        moved = rng.choice(len(PARAMS), size=rng.integers(1, 3), replace=False)
        for i in moved:
            p = PARAMS[int(i)]
            d[p] = space.step(p, d[p], int(rng.choice([-2, -1, 1, 2])))
        if d != cur.design and _worth_evaluating(evaluator, cur, d) and all(d != o.design for o in out):
            txt = ", ".join(
                f"{PARAMS[int(i)]} {_fmt(PARAMS[int(i)], cur.design[PARAMS[int(i)]])} -> "
                f"{_fmt(PARAMS[int(i)], d[PARAMS[int(i)]])}"
                for i in moved
            )
            out.append(Proposal(d, f"stalled; sampled neighbour: {txt}"))
        if len(out) >= n:
            break
    return out


def _better(c: DesignEval, cur: DesignEval) -> bool:
    if cur.feasible:
        return c.feasible and c.objective < cur.objective * (1 - MIN_GAIN)
    if c.feasible:
        return True
    return c.worst_constraint[1] < cur.worst_constraint[1] * (1 - 1e-6)


def _pick(cands: list[DesignEval], cur: DesignEval) -> DesignEval | None:
    good = [c for c in cands if _better(c, cur)]
    if not good:
        return None
    feas = [c for c in good if c.feasible]
    if feas:
        return min(feas, key=lambda c: c.objective * max(c.mean_budget, 1e-3))
    # none feasible: the one that most reduces the worst violation (the
    # critical cost), ties broken by the mean budget
    return min(good, key=lambda c: (round(c.worst_constraint[1], 6), c.mean_budget))


def explainable(
    evaluator: Evaluator,
    budget: int = 50,
    per_step: int = 4,
    start: dict[str, float] | None = None,
    trace: Trace | None = None,
    progress=None,
) -> Result:
    """Run the explainable explorer for ``budget`` evaluated designs.

    Args:
        evaluator: Maps, costs and budgets designs (and counts them).
        budget: Distinct designs to evaluate at most.
        per_step: Candidates evaluated per step (the most promising by
            predicted gain).
        start: Initial design (default: ``space.default_design()``).
        trace: Where to record every evaluated design.
        progress: Optional callable(str) for progress lines.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(evaluator.seed)
    space = evaluator.space
    trace = trace or Trace()
    nets = [n.name for n in evaluator.networks]
    start = start or space.default_design()
    if evaluator.seen(start):  # e.g. the best design of a gradient warm start, already traced
        cur = evaluator.evaluate(start)
    else:
        cur = evaluator.evaluate(start)
        trace.add(0, cur, True, f"initial design: {describe(cur.design)}")
    step = 0
    escape = 0
    while evaluator.count < budget:
        step += 1
        el = combine([elasticities(cur.plans[n]) for n in nets], [cur.latency_s[n] for n in nets])
        worst, wb = cur.worst_constraint
        if cur.feasible or worst.startswith("throughput."):
            focus = nets if cur.feasible else [worst.split(".", 1)[1]]
            target = "latency"
        else:
            focus, target = [], worst.split("_")[0]  # "area" or "power"
        tight = max(("area", "power"), key=lambda c: cur.budgets.get(_budget_key(c), 0.0))
        proposals: list[Proposal] = []
        if target == "latency":
            if escape == 0:
                proposals = _layer_votes(cur, space, focus)
                # target: the bottleneck scaling, or what the violated throughput needs
                s = max([1.0 / max(1.0 + p.predicted, 1e-3) for p in proposals if p.predicted] + [2.0, wb])
                named = {_moved(p, cur) for p in proposals}
                proposals += _gradient_proposals(cur, evaluator, el, min(s, MAX_SCALE), named)
            elif escape == 1:
                proposals = _layer_votes(cur, space, focus, which=1)
            elif escape == 2:
                # free budget: shrink what is over-provisioned (costs area or
                # power, buys little latency) and spend it on a latency move;
                # tried again after each batch of neighbours, which measure
                # what one-step shrinks really cost
                proposals = _free_and_spend(cur, evaluator, el, focus, nets, tight)
            elif escape == 3:
                proposals = _neighbours(cur, evaluator, tight)
            elif escape == 4:
                # every neighbour measured: the free-budget stacks that fit,
                # even those predicted to cost what they buy (each shrink's
                # harm is measured alone; combined with the move it pays for
                # it is often smaller, e.g. an L2 shrink next to more
                # bandwidth on a DMA-bound layer)
                proposals = _free_and_spend(cur, evaluator, el, focus, nets, tight, strict=False)
        else:
            proposals = _shrink_proposals(cur, evaluator, el, target, nets)
            if escape >= 1:
                proposals += _neighbours(cur, evaluator, target)
        proposals = _dedupe([p for p in proposals if _worth_evaluating(evaluator, cur, p.design)])
        if target == "latency":
            # infeasible (throughput): moves that would also break an area or
            # power limit that now holds go last
            for p in proposals:
                if evaluator.breaks_hardware_limit(p.design, cur.design):
                    p.priority -= 10.0
                    p.why += " (exceeds an area/power limit)"
        proposals.sort(key=lambda p: -p.priority)
        proposals = proposals[: min(per_step, max(0, budget - evaluator.count))]
        if not proposals:
            if escape >= LAST_ESCAPE:
                proposals = _random_neighbours(cur, evaluator, rng, min(per_step, budget - evaluator.count))
                if not proposals:
                    break
            else:
                escape += 1
                continue
        evals = []
        for p in proposals:
            ev = evaluator.evaluate(p.design)
            evals.append(ev)
            if progress is not None:
                progress(evaluator.progress_line(ev, budget, p.why))
        chosen = _pick(evals, cur)
        for p, ev in zip(proposals, evals):
            accepted = ev is chosen
            trace.add(step, ev, accepted, _reason(p, ev, cur, target))
        if chosen is None:
            # a batch of neighbours without a better design: retry the free
            # budget move with what they measured (the neighbours go on
            # until every one is measured)
            escape = 2 if escape == 3 else min(escape + 1, LAST_ESCAPE)
            continue
        cur, escape = chosen, 0
    return _result("explainable", evaluator, trace, time.perf_counter() - t0)


def _moved(p: Proposal, cur: DesignEval) -> str:
    changed = [k for k in PARAMS if p.design[k] != cur.design[k]]
    return changed[0] if len(changed) == 1 else ""


def _dedupe(ps: list[Proposal]) -> list[Proposal]:
    seen, out = set(), []
    for p in ps:
        k = tuple(p.design[q] for q in PARAMS)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out


def _reason(p: Proposal, ev: DesignEval, cur: DesignEval, target: str) -> str:
    if target == "latency":
        before, after = sum(cur.latency_s.values()), sum(ev.latency_s.values())
    elif target == "area":
        before, after = cur.area_mm2, ev.area_mm2
    else:
        before, after = cur.power_w, ev.power_w
    measured = after / before - 1.0
    pred = f"predicted {p.predicted:+.0%} {target}, " if p.predicted is not None else ""
    status = "feasible" if ev.feasible else f"infeasible ({ev.worst_constraint[0]} budget {ev.worst_constraint[1]:.2f})"
    return f"{p.why}, {pred}measured {measured:+.0%} {target}; {status}"


def _result(method: str, evaluator: Evaluator, trace: Trace, wall: float) -> Result:
    evs = list(evaluator.cache.values())
    feas = [e for e in evs if e.feasible]
    if feas:
        best, blocking = min(feas, key=lambda e: e.objective), ""
    else:
        best = min(evs, key=lambda e: e.mean_budget)
        blocking = best.worst_constraint[0]
    return Result(
        method=method,
        objective=evaluator.objective,
        best=best,
        feasible=bool(feas),
        trace=trace,
        evaluations=evaluator.count,
        wall_s=wall,
        constraints=evaluator.constraints.to_dict(evaluator.networks),
        blocking=blocking,
    )
