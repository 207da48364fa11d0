"""The cost model of any hierarchy: counts -> latency, energy, area, legality.

``evaluate_hierarchy(hier, layer, mapping, nums)`` is a pure function of
pytrees (jit, vmap, grad with ``Relaxed``). Counts come from
``costmodels.nest`` (Timeloop v3.0.3's semantics); on top of them:

* **Latency** = max of the terms (``nums.smax``), every transfer overlapping
  compute (each level's tiles are refilled while the MACs work, Timeloop's
  and Explainable-DSE's assumption):
  - compute: temporal iterations of every MAC (one MAC per cycle);
  - each level's bandwidth: reads per instance / read bandwidth and
    (fills + updates) per instance / write bandwidth, in words per cycle
    (Timeloop's ``BufferLevel::ComputePerformance``: the level's cycles are
    compute cycles / slowdown = accesses / bandwidth);
  - the NoC on one fan-out (Explainable-DSE, p. 7 and Fig. 8):
    requests x ceil(workgroups / links) x ceil(bytes per request / width
    bytes) per operand stream, streams in parallel;
  - the DMA at DRAM (dMazeRunner's model): bytes / bytes-per-cycle + bursts
    x setup cycles, summed over the streams (one engine).
* **Energy**: accesses x per-access energy per level (reads, fills,
  updates and the drains Timeloop does not count as reads; an operand of b
  bits costs b / word_bits of a word access), MACs (padded work included),
  NoC bits delivered, leakage power x latency.
* **Area**: instances x area per instance, MACs, NoC, DMA.
* **Legality**, as named violations (>= 0; 0 when legal): capacity per
  level (kept tiles x buffering), fan-out per axis, NoC workgroups beyond
  links x virtual unicast, loop-bound coverage.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import struct

from costmodels.hierarchy import Hierarchy
from costmodels.nest import NestCounts, nest_counts
from costmodels.nest_mapping import NestMapping
from costmodels.numerics import EXACT

STREAMS: tuple[str, ...] = ("inputs", "weights", "psum_reads", "output_writes")
"""NoC / DMA streams (Explainable-DSE Table 1: one NoC per stream)."""


@struct.dataclass(frozen=True)
class Streams:
    """Per-stream transfers of the NoC or the DMA, ``STREAMS`` order.

    Attributes:
        words: f32[4] words per workgroup (NoC) or in all (DMA).
        requests: f32[4] transfers (tile deltas, bursts).
        workgroups: f32[4] groups of children receiving distinct data (1 for DMA).
        word_bytes: f32[4].
    """

    words: Any
    requests: Any
    workgroups: Any
    word_bytes: Any

    @property
    def bytes_per_request(self):
        return self.words * self.word_bytes / jnp.maximum(self.requests, 1e-9)


def noc_streams(counts: NestCounts, noc_level: int, word_bytes) -> Streams:
    """The four NoC streams on ``noc_level``'s fan-out; the next level keeps every operand.

    Inputs and weights: one child's fills per workgroup; partial-sum reads:
    the output fills (refills) of one child; output writes: what one child
    drains (its output deltas). Workgroups are the distinct tiles across the
    fan-out (children with identical data share a broadcast).
    """
    c = noc_level + 1
    per_inst = counts.deltas_per_instance[c]
    psum = counts.fills[c, 2] / jnp.maximum(counts.instances[c], 1.0)
    frac = psum / jnp.maximum(per_inst[2], 1e-9)
    tr = counts.fill_transfers[c]
    wg = counts.distinct[noc_level]
    return Streams(
        words=jnp.stack([per_inst[0], per_inst[1], psum, per_inst[2]]),
        requests=jnp.stack([tr[0], tr[1], tr[2] * frac, tr[2]]),
        workgroups=jnp.stack([wg[0], wg[1], wg[2], wg[2]]),
        word_bytes=jnp.concatenate([word_bytes, word_bytes[2:]]),
    )


def dma_streams(counts: NestCounts, word_bytes) -> Streams:
    """The four off-chip streams: DRAM reads of inputs, weights, partial sums, and output writes."""
    r, u, tr = counts.reads[0], counts.updates[0], counts.child_transfers[0]
    frac = r[2] / jnp.maximum(u[2], 1e-9)
    one = jnp.ones((), jnp.float32)
    return Streams(
        words=jnp.stack([r[0], r[1], r[2], u[2]]),
        requests=jnp.stack([tr[0], tr[1], tr[2] * frac, tr[2]]),
        workgroups=jnp.stack([one] * 4),
        word_bytes=jnp.concatenate([word_bytes, word_bytes[2:]]),
    )


def noc_cycles(width_bits, links, streams: Streams, nums=EXACT) -> dict[str, Any]:
    """Explainable-DSE's NoC time per stream: requests x rounds x beats."""
    rounds = nums.ceil(streams.workgroups / links)
    beats = nums.ceil(streams.bytes_per_request / (width_bits / 8.0))
    has_traffic = (streams.requests > 0).astype(jnp.float32)
    return dict(noc_cycles=streams.requests * rounds * beats * has_traffic, noc_rounds=rounds, noc_beats=beats)


