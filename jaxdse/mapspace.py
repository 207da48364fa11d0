"""The map space of a layer: factorisations of each dim over the levels.

A mapping splits every loop bound D into four factors (DRAM, L2, spatial,
L1) whose product is D, plus a loop order per temporal level. Sampling
assigns each prime factor of D to one of the four levels uniformly (every
exact factorisation is reachable), vectorised over a batch in NumPy.
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


def random_mappings(layer: Layer, n: int, rng: np.random.Generator, max_spatial: int | None = None) -> Mapping:
    """``n`` random exact factorisations and loop orders of ``layer``.

    Args:
        layer: The layer.
        n: Batch size.
        rng: NumPy generator (determinism: same seed, same batch).
        max_spatial: If given, prime factors that would push the spatial
            product above it are moved to the DRAM level instead (keeps
            samples within the PE count without rejection).

    Returns:
        A ``Mapping`` whose arrays have a leading axis of size ``n``
        (float32 factors, int32 orders). Capacity and NoC limits are not
        checked here; the cost model reports them.
    """
    factors = np.ones((n, 4, 8), dtype=np.int64)  # DRAM, L2, spatial, L1
    for d, size in enumerate(layer.sizes):
        primes = prime_factors(size)
        if not primes:
            continue
        where = rng.integers(0, 4, size=(n, len(primes)))
        for j, p in enumerate(primes):
            factors[np.arange(n), where[:, j], d] *= p
    if max_spatial is not None:
        for d, size in enumerate(layer.sizes):
            for p in prime_factors(size):
                over = factors[:, 2].prod(axis=1) > max_spatial
                move = over & (factors[:, 2, d] % p == 0)
                factors[move, 2, d] //= p
                factors[move, 0, d] *= p
    order = np.argsort(rng.random((n, 3, 8)), axis=-1).astype(np.int32)
    return Mapping.from_factors(factors, order)
