"""The gradient explorer on any hierarchy: hardware and every mapping in one descent.

DOSA-style (Hong et al., MICRO 2023; ``shared/reference/peers.md``), on the
general model (issue 15, section 2: the gradient explorer in the search-quality
table of the presets). The continuous parameters are

- the hardware: the log of every parameter of the ``HierarchySpace`` (each
  level's capacity, each fan-out's X and Y, each finite read bandwidth),
  clipped to the range of its legal values. A capacity's per-access energies
  and area follow ``costmodels.technology``'s laws as in
  ``HierarchySpace.to_hierarchy``, interpolated piecewise-linearly in log-log
  between the legal values (so the relaxed hierarchy equals the exact one at
  every legal design);
- every layer's tiling: per dim, the log factors of the slots (each level's
  temporal loop and its fan-out's X and Y) are ``log(D) * softmax(theta)``
  over the slots the hierarchy has (the gradient mapper's parameterisation,
  ``jaxdse.mapper.gradient``), so the factors cover each dim exactly (``D``
  is the padded bound of the layer's exact mapping at the last restart, so a
  restart reproduces that mapping, padding included). Loop
  orders have no gradient: each layer keeps the orders of its exact mapping
  on the last design that improved.

Each hardware value stays within one doubling of the best design's
(``TRUST_LOG``): the relaxed model is optimistic far from the mappings it
was restarted from. The loss, minimised with Adam on the relaxed model (``costmodels.Relaxed``):

    log(objective over every network, counts weighted)
      + w x (counts-weighted mapping penalty
             + BARRIER_WEIGHT x sum relu(log(budget))**2 over area, peak power
               and each throughput limit)

so the limits act as barriers that are flat inside them (a softplus barrier,
as the template's gradient explorer uses, pushes a design that sits at its
limit, the iso-area start, back with a force larger than the objective's:
tried on tiny_cnn / eyeriss_like, it shrank every buffer and lost 13%). Every ``SNAP_EVERY`` steps the
hardware is snapped to the nearest legal design (log space); one over the
area or power limit is paid for by shrinking buffers (``fit_limits``, the
explainable explorer's rule). When the descent snaps to a design already
evaluated (it has converged within its trust region), the next design is
the best one's most promising single step instead: every parameter one step
up or down, ranked by the relaxed loss's first-order change (its gradient
times the step's log change, with the exact mappings of the best design),
the best unevaluated one predicted to help. The snapped design is mapped
by the exact hierarchy mapper and costed exactly (the budget counts these).
When it improves on the best so far, the descent restarts from it: its
hardware values and the exact mapper's mappings (tiling and orders). The
search stops at the budget or after ``MAX_STALE`` rounds without a better
design, and says which.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from costmodels import Relaxed, stack_layers
from costmodels import hierarchy_model as hm
from costmodels.compile import jit
from costmodels.hierarchy import Hierarchy, default_energy_area
from costmodels.nest_mapping import MAX_LEVELS, NestMapping, nest_mapping_from_dict
from jaxdse.codesign.hierarchy_rules import HierarchyEvaluator, HierEval, fit_limits, hardware_budgets
from jaxdse.codesign.hierarchy_space import HierarchySpace
from jaxdse.mapper.gradient import adam_steps
from jaxdse.mapper.space import log_objective
from workloads import Network

SNAP_EVERY = 25
"""Adam steps between snaps (the template's gradient explorer's setting)."""
LR = 0.08
"""Adam's learning rate, on log hardware values and tiling logits alike."""
ADAM_EPS = 1e-3
"""Adam's epsilon. Adam's step does not shrink with the gradient: with optax's default (1e-8) a
parameter the objective does not depend on (a buffer's bandwidth that bounds no layer) moved at
full speed on rounding noise, e.g. every eyeriss_like scratchpad bandwidth 2 -> 1.1 words/cycle in
25 steps; with 1e-3 gradients well below it move their parameter little."""
TEMPERATURE = 0.05
"""``Relaxed`` temperature of the smooth max, ceil and penalties."""
PENALTY_WEIGHT = 4.0
"""Weight of the mapping penalty and the limit barriers in the loss."""
BARRIER_WEIGHT = 10.0
"""Weight of the limit barriers ``sum relu(log budget)**2`` (zero inside every limit, so a design
at its limit, as the iso-area start is, is not pushed back; 10% over costs 0.09 x weight)."""
TRUST_LOG = math.log(2.0)
"""Trust region: each hardware value stays within this log distance of the best design's (one
step of a power-of-two ladder). Without it the descent exploits the relaxation: on tiny_cnn /
eyeriss_like its first 25 steps predicted 3.5x lower latency (global-buffer bandwidth x5, paid
for by halving its capacity), and the snapped design measured 13% slower."""
MAX_STALE = 12
"""Rounds without a better design (evaluated designs that did not improve, or rounds with no new
design to try) before the search stops (converged)."""
SLOTS = 3
"""Tiling slots per level: the temporal loop and the fan-out's X and Y."""
_MASKED = -1e9
_EPS = 1e-5
"""Smallest slot share of a warm start. The mapper's 1e-3 leaves factors of ~1.003 in every unused
slot, and the nest counts are far from smooth there: on tiny_cnn / eyeriss_like the relaxed latency
of an exact mapping so restarted was 7.9x the exact one (conv2); at 1e-5 it is within 1-3%."""


