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
from jaxdse import legality
from workloads import DIMS, Layer

_IDX = {d: i for i, d in enumerate(DIMS)}
_ORDER = "NGKPQCRS"
"""Outermost first: reduction dims (C, R, S) innermost keep output tiles
resident at every level, so partial sums never travel back up."""


def divisors(n: int) -> list[int]:
    """Divisors of n, ascending."""
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


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
    lim = legality.limits(arch)
    spatial = _grow("KCQPNG", left, lambda t: bool(legality.spatial_ok(t, lim)))
    l1 = _grow("SRCKQP", left, lambda t: legality.l1_bytes(t, layer) <= lim.l1_bytes)
    l2 = _grow("QPCKNGSR", left, lambda t: legality.l2_bytes(t * spatial * l1, layer) <= lim.l2_bytes)
    order = np.array([[_IDX[d] for d in _ORDER]] * 3, dtype=np.int32)
    temporal = np.stack([left, l2, l1]).astype(np.float32)
    return Mapping(temporal=temporal, spatial=spatial.astype(np.float32), order=order)
