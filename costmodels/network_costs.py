"""Whole-network costs: one compiled evaluation over all unique layers.

Network latency and energy = sum over unique layers of count x layer cost;
throughput = 1 / latency (single-stream inference, Explainable-DSE p. 8).
Area and peak power belong to the design, not the layers.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from costmodels.arch import Arch
from costmodels.compile import jit
from costmodels.mapping import Mapping
from costmodels.model import Costs, LayerArrays, evaluate
from costmodels.numerics import EXACT


@struct.dataclass(frozen=True)
class NetworkCosts:
    """Per-layer costs (leading axis = unique layer) and network totals.

    Attributes:
        layers: ``Costs`` with a leading axis over unique layers.
        counts: f32[L] repeat count of each unique layer.
        latency_s, latency_cycles, energy_pj, macs: count-weighted sums.
        area_mm2, peak_power_w: of the design.
        throughput_per_s: inferences per second, 1 / latency_s.
        legal: 1.0 when every layer's mapping is legal.
        penalty: count-weighted sum of the layers' violation penalties.
    """

    layers: Costs
    counts: Any
    latency_s: Any
    latency_cycles: Any
    energy_pj: Any
    macs: Any
    area_mm2: Any
    peak_power_w: Any
    throughput_per_s: Any
    legal: Any
    penalty: Any


def network_totals(per: Costs, counts: Any, xp: Any = jnp) -> NetworkCosts:
    """Network totals of per-layer costs (leading axis = unique layer).

    ``xp`` is ``jax.numpy`` inside traced code and ``numpy`` on the host
    (``jaxdse.plan`` totals chunks of layers there, so no program depends on
    the network's layer count)."""
    counts = xp.asarray(counts, xp.float32)
    lat_s = xp.sum(counts * per.latency_s)
    return NetworkCosts(
        layers=per,
        counts=counts,
        latency_s=lat_s,
        latency_cycles=xp.sum(counts * per.latency_cycles),
        energy_pj=xp.sum(counts * per.energy_total_pj),
        macs=xp.sum(counts * per.macs),
        area_mm2=per.area_total_mm2[0],
        peak_power_w=per.peak_power_w[0],
        throughput_per_s=1.0 / lat_s,
        legal=xp.min(per.legal),
        penalty=xp.sum(counts * per.penalty),
    )


def evaluate_network(arch: Arch, layers: LayerArrays, mappings: Mapping, counts: Any, nums=EXACT) -> NetworkCosts:
    """Evaluate every unique layer (vmapped) and total them.

    Args:
        arch: One design.
        layers: ``stack_layers(network.layers)`` (leading axis L).
        mappings: one mapping per layer, leading axis L.
        counts: f32[L] repeat counts.
        nums: numerics.
    """
    return network_totals(jax.vmap(evaluate, in_axes=(None, 0, 0, None))(arch, layers, mappings, nums), counts)


evaluate_network_jit = jit(evaluate_network)


@jit
def evaluate_layers_jit(arch: Arch, layers: LayerArrays, mappings: Mapping) -> Costs:
    """Exact costs of layers [L] under their mappings [L] (no totals)."""
    return jax.vmap(evaluate, in_axes=(None, 0, 0, None))(arch, layers, mappings, EXACT)
