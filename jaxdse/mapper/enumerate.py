"""Enumerating mappers: the whole map space of small layers, and dMazeRunner's pruned top-N space.

Both build tilings on the host with NumPy, cross them with the nine (DRAM,
L2) loop-order pairs ``space.ALL_ORDERS`` and score every candidate with the
exact model (``space.score``) in fixed-size chunks of ``CHUNK`` mappings, so
every layer and both methods reuse one compiled scorer (the same chunk size
as ``random_search``). A tiling is an i64[4, 8] array of per-dim factors in
(DRAM, L2, spatial, L1) order whose product is each loop bound exactly.

``exhaustive``: every exact factorisation of every dim into 4 ordered
factors, crossed over the dims, times the 9 order pairs. Mappings that break
a limit seen from the spatial and L1 factors alone (PE count, each NoC's
workgroups <= links x virtual unicast, the L1 footprint) are dropped on the
host before scoring; the model would mark them illegal anyway.

``pruned``: the mapper Explainable-DSE used (extended dMazeRunner; Dave et
al., ASPLOS 2023, pp. 9, 13; Dave et al., TECS 2019). The space is built
level by level, each level keeping only tiles whose utilisation reaches a
threshold:

1. spatial unrollings: divisor combinations within the PE count and every
   NoC's ``links x virtual`` workgroups, PE utilisation (active PEs / PEs)
   ``>= t_pe``;
2. L1 tiles per unrolling: divisors of what the unrolling leaves, fitting L1,
   L1 utilisation (footprint / ``l1_bytes``) ``>= t_l1``;
3. L2 tiles per (unrolling, L1 tile): multiples of the PE array's tile
   fitting the double-buffered L2, L2 utilisation ``>= t_l2``;
4. DRAM: whatever remains.

Thresholds start at ``STRICT`` (0.9, 0.5, 0.5) and are multiplied by
``RELAX`` (0.8) each round until the candidates (tilings x 9 orders) reach
the lower end of the requested range: a level that yields nothing relaxes
only its own threshold; when every level yields something but too little in
total, all three relax. After ``MAX_ROUNDS`` rounds the thresholds drop to
zero (every legal tiling, within the caps). Above the upper end, the tilings
with the highest utilisation score ``u_pe * u_l1 * u_l2`` are kept.

dMazeRunner's "no spatial reduction" rule: C, R and S (the reduction dims)
are unrolled across PEs only when no unrolling of the other dims reaches the
strict PE threshold. On designs whose output NoC allows fewer workgroups
than PEs (e.g. ``explainable_default``: 16 links x 8 = 128 < 256 PEs), a
reduction-free unrolling uses at most that many PEs, so the rule then
allows reduction dims. The other dMazeRunner rules: only maximal-reuse loop
orders (the 9 pairs of stationarity templates); its "no non-contiguous DRAM
tiles" rule is not applied (the model has no notion of DRAM layout).

Each level keeps at most ``CAP_SPATIAL`` unrollings, ``CAP_PAIRS``
(unrolling, L1 tile) pairs and ``CAP_TILINGS`` tilings, the best by
utilisation (ties in enumeration order), so a large layer (2048 channels,
a 512 x 37000 projection) enumerates in well under a second.

Both methods are deterministic and ignore ``rng``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from costmodels import Arch, Mapping
from costmodels.access import REL, operand_elems
from costmodels.model import L1_BUFFERS, L2_BUFFERS
from jaxdse.heuristic import divisors
from jaxdse.mapper.random_search import CHUNK
from jaxdse.mapper.space import ALL_ORDERS, Candidates, MapperError, check_objective, score
from jaxdse.mapspace import prime_factors
from workloads import DIMS, Layer

N_ORDERS = len(ALL_ORDERS)
"""Loop-order pairs crossed with every tiling (9)."""

STRICT = (0.9, 0.5, 0.5)
"""Initial (PE, L1, L2) utilisation thresholds of ``pruned``."""
RELAX = 0.8
"""Factor applied to a threshold each relaxation round."""
MAX_ROUNDS = 40
"""Rounds of relaxation before the thresholds drop to zero (0.9 x 0.8^40 ~ 1e-4)."""
CAP_SPATIAL = 512
CAP_PAIRS = 2048
CAP_TILINGS = 20_000

_REDUCTION_DIMS = tuple(DIMS.index(d) for d in "CRS")
_NOC_OPERAND = np.array([0, 1, 2, 2])
"""Operand carried by each NoC (``costmodels.NOCS``: inputs, weights, psum_reads, output_writes)."""
_TINY = 1e-9


# ------------------------------------------------------------------ shared helpers
@dataclass(frozen=True)
class _Limits:
    num_pes: float
    noc_workgroups: np.ndarray  # f64[4] links x virtual unicast per NoC
    l1_bytes: float
    l2_bytes: float


def _limits(arch: Arch) -> _Limits:
    return _Limits(
        num_pes=float(np.asarray(arch.num_pes)),
        noc_workgroups=np.asarray(arch.noc_links, np.float64) * np.asarray(arch.noc_virtual, np.float64),
        l1_bytes=float(np.asarray(arch.l1_bytes)),
        l2_bytes=float(np.asarray(arch.l2_kib)) * 1024.0,
    )


def _tile_bytes(tiles: np.ndarray, layer: Layer) -> np.ndarray:
    """Bytes of one copy of every operand's tile, summed: f64[...] for tiles [..., 8]."""
    elems = operand_elems(
        np.asarray(tiles, np.float64), np.asarray(layer.stride, np.float64), np.asarray(layer.dilation, np.float64)
    )
    return elems @ (np.asarray(layer.bits, np.float64) / 8.0)