def dma_cycles(bytes_per_cycle, setup_cycles, streams: Streams) -> dict[str, Any]:
    """dMazeRunner's DMA time: bytes / bandwidth + bursts x setup, streams serialised."""
    transfer = streams.words * streams.word_bytes / bytes_per_cycle
    setup = streams.requests * setup_cycles
    return dict(dma_cycles=jnp.sum(transfer + setup), dma_transfer_cycles=transfer, dma_setup_cycles=setup)


@struct.dataclass(frozen=True)
class HierarchyCosts:
    """The whole breakdown of one layer on one hierarchy.

    Attributes:
        counts: ``NestCounts`` (per level and operand, totals over instances).
        compute_cycles: MAC iterations.
        level_cycles: f32[L] bandwidth-bound cycles of each level (0: unlimited).
        noc_cycles, noc_rounds, noc_beats: f32[4] (zeros without a NoC).
        dma_cycles: DMA time (0 without a DMA model).
        terms_cycles: f32[1 + L + 4 + 1] compute, levels, NoC streams, DMA.
        latency_cycles, latency_s.
        level_energy_pj: f32[L]; mac_energy_pj, noc_energy_pj, leakage_energy_pj, energy_total_pj.
        area_total_mm2, peak_power_w.
        capacity_excess_bytes: f32[L]; fanout_excess: f32[L, 2];
        noc_excess: f32[4]; coverage_deficit: f32[8]; penalty; legal.
    """

    counts: NestCounts
    compute_cycles: Any
    level_cycles: Any
    noc_cycles: Any
    noc_rounds: Any
    noc_beats: Any
    dma_cycles: Any
    terms_cycles: Any
    latency_cycles: Any
    latency_s: Any
    level_energy_pj: Any
    mac_energy_pj: Any
    noc_energy_pj: Any
    leakage_energy_pj: Any
    energy_total_pj: Any
    area_total_mm2: Any
    peak_power_w: Any
    capacity_excess_bytes: Any
    fanout_excess: Any
    noc_excess: Any
    coverage_deficit: Any
    penalty: Any
    legal: Any


def counts_of(hier: Hierarchy, layer, mapping: NestMapping, nums=EXACT) -> NestCounts:
    """``nest_counts`` of one layer (``LayerArrays``) on ``hier``.

    Levels past ``hier.depth`` (padding to the mapping's level axis) keep
    nothing, so their fills are not counted (``depth``).
    """
    keep = hier.keep * (jnp.arange(hier.keep.shape[-2]) < hier.depth)[:, None]
    return nest_counts(
        keep,
        mapping.temporal,
        mapping.order,
        mapping.spatial,
        layer.sizes,
        layer.stride,
        layer.dilation,
        nums,
        hier.xy_stages,
        depth=hier.depth,
    )


