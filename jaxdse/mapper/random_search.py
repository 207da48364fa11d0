"""Random mapping search, the black-box baseline (Timeloop's random mapper).

Samples factorisations uniformly over prime-factor assignments (half of them
of a padded bound where a dim's bound has a prime factor above 7 and a
smoother bound lies within ``max_padding``: ``jaxdse.mapspace.random_mappings``) and
loop orders uniformly over all permutations, keeps the spatial product
within the PE count (others are never legal), scores every sample with the
exact model and stops once ``budget`` legal mappings were seen or
``max_evaluations`` were spent. Black-box codesign in Explainable-DSE used
10,000 random mappings per layer per design (reference, p. 9).
"""

from __future__ import annotations

import numpy as np

from costmodels import Arch
from jaxdse.mapper.space import Candidates, concat, score, take
from jaxdse.mapspace import DEFAULT_MAX_PADDING, random_mappings
from workloads import Layer

CHUNK = 16384


def random_search(
    layer: Layer,
    arch: Arch,
    objective: str,
    budget: int,
    rng: np.random.Generator,
    max_evaluations: int | None = None,
    max_padding: float = DEFAULT_MAX_PADDING,
) -> Candidates:
    """Random legal mappings until ``budget`` legal ones were found.

    Args:
        budget: Legal mappings to collect.
        max_evaluations: Cap on samples (default 50 x budget); a layer whose
            random samples are almost never legal stops there.
        max_padding: Padding slack per dim (0: exact factorisations only).
    """
    cap = max_evaluations or 50 * budget
    pes = int(np.asarray(arch.num_pes))
    kept, vals, legal, spent = [], [], 0, 0
    while legal < budget and spent < cap:
        n = CHUNK  # fixed batch shape: one compile for every layer and chunk
        m = random_mappings(layer, n, rng, max_spatial=pes, max_padding=max_padding)
        v = score(arch, layer, m, objective)
        spent += n
        ok = np.isfinite(v)
        # A sequential sampler would stop at the budget-th legal sample or at
        # the cap: count (and keep) only the samples up to there.
        stop = n
        if legal + ok.sum() >= budget:
            stop = int(np.flatnonzero(ok)[budget - legal - 1]) + 1
        stop = min(stop, cap - (spent - n))
        if stop < n:
            m = take(m, slice(0, stop))
            v = v[:stop]
            spent -= n - stop
            ok = np.isfinite(v)
        legal += int(ok.sum())
        kept.append(m)
        vals.append(v)
    return Candidates(concat(kept), np.concatenate(vals), spent, f"{legal} legal of {spent} sampled")