def _param_tables(space: HierarchySpace) -> dict[str, np.ndarray]:
    """Per parameter: log legal values and the log energy / area ratios of a capacity at each
    (0 for other kinds), padded to the longest ladder by repeating the last entry (``jnp.interp``
    needs increasing x: the padding repeats x, which interp tolerates at the right end)."""
    b = space.base
    n = max(len(p.values) for p in space.params)
    grid = np.zeros((len(space.params), max(n, 2)), np.float64)
    log_e = np.zeros_like(grid)
    log_a = np.zeros_like(grid)
    for i, p in enumerate(space.params):
        vals = list(p.values) if len(p.values) > 1 else [p.values[0], p.values[0] * 2.0]
        vals += [vals[-1]] * (grid.shape[1] - len(vals))
        grid[i] = np.log(vals)
        if p.kind == "capacity":
            old = float(np.asarray(b.capacity_bytes)[p.level])
            bits = float(np.asarray(b.word_bits)[p.level])
            e_old, a_old = default_energy_area(p.level, old, bits)
            for k, v in enumerate(vals):
                e_new, a_new = default_energy_area(p.level, v, bits)
                log_e[i, k] = math.log(e_new / e_old)
                log_a[i, k] = math.log(a_new / a_old) if a_old > 0 else 0.0
    return {"grid": grid.astype(np.float32), "log_e": log_e.astype(np.float32), "log_a": log_a.astype(np.float32)}


def relaxed_hierarchy(h, base: Hierarchy, layout: tuple, tables: dict) -> Hierarchy:
    """The base hierarchy with every space parameter at exp(h[i]) (traceable).

    ``layout`` lists (kind, level) per parameter (static). At a legal design it equals
    ``HierarchySpace.to_hierarchy`` up to float32 rounding.
    """
    cap, fx, fy = base.capacity_bytes, base.fanout_x, base.fanout_y
    rbw, wbw, rpj, wpj, area = base.read_bw_words, base.write_bw_words, base.read_pj, base.write_pj, base.area_um2
    for i, (kind, lv) in enumerate(layout):
        v = jnp.exp(h[i])
        if kind == "capacity":
            e = jnp.exp(jnp.interp(h[i], tables["grid"][i], tables["log_e"][i]))
            a = jnp.exp(jnp.interp(h[i], tables["grid"][i], tables["log_a"][i]))
            cap, rpj, wpj, area = (
                cap.at[lv].set(v),
                rpj.at[lv].multiply(e),
                wpj.at[lv].multiply(e),
                area.at[lv].multiply(a),
            )
        elif kind == "fanout_x":
            fx = fx.at[lv].set(v)
        elif kind == "fanout_y":
            fy = fy.at[lv].set(v)
        else:  # read_bw: the write bandwidth follows in proportion (HierarchySpace.to_hierarchy)
            rbw, wbw = rbw.at[lv].set(v), wbw.at[lv].multiply(v / base.read_bw_words[lv])
    return base.replace(
        capacity_bytes=cap,
        fanout_x=fx,
        fanout_y=fy,
        read_bw_words=rbw,
        write_bw_words=wbw,
        read_pj=rpj,
        write_pj=wpj,
        area_um2=area,
    )