def area_mm2(hier: Hierarchy) -> Any:
    """Total area: every instance of every level, the MACs, the NoC and the DMA."""
    levels = jnp.sum(hier.instances * hier.area_um2) * 1e-6
    return levels + hier.num_macs * hier.mac_area_um2 * 1e-6 + hier.noc_area_mm2 + hier.dma_area_mm2


def peak_power_w(hier: Hierarchy, area_total_mm2: Any) -> Any:
    """Every component at full rate in one cycle, plus leakage.

    Accelergy's max power, as Explainable-DSE used it (p. 9).

    Per cycle: each MAC with three operand reads and one write of its
    innermost keepers; each NoC link its width; the NoC level's reads to
    feed them; the DMA its bytes per cycle; levels with a stated bandwidth
    that many reads and writes per instance.
    """
    keep = hier.keep
    lvl = jnp.arange(keep.shape[0])
    innermost = jnp.max(jnp.where(keep > 0, lvl[:, None], -1), axis=0)  # [3]
    rd = hier.read_pj[innermost]
    wr = hier.write_pj[innermost[2]]
    pj = hier.num_macs * (hier.mac_pj + jnp.sum(rd) + wr)
    if hier.noc_level >= 0:
        bits = jnp.sum(hier.noc_width_bits * hier.noc_links)
        n = hier.noc_level
        pj = pj + bits * (hier.noc_pj_per_bit + hier.read_pj[n] / hier.word_bits[n])
    if hier.has_dma:
        pj = pj + hier.dram_bytes_per_cycle * hier.read_pj[0] / (hier.word_bits[0] / 8.0)
    bw_pj = hier.instances * (
        jnp.where(jnp.isfinite(hier.read_bw_words), hier.read_bw_words, 0.0) * hier.read_pj
        + jnp.where(jnp.isfinite(hier.write_bw_words), hier.write_bw_words, 0.0) * hier.write_pj
    )
    pj = pj + jnp.sum(bw_pj)
    return pj * 1e-12 * hier.freq_mhz * 1e6 + hier.leakage_w_per_mm2 * area_total_mm2


