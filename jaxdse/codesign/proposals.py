"""What the explainable explorer proposes, and what it predicts of each proposal.

Every function here turns the current design's evaluation into candidate
designs (``Proposal``: a design, the reason in words, a predicted relative
change); ``jaxdse.codesign.explainable`` decides which to evaluate and which
to accept. The proposals (Explainable-DSE, Dave et al., ASPLOS 2023, pp. 5-8,
and beyond):

- ``layer_votes``: the top-K layers' dominant latency term and its rule
  (compute -> PEs; NoC -> width, links or L1; DMA -> bandwidth or L2).
- ``gradient_proposals``: elasticity-sized moves of the parameters the
  rules did not name, and one joint move.
- ``shrink_proposals``: over an area or power limit, the shrinks with the
  best exact saving per predicted latency lost.
- ``free_and_spend``: a bottleneck move paid for by stacked shrinks.
- ``neighbours`` / ``random_neighbours``: one-step and sampled moves.
- ``blocked_fixes``: the bottleneck moves an area or power limit forbids
  (the explorer says so in its reasons).

Predictions (``predict_design``) run the cost model itself
(``costmodels.latency``) on the held mappings' traffic at the new design:
exact for NoC width, links and off-chip bandwidth with the mappings held.
Three parameters change nothing with the mappings held, so their effect is
a first-order guess of the remapping (``GUESSED``): PEs divide the compute
cycles, L1 divides the NoC requests, L2 divides the DMA bursts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from costmodels import STREAMS, bottleneck_tree
from costmodels import latency as model_latency
from costmodels.compile import jit
from jaxdse.codesign.constraints import Limit
from jaxdse.codesign.evaluator import DesignEval, Evaluator
from jaxdse.codesign.explorer_config import ExplorerConfig
from jaxdse.codesign.space import FIXED, NOC_KEYS, PARAMS, UNITS, DesignSpace, links, to_arch

DEFAULT = ExplorerConfig()
GUESSED = ("num_pes", "l1_bytes", "l2_kib")  # parameters whose latency effect ``predict_design`` guesses
GUESSED_MEMORIES = ("l1_bytes", "l2_kib")  # of those, the ones a neighbour batch measures first
MODELLED = ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s", "noc_width_bits") + tuple(f"links_{k}" for k in NOC_KEYS)


@dataclass
class Proposal:
    """A candidate design and why it was proposed."""

    design: dict[str, float]
    why: str
    predicted: float | None = None  # predicted relative change of the critical cost (e.g. -0.3)
    priority: float = 0.0
    harm: float = 0.0  # shrinks only: predicted relative latency increase
    latency_predicted: float | None = None  # predicted relative latency change, when predicted (error statistics)
    source: str = ""  # what proposed it: rule, elasticity, shrink, free_budget, neighbour, sampled


def fmt(param: str, v: float) -> str:
    if param.startswith("links_"):
        return f"{v:g}/64 of PEs"  # the stored index i; describe() prints the physical links
    return f"{v:g} {UNITS.get(param, '')}".strip()


def change(design: dict, param: str, value: float) -> dict:
    d = dict(design)
    d[param] = value
    return d


def keep_reach(old: dict, new: dict, space: DesignSpace) -> dict:
    """``new`` with the virtual unicast of every NoC whose links it cuts raised
    to keep that NoC's reach: a NoC serves at most physical links x virtual
    unicast workgroups (``costmodels.arch``), so fewer links with the same
    virtual unicast caps the spatial unrolling the mapper can use, while the
    virtual unicast costs no area or power (``Evaluator.hardware_budgets``).
    The smallest legal value with links x virtual >= the old reach (the
    largest legal value where none reaches it). E.g. vgg16 seed 2: weight and
    input links 2/64 -> 1/64 to pay for L2 128 -> 256 KiB, 73.8 ms with
    virtual 8 x, 52.5 ms with virtual 64 x (55.9 ms before the move)."""
    out = dict(new)
    for k in NOC_KEYS:
        v = f"virtual_{k}"
        if new[f"links_{k}"] < old[f"links_{k}"] and new[v] == old[v]:
            reach = links(old, k) * old[v]
            out[v] = space.snap(v, reach / links(new, k))
    return out


def moves_text(old: dict, new: dict) -> str:
    """``p a -> b, q c -> d`` for every parameter that differs."""
    return ", ".join(f"{p} {fmt(p, old[p])} -> {fmt(p, new[p])}" for p in PARAMS if new[p] != old[p])


@jit
def _held_latency_cycles(arch, traffic):
    """Per-layer latency (cycles) of held traffic on ``arch``: the cost model's own latency."""
    return jax.vmap(lambda tr: model_latency(arch, tr)["latency_cycles"])(traffic)


