"""The gradient explorer: hardware and all mappings optimised in one loop.

DOSA-style (Hong et al., MICRO 2023; ``shared/reference/peers.md``): the
continuous hardware parameters (log PEs, L1, L2, bandwidth, NoC width,
links and virtual unicast per NoC, clipped to the space's range) and every
layer's tiling logits (the mapper's parameterisation, ``jaxdse.mapper.gradient``)
are optimised together with Adam on the relaxed model:

    loss = log(sum_layers count x latency)            (or energy / EDP)
         + w x sum_layers count x mapping penalty / layers
         + w x softplus(log(area / limit) / t) x t     (same for peak power)

so area and power act as smooth barriers. Loop orders are chosen per layer
as the minimum over the 9 template pairs. Every ``snap_every`` steps the
hardware is snapped to the nearest legal design (log space) and evaluated
exactly through the shared ``Evaluator`` (mapper in the loop, exact costs,
budgets), which is what the trace and the budget count; once a design
meets the area and power limits, snaps that break them are skipped
unevaluated (both are exact functions of the hardware,
``Evaluator.hardware_budgets``). The run can seed
the explainable explorer with its best design (``seed_explainable``).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from costmodels import Relaxed, evaluate, stack_layers
from costmodels.compile import jit
from jaxdse.codesign.evaluator import Evaluator
from jaxdse.codesign.result import Result, Trace
from jaxdse.codesign.space import NOC_KEYS, PARAMS, describe
from jaxdse.compile_cache import compile_in_background
from jaxdse.mapper.gradient import _factors, _mapping, adam_steps
from jaxdse.mapper.space import ALL_ORDERS, log_objective

_HW = ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s", "noc_width_bits")


def _arch_from(hw, base):
    """Relaxed hardware: hw = log values {num_pes, l1_bytes, l2_kib, dram, width, links[4], virtual[4]}."""
    e = {k: jnp.exp(v) for k, v in hw.items()}
    return base.replace(
        num_pes=e["num_pes"],
        l1_bytes=e["l1_bytes"],
        l2_kib=e["l2_kib"],
        dram_mb_per_s=e["dram_mb_per_s"],
        noc_width_bits=jnp.broadcast_to(e["noc_width_bits"], (4,)),
        noc_links=jnp.maximum(1.0, e["num_pes"] * e["links"] / 64.0),  # space.links without its floor (smooth)
        noc_virtual=e["virtual"],
    )


@jit(static_argnames=("objective", "steps", "lr"))
def _run(
    params, opt_state, lo, hi, base, layers, log_bounds, counts, limits, objective, steps, lr, temperature, weight
):
    opt = optax.adam(lr)
    orders = jnp.asarray(ALL_ORDERS)
    nums = Relaxed(temperature)

    def loss(p):
        hw = jax.tree_util.tree_map(lambda v, a, b: jnp.clip(v, a, b), p["hw"], lo, hi)
        arch = _arch_from(hw, base)

        def layer_cost(theta, layer, lb):
            f = _factors(theta, lb)

            def one(order):
                c = evaluate(arch, layer, _mapping(f, order), nums)
                return jnp.stack([c.latency_s, c.energy_total_pj, c.penalty, c.area_total_mm2, c.peak_power_w])

            r = jax.vmap(one)(orders)
            key = r[:, 0] if objective != "energy" else r[:, 1]
            best = jnp.argmin(key + r[:, 0] * 1e3 * r[:, 2])  # prefer legal orders
            return r[best]

        r = jax.vmap(layer_cost)(p["theta"], layers, log_bounds)  # [L, 5]
        lat = jnp.sum(counts * r[:, 0])
        en = jnp.sum(counts * r[:, 1])
        obj = log_objective(objective, lat, en)
        pen = jnp.sum(counts * r[:, 2]) / jnp.sum(counts)
        t = 0.05
        barrier = t * jax.nn.softplus(jnp.log(r[0, 3] / limits[0]) / t) + t * jax.nn.softplus(
            jnp.log(r[0, 4] / limits[1]) / t
        )
        return obj + weight * (pen + 10.0 * barrier)

    return adam_steps(loss, params, opt_state, opt, steps)


def _snap(hw: dict, space) -> dict:
    """Nearest legal design in log space."""
    d = {}
    for k in _HW:
        vals = np.asarray(space.values[k], dtype=np.float64)
        d[k] = float(vals[np.argmin(np.abs(np.log(vals) - float(hw[k])))])
    for i, nk in enumerate(NOC_KEYS):
        for name, key in (("links", f"links_{nk}"), ("virtual", f"virtual_{nk}")):
            vals = np.asarray(space.values[key], dtype=np.float64)
            d[key] = float(vals[np.argmin(np.abs(np.log(vals) - float(np.asarray(hw[name])[i])))])
    return d


def gradient_explorer(
    evaluator: Evaluator,
    budget: int,
    trace: Trace,
    progress=None,
    start=None,
    snap_every: int = 25,
    lr: float = 0.08,
    temperature: float = 0.05,
    penalty_weight: float = 4.0,
    max_stale: int = 16,
    burn_in_steps: int = 0,
) -> Result:
    """Run the joint gradient loop until ``budget`` designs were evaluated, or
    ``max_stale`` snapping rounds passed without a better feasible design.

    ``burn_in_steps`` Adam steps run before the first snap is evaluated:
    early snaps of a relaxed point still far from converged are rarely
    useful, and each costs an evaluated design (mapper in the loop).
    """
    from jaxdse.codesign.acceptance import explorer_result as _result

    t0 = time.perf_counter()
    space = evaluator.space
    rng = np.random.default_rng(evaluator.seed)
    layers, counts = [], []
    for net in evaluator.networks:
        layers += list(net.layers)
        counts += list(net.counts)
    la = stack_layers(layers)
    log_bounds = jnp.asarray(np.log(np.array([lay.sizes for lay in layers], dtype=np.float64)), jnp.float32)
    start = start or space.default_design()
    hw = {k: jnp.float32(np.log(start[k])) for k in _HW}
    hw["links"] = jnp.asarray([np.log(start[f"links_{k}"]) for k in NOC_KEYS], jnp.float32)
    hw["virtual"] = jnp.asarray([np.log(start[f"virtual_{k}"]) for k in NOC_KEYS], jnp.float32)
    lo = {k: jnp.float32(np.log(min(space.values[k]))) for k in _HW}
    hi = {k: jnp.float32(np.log(max(space.values[k]))) for k in _HW}
    for name in ("links", "virtual"):
        lo[name] = jnp.asarray([np.log(min(space.values[f"{name}_{k}"])) for k in NOC_KEYS], jnp.float32)
        hi[name] = jnp.asarray([np.log(max(space.values[f"{name}_{k}"])) for k in NOC_KEYS], jnp.float32)
    params = {"hw": hw, "theta": jnp.asarray(rng.normal(0, 0.5, size=(len(layers), 4, 8)), jnp.float32)}
    opt_state = optax.adam(lr).init(params)
    cons = evaluator.constraints
    limits = jnp.asarray([cons.area_mm2 or 1e9, cons.power_w or 1e9], jnp.float32)
    from jaxdse.codesign.space import to_arch

    base = to_arch(start, space.fixed)
    counts = jnp.asarray(counts, jnp.float32)
    hyper = (evaluator.objective, snap_every, lr, jnp.float32(temperature), jnp.float32(penalty_weight))
    # compile the loop while the mapper compiles and maps the start design
    args = (params, opt_state, lo, hi, base, la, log_bounds, counts, limits, *hyper)
    compiling = compile_in_background(_run.lower(*args))
    try:
        cur = evaluator.evaluate(start)
    finally:
        compiling.join()  # no thread left compiling when the caller exits (an error included)
    trace.add(0, cur, True, f"initial design: {describe(cur.design)}")
    best = cur if cur.feasible else None
    step, stale, repeats = 0, 0, 0
    while evaluator.count < budget and stale < max_stale:
        step += 1
        params, opt_state = _run(params, opt_state, lo, hi, base, la, log_bounds, counts, limits, *hyper)
        if step * snap_every < burn_in_steps:
            continue
        d = _snap({k: np.asarray(v) for k, v in params["hw"].items()}, space)
        if evaluator.seen(d):
            # the relaxed point still rounds to a known design: keep descending
            # without spending an evaluation; after a few repeats, try an
            # unseen rounding neighbour instead
            repeats += 1
            stale += 1
            if repeats < 4:
                continue
            p = PARAMS[int(rng.integers(len(PARAMS)))]
            d = dict(d)
            d[p] = space.step(p, d[p], int(rng.choice([-1, 1])))
            if evaluator.seen(d):
                continue
        if best is not None and evaluator.breaks_hardware_limit(d, best.design):
            # area and power are exact functions of the hardware: a design
            # over their limits is not worth an evaluation once one meets them
            stale += 1
            continue
        repeats = 0
        ev = evaluator.evaluate(d)
        improved = ev.feasible and (best is None or ev.objective < best.objective)
        stale = 0 if improved else stale + 1
        if improved:
            best = ev
        trace.add(step, ev, improved, f"gradient step {step * snap_every}: snapped relaxed hardware to {describe(d)}")
        if progress is not None:
            progress(evaluator.progress_line(ev, budget, "gradient explorer"))
    return _result("gradient", evaluator, trace, time.perf_counter() - t0)
