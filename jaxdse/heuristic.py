"""A simple, documented default mapping (greedy, legal by construction).

Used by ``jaxdse evaluate`` until the mapper (issue 3) replaces it, and as a
starting point for searches. Steps, each picking divisors of what is left of
a dim's bound so factors multiply exactly to the bound:

1. Spatial: unroll K, then C, then Q, P, N, G across the PEs, each time the
   largest divisor that keeps the PE count and every NoC's workgroups within
   ``links x virtual unicast`` (output-channel / input-channel parallelism,
   the usual weight-stationary array dataflow).
2. L1: grow the per-PE tile over S, R, C, K, Q, P while the three operand
   tiles fit the register file (single-buffered).
3. L2: grow the tile over Q, P, C, K, N, G, S, R while the double-buffered
   tiles fit the global buffer.
4. DRAM: whatever remains.

Loop orders are N G K P Q C R S (outermost first) at every level: output
stationary, so partial sums are never written back and re-read. No search:
it is a reasonable, legal point, not an optimum.
"""

from __future__ import annotations

import numpy as np

from costmodels import Arch, Mapping
from costmodels.access import REL, operand_elems
from costmodels.model import L1_BUFFERS, L2_BUFFERS
from workloads import DIMS, Layer

_IDX = {d: i for i, d in enumerate(DIMS)}
_ORDER = "NGKPQCRS"
"""Outermost first: reduction dims (C, R, S) innermost keep output tiles
resident at every level, so partial sums never travel back up."""


def divisors(n: int) -> list[int]:
    """Divisors of n, ascending."""
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _fits_noc(spatial: np.ndarray, arch: Arch) -> bool:
    wg3 = np.prod(np.where(REL > 0, spatial[None, :], 1.0), axis=-1)
    wg = np.array([wg3[0], wg3[1], wg3[2], wg3[2]])
    cap = np.asarray(arch.noc_links) * np.asarray(arch.noc_virtual)
    return bool(np.all(wg <= cap))


def _bytes(tile: np.ndarray, layer: Layer) -> float:
    elems = operand_elems(tile.astype(np.float64), np.asarray(layer.stride, float), np.asarray(layer.dilation, float))
    return float(np.sum(elems * np.asarray(layer.bits) / 8.0))


def _grow(dims: str, left: np.ndarray, fits) -> np.ndarray:
    """Give each dim in turn the largest divisor of what is ``left`` of it that
    still ``fits``; returns the level's factors and updates ``left`` in place."""
    level = np.ones(8, np.int64)
    for d in dims:
        i = _IDX[d]
        for f in reversed(divisors(int(left[i]))):
            trial = level.copy()
            trial[i] *= f
            if fits(trial):
                level = trial
                left[i] //= f
                break
    return level


def default_mapping(layer: Layer, arch: Arch) -> Mapping:
    """The greedy default mapping of ``layer`` on one design (host-side)."""
    left = np.asarray(layer.sizes, dtype=np.int64).copy()
    num_pes = int(np.asarray(arch.num_pes))
    l1_cap = float(np.asarray(arch.l1_bytes))
    l2_cap = float(np.asarray(arch.l2_kib)) * 1024.0
    spatial = _grow("KCQPNG", left, lambda t: t.prod() <= num_pes and _fits_noc(t.astype(float), arch))
    l1 = _grow("SRCKQP", left, lambda t: L1_BUFFERS * _bytes(t, layer) <= l1_cap)
    l2 = _grow("QPCKNGSR", left, lambda t: L2_BUFFERS * _bytes(t * spatial * l1, layer) <= l2_cap)
    order = np.array([[_IDX[d] for d in _ORDER]] * 3, dtype=np.int32)
    temporal = np.stack([left, l2, l1]).astype(np.float32)
    return Mapping(temporal=temporal, spatial=spatial.astype(np.float32), order=order)