def predict_design(ev: DesignEval, design: dict[str, float]) -> float | None:
    """Predicted relative latency change (summed over the networks) of moving to ``design``.

    The cost model's latency (``costmodels.latency``) on each layer's traffic
    as mapped on ``ev``'s design, at ``design``'s hardware; the mappings held,
    except for the guesses of ``GUESSED`` (module docstring). None when
    ``design`` changes no parameter the latency depends on with mappings held
    (e.g. virtual unicast, which only makes more mappings legal).
    """
    d = ev.design
    if not any(design[p] != d[p] for p in MODELLED):
        return None
    before = after = 0.0
    for plan in ev.plans.values():
        arch = plan.arch
        fixed = {k: float(getattr(arch, k)) for k in FIXED}
        new_arch = to_arch(design, fixed)
        tr = plan.costs.layers.traffic
        # the guesses: a remapping uses the new PEs, L1 and L2 (first order)
        tr = tr.replace(
            compute_cycles=tr.compute_cycles * (d["num_pes"] / design["num_pes"]),
            noc_requests=tr.noc_requests * (d["l1_bytes"] / design["l1_bytes"]),
            dram_requests=tr.dram_requests * (d["l2_kib"] / design["l2_kib"]),
        )
        counts = np.asarray(plan.costs.counts, dtype=np.float64)
        before += float(np.sum(counts * np.asarray(plan.costs.layers.latency_cycles, dtype=np.float64)))
        after += float(np.sum(counts * np.asarray(_held_latency_cycles(new_arch, tr), dtype=np.float64)))
    return after / before - 1.0 if before > 0 else None


def predict(ev: DesignEval, nets: list[str] | None, param: str, new: float) -> float | None:
    """Predicted relative latency change of changing one parameter (``predict_design``).

    ``nets`` is kept for callers that name the networks; the prediction is
    over every network of ``ev`` (what the explorer measures)."""
    return predict_design(ev, change(ev.design, param, new))