def evaluate_hierarchy(hier: Hierarchy, layer, mapping: NestMapping, nums=EXACT) -> HierarchyCosts:
    """Every cost of one layer under one mapping on one hierarchy.

    Args:
        hier: ``Hierarchy``.
        layer: ``LayerArrays`` (``costmodels.layer_arrays``).
        mapping: ``NestMapping``.
        nums: ``EXACT`` or ``Relaxed(temperature)``.
    """
    c = counts_of(hier, layer, mapping, nums)
    wb = layer.word_bytes
    inst = jnp.maximum(c.instances, 1.0)
    # Level bandwidths (Timeloop): accesses per instance / words per cycle.
    reads_pi = jnp.sum(c.reads, axis=-1) / inst
    writes_pi = jnp.sum(c.fills + c.updates, axis=-1) / inst
    rbw = jnp.where(jnp.isfinite(hier.read_bw_words), hier.read_bw_words, 1.0)
    wbw = jnp.where(jnp.isfinite(hier.write_bw_words), hier.write_bw_words, 1.0)
    level_cycles = jnp.maximum(
        jnp.where(jnp.isfinite(hier.read_bw_words), nums.ceil_div(reads_pi, rbw), 0.0),
        jnp.where(jnp.isfinite(hier.write_bw_words), nums.ceil_div(writes_pi, wbw), 0.0),
    )
    zeros4 = jnp.zeros(4, jnp.float32)
    if hier.noc_level >= 0:
        ns = noc_streams(c, hier.noc_level, wb)
        noc = noc_cycles(hier.noc_width_bits, hier.noc_links, ns, nums)
        deliveries = ns.words * c.instances[hier.noc_level + 1]
        noc_energy = jnp.sum(deliveries * ns.word_bytes * 8.0) * hier.noc_pj_per_bit
        noc_excess = nums.excess(ns.workgroups - hier.noc_links * hier.noc_virtual, hier.noc_links * hier.noc_virtual)
        noc_pen = jnp.sum(noc_excess / (hier.noc_links * hier.noc_virtual))
    else:
        noc = dict(noc_cycles=zeros4, noc_rounds=zeros4, noc_beats=zeros4)
        noc_energy = noc_pen = jnp.float32(0.0)
        noc_excess = zeros4
    if hier.has_dma:
        dma = dma_cycles(hier.dram_bytes_per_cycle, hier.dma_setup_cycles, dma_streams(c, wb))["dma_cycles"]
    else:
        dma = jnp.float32(0.0)
    terms = jnp.concatenate([c.mac_iterations[None], level_cycles, noc["noc_cycles"], dma[None]])
    lat = nums.smax(terms)
    latency_s = lat / (hier.freq_mhz * 1e6)

    scale = (wb * 8.0)[None, :] / hier.word_bits[:, None]  # [L, 3] operand bits / level word bits
    level_energy = jnp.sum(
        ((c.reads + c.drain_reads) * hier.read_pj[:, None] + (c.fills + c.updates) * hier.write_pj[:, None]) * scale,
        axis=-1,
    )
    area_total = area_mm2(hier)
    mac_energy = c.padded_macs * hier.mac_pj
    leakage = hier.leakage_w_per_mm2 * area_total * latency_s * 1e12
    energy_total = jnp.sum(level_energy) + mac_energy + noc_energy + leakage

    v = violations(hier, layer, mapping, c, nums)
    penalty = v.pop("penalty") + noc_pen
    return HierarchyCosts(
        counts=c,
        compute_cycles=c.mac_iterations,
        level_cycles=level_cycles,
        **noc,
        dma_cycles=dma,
        terms_cycles=terms,
        latency_cycles=lat,
        latency_s=latency_s,
        level_energy_pj=level_energy,
        mac_energy_pj=mac_energy,
        noc_energy_pj=noc_energy,
        leakage_energy_pj=leakage,
        energy_total_pj=energy_total,
        area_total_mm2=area_total,
        peak_power_w=peak_power_w(hier, area_total),
        noc_excess=noc_excess,
        penalty=penalty,
        legal=(penalty <= 0.0).astype(jnp.float32),
        **v,
    )


def violations(hier: Hierarchy, layer, mapping: NestMapping, counts: NestCounts, nums=EXACT) -> dict[str, Any]:
    """Capacity, fan-out and coverage violations (>= 0; 0 when legal) and their relative sum.

    A level needs ``buffers`` copies of the tile of every operand it keeps,
    each element one word of the level (Timeloop counts a level's capacity in
    its own words: ``capacity_bytes * 8 / word_bits``); a fan-out's X and Y
    factors (products over dims) may not exceed its X and Y instances; the
    factors of each dim must cover its loop bound.
    """
    need = hier.buffers * jnp.sum(hier.keep * counts.tile_elems, axis=-1) * hier.word_bits / 8.0  # bytes
    cap = jnp.where(jnp.isfinite(hier.capacity_bytes), hier.capacity_bytes, 1.0)
    capacity_excess = jnp.where(jnp.isfinite(hier.capacity_bytes), nums.excess(need - cap, cap), 0.0)
    sp = jnp.prod(mapping.spatial, axis=-1)  # [L, 2]
    limit = jnp.stack([hier.fanout_x, hier.fanout_y], axis=-1)
    fanout_excess = nums.excess(sp - limit, limit)
    covered = jnp.prod(mapping.temporal, axis=0) * jnp.prod(mapping.spatial, axis=(0, 1))
    coverage = nums.excess(layer.sizes - covered, layer.sizes)
    penalty = jnp.sum(capacity_excess / cap) + jnp.sum(fanout_excess / limit) + jnp.sum(coverage / layer.sizes)
    return dict(
        capacity_excess_bytes=capacity_excess,
        fanout_excess=fanout_excess,
        coverage_deficit=coverage,
        penalty=penalty,
    )
