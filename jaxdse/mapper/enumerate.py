"""Enumerating mappers: the whole map space of small layers, and dMazeRunner's pruned top-N space.

Both build tilings on the host with NumPy, cross them with the nine (DRAM,
L2) loop-order pairs ``space.ALL_ORDERS`` and score every candidate with the
exact model (``space.score``) in fixed-size chunks of ``CHUNK`` mappings, so
every layer and both methods reuse one compiled scorer (the same chunk size
as ``random_search``). A tiling is an i64[4, 8] array of per-dim factors in
(DRAM, L2, spatial, L1) order whose product is each loop bound exactly.

``exhaustive``: every factorisation of every dim into 4 ordered factors
whose product is one of the dim's bounds ``D .. D + floor(D * max_padding)``
(``jaxdse.mapspace.padded_bounds``; exact ones only with ``max_padding=0``),
crossed over the dims, times the 9 order pairs: the reference every other
method is checked against, padded mappings included. Mappings that break
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

Enumeration stays bounded on large layers (2048 channels, a 512 x 37000
projection; 1-120 ms per zoo layer on 2 cores): the spatial level keeps the
``CAP_SPATIAL`` best unrollings; the L1 and L2 levels expand their parents
best first, ``_BATCH`` at a time, and stop as soon as the ``CAP_PAIRS`` best
pairs, respectively the tilings needed for ``hi`` candidates, are settled
(a child's utilisation score never exceeds its parent's, so this branch and
bound is exact; only the caps themselves can drop a tiling). Ties are
broken in enumeration order.

Padding: ``pruned`` builds the space twice, for the exact bounds and for
every dim padded to its ``jaxdse.mapspace.smooth_bound`` (the least padding
whose prime factors are all <= 7, within ``max_padding``; 197 -> 200), and
keeps the best tilings of both by ``u_pe * u_l1 * u_l2 * MACs / padded MACs``
(padded work is not useful work). Where every dim is already smooth (most
CNN layers) the space is the exact one, unchanged.

Both methods are deterministic and ignore ``rng``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from costmodels import Arch, Mapping
from costmodels.model import L1_BUFFERS, L2_BUFFERS
from jaxdse import legality
from jaxdse.heuristic import divisors
from jaxdse.mapper.random_search import CHUNK
from jaxdse.mapper.space import ALL_ORDERS, Candidates, MapperError, check_objective, score
from jaxdse.mapspace import DEFAULT_MAX_PADDING, check_max_padding, padded_bounds, prime_factors, smooth_bound
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
_BATCH = 64
"""Parents expanded per step of the branch-and-bound enumeration."""

_REDUCTION_DIMS = tuple(DIMS.index(d) for d in "CRS")
_TINY = 1e-9


# ------------------------------------------------------------------ shared helpers
def _mappings(tilings: np.ndarray, flat: np.ndarray) -> Mapping:
    """Mappings for flat candidate indices: tiling ``flat // 9`` with order pair ``flat % 9``."""
    f = tilings[flat // N_ORDERS]
    return Mapping.from_factors(f, ALL_ORDERS[flat % N_ORDERS])


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


def _count_splits4(n: int) -> int:
    """Ordered 4-factor splits of n: ``prod C(e + 3, 3)`` over ``n = prod p^e``."""
    primes = prime_factors(n)
    return math.prod(math.comb(primes.count(p) + 3, 3) for p in set(primes))


def count_tilings(layer: Layer, max_padding: float = 0.0) -> int:
    """Factorisations of every dim into 4 ordered factors (of every padded bound
    within ``max_padding``), crossed over dims."""
    return math.prod(sum(_count_splits4(b) for b in padded_bounds(n, max_padding)) for n in layer.sizes)


def exhaustive_space(
    layer: Layer, arch: Arch, max_mappings: int = 3_000_000, max_padding: float = DEFAULT_MAX_PADDING
) -> tuple[np.ndarray, int]:
    """Every tiling of ``layer`` that passes the host-side checks.

    Args:
        layer: The layer.
        arch: One design (scalar fields).
        max_mappings: Largest space (tilings x 9 order pairs) enumerated.
        max_padding: Padding slack per dim (0: exact factorisations only).

    Returns:
        (tilings i64[n, 4, 8] in (DRAM, L2, spatial, L1) order, number of
        tilings before the checks). Kept tilings use at most ``num_pes`` PEs,
        keep every NoC's workgroups within ``links x virtual`` and fit L1
        (``L1_BUFFERS`` x the operands' L1 tile bytes <= ``l1_bytes``).

    Raises:
        MapperError (a ValueError) naming the field 'layer' when the space
        exceeds ``max_mappings``.
    """
    size = count_tilings(layer, max_padding) * N_ORDERS
    if size > max_mappings:
        padded = f" with padding up to {max_padding:.1%}" if max_padding > 0 else ""
        raise MapperError(
            f"exhaustive mapper: field 'layer' ({layer.name!r}, {layer.describe()}) expected a map space of at most "
            f"max_mappings={max_mappings:,} mappings (tilings x {N_ORDERS} loop orders), found {size:,}{padded}; "
            f"use the 'pruned' method for layers this large"
        )
    lim = legality.limits(arch)
    splits = [np.concatenate([_splits4(b) for b in padded_bounds(n, max_padding)]) for n in layer.sizes]
    shape = tuple(len(s) for s in splits)
    idx = np.unravel_index(np.arange(math.prod(shape)), shape)
    tilings = np.stack([s[i] for s, i in zip(splits, idx)], axis=-1)  # [T, 4, 8]
    spatial, l1 = tilings[:, 2], tilings[:, 3]
    ok = legality.spatial_ok(spatial, lim) & (legality.l1_bytes(l1, layer) <= lim.l1_bytes)
    return tilings[ok], len(tilings)


def exhaustive(
    layer: Layer,
    arch: Arch,
    objective: str,
    budget: int | None,
    rng: np.random.Generator,
    max_mappings: int = 3_000_000,
    keep_best: int | None = 65_536,
    max_padding: float = DEFAULT_MAX_PADDING,
) -> Candidates:
    """Score every factorisation (padded within ``max_padding``) x the 9 loop-order pairs (small layers only).

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
        max_padding: Padding slack per dim (``jaxdse.mapspace.DEFAULT_MAX_PADDING``;
            0: exact factorisations only).

    Returns:
        ``Candidates``; ``exact_evaluations`` counts the mappings scored
        (those that passed the host-side checks), and ``notes`` how many the
        checks removed.

    Raises:
        MapperError (a ValueError) naming 'layer' if the space exceeds
        ``max_mappings``.
    """
    check_objective(objective)
    _check_count("exhaustive", "max_mappings", max_mappings)
    _check_count("exhaustive", "keep_best", keep_best, allow_none=True)
    max_padding = check_max_padding(max_padding, MapperError, "exhaustive mapper")
    tilings, total = exhaustive_space(layer, arch, max_mappings, max_padding)
    values = _score_tilings(layer, arch, objective, tilings)
    n = len(values)
    if keep_best is None or keep_best >= n:
        keep = np.arange(n)
    else:
        keep = np.sort(np.argsort(values, kind="stable")[:keep_best])
    legal = int(np.isfinite(values).sum())
    notes = (
        f"{total:,} tilings{f' (padding up to {max_padding:.1%})' if max_padding > 0 else ''} x {N_ORDERS} orders "
        f"= {total * N_ORDERS:,} mappings; "
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


def _best_children(parent_score: np.ndarray, expand, k: int) -> tuple[tuple[np.ndarray, ...], int, bool]:
    """The children of parents (sorted best first), expanded in batches until the ``k`` best are settled.

    A child's score never exceeds its parent's (utilisations are <= 1), so
    once ``k`` children were found and the next parent's score is no higher
    than the k-th best child's, no later parent can place a child in the top
    ``k`` (ties go to the earlier child): branch and bound.

    Args:
        parent_score: f64[n] non-increasing.
        expand: (lo, hi) -> (parent i64[m] absolute, *payload, score f64[m])
            for the parents ``lo:hi``.
        k: Children wanted.

    Returns:
        (the concatenated arrays, children found, whether it stopped early).
    """
    parts, found, n = [], 0, len(parent_score)
    for lo in range(0, n, _BATCH):
        hi = min(lo + _BATCH, n)
        parts.append(expand(lo, hi))
        found += len(parts[-1][0])
        if found >= k and hi < n:
            scores = np.concatenate([p[-1] for p in parts])
            if parent_score[hi] <= np.partition(scores, found - k)[found - k]:
                return tuple(np.concatenate(a) for a in zip(*parts)), found, True
    if not parts:
        parts.append(expand(0, 0))
    return tuple(np.concatenate(a) for a in zip(*parts)), found, False


@dataclass(frozen=True)
class PrunedSpace:
    """The pruned top-N space of one layer on one design.

    Attributes:
        tilings: i64[n, 4, 8] (DRAM, L2, spatial, L1) factors, best utilisation score first.
        utilisation: f64[n, 3] PE, L1 and L2 utilisation of each tiling.
        thresholds: (PE, L1, L2) thresholds the relaxation stopped at.
        rounds: Relaxation rounds taken (0: the strict thresholds sufficed).
        counts: At the final thresholds: ``spatial`` unrollings, ``pairs``
            (unrolling, L1 tile) and ``tilings`` found (lower bounds where
            ``settled_early``; see ``_best_children``), and ``candidates``
            (tilings x 9 orders) kept.
        settled_early: (pairs, tilings): whether that level stopped once its best were known.
        reduction_unrolled: Whether C, R, S may be unrolled spatially.
        history: ((t_pe, t_l1, t_l2), candidates found) of every round.
        bounds: The bound vectors the space was built for: the layer's, then
            the padded one (``jaxdse.mapspace.smooth_bound`` per dim) where it differs.
    """

    tilings: np.ndarray
    utilisation: np.ndarray
    thresholds: tuple[float, float, float]
    rounds: int
    counts: dict
    settled_early: tuple[bool, bool]
    reduction_unrolled: bool
    history: tuple
    bounds: tuple = ()

    @property
    def n_candidates(self) -> int:
        return int(self.counts["candidates"])


def _is_count(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1


def _check_count(method: str, field: str, value, allow_none: bool = False) -> None:
    if not (_is_count(value) or (allow_none and value is None)):
        want = "a positive int or None" if allow_none else "a positive int"
        raise MapperError(f"{method} mapper: field '{field}' expected {want}, found {value!r}")


def _check_range(n_range, budget) -> tuple[int, int]:
    ok = isinstance(n_range, (tuple, list)) and len(n_range) == 2 and all(_is_count(v) for v in n_range)
    if not ok or n_range[0] > n_range[1]:
        raise MapperError(f"pruned mapper: field 'n_range' expected ints (lo, hi), 1 <= lo <= hi, found {n_range!r}")
    _check_count("pruned", "budget", budget, allow_none=True)
    hi = int(n_range[1]) if budget is None else min(int(n_range[1]), int(budget))
    return min(int(n_range[0]), hi), hi


class _Levels:
    """The three pruned levels of one layer on one design (host-side NumPy)."""

    def __init__(self, layer: Layer, arch: Arch):
        self.layer = layer
        self.lim = legality.limits(arch)
        self.sizes = np.asarray(layer.sizes, np.int64)
        self.dims = [d for d in range(len(DIMS)) if self.sizes[d] > 1]

    def _util(self, tiles: np.ndarray, buffers: float, cap: float) -> np.ndarray:
        return buffers * legality.tile_bytes(tiles, self.layer) / cap

    def spatial(self, t_pe: float, reduction: bool) -> tuple[np.ndarray, np.ndarray]:
        """(unrollings i64[S, 8], PE utilisation f64[S]), best first, at most ``CAP_SPATIAL``."""
        pes = self.lim.num_pes
        dims = [d for d in self.dims if reduction or d not in _REDUCTION_DIMS]
        _, s = _grow(
            self.sizes,
            np.ones((1, 8), np.int64),
            self.sizes[None],
            dims,
            fits=lambda s: legality.spatial_ok(s, self.lim),
            reaches=lambda s: np.minimum(s.prod(axis=1), pes) >= t_pe * pes - _TINY,
        )
        u = s.prod(axis=1) / pes
        keep = np.flatnonzero(u >= t_pe - _TINY)
        keep = keep[_top(u[keep], CAP_SPATIAL)]
        return s[keep], u[keep]

    def _tiles(self, base: np.ndarray, room: np.ndarray, t: float, buffers: float, cap: float):
        """Tiles ``base * f`` (f dividing ``room``) that fit ``cap`` with utilisation >= t: (parent, f, util)."""
        parent, f = _grow(
            self.sizes,
            base,
            room,
            self.dims,
            fits=lambda x: self._util(x, buffers, cap) <= 1.0,
            reaches=lambda x: self._util(x, buffers, cap) >= t - _TINY,
        )
        u = self._util(base[parent] * f, buffers, cap)
        keep = (u >= t - _TINY) & (u <= 1.0)  # (<= 1 only matters when no dim grows)
        return parent[keep], f[keep], u[keep]

    def pairs(self, spatial: np.ndarray, u_pe: np.ndarray, t_l1: float, k: int):
        """The ``k`` best (unrolling, L1 tile) pairs by ``u_pe * u_l1``: (unrolling, tile, u_l1), found, early."""

        def expand(lo, hi):
            s = spatial[lo:hi]
            parent, a, u = self._tiles(np.ones_like(s), self.sizes[None] // s, t_l1, L1_BUFFERS, self.lim.l1_bytes)
            return parent + lo, a, u, u_pe[parent + lo] * u

        (parent, a, u, score_), found, early = _best_children(u_pe, expand, k)
        best = _top(score_, k)
        return parent[best], a[best], u[best], found, early

    def tilings(self, pe_tile: np.ndarray, pair_score: np.ndarray, t_l2: float, k: int):
        """The ``k`` best L2 tiles over pairs by ``pair_score * u_l2``: (pair, L2 factors, u_l2), found, early."""

        def expand(lo, hi):
            base = pe_tile[lo:hi]
            parent, f, u = self._tiles(base, self.sizes[None] // base, t_l2, L2_BUFFERS, self.lim.l2_bytes)
            return parent + lo, f, u, pair_score[parent + lo] * u

        (parent, f, u, score_), found, early = _best_children(pair_score, expand, k)
        best = _top(score_, k)
        return parent[best], f[best], u[best], found, early


def pruned_space(
    layer: Layer,
    arch: Arch,
    n_range: tuple[int, int] = (10, 10_000),
    budget: int | None = None,
    max_padding: float = DEFAULT_MAX_PADDING,
    unroll_reduction: bool = False,
) -> PrunedSpace:
    """Build the pruned top-N space (no scoring); see the module docstring for the rules.

    Args:
        layer: The layer.
        arch: One design (scalar fields).
        n_range: (lo, hi) wanted number of candidates (tilings x 9 orders).
        budget: If given, caps ``hi``.
        max_padding: Padding slack per dim (0: exact factorisations only).
        unroll_reduction: Unroll C, R and S across PEs whenever they fit, instead of
            dMazeRunner's rule (module docstring); the gradient mapper's join uses it.

    Returns:
        ``PrunedSpace`` holding the ``ceil(hi / 9)`` best tilings by
        ``u_pe * u_l1 * u_l2`` (times MACs / padded MACs where padded bounds
        were added) (every one found, if fewer);
        ``candidates = min(len(tilings) * 9, hi)``, which is ``>= lo`` unless
        even zero thresholds give fewer.
    """
    lo, hi = _check_range(n_range, budget)
    max_padding = check_max_padding(max_padding, MapperError, "pruned mapper")
    want = min(CAP_TILINGS, -(-hi // N_ORDERS))  # tilings needed to fill hi candidates
    exact = _pruned_bounds(layer, arch, lo, hi, want, unroll_reduction)
    padded = tuple(smooth_bound(n, max_padding) for n in layer.sizes)
    if padded == tuple(layer.sizes):
        return exact
    pad = _pruned_bounds(layer.replace(sizes=padded), arch, lo, hi, want, unroll_reduction)
    work = np.array([1.0, math.prod(layer.sizes) / math.prod(padded)])  # useful share of the work
    tilings = np.concatenate([exact.tilings, pad.tilings])
    util = np.concatenate([exact.utilisation, pad.utilisation])
    share = np.repeat(work, [len(exact.tilings), len(pad.tilings)])
    best = _top(util.prod(axis=1) * share, want)
    counts = {k: exact.counts[k] + pad.counts[k] for k in ("spatial", "pairs", "tilings")}
    counts["candidates"] = min(len(best) * N_ORDERS, hi)
    return PrunedSpace(
        tilings=tilings[best],
        utilisation=util[best],
        thresholds=exact.thresholds,
        rounds=exact.rounds,
        counts=counts,
        settled_early=exact.settled_early,
        reduction_unrolled=exact.reduction_unrolled,
        history=exact.history,
        bounds=(tuple(layer.sizes), padded),
    )


def _pruned_bounds(layer: Layer, arch: Arch, lo: int, hi: int, want: int, unroll_reduction: bool) -> PrunedSpace:
    """``pruned_space`` for the layer's own bounds (exact tilings of ``layer.sizes``)."""
    lv = _Levels(layer, arch)
    reduction = unroll_reduction or len(lv.spatial(STRICT[0], reduction=False)[0]) == 0
    t = list(STRICT)
    history = []
    for rnd in range(MAX_ROUNDS + 1):
        if rnd == MAX_ROUNDS:
            t = [0.0, 0.0, 0.0]
        s, u_pe = lv.spatial(t[0], reduction)
        pair_s, a, u_l1, n_pairs, early_pairs = lv.pairs(s, u_pe, t[1], CAP_PAIRS)
        pair, l2, u_l2, n_found, early = lv.tilings(s[pair_s] * a, u_pe[pair_s] * u_l1, t[2], want)
        history.append((tuple(t), n_found * N_ORDERS))
        if n_found * N_ORDERS >= lo or rnd == MAX_ROUNDS:
            break
        # relax the first level that yields nothing, or all three when each yields too little
        if len(s) == 0:
            t[0] *= RELAX
        elif len(a) == 0:
            t[1] *= RELAX
        elif n_found == 0:
            t[2] *= RELAX
        else:
            t = [v * RELAX for v in t]
    spatial, l1 = s[pair_s[pair]], a[pair]
    dram = lv.sizes[None] // (spatial * l1 * l2)
    tilings = np.stack([dram, l2, spatial, l1], axis=1)
    return PrunedSpace(
        tilings=tilings,
        utilisation=np.stack([u_pe[pair_s[pair]], u_l1[pair], u_l2], axis=-1),
        thresholds=tuple(float(v) for v in t),
        rounds=rnd,
        counts=dict(spatial=len(s), pairs=n_pairs, tilings=n_found, candidates=min(len(tilings) * N_ORDERS, hi)),
        settled_early=(bool(early_pairs), bool(early)),
        reduction_unrolled=reduction,
        history=tuple(history),
        bounds=(tuple(layer.sizes),),
    )


def pruned(
    layer: Layer,
    arch: Arch,
    objective: str,
    budget: int | None,
    rng: np.random.Generator,
    n_range: tuple[int, int] = (10, 10_000),
    max_padding: float = DEFAULT_MAX_PADDING,
    unroll_reduction: bool = False,
) -> Candidates:
    """dMazeRunner / Explainable-DSE's pruned top-N mapper: enumerate, then score every candidate.

    Args:
        layer, arch, objective: As every mapper.
        budget: If given, caps the upper end of ``n_range``.
        rng: Ignored (the method is deterministic).
        n_range: (lo, hi) candidates (tilings x 9 loop-order pairs) wanted;
            the reference used [10, 10000] (p. 9).
        max_padding: Padding slack per dim (0: exact factorisations only).
        unroll_reduction: As ``pruned_space``'s.

    Returns:
        ``Candidates`` of every candidate scored (all legal by
        construction); ``notes`` give the thresholds reached and the counts.
    """
    check_objective(objective)
    sp = pruned_space(layer, arch, n_range, budget, max_padding, unroll_reduction)
    n = sp.counts["candidates"]
    values = _score_tilings(layer, arch, objective, sp.tilings, n)
    t_pe, t_l1, t_l2 = sp.thresholds
    c = sp.counts
    notes = (
        f"thresholds PE>={t_pe:.3g} L1>={t_l1:.3g} L2>={t_l2:.3g} after {sp.rounds} relaxation round(s); "
        f"{c['spatial']} unrollings (C/R/S {'allowed' if sp.reduction_unrolled else 'not unrolled'}), "
        f"{c['pairs']}{'+' * sp.settled_early[0]} with L1 tiles, "
        f"{c['tilings']}{'+' * sp.settled_early[1]} tilings"
        f"{f' (exact and padded to {sp.bounds[1]})' if len(sp.bounds) > 1 else ''}"
        f"{' (+: enumeration stopped once the best were settled)' if any(sp.settled_early) else ''}; "
        f"{n} candidates scored, "
        f"{int(np.isfinite(values).sum())} legal"
    )
    return _candidates(sp.tilings, values, np.arange(n), n, notes)