def layer_votes(
    ev: DesignEval, space: DesignSpace, networks: list[str], which: int = 0, cfg: ExplorerConfig = DEFAULT
) -> list[Proposal]:
    """Rule-based mitigations of the top layers' ``which``-th largest term."""
    d = ev.design
    votes: dict[str, list[tuple[float, str, float]]] = {}
    for net in networks:
        plan = ev.plans[net]
        lat = np.asarray(plan.costs.layers.latency_cycles) * np.asarray(plan.costs.counts)
        total = lat.sum()
        n_unique = len(lat)
        order = np.argsort(-lat)[: cfg.top_k]
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
            s = min(cfg.max_scale, top.value / max(nxt.value, 1e-9)) if which == 0 else cfg.max_scale**0.5
            if s <= 1.0 + 1e-6:
                s = cfg.tied_scale  # tied terms: both must shrink; ask for a modest step
            name = plan.network.layers[int(li)].name
            ratio = top.value / max(nxt.value, 1e-9)
            where = f"{net}:{name} is {share:.0%} of latency and {top.name}-bound ({top.name} {ratio:.2f}x {nxt.name})"
            pred = -share * (1 - 1 / s)
            for param, value in mitigate(top.name, s, c, d, space):
                votes.setdefault(param, []).append((value, where, pred))
    out = []
    if "num_pes" in votes:
        # more PEs on the same physical NoC: links are PEs x i / 64, so scale
        # the link indices down with the PE count (keeps NoC area and power)
        value = min(v for v, _, _ in votes["num_pes"])
        f = value / d["num_pes"]
        nd = change(d, "num_pes", value)
        for k in NOC_KEYS:
            nd[f"links_{k}"] = space.snap(f"links_{k}", d[f"links_{k}"] / f)
        if nd != change(d, "num_pes", value):
            pred = predict_design(ev, nd)
            out.append(
                Proposal(
                    nd,
                    f"{votes['num_pes'][0][1]}; num_pes {fmt('num_pes', d['num_pes'])} -> "
                    f"{fmt('num_pes', value)} on the same physical NoC links",
                    pred,
                    -(pred if pred is not None else 0.0) + 1e-3,
                    latency_predicted=pred,
                    source="rule",
                )
            )
    for param, vs in votes.items():
        value = min(v for v, _, _ in vs)  # the reference takes the minimum vote
        if value == d[param]:
            continue
        why = vs[[v for v, _, _ in vs].index(value)][1]
        pred = predict(ev, networks, param, value)
        modelled = pred is not None
        if pred is None:
            pred = max(sum(p for _, _, p in vs), -0.95)
        out.append(
            Proposal(
                change(d, param, value),
                f"{why}; {param} {fmt(param, d[param])} -> {fmt(param, value)}",
                pred,
                -pred,
                latency_predicted=pred if modelled else None,
                source="rule",
            )
        )
    return out


def mitigate(term: str, s: float, c, d: dict, space: DesignSpace) -> list[tuple[str, float]]:
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


def gradient_proposals(
    ev: DesignEval, evaluator: Evaluator, el: dict, s: float, named: set, cfg: ExplorerConfig = DEFAULT
) -> list[Proposal]:
    """Elasticity-sized moves for parameters the rules did not name, plus one joint move.

    Sized by the elasticity (``p x s^(1/|e|)``); predicted by the cost model
    (``predict_design``) where it models the move, else by the elasticity."""
    d, space = ev.design, evaluator.space
    out, joint, joint_pred = [], dict(d), 0.0
    strong = sorted(
        (p for p in PARAMS if el["latency"].get(p, 0.0) < -cfg.strong_elasticity), key=lambda p: el["latency"][p]
    )
    for p in strong:
        e = el["latency"][p]
        factor = min(cfg.max_scale, s ** (1.0 / abs(e)))
        new = space.snap(p, d[p] * factor)
        if new == d[p]:
            continue
        modelled = predict(ev, None, p, new)
        pred = math.exp(e * math.log(new / d[p])) - 1.0 if modelled is None else modelled
        joint[p] = new
        joint_pred += e * math.log(new / d[p])
        if p in named:
            continue
        out.append(
            Proposal(
                change(d, p, new),
                f"latency elasticity to {p} is {e:.2f}; {p} {fmt(p, d[p])} -> {fmt(p, new)}",
                pred,
                -pred,
                latency_predicted=modelled,
                source="elasticity",
            )
        )
    moved = [p for p in PARAMS if joint[p] != d[p]]
    # keep the joint step within the area/power limits the design meets
    # (exact): undo the moves that cost most area+power per latency gained
    while len(moved) >= 2 and evaluator.breaks_hardware_limit(joint, d):

        def spent(p: str) -> float:
            now, undone = evaluator.hardware_budgets(joint), evaluator.hardware_budgets(change(joint, p, d[p]))
            return sum(math.log(now[c] / undone[c]) for c in now) / abs(el["latency"][p])

        worst = max(moved, key=spent)
        joint_pred -= el["latency"][worst] * math.log(joint[worst] / d[worst])
        joint[worst] = d[worst]
        moved.remove(worst)
    if len(moved) >= 2:
        modelled = predict_design(ev, joint)
        pred = math.exp(joint_pred) - 1.0 if modelled is None else modelled
        txt = ", ".join(f"{p} {fmt(p, d[p])} -> {fmt(p, joint[p])}" for p in moved)
        why = f"joint gradient step on {len(moved)} parameters ({txt})"
        out.append(Proposal(joint, why, pred, -pred, latency_predicted=modelled, source="elasticity"))
    return out


