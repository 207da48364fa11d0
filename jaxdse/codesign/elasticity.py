"""What-if answers from the relaxed model: elasticities of cost to hardware.

``elasticities(plan)`` returns ``d log(cost) / d log(parameter)`` at the
current design with the mappings held fixed, for latency, energy, area and
peak power, per design-space parameter. An elasticity of -0.6 for
``dram_mb_per_s`` means "1% more bandwidth buys 0.6% less latency" — the
explorer uses it to rank parameters, to size moves that have no
hand-written rule, and to pick what to shrink when area or power is over
budget. Gradients are taken through the same cost model the exact numbers
come from (relaxed numerics, ``costmodels.numerics``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from costmodels import Arch, Relaxed, evaluate_network, stack_layers
from costmodels.compile import jit
from jaxdse.codesign.space import NOC_KEYS
from jaxdse.heuristic import default_mapping
from jaxdse.plan import Plan, stack_mappings
from workloads import Network

_SCALARS = ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s")


@jit(static_argnames=())
def _grads(arch, layers, mappings, counts, temperature):
    logs = {f: jnp.log(getattr(arch, f)) for f in _SCALARS + ("noc_width_bits", "noc_links", "noc_virtual")}

    def costs(lg):
        a = arch.replace(**{k: jnp.exp(v) for k, v in lg.items()})
        nc = evaluate_network(a, layers, mappings, counts, Relaxed(temperature))
        return jnp.stack([jnp.log(nc.latency_s), jnp.log(nc.energy_pj), jnp.log(nc.area_mm2), jnp.log(nc.peak_power_w)])

    return jax.jacrev(costs)(logs)


def _jacobian(arch: Arch, network: Network, mappings: list, temperature: float, lower: bool = False):
    """The Jacobian (``lower``: ``_grads`` lowered with these arguments, not run)."""
    return (_grads.lower if lower else _grads)(
        arch,
        stack_layers(list(network.layers)),
        stack_mappings(mappings),
        jnp.asarray(network.counts, jnp.float32),
        jnp.float32(temperature),
    )


def lower_elasticities(networks: list[Network], arch: Arch, temperature: float = 0.05) -> list:
    """``elasticities`` of these networks lowered (traced), to be compiled
    (``compile_in_background``): the same shapes as a mapped plan's, with the
    default mappings."""
    return [_jacobian(arch, net, [default_mapping(layer, arch) for layer in net.layers], temperature, lower=True)
            for net in networks]  # fmt: skip


def elasticities(plan: Plan, temperature: float = 0.05) -> dict[str, dict[str, float]]:
    """``{cost: {parameter: d log cost / d log parameter}}`` for cost in
    latency, energy, area, power; parameters named as in the design space
    (the shared NoC width sums the four NoCs' elasticities)."""
    jac = _jacobian(plan.arch, plan.network, list(plan.mappings), temperature)
    out: dict[str, dict[str, float]] = {}
    for ci, cost in enumerate(("latency", "energy", "area", "power")):
        e = {p: float(np.asarray(jac[p])[ci]) for p in _SCALARS}
        e["noc_width_bits"] = float(np.sum(np.asarray(jac["noc_width_bits"])[ci]))
        for i, k in enumerate(NOC_KEYS):
            e[f"links_{k}"] = float(np.asarray(jac["noc_links"])[ci][i])
            e[f"virtual_{k}"] = float(np.asarray(jac["noc_virtual"])[ci][i])
        out[cost] = {k: (v if np.isfinite(v) else 0.0) for k, v in e.items()}
    return out


def combine(per_network: list[dict[str, dict[str, float]]], weights: list[float]) -> dict[str, dict[str, float]]:
    """Weighted mean of several networks' elasticities (weights: latency shares)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / max(w.sum(), 1e-30)
    out: dict[str, dict[str, float]] = {}
    for cost in per_network[0]:
        out[cost] = {p: float(sum(wi * e[cost][p] for wi, e in zip(w, per_network))) for p in per_network[0][cost]}
    return out