def slot_mask(space: HierarchySpace) -> np.ndarray:
    """f32[MAX_LEVELS * SLOTS]: 1 where a level has that slot (a temporal loop; an X or Y
    fan-out that is, or can become, larger than one instance)."""
    b = space.base
    mask = np.zeros((MAX_LEVELS, SLOTS), np.float32)
    mask[: b.depth, 0] = 1.0
    for s, kind in ((1, "fanout_x"), (2, "fanout_y")):
        own = np.asarray(getattr(b, kind), np.float64)
        for lv in range(b.depth):
            p = space.by_name.get(f"{b.names[lv]}.{kind}")
            mask[lv, s] = float(own[lv] > 1 or (p is not None and max(p.values) > 1))
    return mask.reshape(-1)


def _nest(theta, log_bounds, order, mask) -> NestMapping:
    """Tiling logits f[MAX_LEVELS * SLOTS, 8] -> a relaxed mapping whose factors cover each dim."""
    share = jax.nn.softmax(jnp.where(mask[:, None] > 0, theta, _MASKED), axis=0)
    f = jnp.exp(share * log_bounds[None, :]).reshape(MAX_LEVELS, SLOTS, 8)
    return NestMapping(temporal=f[:, 0], order=order, spatial=f[:, 1:])


def theta_from_mapping(m: NestMapping, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``_nest`` (up to softmax's shift) for one exact mapping: the logits
    f32[MAX_LEVELS * SLOTS, 8] and the log of each dim's (padded) bound f32[8]."""
    f = np.concatenate([np.asarray(m.temporal)[:, None], np.asarray(m.spatial)], axis=1).reshape(-1, 8)
    f = np.maximum(f.astype(np.float64), 1.0)
    total = np.log(f).sum(axis=0)
    share = np.log(f) / np.maximum(total, 1e-9)[None, :]
    theta = np.log(np.maximum(share, _EPS))
    return np.where(mask[:, None] > 0, theta, 0.0).astype(np.float32), total.astype(np.float32)


def joint_loss(p, consts, base: Hierarchy, layout: tuple, objective: str):
    """The joint loss (module docstring) of params ``p`` = {hw: log values f[P], theta: tiling
    logits f[layers, MAX_LEVELS * SLOTS, 8]}; ``consts`` holds the layers, counts, limits,
    orders, bounds and tables (``gradient_walk``)."""
    nums = Relaxed(consts["temperature"])
    h = jnp.clip(p["hw"], consts["lo"], consts["hi"])
    hier = relaxed_hierarchy(h, base, layout, consts["tables"])

    def one(theta, layer, lb, order):
        c = hm.evaluate_hierarchy(hier, layer, _nest(theta, lb, order, consts["mask"]), nums)
        return jnp.stack([c.latency_s, c.energy_total_pj * 1e-12, c.penalty])

    r = jax.vmap(one)(p["theta"], consts["layers"], consts["log_bounds"], consts["orders"])  # [layers, 3]
    w = consts["counts"]
    lat_net = consts["net_of"].T @ (w * r[:, 0])  # seconds per network
    obj = log_objective(objective, jnp.sum(lat_net), jnp.sum(w * r[:, 1]))
    pen = jnp.sum(w * r[:, 2]) / jnp.sum(w)
    area = hm.area_mm2(hier)
    budgets = jnp.concatenate(
        [
            jnp.stack([area / consts["limits"][0], hm.peak_power_w(hier, area) / consts["limits"][1]]),
            jnp.where(consts["min_per_s"] > 0, lat_net * consts["min_per_s"], 1e-30),
        ]
    )
    barrier = jnp.sum(jnp.square(jax.nn.relu(jnp.log(budgets))))
    return obj + consts["weight"] * (pen + BARRIER_WEIGHT * barrier)


def _optimiser(lr: float):
    """Adam with ``eps = ADAM_EPS``."""
    return optax.adam(lr, eps=ADAM_EPS)


@jit(static_argnames=("layout", "objective", "steps", "lr"))
def _descend(params, opt_state, consts, base, layout, objective, steps, lr):
    """``steps`` Adam steps of ``joint_loss``; returns (params, opt_state)."""
    return adam_steps(
        lambda p: joint_loss(p, consts, base, layout, objective), params, opt_state, _optimiser(lr), steps
    )


def _plan_mappings(e: HierEval, networks: list[Network]) -> list[NestMapping] | None:
    """The exact mapper's mapping of every layer of every network on design ``e`` (None if unmapped)."""
    if e.unmappable or not e.plans:
        return None
    return [nest_mapping_from_dict(r["mapping"]) for n in networks for r in e.plans[n.name].layers]


def _snap(space: HierarchySpace, h: np.ndarray) -> dict[str, float]:
    """Nearest legal value of every parameter in log space."""
    return {
        p.name: min(p.values, key=lambda v, x=float(h[i]): (abs(math.log(v) - x), v))
        for i, p in enumerate(space.params)
    }


def _changes(space: HierarchySpace, old: dict, new: dict) -> str:
    moved = [
        f"{p.name} {p.show(old[p.name])} -> {p.show(new[p.name])}" for p in space.params if old[p.name] != new[p.name]
    ]
    return ", ".join(moved) or "no parameter"


def gradient_walk(
    space: HierarchySpace,
    ev: HierarchyEvaluator,
    evaluate: Callable[[dict], HierEval],
    start: HierEval,
    budget: int,
    improves: Callable[[HierEval, HierEval], bool],
    say: Callable[[str], None],
) -> tuple[list[tuple[int, float, str]], str]:
    """Run the joint descent from the evaluated ``start`` until ``budget`` designs are evaluated.

    Returns the accepted steps as (evaluation index, objective, reason), each an
    improvement on the one before, and why the search stopped.
    """
    networks = ev.networks
    layers = [lay for n in networks for lay in n.layers]
    counts = np.array([c for n in networks for c in n.counts], np.float32)
    net_of = np.zeros((len(layers), len(networks)), np.float32)
    row = 0
    for j, n in enumerate(networks):
        net_of[row : row + len(n.layers), j] = 1.0
        row += len(n.layers)
    mask = slot_mask(space)
    tables = _param_tables(space)
    layout = tuple((p.kind, p.level) for p in space.params)
    lo, hi = tables["grid"][:, 0], tables["grid"].max(axis=1)
    consts = {
        "temperature": jnp.float32(TEMPERATURE),
        "weight": jnp.float32(PENALTY_WEIGHT),
        "tables": {k: jnp.asarray(v) for k, v in tables.items()},
        "mask": jnp.asarray(mask),
        "layers": stack_layers(layers),
        "counts": jnp.asarray(counts),
        "net_of": jnp.asarray(net_of),
        "limits": jnp.asarray([ev.limits["area_mm2"], ev.limits["power_w"]], jnp.float32),
        "min_per_s": jnp.asarray([ev.min_per_s.get(n.name, 0.0) for n in networks], jnp.float32),
    }
    base = jax.tree_util.tree_map(jnp.asarray, space.base)

    def restart(e: HierEval):
        """Params at design ``e`` with its exact mappings; the constants those mappings fix
        (loop orders, padded bounds)."""
        maps = _plan_mappings(e, networks)
        if maps is None:  # an unmappable start: the tiling starts uniform, orders as written
            theta = np.zeros((len(layers), MAX_LEVELS * SLOTS, 8), np.float32)
            log_bounds = np.log(np.array([lay.sizes for lay in layers], np.float64)).astype(np.float32)
            orders = np.tile(np.arange(8, dtype=np.int32), (len(layers), MAX_LEVELS, 1))
        else:
            theta, log_bounds = (np.stack(x) for x in zip(*(theta_from_mapping(m, mask) for m in maps)))
            orders = np.stack([np.asarray(m.order, np.int32) for m in maps])
        hw = np.log([e.design[p.name] for p in space.params]).astype(np.float32)
        params = {"hw": jnp.asarray(hw), "theta": jnp.asarray(theta)}
        fixed = {
            **consts,
            "orders": jnp.asarray(orders),
            "log_bounds": jnp.asarray(log_bounds),
            "lo": jnp.asarray(np.maximum(lo, hw - TRUST_LOG)),
            "hi": jnp.asarray(np.minimum(hi, hw + TRUST_LOG)),
        }
        return params, _optimiser(LR).init(params), fixed

    def first_order_steps(e: HierEval, theta, fixed) -> list[tuple[float, dict, str]]:
        """One-step moves of single parameters from ``e`` (tiling logits ``theta`` of its exact
        mappings), ranked by the relaxed loss's first-order change (gradient w.r.t. the log value
        x the step's log change), those predicted to help; a move over area or power is paid for
        by shrinking buffers (``fit_limits``)."""
        p0 = {"hw": jnp.asarray(np.log([e.design[q.name] for q in space.params]), jnp.float32), "theta": theta}
        g = np.asarray(_grad_hw(p0, fixed, base, layout, ev.objective), np.float64)
        out = []
        for i, q in enumerate(space.params):
            for sign in (1, -1):
                nd = space.step(e.design, q.name, sign)
                if nd is None:
                    continue
                gain = g[i] * math.log(nd[q.name] / e.design[q.name])
                if gain >= -1e-6:
                    continue
                why = f"first-order step {q.name} {q.show(e.design[q.name])} -> {q.show(nd[q.name])}"
                why += f" (d loss / d log {q.name} = {g[i]:+.3f}: predicted {math.expm1(gain):+.1%})"
                if max(hardware_budgets(space, nd, ev.limits).values()) > 1.0 + 1e-9:
                    fitted = fit_limits(space, nd, ev.limits, keep=q.name)
                    if fitted is None:
                        continue
                    nd, shrunk = fitted
                    why += f", paid for within the limits by {', '.join(shrunk)}"
                out.append((gain, nd, why))
        return sorted(out, key=lambda x: x[0])

    best = start
    params, opt_state, fixed = restart(best)
    theta_best = params["theta"]
    ranked = None  # first-order steps from the best design, computed when the descent stalls
    steps: list[tuple[int, float, str]] = []
    stale = rounds = 0
    stopped = f"budget of {budget} designs spent"
    while ev.count < budget:
        if stale >= MAX_STALE:
            stopped = f"converged: {MAX_STALE} rounds without a better design"
            break
        rounds += 1
        params, opt_state = _descend(params, opt_state, fixed, base, layout, ev.objective, SNAP_EVERY, LR)
        h = np.clip(np.asarray(params["hw"], np.float64), np.asarray(fixed["lo"]), np.asarray(fixed["hi"]))
        d = _snap(space, h)
        how = f"gradient round {rounds} (step {rounds * SNAP_EVERY}): the joint descent of hardware and "
        how += f"{len(layers)} mappings moved"
        if max(hardware_budgets(space, d, ev.limits).values()) > 1.0 + 1e-9:
            far = max(space.params, key=lambda p: abs(math.log(d[p.name] / best.design[p.name])))
            fitted = fit_limits(space, d, ev.limits, keep=far.name)
            d = None if fitted is None else fitted[0]
            if fitted is not None:
                how += f" (paid for within the limits by {', '.join(fitted[1])})"
        if d is None or space.key(d) in ev.cache:
            # the descent repeats a known design: the best design's first-order steps instead
            if ranked is None:
                ranked = first_order_steps(best, theta_best, fixed)
            fresh = [(gain, nd, why) for gain, nd, why in ranked if space.key(nd) not in ev.cache]
            if not fresh:
                stale += 1
                continue
            _, d, how = fresh[0]
        e = evaluate(d)
        if improves(e, best):
            change = e.objective / best.objective - 1 if math.isfinite(best.objective) else -1.0
            moved = _changes(space, best.design, d)
            reason = f"{how}: {moved}; measured {change:+.1%} {ev.objective}"
            if how.startswith("first-order"):
                reason = f"{how}; measured {change:+.1%} {ev.objective}"
            if not best.feasible:  # climbing towards the limits: say how far it still is
                reason += f", worst budget {max(best.budgets.values()):.3f} -> {max(e.budgets.values()):.3f}"
            steps.append((e.index, e.objective, reason))
            say(f"gradient explorer: {reason}")
            best, stale, ranked = e, 0, None
            params, opt_state, fixed = restart(best)
            theta_best = params["theta"]
        else:
            stale += 1
    return steps, stopped


_grad_hw = jit(
    lambda p, consts, base, layout, objective: jax.grad(joint_loss)(p, consts, base, layout, objective)["hw"],
    static_argnames=("layout", "objective"),
)


__all__ = ["gradient_walk", "relaxed_hierarchy", "slot_mask", "theta_from_mapping"]