def shrink_proposals(
    ev: DesignEval, evaluator: Evaluator, el: dict, cost: Limit, nets: list[str], most: int = 6
) -> list[Proposal]:
    """The ``most`` best shrinks of what buys the most ``cost`` (area or power)
    per latency lost, by 2x and 4x (snapped down to legal values).

    The saving is exact (``Evaluator.hardware_budgets``: area and peak power
    are functions of the hardware alone); the harm is the predicted latency
    increase of the move (``predict``: it knows e.g. that fewer PEs slow the
    compute-bound layers, which the elasticity with mappings held cannot see),
    falling back to the latency elasticity.
    """
    d, space, key = ev.design, evaluator.space, cost.key
    now = evaluator.hardware_budgets(d)[key]
    ranked = []
    for p in PARAMS:
        for k in (2.0, 4.0):
            new = space.snap(p, d[p] / k, up=False)
            if new == d[p]:
                new = space.step(p, d[p], -1)
            if new == d[p]:
                continue
            nd = keep_reach(d, change(d, p, new), space)  # fewer links: more virtual unicast (free)
            cut = 1.0 - evaluator.hardware_budgets(nd)[key] / now
            if cut <= 1e-3:
                continue
            modelled = predict_design(ev, nd)
            harm = modelled
            if harm is None:
                harm = math.exp(el["latency"].get(p, 0.0) * math.log(new / d[p])) - 1.0
            ranked.append((cut / (max(harm, 0.0) + 0.01), nd, -cut, harm, modelled))
    out = []
    for _, nd, pred, harm, modelled in sorted(ranked, key=lambda r: -r[0])[:most]:
        out.append(
            Proposal(
                nd,
                f"shrink {moves_text(d, nd)}: {-pred:.0%} less {cost.kind}, predicted latency cost {harm:+.0%}",
                pred,
                -pred,
                max(harm, 0.0),
                latency_predicted=modelled,
                source="shrink",
            )
        )
    return out


def neighbours(ev: DesignEval, evaluator: Evaluator, tight: Limit) -> list[Proposal]:
    """One legal step up and down in every parameter, most informative first:
    shrinks that save ``tight`` budget and whose latency cost ``predict``
    only guesses (``GUESSED_MEMORIES``; measuring them lets ``free_and_spend``
    use them), then moves that cost no area or power (exact), then the rest."""
    d, space = ev.design, evaluator.space
    key = tight.key
    now = evaluator.hardware_budgets(d)
    out = []
    for p in PARAMS:
        for k in (1, -1):
            new = space.step(p, d[p], k)
            if new == d[p]:
                continue
            nd = keep_reach(d, change(d, p, new), space)  # fewer links: more virtual unicast (free)
            hw = evaluator.hardware_budgets(nd)
            if p in GUESSED_MEMORIES and hw.get(key, 0.0) < now.get(key, 0.0):
                rank = 2.0
            elif hw == now:
                rank = 1.0
            else:
                rank = 0.0
            pred = predict_design(ev, nd)
            why = f"neighbour: {moves_text(d, nd)}"
            out.append(Proposal(nd, why, priority=rank, latency_predicted=pred, source="neighbour"))
    return out


