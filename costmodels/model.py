"""The cost model, written once: access counts -> latency, energy, area.

``evaluate(arch, layer, mapping, nums)`` is a pure function of pytrees, so it
jits, vmaps over designs, layers or mappings, and differentiates (with
``nums = Relaxed(T)``). Each sub-step is its own function:

* ``traffic``: words moved per level and operand (``costmodels.access``).
* ``latency``: per-layer latency = max(T_compute, T_noc[4], T_dma), the
  bottleneck model of Explainable-DSE (Dave et al., ASPLOS 2023, pp. 5-8):
  - T_compute = temporal iterations (one MAC per PE per cycle);
  - T_noc[n] = requests x ceil(workgroups / links) x ceil(bytes per
    request / width bytes) (slide "NoC time", Fig. 8); NoCs run in parallel;
  - T_dma = sum over streams of bytes / (bytes per cycle) + bursts x setup
    cycles (DMA transfers are serial; dMazeRunner's DMA model).
  Double buffering of L2 lets transfers overlap compute, hence the max.
* ``energy``: accesses x per-access energies (``costmodels.technology``),
  plus leakage power x latency.
* ``area`` and ``peak_power``: component figures; peak power is Accelergy's
  "every component active in the same cycle" plus leakage.

Buffer assumption: L2 is double-buffered (holds two copies of every
operand's tile), L1 is not (it holds one tile of each operand). The
capacity check uses exactly these footprints.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from costmodels import technology as tech
from costmodels.arch import Arch
from costmodels.compile import jit
from costmodels.hierarchy_model import Streams, dma_cycles, dma_streams, noc_cycles, noc_streams
from costmodels.mapping import Mapping
from costmodels.nest import nest_counts
from costmodels.nest_mapping import MAX_LEVELS, NestMapping
from costmodels.numerics import EXACT
from workloads import Layer

TERMS: tuple[str, ...] = ("compute", "noc_inputs", "noc_weights", "noc_psum_reads", "noc_output_writes", "dma")
"""Latency terms in the order of ``Costs.terms_cycles``."""

STREAMS: tuple[str, ...] = ("inputs", "weights", "psum_reads", "output_writes")
"""DMA / NoC streams; the same order as ``costmodels.NOCS``."""

ENERGY_COMPONENTS: tuple[str, ...] = ("mac", "l1", "noc", "l2", "dram", "leakage")
AREA_COMPONENTS: tuple[str, ...] = ("mac", "l1", "l2", "noc", "dma")

L2_BUFFERS = 2.0
"""L2 holds two copies of each tile (double buffering)."""
L1_BUFFERS = 1.0
"""L1 holds one copy of each tile."""


@struct.dataclass(frozen=True)
class LayerArrays:
    """The dynamic (array) form of a ``workloads.Layer``.

    Attributes:
        sizes: f32[8] loop bounds in ``DIMS`` order.
        stride, dilation: f32[2].
        word_bytes: f32[3] bytes per element of (inputs, weights, outputs).
        macs: f32 multiply-accumulates (unpadded).
    """

    sizes: Any
    stride: Any
    dilation: Any
    word_bytes: Any
    macs: Any


def layer_arrays(layer: Layer) -> LayerArrays:
    """Array form of a layer; all layers share one shape, so one compile."""
    return LayerArrays(
        sizes=jnp.asarray(layer.sizes, jnp.float32),
        stride=jnp.asarray(layer.stride, jnp.float32),
        dilation=jnp.asarray(layer.dilation, jnp.float32),
        word_bytes=jnp.asarray(layer.bits, jnp.float32) / 8.0,
        macs=jnp.float32(layer.macs),
    )


def stack_layers(layers: list[Layer]) -> LayerArrays:
    """A batch of layers with a leading axis (for vmap)."""
    # built in NumPy and transferred once: eager jnp.stack would compile one
    # concatenation per batch size (layer_arrays' values, bit for bit)
    return LayerArrays(
        sizes=jnp.asarray(np.array([layer.sizes for layer in layers], np.float32)),
        stride=jnp.asarray(np.array([layer.stride for layer in layers], np.float32)),
        dilation=jnp.asarray(np.array([layer.dilation for layer in layers], np.float32)),
        word_bytes=jnp.asarray(np.array([layer.bits for layer in layers], np.float32) / np.float32(8.0)),
        macs=jnp.asarray(np.array([layer.macs for layer in layers], np.float32)),
    )


@struct.dataclass(frozen=True)
class Traffic:
    """Words moved, per operand (``OPERANDS``) or stream (``STREAMS``).

    Attributes:
        padded_macs: MACs executed including padding.
        compute_cycles: temporal iterations of the PE array.
        active_pes: PEs used (product of spatial factors).
        workgroups: f32[4] distinct-data PE groups per NoC stream.
        dram_reads_words: f32[3] DRAM -> L2 (outputs: partial-sum reloads).
        dram_writes_words: f32[3] L2 -> DRAM (outputs only).
        dram_requests: f32[4] DMA bursts per stream.
        l2_fills_words, l2_reads_words, l2_updates_words: f32[3], Timeloop's
            meaning (output reads = updates - first writes).
        l2_drain_reads_words: f32[3] outputs L2 sends to DRAM (not counted
            by Timeloop as reads; counted in energy).
        l1_fills_words, l1_reads_words, l1_updates_words: f32[3] (all PEs).
        l1_drain_reads_words: f32[3] outputs the PEs send up to L2.
        noc_words: f32[4] words sent on each NoC (one per workgroup).
        noc_deliveries_words: f32[4] words received by PEs (broadcast fan-out).
        noc_requests: f32[4] tile (or delta) transfers per workgroup.
        noc_bytes_per_request: f32[4].
        l1_tile_bytes: f32[3] one PE's tile of each operand.
        l2_tile_bytes: f32[3] the L2 tile of each operand (one copy).
        dram_bytes: f32[4] bytes moved off-chip per stream.
    """

    padded_macs: Any
    compute_cycles: Any
    active_pes: Any
    workgroups: Any
    dram_reads_words: Any
    dram_writes_words: Any
    dram_requests: Any
    l2_fills_words: Any
    l2_reads_words: Any
    l2_updates_words: Any
    l2_drain_reads_words: Any
    l1_fills_words: Any
    l1_reads_words: Any
    l1_updates_words: Any
    l1_drain_reads_words: Any
    noc_words: Any
    noc_deliveries_words: Any
    noc_requests: Any
    noc_bytes_per_request: Any
    l1_tile_bytes: Any
    l2_tile_bytes: Any
    dram_bytes: Any


def nest_mapping_of(mapping: Mapping) -> NestMapping:
    """The template mapping as a general one: DRAM, L2 (fan-out to the PEs on X), L1.

    With ``hierarchy_from_arch`` it evaluates the template on the general model
    (``evaluate_hierarchy``), which gives the template's costs and legality
    (``tests/costmodels/test_timeloop_counts.py``).
    """
    pad = MAX_LEVELS - 3
    t = mapping.temporal
    ones = jnp.ones((pad,) + t.shape[1:], t.dtype)
    temporal = jnp.concatenate([t, ones], axis=0)
    order = jnp.concatenate(
        [mapping.order, jnp.broadcast_to(jnp.arange(t.shape[-1], dtype=mapping.order.dtype), (pad, t.shape[-1]))],
        axis=0,
    )
    spatial = jnp.ones((MAX_LEVELS, 2, t.shape[-1]), t.dtype).at[1, 0].set(mapping.spatial)
    return NestMapping(temporal=temporal, order=order, spatial=spatial)


def traffic(layer: LayerArrays, mapping: Mapping, nums=EXACT) -> Traffic:
    """Access counts of one layer under one mapping (Timeloop v3.0.3 semantics, ``costmodels.nest``).

    The template is the three-level hierarchy of ``hierarchy_from_arch``
    (whose counts do not depend on the design's sizes); the NoC and DMA
    streams are ``costmodels.hierarchy_model``'s.
    """
    # The three levels as they are (no padding: the counts are shape-generic in the level axis).
    dt = mapping.temporal.dtype
    keep = jnp.ones((3, 3), dt)
    spatial = jnp.ones((3, 2) + mapping.spatial.shape[-1:], dt).at[1, 0].set(mapping.spatial)
    c = nest_counts(keep, mapping.temporal, mapping.order, spatial, layer.sizes, layer.stride, layer.dilation, nums)
    wb = layer.word_bytes
    noc = noc_streams(c, 1, wb)
    dma = dma_streams(c, wb)
    zero = jnp.zeros((), dt)
    return Traffic(
        padded_macs=c.padded_macs,
        compute_cycles=c.mac_iterations,
        active_pes=c.active_macs,
        workgroups=noc.workgroups,
        dram_reads_words=c.reads[0],
        dram_writes_words=jnp.stack([zero, zero, c.updates[0, 2]]),
        dram_requests=dma.requests,
        l2_fills_words=c.fills[1],
        l2_reads_words=c.reads[1],
        l2_updates_words=c.updates[1],
        l2_drain_reads_words=c.drain_reads[1],
        l1_fills_words=c.fills[2],
        l1_reads_words=c.reads[2],
        l1_updates_words=c.updates[2],
        l1_drain_reads_words=c.drain_reads[2],
        noc_words=noc.words * noc.workgroups,
        noc_deliveries_words=noc.words * c.instances[2],
        noc_requests=noc.requests,
        noc_bytes_per_request=noc.bytes_per_request,
        l1_tile_bytes=c.tile_elems[2] * wb,
        l2_tile_bytes=c.tile_elems[1] * wb,
        dram_bytes=dma.words * dma.word_bytes,
    )


@struct.dataclass(frozen=True)
class Costs:
    """The whole cost breakdown of one layer (or a batch, with leading axes).

    Latency terms are in cycles, ``TERMS`` order in ``terms_cycles``.
    Violations are >= 0, zero when legal (relaxed: smooth penalties).

    Attributes:
        macs: real MACs of the layer.
        traffic: the ``Traffic`` access counts.
        compute_cycles, noc_cycles (f32[4], ``STREAMS``), dma_cycles.
        noc_rounds: f32[4] ceil(workgroups / links), time-sharing rounds.
        noc_beats: f32[4] ceil(bytes per request / width bytes).
        dma_transfer_cycles, dma_setup_cycles: f32[4] per stream.
        terms_cycles: f32[6] compute, 4 NoCs, DMA.
        latency_cycles, latency_s.
        energy_pj: f32[6] by ``ENERGY_COMPONENTS``; energy_total_pj.
        area_mm2: f32[5] by ``AREA_COMPONENTS``; area_total_mm2.
        peak_power_w: Accelergy-style peak power including leakage.
        pe_utilisation: MACs / (latency_cycles x PEs).
        spatial_utilisation: active PEs / PEs.
        l1_excess_bytes, l2_excess_bytes, pe_excess: capacity violations.
        noc_excess: f32[4] workgroups beyond links x virtual unicast.
        coverage_deficit: f32[8] loop bound minus product of factors.
        penalty: sum of violations relative to their limits (0 when legal).
        legal: 1.0 when every violation is zero (exact numerics).
    """

    macs: Any
    traffic: Traffic
    compute_cycles: Any
    noc_cycles: Any
    noc_rounds: Any
    noc_beats: Any
    dma_cycles: Any
    dma_transfer_cycles: Any
    dma_setup_cycles: Any
    terms_cycles: Any
    latency_cycles: Any
    latency_s: Any
    energy_pj: Any
    energy_total_pj: Any
    area_mm2: Any
    area_total_mm2: Any
    peak_power_w: Any
    pe_utilisation: Any
    spatial_utilisation: Any
    l1_excess_bytes: Any
    l2_excess_bytes: Any
    pe_excess: Any
    noc_excess: Any
    coverage_deficit: Any
    penalty: Any
    legal: Any


def latency(arch: Arch, tr: Traffic, nums=EXACT) -> dict[str, Any]:
    """Latency terms (cycles) from access counts; the NoC and DMA models of ``costmodels.hierarchy_model``."""
    ones = jnp.ones(4, jnp.float32)
    # Streams in bytes (word_bytes = 1): the NoC's per-request bytes, the DMA's bytes.
    noc_st = Streams(tr.noc_bytes_per_request * tr.noc_requests, tr.noc_requests, tr.workgroups, ones)
    noc = noc_cycles(arch.noc_width_bits, arch.noc_links, noc_st, nums)
    dma = dma_cycles(
        arch.dram_bytes_per_cycle, arch.dma_setup_cycles, Streams(tr.dram_bytes, tr.dram_requests, ones, ones)
    )
    terms = jnp.concatenate([tr.compute_cycles[None], noc["noc_cycles"], dma["dma_cycles"][None]])
    lat = nums.smax(terms)
    return dict(
        **noc,
        **dma,
        terms_cycles=terms,
        latency_cycles=lat,
        latency_s=lat / (arch.freq_mhz * 1e6),
    )


def area(arch: Arch) -> Any:
    """Area by component (mm^2, ``AREA_COMPONENTS`` order); technology.py cites each figure."""
    return jnp.stack(
        [
            arch.num_pes * tech.mac_area_um2() * 1e-6,
            arch.num_pes * tech.rf_area_um2(arch.l1_bytes) * 1e-6,
            tech.sram_area_mm2(arch.l2_kib),
            jnp.sum(tech.noc_area_mm2(arch.noc_width_bits, arch.noc_links, arch.num_pes)),
            jnp.asarray(tech.dma_area_mm2(), jnp.float32),
        ]
    )


def access_energies_pj(arch: Arch) -> dict[str, Any]:
    """Per-access energies (pJ) for 16-bit words at this design's sizes."""
    return dict(
        mac=tech.mac_energy_pj(),
        l1=tech.rf_energy_pj_per_access(arch.l1_bytes),
        l2=tech.sram_energy_pj_per_access(arch.l2_kib),
        noc_bit=tech.noc_energy_pj_per_bit(arch.num_pes),
        dram_byte=tech.dram_energy_pj_per_byte(),
    )


def energy(arch: Arch, layer: LayerArrays, tr: Traffic, latency_s: Any, area_total_mm2: Any) -> Any:
    """Energy by component (pJ, ``ENERGY_COMPONENTS`` order).

    Accesses are counted in words; a word of b bits costs b/16 of the 16-bit
    access energy (energy per bit held constant within a structure).
    """
    e = access_energies_pj(arch)
    scale3 = layer.word_bytes / 2.0
    scale4 = jnp.concatenate([scale3, scale3[2:]])
    l1_words = jnp.sum((tr.l1_fills_words + tr.l1_reads_words + tr.l1_updates_words + tr.l1_drain_reads_words) * scale3)
    l2_words = jnp.sum((tr.l2_fills_words + tr.l2_reads_words + tr.l2_updates_words + tr.l2_drain_reads_words) * scale3)
    noc_bits = jnp.sum(tr.noc_deliveries_words * scale4) * 16.0
    leakage_w = tech.leakage_w_per_mm2() * area_total_mm2
    return jnp.stack(
        [
            tr.padded_macs * e["mac"],
            l1_words * e["l1"],
            noc_bits * e["noc_bit"],
            l2_words * e["l2"],
            jnp.sum(tr.dram_bytes) * e["dram_byte"],
            leakage_w * latency_s * 1e12,
        ]
    )


def peak_power_w(arch: Arch, area_total_mm2: Any) -> Any:
    """Peak power: every component at full rate in one cycle, plus leakage.

    Per cycle: each PE does one MAC and four L1 accesses (two operand reads,
    a partial-sum read and write); every NoC link moves its width in bits;
    L2 serves the NoCs' combined width; DRAM moves its bytes per cycle.
    (Accelergy's max-power definition, as Explainable-DSE used it, p. 9.)
    """
    e = access_energies_pj(arch)
    noc_bits_per_cycle = jnp.sum(arch.noc_width_bits * arch.noc_links)
    pj_per_cycle = (
        arch.num_pes * (e["mac"] + 4.0 * e["l1"])
        + noc_bits_per_cycle * e["noc_bit"]
        + noc_bits_per_cycle / 16.0 * e["l2"]
        + arch.dram_bytes_per_cycle * e["dram_byte"]
    )
    return pj_per_cycle * 1e-12 * arch.freq_mhz * 1e6 + tech.leakage_w_per_mm2() * area_total_mm2


def violations(arch: Arch, layer: LayerArrays, mapping: Mapping, tr: Traffic, nums=EXACT) -> dict[str, Any]:
    """Named legality violations (>= 0; 0 when legal)."""
    l1_need = L1_BUFFERS * jnp.sum(tr.l1_tile_bytes)
    l2_need = L2_BUFFERS * jnp.sum(tr.l2_tile_bytes)
    covered = jnp.prod(mapping.temporal, axis=0) * mapping.spatial
    out = dict(
        l1_excess_bytes=nums.excess(l1_need - arch.l1_bytes, arch.l1_bytes),
        l2_excess_bytes=nums.excess(l2_need - arch.l2_bytes, arch.l2_bytes),
        pe_excess=nums.excess(tr.active_pes - arch.num_pes, arch.num_pes),
        noc_excess=nums.excess(tr.workgroups - arch.noc_links * arch.noc_virtual, arch.noc_links * arch.noc_virtual),
        coverage_deficit=nums.excess(layer.sizes - covered, layer.sizes),
    )
    penalty = (
        out["l1_excess_bytes"] / arch.l1_bytes
        + out["l2_excess_bytes"] / arch.l2_bytes
        + out["pe_excess"] / arch.num_pes
        + jnp.sum(out["noc_excess"] / (arch.noc_links * arch.noc_virtual))
        + jnp.sum(out["coverage_deficit"] / layer.sizes)
    )
    out["penalty"] = penalty
    out["legal"] = (penalty <= 0.0).astype(jnp.float32)
    return out


def evaluate(arch: Arch, layer: LayerArrays, mapping: Mapping, nums=EXACT) -> Costs:
    """Every cost of one layer under one mapping on one design.

    Args:
        arch: Design parameters (``costmodels.Arch``).
        layer: ``layer_arrays(layer)``.
        mapping: ``costmodels.Mapping`` (integer factors for ``EXACT``; any
            factors >= 1 for ``Relaxed``).
        nums: ``EXACT`` (default) or ``Relaxed(temperature)``.

    Returns:
        ``Costs`` with the whole breakdown.
    """
    tr = traffic(layer, mapping, nums)
    lat = latency(arch, tr, nums)
    area_mm2 = area(arch)
    area_total = jnp.sum(area_mm2)
    energy_pj = energy(arch, layer, tr, lat["latency_s"], area_total)
    return Costs(
        macs=layer.macs,
        traffic=tr,
        compute_cycles=tr.compute_cycles,
        **lat,
        energy_pj=energy_pj,
        energy_total_pj=jnp.sum(energy_pj),
        area_mm2=area_mm2,
        area_total_mm2=area_total,
        peak_power_w=peak_power_w(arch, area_total),
        pe_utilisation=layer.macs / (lat["latency_cycles"] * arch.num_pes),
        spatial_utilisation=tr.active_pes / arch.num_pes,
        **violations(arch, layer, mapping, tr, nums),
    )


evaluate_jit = jit(evaluate, static_argnames=())
"""``evaluate`` compiled (numerics are a pytree argument)."""


BATCH_CHUNK = 1024
"""Mappings evaluated per vectorised step in ``evaluate_batch``: chunks this
size keep the intermediates in cache. Measured on the 2-core development
machine (``costmodels.jit``, batch 32,768, best of 5): chunks of 1,024 and
2,048 against 4,096 gave 1.31-1.44M against 1.29M template evaluations/s,
0.44-0.49M against 0.35-0.39M on ``eyeriss_like`` and 0.19M against
0.15-0.18M relaxed value+gradient/s; a 1e6-wide vmap is ~1.5x slower."""


def map_chunked(one, items, chunk: int = BATCH_CHUNK):
    """``one`` over the leading axis of ``items``: one vmap when the batch fits a chunk,
    else ``jax.lax.map`` over chunks of ``chunk`` items."""
    n = jax.tree_util.tree_leaves(items)[0].shape[0]
    return jax.vmap(one)(items) if n <= chunk else jax.lax.map(one, items, batch_size=chunk)


def evaluate_batch(arch: Arch, layer: LayerArrays, mappings: Mapping, nums=EXACT, chunk: int = BATCH_CHUNK) -> Costs:
    """``evaluate`` over a leading batch axis of mappings, vmapped in chunks."""
    return map_chunked(functools.partial(evaluate, arch, layer, nums=nums), mappings, chunk)