def _noc_ok(spatial: np.ndarray, lim: _Limits) -> np.ndarray:
    """bool[...]: every NoC's workgroups (product of the operand's relevant spatial factors) within its limit."""
    s = np.asarray(spatial, np.float64)[..., None, :]
    wg3 = np.prod(np.where(REL > 0, s, 1.0), axis=-1)  # [..., 3]
    return np.all(wg3[..., _NOC_OPERAND] <= lim.noc_workgroups, axis=-1)


def _mappings(tilings: np.ndarray, flat: np.ndarray) -> Mapping:
    """Mappings for flat candidate indices: tiling ``flat // 9`` with order pair ``flat % 9``."""
    f = tilings[flat // N_ORDERS]
    return Mapping(
        temporal=f[:, [0, 1, 3]].astype(np.float32),
        spatial=f[:, 2].astype(np.float32),
        order=ALL_ORDERS[flat % N_ORDERS],
    )


def _score_tilings(layer: Layer, arch: Arch, objective: str, tilings: np.ndarray, n: int | None = None) -> np.ndarray:
    """Exact objective of the first ``n`` (tiling, order pair) candidates (default all), tiling-major: f64[n].

    Scored in chunks of exactly ``CHUNK`` mappings (the last padded by
    repeating its first row; padded results are dropped), so one compiled
    scorer serves every layer.
    """
    n = len(tilings) * N_ORDERS if n is None else n
    out = np.empty(n, np.float64)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        flat = np.arange(start, start + CHUNK)
        flat[stop - start :] = start
        out[start:stop] = score(arch, layer, _mappings(tilings, flat), objective)[: stop - start]
    return out


def _candidates(tilings: np.ndarray, objective: np.ndarray, keep: np.ndarray, evaluations: int, notes: str):
    return Candidates(
        mappings=_mappings(tilings, keep), objective=objective[keep], exact_evaluations=evaluations, notes=notes
    )


# ------------------------------------------------------------------ exhaustive
def _splits4(n: int) -> np.ndarray:
    """i64[k, 4]: every ordered (DRAM, L2, spatial, L1) factorisation of n."""
    out = [(a, b, c, n // (a * b * c)) for a in divisors(n) for b in divisors(n // a) for c in divisors(n // (a * b))]
    return np.array(out, np.int64)


def count_tilings(layer: Layer) -> int:
    """Exact factorisations of every dim into 4 ordered factors, crossed over dims.

    For ``n = prod p^e`` the ordered 4-factor splits number ``prod C(e + 3, 3)``.
    """
    total = 1
    for n in layer.sizes:
        primes = prime_factors(n)
        for p in set(primes):
            total *= math.comb(primes.count(p) + 3, 3)
    return total


def exhaustive_space(layer: Layer, arch: Arch, max_mappings: int = 3_000_000) -> tuple[np.ndarray, int]:
    """Every tiling of ``layer`` that passes the host-side checks.

    Args:
        layer: The layer.
        arch: One design (scalar fields).
        max_mappings: Largest space (tilings x 9 order pairs) enumerated.

    Returns:
        (tilings i64[n, 4, 8] in (DRAM, L2, spatial, L1) order, number of
        tilings before the checks). Kept tilings use at most ``num_pes`` PEs,
        keep every NoC's workgroups within ``links x virtual`` and fit L1
        (``L1_BUFFERS`` x the operands' L1 tile bytes <= ``l1_bytes``).

    Raises:
        MapperError (a ValueError) naming the field 'layer' when the space
        exceeds ``max_mappings``.
    """
    size = count_tilings(layer) * N_ORDERS
    if size > max_mappings:
        raise MapperError(
            f"exhaustive mapper: field 'layer' ({layer.name!r}, {layer.describe()}) expected a map space of at most "
            f"max_mappings={max_mappings:,} mappings (tilings x {N_ORDERS} loop orders), found {size:,}; "
            f"use the 'pruned' method for layers this large"
        )
    lim = _limits(arch)
    splits = [_splits4(n) for n in layer.sizes]
    shape = tuple(len(s) for s in splits)
    idx = np.unravel_index(np.arange(math.prod(shape)), shape)
    tilings = np.stack([s[i] for s, i in zip(splits, idx)], axis=-1)  # [T, 4, 8]
    spatial, l1 = tilings[:, 2], tilings[:, 3]
    ok = (spatial.prod(axis=1) <= lim.num_pes) & _noc_ok(spatial, lim)
    ok &= L1_BUFFERS * _tile_bytes(l1, layer) <= lim.l1_bytes
    return tilings[ok], len(tilings)


def exhaustive(
    layer: Layer,
    arch: Arch,
    objective: str,
    budget: int | None,
    rng: np.random.Generator,
    max_mappings: int = 3_000_000,
    keep_best: int | None = 65_536,
) -> Candidates:
    """Score every exact factorisation x the 9 loop-order pairs (small layers only).

    Args:
        layer, arch, objective: As every mapper.
        budget: Ignored: the whole space is scored.
        rng: Ignored (the method is deterministic).
        max_mappings: Largest space (tilings x 9 orders, before the host-side
            checks) the method accepts.
        keep_best: Mappings returned: the best ``keep_best`` by objective
            (ties in enumeration order), in enumeration order; ``None``
            returns every scored mapping. Holding a few million mappings
            would take gigabytes, so by default only the best are kept.

    Returns:
        ``Candidates``; ``exact_evaluations`` counts the mappings scored
        (those that passed the host-side checks), and ``notes`` how many the
        checks removed.

    Raises:
        MapperError (a ValueError) naming 'layer' if the space exceeds
        ``max_mappings``.
    """
    check_objective(objective)
    if isinstance(max_mappings, bool) or not isinstance(max_mappings, (int, np.integer)) or max_mappings < 1:
        raise MapperError(f"exhaustive mapper: field 'max_mappings' expected a positive int, found {max_mappings!r}")
    if keep_best is not None and (
        isinstance(keep_best, bool) or not isinstance(keep_best, (int, np.integer)) or keep_best < 1
    ):
        raise MapperError(f"exhaustive mapper: field 'keep_best' expected a positive int or None, found {keep_best!r}")
    tilings, total = exhaustive_space(layer, arch, max_mappings)
    values = _score_tilings(layer, arch, objective, tilings)
    n = len(values)
    if keep_best is None or keep_best >= n:
        keep = np.arange(n)
    else:
        keep = np.sort(np.argsort(values, kind="stable")[:keep_best])
    legal = int(np.isfinite(values).sum())
    notes = (
        f"{total:,} tilings x {N_ORDERS} orders = {total * N_ORDERS:,} mappings; "
        f"{(total - len(tilings)) * N_ORDERS:,} filtered on the host (PE count, NoC workgroups, L1 capacity); "
        f"{n:,} scored, {legal:,} legal; {len(keep):,} returned"
    )
    return _candidates(tilings, values, keep, n, notes)


# ------------------------------------------------------------------ pruned
def _grow(sizes: np.ndarray, base: np.ndarray, room: np.ndarray, dims, fits, reaches) -> tuple[np.ndarray, np.ndarray]:
    """Every tile ``base[i] * f`` with ``f`` dividing ``room[i]`` over ``dims``, pruned dim by dim.

    Args:
        sizes: i64[8] loop bounds (``room`` divides them).
        base: i64[R, 8] starting tiles; room: i64[R, 8] how far each may grow.
        dims: dims to grow, in order (the others keep ``f = 1``).
        fits: tiles -> bool, a test that stays false once false as a tile grows
            (capacity, PE count, NoC workgroups).
        reaches: tiles grown to their room -> bool, whether the threshold is
            still reachable.

    Returns:
        (parent i64[M] row of ``base``, f i64[M, 8]).
    """
    parent = np.arange(len(base))
    f = np.ones_like(base)
    for j, d in enumerate(dims):
        divs = np.asarray(divisors(int(sizes[d])), np.int64)
        r, c = np.nonzero(room[parent, d, None] % divs[None, :] == 0)
        parent, f = parent[r], f[r]
        f[:, d] = divs[c]
        tile = base[parent] * f
        rest = list(dims[j + 1 :])
        top = tile.copy()
        top[:, rest] *= room[parent][:, rest]
        keep = fits(tile) & reaches(top)
        parent, f = parent[keep], f[keep]
    return parent, f


def _top(score_: np.ndarray, cap: int) -> np.ndarray:
    """Indices of the ``cap`` highest scores, best first, ties in input order."""
    return np.argsort(-score_, kind="stable")[:cap]


@dataclass(frozen=True)
class PrunedSpace:
    """The pruned top-N space of one layer on one design.

    Attributes:
        tilings: i64[n, 4, 8] (DRAM, L2, spatial, L1) factors, best utilisation score first.
        utilisation: f64[n, 3] PE, L1 and L2 utilisation of each tiling.
        thresholds: (PE, L1, L2) thresholds the relaxation stopped at.
        rounds: Relaxation rounds taken (0: the strict thresholds sufficed).
        counts: Unrollings, (unrolling, L1 tile) pairs and tilings found at
            the final thresholds (after the per-level caps), and candidates
            (tilings x 9 orders) kept.
        reduction_unrolled: Whether C, R, S may be unrolled spatially.
        history: (thresholds, candidates) of every round.
    """

    tilings: np.ndarray
    utilisation: np.ndarray
    thresholds: tuple[float, float, float]
    rounds: int
    counts: dict
    reduction_unrolled: bool
    history: tuple

    @property
    def n_candidates(self) -> int:
        return int(self.counts["candidates"])


def _check_range(n_range, budget) -> tuple[int, int]:
    ok = isinstance(n_range, (tuple, list)) and len(n_range) == 2
    ok = ok and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in n_range)
    if not ok or not 1 <= n_range[0] <= n_range[1]:
        raise MapperError(
            f"pruned mapper: field 'n_range' expected (lo, hi) ints with 1 <= lo <= hi, found {n_range!r}"
        )
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1):
        raise MapperError(f"pruned mapper: field 'budget' expected a positive int or None, found {budget!r}")
    hi = int(n_range[1]) if budget is None else min(int(n_range[1]), int(budget))
    return min(int(n_range[0]), hi), hi


class _Levels:
    """The three pruned levels of one layer on one design (host-side NumPy)."""

    def __init__(self, layer: Layer, arch: Arch):
        self.layer = layer
        self.lim = _limits(arch)
        self.sizes = np.asarray(layer.sizes, np.int64)
        self.dims = [d for d in range(len(DIMS)) if self.sizes[d] > 1]

    def spatial(self, t_pe: float, reduction: bool) -> tuple[np.ndarray, np.ndarray]:
        """(unrollings i64[S, 8], PE utilisation f64[S]), best first, capped."""
        pes = self.lim.num_pes
        dims = [d for d in self.dims if reduction or d not in _REDUCTION_DIMS]
        _, s = _grow(
            self.sizes,
            np.ones((1, 8), np.int64),
            self.sizes[None],
            dims,
            fits=lambda s: (s.prod(axis=1) <= pes) & _noc_ok(s, self.lim),
            reaches=lambda s: np.minimum(s.prod(axis=1), pes) >= t_pe * pes - _TINY,
        )
        u = s.prod(axis=1) / pes
        keep = np.flatnonzero(u >= t_pe - _TINY)
        keep = keep[_top(u[keep], CAP_SPATIAL)]
        return s[keep], u[keep]

    def l1(self, spatial: np.ndarray, t_l1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unrolling index i64[P], L1 tiles i64[P, 8], L1 utilisation f64[P]) of every pair."""
        cap = self.lim.l1_bytes
        base = np.ones_like(spatial)
        parent, a = _grow(
            self.sizes,
            base,
            self.sizes[None] // spatial,
            self.dims,
            fits=lambda t: L1_BUFFERS * _tile_bytes(t, self.layer) <= cap,
            reaches=lambda t: L1_BUFFERS * _tile_bytes(t, self.layer) >= t_l1 * cap - _TINY,
        )
        u = L1_BUFFERS * _tile_bytes(a, self.layer) / cap
        keep = u >= t_l1 - _TINY
        return parent[keep], a[keep], u[keep]

    def l2(self, pe_tile: np.ndarray, t_l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pair index i64[M], L2 factors i64[M, 8], L2 utilisation f64[M]) of every tiling."""
        cap = self.lim.l2_bytes
        parent, f = _grow(
            self.sizes,
            pe_tile,
            self.sizes[None] // pe_tile,
            self.dims,
            fits=lambda t: L2_BUFFERS * _tile_bytes(t, self.layer) <= cap,
            reaches=lambda t: L2_BUFFERS * _tile_bytes(t, self.layer) >= t_l2 * cap - _TINY,
        )
        u = L2_BUFFERS * _tile_bytes(pe_tile[parent] * f, self.layer) / cap
        keep = u >= t_l2 - _TINY
        return parent[keep], f[keep], u[keep]


def pruned_space(
    layer: Layer, arch: Arch, n_range: tuple[int, int] = (10, 10_000), budget: int | None = None
) -> PrunedSpace:
    """Build the pruned top-N space (no scoring); see the module docstring for the rules.

    Args:
        layer: The layer.
        arch: One design (scalar fields).
        n_range: (lo, hi) wanted number of candidates (tilings x 9 orders).
        budget: If given, caps ``hi``.

    Returns:
        ``PrunedSpace``; ``len(tilings) * 9 <= hi``, and ``>= lo`` unless even
        zero thresholds give fewer (then every tiling found is kept).
    """
    lo, hi = _check_range(n_range, budget)
    lv = _Levels(layer, arch)
    reduction = len(lv.spatial(STRICT[0], reduction=False)[0]) == 0
    t = list(STRICT)
    history = []
    for rnd in range(MAX_ROUNDS + 1):
        if rnd == MAX_ROUNDS:
            t = [0.0, 0.0, 0.0]
        s, u_pe = lv.spatial(t[0], reduction)
        if len(s) == 0:
            history.append((tuple(t), 0))
            t[0] *= RELAX
            continue
        pair_s, a, u_l1 = lv.l1(s, t[1])
        if len(a) == 0:
            history.append((tuple(t), 0))
            t[1] *= RELAX
            continue
        keep = _top(u_pe[pair_s] * u_l1, CAP_PAIRS)
        pair_s, a, u_l1 = pair_s[keep], a[keep], u_l1[keep]
        pair, l2, u_l2 = lv.l2(s[pair_s] * a, t[2])
        n_found = len(pair)
        history.append((tuple(t), n_found * N_ORDERS))
        if n_found * N_ORDERS >= lo or rnd == MAX_ROUNDS:
            break
        if n_found == 0:
            t[2] *= RELAX
        else:
            t = [v * RELAX for v in t]
    util = np.stack([u_pe[pair_s[pair]], u_l1[pair], u_l2], axis=-1)
    best = _top(util.prod(axis=1), min(CAP_TILINGS, max(1, -(-hi // N_ORDERS))))
    spatial, l1 = s[pair_s[pair[best]]], a[pair[best]]
    l2 = l2[best]
    dram = lv.sizes[None] // (spatial * l1 * l2)
    tilings = np.stack([dram, l2, spatial, l1], axis=1)
    return PrunedSpace(
        tilings=tilings,
        utilisation=util[best],
        thresholds=tuple(float(v) for v in t),
        rounds=rnd,
        counts=dict(
            spatial=len(s),
            pairs=len(a),
            tilings=n_found,
            candidates=min(len(tilings) * N_ORDERS, hi),
        ),
        reduction_unrolled=reduction,
        history=tuple(history),
    )


def pruned(
    layer: Layer,
    arch: Arch,
    objective: str,
    budget: int | None,
    rng: np.random.Generator,
    n_range: tuple[int, int] = (10, 10_000),
) -> Candidates:
    """dMazeRunner / Explainable-DSE's pruned top-N mapper: enumerate, then score every candidate.

    Args:
        layer, arch, objective: As every mapper.
        budget: If given, caps the upper end of ``n_range``.
        rng: Ignored (the method is deterministic).
        n_range: (lo, hi) candidates (tilings x 9 loop-order pairs) wanted;
            the reference used [10, 10000] (p. 9).

    Returns:
        ``Candidates`` of every candidate scored (all legal by
        construction); ``notes`` give the thresholds reached and the counts.
    """
    check_objective(objective)
    sp = pruned_space(layer, arch, n_range, budget)
    n = sp.counts["candidates"]
    values = _score_tilings(layer, arch, objective, sp.tilings, n)
    t_pe, t_l1, t_l2 = sp.thresholds
    c = sp.counts
    notes = (
        f"thresholds PE>={t_pe:.3g} L1>={t_l1:.3g} L2>={t_l2:.3g} after {sp.rounds} relaxation round(s); "
        f"{c['spatial']} unrollings (C/R/S {'allowed' if sp.reduction_unrolled else 'not unrolled'}), "
        f"{c['pairs']} with L1 tiles, {c['tilings']} tilings; {n} candidates scored, "
        f"{int(np.isfinite(values).sum())} legal"
    )
    return _candidates(sp.tilings, values, np.arange(n), n, notes)