def one_step(cur: DesignEval, space: DesignSpace, grow: Proposal) -> Proposal | None:
    """The same move as ``grow`` but only one legal step in each parameter it
    moves more than one step (cheaper in area and power), predicted by the
    cost model (``predict_design``), else by the grow's prediction scaled by
    the share of the log-distance kept."""
    d, moved = dict(grow.design), []
    for p in PARAMS:
        old, new = cur.design[p], grow.design[p]
        if new != old and abs(space.index(p, new) - space.index(p, old)) > 1:
            d[p] = space.step(p, old, 1 if new > old else -1)
            moved.append(p)
    if not moved:
        return None
    changed = [p for p in PARAMS if d[p] != cur.design[p]]
    modelled = predict_design(cur, d)
    pred = modelled
    if pred is None and grow.predicted is not None:
        keep = sum(math.log(d[p] / cur.design[p]) for p in changed)
        full = sum(math.log(grow.design[p] / cur.design[p]) for p in changed)
        pred = grow.predicted * keep / full if full else None
    why = f"{grow.why.split('; ')[0]}; one step only: " + ", ".join(
        f"{p} {fmt(p, cur.design[p])} -> {fmt(p, d[p])}" for p in moved
    )
    return Proposal(d, why, pred, -(pred or 0.0), latency_predicted=modelled, source="rule")


