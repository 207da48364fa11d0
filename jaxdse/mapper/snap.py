"""From continuous tiling factors to legal integer mappings.

``splits(D)`` lists every ordered split of a loop bound D into (DRAM, L2,
spatial, L1) factors whose product is D; ``padded_splits(D, max_padding)``
those of D and of its smooth padded bounds within ``D .. D + floor(D *
max_padding)`` (``jaxdse.mapspace.smooth_bounds``: a handful per dim, where
every padded bound would be thousands of tables for a 37,000-wide dim). ``nearest_splits`` ranks them by
distance to continuous factors in log space (the relaxation optimises log
factors, so log distance is the natural metric). ``repair`` then makes
snapped mappings fit the hardware by moving prime factors outward, one at a
time, to the next level up (L1 -> L2 -> DRAM, spatial -> DRAM) until the L1
and double-buffered L2 footprints, the PE count and every NoC's
``links x virtual`` limit hold (host-side NumPy, vectorised over a batch).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from costmodels import Arch
from jaxdse import legality
from jaxdse.mapspace import prime_factors, smooth_bounds
from workloads import Layer

DRAM, L2, SPATIAL, L1 = range(4)


@functools.lru_cache(maxsize=4096)
def splits(bound: int) -> np.ndarray:
    """i64[n, 4]: every (DRAM, L2, spatial, L1) factor tuple with product ``bound``."""
    per_prime = []
    primes = prime_factors(bound)
    for p in sorted(set(primes)):
        e = primes.count(p)
        # compositions of e into 4 non-negative parts
        comps = [c for c in itertools.product(range(e + 1), repeat=4) if sum(c) == e]
        per_prime.append(np.array([[p**k for k in c] for c in comps], dtype=np.int64))
    out = np.ones((1, 4), dtype=np.int64)
    for table in per_prime:
        out = (out[:, None, :] * table[None, :, :]).reshape(-1, 4)
    return out


@functools.lru_cache(maxsize=4096)
def padded_splits(bound: int, max_padding: float) -> np.ndarray:
    """i64[n, 4]: every split of ``bound`` and of its smooth padded bounds (exact splits first)."""
    return np.concatenate([splits(p) for p in smooth_bounds(bound, max_padding)])


def nearest_splits(bound: int, log_factors: np.ndarray, k: int, max_padding: float = 0.0) -> np.ndarray:
    """The k splits of ``bound`` (padded within ``max_padding``) nearest to continuous factors, in log space.

    Args:
        bound: Loop bound.
        log_factors: f[..., 4] continuous log factors (DRAM, L2, spatial, L1).
        k: How many to return (fewer if the bound has fewer splits; the
            nearest is repeated to keep the shape).
        max_padding: Padding slack (``jaxdse.mapspace.DEFAULT_MAX_PADDING``);
            a padded split's distance includes its excess log(P / D), so
            among equally near splits the least padded wins.

    Returns:
        i64[..., k, 4], nearest first.
    """
    table = padded_splits(bound, max_padding)
    logs = np.log(table.astype(np.float64))
    dist = np.sum((log_factors[..., None, :] - logs) ** 2, axis=-1)  # [..., n]
    kk = min(k, table.shape[0])
    idx = np.argsort(dist, axis=-1, kind="stable")[..., :kk]
    if kk < k:
        idx = np.concatenate([idx, np.repeat(idx[..., :1], k - kk, axis=-1)], axis=-1)
    return table[idx]


@functools.lru_cache(maxsize=64)
def _smallest_prime_table(limit: int) -> np.ndarray:
    spf = np.arange(limit + 1, dtype=np.int64)
    for p in range(2, int(limit**0.5) + 1):
        if spf[p] == p:
            block = spf[p * p :: p]
            spf[p * p :: p] = np.where(block == np.arange(p * p, limit + 1, p), p, block)
    return spf


def footprints(layer: Layer, factors: np.ndarray):
    """L1 bytes, L2 bytes (both buffers), active PEs and NoC workgroups (``legality``).

    Args:
        factors: i64[M, 4, 8] (DRAM, L2, spatial, L1).
    """
    f = factors.astype(np.float64)
    l1 = legality.l1_bytes(f[:, L1], layer)
    l2 = legality.l2_bytes(f[:, L2] * f[:, SPATIAL] * f[:, L1], layer)
    return l1, l2, np.prod(f[:, SPATIAL], axis=-1), legality.noc_workgroups(f[:, SPATIAL])


def _move(factors: np.ndarray, rows: np.ndarray, src: int, dst: int, spf: np.ndarray) -> np.ndarray:
    """Move the smallest prime of the largest ``src`` factor to ``dst`` in ``rows``."""
    if not rows.any():
        return rows
    sub = factors[rows]
    d = np.argmax(sub[:, src], axis=-1)
    r = np.arange(sub.shape[0])
    val = sub[r, src, d]
    movable = val > 1
    p = spf[val]
    sub[r[movable], src, d[movable]] //= p[movable]
    sub[r[movable], dst, d[movable]] *= p[movable]
    factors[rows] = sub
    moved = np.zeros_like(rows)
    moved[np.flatnonzero(rows)[movable]] = True
    return moved


def repair(layer: Layer, arch: Arch, factors: np.ndarray, max_steps: int = 64) -> np.ndarray:
    """Move prime factors outward until each mapping fits (best effort).

    Args:
        factors: i64[M, 4, 8], modified copy returned.

    Returns:
        i64[M, 4, 8]; rows that could not be repaired stay illegal and the
        exact model will score them as such.
    """
    f = factors.copy()
    # a move can gather a dim's whole (padded) bound in one slot: size the table by the largest product
    spf = _smallest_prime_table(int(max(int(f.prod(axis=1).max()), *layer.sizes)) + 1)
    lim = legality.limits(arch)
    for _ in range(max_steps):
        l1, l2, _pes, _wg = footprints(layer, f)
        bad_l1 = l1 > lim.l1_bytes
        bad_sp = ~legality.spatial_ok(f[:, SPATIAL], lim)
        bad_l2 = (l2 > lim.l2_bytes) & ~bad_l1
        if not (bad_l1.any() or bad_sp.any() or bad_l2.any()):
            break
        _move(f, bad_l1, L1, L2, spf)
        _move(f, bad_sp, SPATIAL, DRAM, spf)
        # L2 too big: shrink the L2 tile, then (if L2 factors are all 1) the
        # spatial or L1 part of it
        stuck = bad_l2 & ~_move(f, bad_l2, L2, DRAM, spf)
        stuck &= ~_move(f, stuck, L1, DRAM, spf)
        _move(f, stuck, SPATIAL, DRAM, spf)
    return f
