"""The map space of a layer: factorisations of each dim over the levels.

A mapping splits every loop bound D into four factors (DRAM, L2, spatial,
L1) whose product covers D, plus a loop order per temporal level. Sampling
assigns each prime factor of a (padded) bound to one of the four levels
uniformly (every factorisation is reachable), vectorised over a batch in NumPy.

Padding (imperfect factorisation): a dim of bound D may be mapped as a padded
bound P with ``D <= P <= D + floor(D * max_padding)``; the cost model charges
the padded work (``costmodels.nest``: a padded mapping is costed as the padded
nest). A prime bound such as ViT's 197 tokens has only the splits 1 x 197,
while 200 = 8 x 25 tiles onto a PE array; ``DEFAULT_MAX_PADDING`` (12.5%,
at most one padded iteration in eight) is the slack every mapper searches
by default, and ``max_padding=0`` restores exact factorisations only.
"""

from __future__ import annotations

import numpy as np

from costmodels import Mapping
from workloads import Layer


def prime_factors(n: int) -> list[int]:
    """Prime factors of n with multiplicity, ascending."""
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


DEFAULT_MAX_PADDING = 0.125
"""Largest padding per dim the mappers search by default: a bound D may be
mapped as any P in ``D .. D + floor(D / 8)``. The ViT-B/16 case of issue 14
(197 tokens padded to 200, +1.5%) needs little; 1/8 keeps the padded work of
a layer whose every dim is padded to at most 1.125^k of its MACs and reaches
a smooth bound for every prime >= 8 (a prime p < 8 cannot be padded: p + 1 > p * 1.125)."""


def check_max_padding(value, error=ValueError, where: str = "mapper") -> float:
    """``max_padding`` as a float in [0, 1]; raises ``error`` naming the field otherwise."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not 0 <= value <= 1:  # compared as given: float() of a huge int overflows
        raise error(
            f"{where}: field 'max_padding' expected a number in [0, 1] (0: exact factorisations only), found {value!r}"
        )
    return float(value)


def max_bound(size: int, max_padding: float) -> int:
    """Largest padded bound of a dim of ``size``: ``size + floor(size * max_padding)``."""
    return int(size) + int(np.floor(int(size) * float(max_padding) + 1e-9))


def padded_bounds(size: int, max_padding: float) -> list[int]:
    """Every bound a dim of ``size`` may be mapped as, ``size`` first (what ``exhaustive`` enumerates)."""
    return list(range(int(size), max_bound(size, max_padding) + 1))


def smooth_bounds(size: int, max_padding: float) -> list[int]:
    """The padded bounds worth sampling, ``size`` first: each one whose largest
    prime factor is smaller than that of every smaller bound (e.g. 197 -> 197,
    198, 200, 216 at 12.5%). A heuristic: a skipped bound is no smoother than a
    smaller one, so it rarely tiles better and costs more padding. Snapping and
    random sampling use these; the gradient polish's +-1 steps and
    ``exhaustive`` reach every bound."""
    out, best = [], None
    for p in padded_bounds(size, max_padding):
        lpf = prime_factors(p)[-1] if p > 1 else 1
        if best is None or lpf < best:
            out.append(p)
            best = lpf
    return out


SMOOTH_PRIME = 7
"""Largest prime factor of a bound ``smooth_bound`` pads to: bounds built from
2, 3, 5 and 7 split into the power-of-two-ish PE arrays and buffers of the
presets (a heuristic of this module, not a published rule)."""


def smooth_bound(size: int, max_padding: float) -> int:
    """The least padded bound of ``size`` whose prime factors are all <= ``SMOOTH_PRIME``
    (``size`` itself when it already is one, or when none lies within the slack).
    The one padded bound per dim the pruned mapper adds (``enumerate.pruned_space``)."""
    for p in padded_bounds(size, max_padding):
        if is_smooth(p):
            return p
    return int(size)


def is_smooth(n: int) -> bool:
    """Whether every prime factor of ``n`` is <= ``SMOOTH_PRIME``."""
    return n == 1 or prime_factors(int(n))[-1] <= SMOOTH_PRIME


def random_mappings(
    layer: Layer,
    n: int,
    rng: np.random.Generator,
    max_spatial: int | None = None,
    max_padding: float = 0.0,
) -> Mapping:
    """``n`` random factorisations and loop orders of ``layer``.

    Args:
        layer: The layer.
        n: Batch size.
        rng: NumPy generator (determinism: same seed, same batch).
        max_spatial: If given, prime factors that would push the spatial
            product above it are moved to the DRAM level instead (keeps
            samples within the PE count without rejection).
        max_padding: Padding slack (``DEFAULT_MAX_PADDING``; default 0 here:
            exact factorisations only). Where a dim's bound is not
            ``is_smooth`` (a prime factor above 7, e.g. 197) and it has padded
            ``smooth_bounds``, half the samples use its exact bound and half
            one of its padded bounds, uniformly; smooth bounds (most CNN and
            transformer dims) are sampled exactly, as padding them rarely pays
            and would halve the useful samples.

    Returns:
        A ``Mapping`` whose arrays have a leading axis of size ``n``
        (float32 factors, int32 orders). Capacity and NoC limits are not
        checked here; the cost model reports them.
    """
    factors = np.ones((n, 4, 8), dtype=np.int64)  # DRAM, L2, spatial, L1
    bound = np.tile(np.asarray(layer.sizes, np.int64), (n, 1))  # [n, 8] the bound each sample maps
    for d, size in enumerate(layer.sizes):
        pads = [] if is_smooth(size) else smooth_bounds(size, max_padding)[1:]
        if pads:
            pick = rng.integers(0, 2 * len(pads), size=n)  # < len(pads): padded, else exact
            padded = pick < len(pads)
            bound[padded, d] = np.asarray(pads, np.int64)[pick[padded]]
        for b in np.unique(bound[:, d]):
            rows = np.flatnonzero(bound[:, d] == b)
            primes = prime_factors(int(b))
            if not primes:
                continue
            where = rng.integers(0, 4, size=(len(rows), len(primes)))
            for j, p in enumerate(primes):
                factors[rows, where[:, j], d] *= p
    if max_spatial is not None:
        for d in range(8):
            for b in np.unique(bound[:, d]):
                for p in prime_factors(int(b)):
                    over = factors[:, 2].prod(axis=1) > max_spatial
                    move = over & (bound[:, d] == b) & (factors[:, 2, d] % p == 0)
                    factors[move, 2, d] //= p
                    factors[move, 0, d] *= p
    order = np.argsort(rng.random((n, 3, 8)), axis=-1).astype(np.int32)
    return Mapping.from_factors(factors, order)