def free_and_spend(
    cur: DesignEval,
    evaluator: Evaluator,
    el: dict,
    focus: list[str],
    nets: list[str],
    tight: Limit,
    strict: bool = True,
    cfg: ExplorerConfig = DEFAULT,
    max_harm: float = math.inf,
) -> list[Proposal]:
    """Stall escape: pay for a latency move with shrinks of what is over-provisioned.

    For each of the top ``cfg.free_grows`` bottleneck moves (and its one-step
    version), shrinks that cost at most ``cfg.free_harm`` latency each
    (measured where that shrink alone was evaluated from the current design,
    else predicted), best ``tight`` budget saved per latency lost first
    (``shrink_proposals``), are stacked one parameter at a time (a later
    shrink of a parameter replaces the earlier one) until the design meets
    the ``tight`` limit again, as long as the stack still gains
    ``cfg.free_gain`` (not checked when ``strict`` is false) and was not
    evaluated already. Area and power budgets are exact here
    (``Evaluator.hardware_budgets``); the latency gain of the move is
    measured where that move alone was evaluated, else predicted.

    With ``strict`` false (the unchecked stage, after every neighbour was
    measured), each move is first paid for by one shrink, or a pair of shrinks
    neither of which pays alone, that brings it back inside the ``tight`` limit, whatever their latency
    cost alone (``cfg.free_paid`` of them, least cost first) up to
    ``max_harm`` (a payment costing more alone is left out); the stacking
    above is the fallback when none pays.

    This is the move a greedy search cannot make in one step when the
    binding constraint is saturated (the reference's VGG16 stall): e.g. L2 1024 -> 256 KiB and psum links 2/64 ->
    1/64 to pay for off-chip 8192 -> 12800 MB/s on vgg16; L2 2048 -> 512 KiB
    and L1 32 -> 16 B for the same on bert_base.
    """
    key = tight.key
    b = cur.budgets.get(key)
    if b is None:
        return []

    def measured(design: dict) -> float | None:
        seen = evaluator.cache.get(evaluator.key(design))
        return seen.objective / cur.objective - 1.0 if seen is not None else None

    def harm_of(sh: Proposal) -> float:
        m = measured(sh.design)
        return sh.harm if m is None else m

    every = shrink_proposals(cur, evaluator, el, tight, nets, most=2 * len(PARAMS))
    shrinks = [sh for sh in every if harm_of(sh) <= cfg.free_harm]
    grows = sorted(layer_votes(cur, evaluator.space, focus, cfg=cfg), key=lambda p: -p.priority)[: cfg.free_grows]
    grows += [g for g in (one_step(cur, evaluator.space, g) for g in grows) if g is not None]
    out = []
    for g in grows:
        gain = measured(g.design)
        gain = (g.predicted or 0.0) if gain is None else gain
        grown = {p for p in PARAMS if g.design[p] != cur.design[p]}
        if not strict:
            # the cheapest payment: one shrink, or two of different parameters neither of which
            # would pay alone, that bring the move back inside the limit, least latency cost
            # first (each shrink's cost measured where it was evaluated alone, else predicted;
            # a pair's the product), whatever that cost: a shrink measured next to the current
            # design can cost far less next to the move (dlrm: input links 32 -> 16 cost +32%
            # alone, +4% next to the L2 256 -> 512 KiB they paid for, which remaps the layers
            # off the input NoC)
            single = []  # (latency cost alone, the shrunk parameter, its moves: a links cut keeps its reach)
            for sh in every:
                p, moves = _shrunk(sh, cur.design)
                if p not in grown and all(moves != m for _, _, m in single):
                    single.append((harm_of(sh), p, moves))

            def fits(moves, grown_design=g.design) -> bool:
                return evaluator.hardware_budgets({**grown_design, **dict(moves)})[key] <= 1.0

            combos = [(h, m) for h, _, m in single]
            alone = [c for c in single if not fits(c[2])]  # pairs of shrinks that do not pay alone
            for i, (h1, p1, m1) in enumerate(alone):
                combos += [((1 + h1) * (1 + h2) - 1, m1 + m2) for h2, p2, m2 in alone[i + 1 :] if p1 != p2]
            paying = []
            for harm1, moves in sorted(combos, key=lambda c: c[0]):
                d = {**g.design, **dict(moves)}
                if harm1 > max_harm:
                    break  # sorted: every later payment costs more
                if evaluator.seen(d) or any(d == q.design for q in out) or not fits(moves):
                    continue
                paying.append((harm1, moves, d))
                if len(paying) == cfg.free_paid:
                    break
            for harm1, moves, d in paying:
                cost = (1.0 + gain) * (1.0 + harm1) - 1.0
                paid = ", ".join(f"{p} {fmt(p, cur.design[p])} -> {fmt(p, v)}" for p, v in moves)
                out.append(
                    Proposal(
                        d,
                        f"{tight.kind} is the binding limit ({b:.2f} of budget); pay for a move with the shrinks "
                        f"that cost least latency on their own: {paid} ({tight.kind} budget "
                        f"{evaluator.hardware_budgets(d)[key]:.2f}, {harm1:+.0%} latency alone); and spend it: {g.why}",
                        cost,
                        -cost,
                        latency_predicted=cost,
                        source="free_budget",
                    )
                )
            if paying:
                continue
        chosen: dict[str, Proposal] = {}  # parameter -> its shrink (a later one replaces an earlier one)
        for sh in shrinks:
            p, moves = _shrunk(sh, cur.design)
            if p in grown or (p in chosen and chosen[p].design[p] == sh.design[p]):
                continue  # 2x and 4x can snap to the same legal value
            trial = {**chosen, p: sh}
            harm = (1.0 + gain) * math.prod(1.0 + harm_of(s) for s in trial.values())
            if strict and harm > 1.0 - cfg.free_gain:
                continue  # this shrink would cost what the move buys
            d = dict(g.design)
            for s in trial.values():
                d.update(_shrunk(s, cur.design)[1])
            if evaluator.seen(d):
                continue  # measured already (it did not win): try the next stack instead
            chosen = trial
            after = evaluator.hardware_budgets(d)[key]
            if after <= 1.0:
                paid = ", ".join(f"{q} {fmt(q, cur.design[q])} -> {fmt(q, v)}" for s in chosen.values()
                                 for q, v in _shrunk(s, cur.design)[1])  # fmt: skip
                out.append(
                    Proposal(
                        d,
                        f"{tight.kind} is the binding limit ({b:.2f} of budget); free it: shrink {paid} "
                        f"({tight.kind} budget {after:.2f}); and spend it: {g.why}",
                        harm - 1.0,
                        1.0 - harm,
                        latency_predicted=harm - 1.0,
                        source="free_budget",
                    )
                )
                break
    return out


def _shrunk(sh: Proposal, cur: dict) -> tuple[str, tuple[tuple[str, float], ...]]:
    """A shrink's parameter and its moves ((param, value) for every parameter
    it changes: the shrunk one, and the virtual unicast that keeps a cut
    NoC's reach, ``keep_reach``)."""
    moves = tuple((q, sh.design[q]) for q in PARAMS if sh.design[q] != cur[q])
    return next(q for q, v in moves if v < cur[q]), moves


def blocked_fixes(cur: DesignEval, evaluator: Evaluator, votes: list[Proposal], most: int = 2) -> list[str]:
    """The bottleneck rules' moves that an area or power limit forbids, in words.

    A vote whose design breaks an area or power limit that the current design
    meets (exact, ``Evaluator.hardware_budgets``) is the bottleneck's natural
    fix, blocked: e.g. ``dram_mb_per_s 8192 -> 12800 MB/s would put power_w
    at 107% of its limit``. The ``most`` most promising (by priority) first.
    """
    now = evaluator.hardware_budgets(cur.design)
    out = []
    for v in sorted(votes, key=lambda p: -p.priority):
        hw = evaluator.hardware_budgets(v.design)
        broken = [k for k, b in hw.items() if b > 1.0 + 1e-9 and now[k] <= 1.0 + 1e-9]
        if broken:
            over = ", ".join(f"{k} at {hw[k]:.0%} of its limit" for k in broken)
            out.append(f"{moves_text(cur.design, v.design)} would put {over}")
        if len(out) >= most:
            break
    return out


def worth_evaluating(evaluator: Evaluator, cur: DesignEval, design: dict) -> bool:
    """Not evaluated yet, and, once the search is feasible, within the area and
    power limits: both are exact functions of the hardware, so a design that
    breaks them is never worth an evaluation."""
    if evaluator.seen(design):
        return False
    return not (cur.feasible and evaluator.breaks_hardware_limit(design, cur.design))


def random_neighbours(cur: DesignEval, evaluator: Evaluator, rng, n: int) -> list[Proposal]:
    """The reference's fallback: sample designs worth evaluating one or two
    legal steps away in one or two parameters."""
    space, out = evaluator.space, []
    for _ in range(50 * n):
        d = dict(cur.design)
        moved = rng.choice(len(PARAMS), size=rng.integers(1, 3), replace=False)
        for i in moved:
            p = PARAMS[int(i)]
            d[p] = space.step(p, d[p], int(rng.choice([-2, -1, 1, 2])))
        if d != cur.design and worth_evaluating(evaluator, cur, d) and all(d != o.design for o in out):
            # only the parameters that moved (a step past the end of a range leaves one where it was)
            changed = [PARAMS[int(i)] for i in moved if d[PARAMS[int(i)]] != cur.design[PARAMS[int(i)]]]
            txt = ", ".join(f"{q} {fmt(q, cur.design[q])} -> {fmt(q, d[q])}" for q in changed)
            pred = predict_design(cur, d)
            out.append(Proposal(d, f"stalled; sampled neighbour: {txt}", latency_predicted=pred, source="sampled"))
        if len(out) >= n:
            break
    return out


def moved_param(p: Proposal, cur: DesignEval) -> str:
    """The one parameter a proposal moves ('' when it moves several)."""
    changed = [k for k in PARAMS if p.design[k] != cur.design[k]]
    return changed[0] if len(changed) == 1 else ""


def dedupe(ps: list[Proposal]) -> list[Proposal]:
    seen, out = set(), []
    for p in ps:
        k = tuple(p.design[q] for q in PARAMS)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out
