"""``map_layer`` and ``map_network``: one entry point for every mapping method.

Methods (``METHODS``):

* ``gradient`` (default): Adam on the relaxed model with snapping and exact
  validation (``jaxdse.mapper.gradient``); all layers in one batch. Its
  candidates are joined with the pruned mapper's (``_with_pruned``: the
  relaxed descent alone missed the energy optimum of a GEMM by 6% and left
  networks on large designs up to 1.47x slower): from 4 starts up
  (``JOIN_PRUNED_STARTS``: the default and the explorer's budget) for
  every objective, below it for energy and EDP only, always at the pruned
  mapper's full range. ``join=True`` joins latency at every budget too (a
  multi-objective run compares its mapper objectives on the same axes),
  ``join=False`` never joins.
* ``pruned``: the classical dMazeRunner / Explainable-DSE pruned top-N
  enumeration (``jaxdse.mapper.enumerate``).
* ``random``: Timeloop-style random legal mappings (``random_search``).
* ``exhaustive``: every exact factorisation x candidate orders, small layers.

``budget`` means, per layer: for ``gradient`` roughly the exact evaluations
to spend (it sets the number of starts, 216 evaluations each; default 12
starts, about 2,900 evaluations per layer with the initial and polish work); for ``random`` the
legal mappings to collect (default 10,000, the reference's black-box
setting); for ``pruned`` the upper end of the top-N range (default 10,000);
``exhaustive`` ignores it. Every result reports the exact evaluations spent.

``max_padding`` (default ``DEFAULT_MAX_PADDING``, 12.5%) lets every method
map a dim of bound D with factors whose product P is padded, D <= P <=
D + floor(D * max_padding) (imperfect factorisation; the cost model charges
the padded work): the gradient mapper snaps to padded splits and polishes
with +-1 factor steps, ``pruned`` adds the space of every dim padded to its
nearest 7-smooth bound, ``random`` samples padded bounds for half its samples
(on dims with a prime factor above 7) and ``exhaustive`` enumerates every padded bound, so it stays the reference.
``max_padding=0`` searches exact factorisations only. The plan reports each
layer's padding (``Plan.layer_dict``: ``padded_bounds``, ``padded_work``).

``tie_break`` (default None) names a second objective that picks among the
candidates tied at the best value (``_tie_order``; every tied candidate scored
exactly). A multi-objective run maps latency with ``tie_break="energy"``;
single-objective runs keep the method's own order among ties.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from costmodels import Arch, Costs, Mapping, evaluate_jit, get_arch, layer_arrays
from costmodels.counts import check_counts
from jaxdse.mapper.random_search import CHUNK as TIE_CHUNK
from jaxdse.mapper.space import OBJECTIVES, Candidates, MapperError, check_objective, check_tie_break, score, take
from jaxdse.mapspace import DEFAULT_MAX_PADDING, check_max_padding
from jaxdse.plan import evaluate as evaluate_plan
from jaxdse.progress import check_progress, progress_reporter
from workloads import Layer, Network
from workloads.specfile import printable, show

METHODS: tuple[str, ...] = ("gradient", "pruned", "random", "exhaustive")

_GRAD_ROUNDS, _GRAD_NEIGHBOURS, _ORDERS = 3, 8, 9


MAX_SEED = 2**32 - 1
"""Largest seed: the codesign baselines hand it to optuna's samplers, which
seed a NumPy RandomState (0..2**32 - 1, numpy.random.RandomState "seed")."""


def _check_method(method: str) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise MapperError(f"mapper: field 'method' expected one of {METHODS}, found {show(method)}")
    return method


def _check_int(field: str, value, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < low
        or (high is not None and value > high)
    ):
        want = f"an int in {low}..{high}" if high else f"an int >= {low}"
        raise MapperError(f"mapper: field '{field}' expected {want}, found {show(value)}")
    return int(value)


MAX_BUDGET = 10**7
"""Largest per-layer budget: 1,000 x the reference's 10,000-mapping setting.
Beyond it the gradient mapper's starts (one per 216 evaluations) and the
random mapper's candidate arrays only exhaust memory."""


def _check_budget(budget) -> int | None:
    return None if budget is None else _check_int("budget", budget, 1, MAX_BUDGET)


GRADIENT_STARTS_DEFAULT = 12
"""Starts per layer of the gradient mapper by default: the fewest that match
10,000 random mappings on every zoo network (benchmarks/mapper_quality.py)."""

JOIN_PRUNED_STARTS = 4
"""Gradient starts from which a latency mapping joins the gradient mapper's candidates with
the pruned top-N mapper's at its full reference range (10,000 candidates; ``_with_pruned``):
the explorer's default budget (``Evaluator.mapper_budget``, 4 starts) and ``map_network``'s
default (12). Below it latency goes without them: ``REMAP_BUDGET`` (2 starts) asks for
speed, and the pruned enumeration and scoring cost about as much as four gradient starts
(re-mapping efficientnet_b0's 47 layers took 3.0 s with them, 0.86 s without;
``benchmarks/remap_speed.py``). Energy and EDP join the full range at every budget: capped
at a small budget (the Pareto benchmark's 40 per layer: 4 tilings x 9 orders, ranked by
utilisation, a latency proxy, and under dMazeRunner's no-spatial-reduction rule) the join
mapped a design with more legal mappings worse, e.g. ResNet-18 on NSGA-II's fastest
seed-1 front design (README, "Pareto fronts") 14.995 mJ with its own virtual unicast and
16.119 mJ with 512 x on every NoC (a superset of its mappings, same costs per mapping);
at the full range 14.478 and 14.932 mJ. Over 42 such mappings (``benchmarks/energy_join.py``)
the full range gave 4.9% less energy (geometric mean) for 1.3x the mapping time."""

REMAP_BUDGET = 2 * _GRAD_ROUNDS * _GRAD_NEIGHBOURS * _ORDERS + _ORDERS
"""Per-layer budget for re-mapping at deployment time (issue 14, section 3):
two gradient starts (the default mapping and the best pruned-space tiling)
instead of ``GRADIENT_STARTS_DEFAULT``. ``benchmarks/remap_speed.py``
measures the trade on every zoo network: several times faster, network
latency within a few percent of the full search (README, "Re-mapping at
deployment time"); one start alone lost 37% on resnet50."""


def _validated(arch, objective: str, method: str, budget, seed, max_padding) -> tuple[Arch, int | None]:
    """Check every argument before any search starts; returns the Arch and budget."""
    check_max_padding(max_padding, MapperError)
    where = f"arch {printable(arch)}" if isinstance(arch, (str, os.PathLike)) else "arch"
    arch = check_counts(get_arch(arch), where)
    if not isinstance(objective, str):
        raise MapperError(f"mapper: field 'objective' expected one of {OBJECTIVES}, found {show(objective)}")
    check_objective(objective)
    _check_method(method)
    _check_int("seed", seed, 0, MAX_SEED)
    return arch, _check_budget(budget)


def _gradient_starts(budget: int | None) -> int:
    """Starts that spend about ``budget`` exact evaluations per layer (each start
    costs rounds x neighbours x 9 orders; the rest is initial and polish work)."""
    if budget is None:
        return GRADIENT_STARTS_DEFAULT
    return max(1, (budget - _ORDERS) // (_GRAD_ROUNDS * _GRAD_NEIGHBOURS * _ORDERS))


@dataclass(frozen=True)
class LayerMapping:
    """The result of mapping one layer.

    Attributes:
        layer: The layer.
        mapping: Best legal mapping found (the default mapping if none).
        costs: Its exact ``Costs``.
        top: Up to ``top_n`` best distinct legal mappings, best first, with
            their exact objective values.
        exact_evaluations: Exact evaluations the search spent on this layer.
        method: Method name.
        objective: Objective name.
    """

    layer: Layer
    mapping: Mapping
    costs: Costs
    top: tuple[tuple[Mapping, float], ...]
    exact_evaluations: int
    method: str
    objective: str


def _check_join(join) -> None:
    if join is not None and not isinstance(join, bool):
        raise MapperError(f"mapper: field 'join' expected True, False or None (the default policy), found {show(join)}")


def _joins(objective: str, budget: int | None, join: bool | None) -> bool:
    """Whether the gradient mapper's candidates are joined with the pruned mapper's: ``join``
    when given, else energy and EDP always and latency from ``JOIN_PRUNED_STARTS`` starts."""
    if join is not None:
        return join
    return objective != "latency" or _gradient_starts(budget) >= JOIN_PRUNED_STARTS


def _run_method(layers, arch, objective, method, budget, seed, progress, max_padding, join=None) -> list[Candidates]:
    if method == "gradient":
        from jaxdse.mapper.gradient import gradient_map

        cands = gradient_map(
            list(layers),
            arch,
            objective,
            seed=seed,
            starts=_gradient_starts(budget),
            steps=40 * _GRAD_ROUNDS,
            snap_every=40,
            neighbours=_GRAD_NEIGHBOURS,
            max_padding=max_padding,
            progress=progress,
        )
        if not _joins(objective, budget, join):
            return cands  # a small latency budget asks for speed (REMAP_BUDGET)
        return [_with_pruned(c, layer, arch, objective, max_padding) for c, layer in zip(cands, layers)]
    rng = np.random.default_rng(seed)
    out = []
    for i, layer in enumerate(layers):
        if method == "random":
            from jaxdse.mapper.random_search import random_search

            out.append(random_search(layer, arch, objective, budget or 10_000, rng, max_padding=max_padding))
        elif method == "pruned":
            from jaxdse.mapper.enumerate import pruned

            out.append(pruned(layer, arch, objective, budget, rng, max_padding=max_padding))
        else:
            from jaxdse.mapper.enumerate import exhaustive

            out.append(exhaustive(layer, arch, objective, budget, rng, max_padding=max_padding))
        if progress is not None:
            progress(f"{method} mapper: layer {i + 1}/{len(layers)} ({layer.name})")
    return out


def _with_pruned(cand: Candidates, layer: Layer, arch: Arch, objective: str, max_padding) -> Candidates:
    """The gradient mapper's candidates joined with the pruned top-N mapper's.

    The relaxed descent stops in local optima that the pruned enumeration
    (``enumerate.pruned``: the best-utilised tilings x 9 order pairs, its reference
    range of 10 to 10,000 candidates, every one scored exactly) does not. Energy: on a
    768x768 GEMM with 128 tokens on ``explainable_default`` the gradient mapper alone
    gave 753.9 uJ where the pruned mapper finds 710.7 uJ, the optimum AccelForge's
    mapper also finds (README, "Mapper quality and speed against AccelForge").
    Latency: on designs the explorer evaluated (``benchmarks/mapper_join.py``, 66 design
    x network pairs) the gradient mapper at the explorer's budget left networks up to
    1.47x (6% on average) slower than the join, and its result moved between seeds
    (swin_t_stage3 on one design: 5.25 / 4.86 / 4.64 ms at seeds 0 / 1 / 2, joined
    4.63 ms), which made the explorer's result a matter of the mapper's seed
    (README, "Changed figures"). So both run and the best exact candidate wins; the
    exact evaluations of both are counted. The pruned half runs at its full reference
    range (``JOIN_PRUNED_STARTS`` says why not capped) and unrolls reduction dims (C, R,
    S) whenever they fit (``unroll_reduction``), not only
    when dMazeRunner's rule allows it (no other unrolling reaches 90% of the PEs): with
    the rule, a larger virtual unicast (more non-reduction unrollings legal) hid the
    K x C unrollings and swin_t_stage3's qkv mapped 2.5x slower (5.42 instead of 4.63
    ms for the network on one 1,024-PE design); without it the join is 0.6% better on
    average (geometric mean over the 77 design x network pairs of the designs of
    ``benchmarks/mapper_join.py`` and seven networks).
    """
    from jaxdse.mapper.enumerate import pruned

    extra = pruned(
        layer, arch, objective, None, np.random.default_rng(0), max_padding=max_padding, unroll_reduction=True
    )
    return cand.joined(extra, "joined with the pruned top-N mapper's candidates")


def _tie_order(layer: Layer, arch: Arch, cand: Candidates, v: np.ndarray, tie_break: str | None) -> np.ndarray:
    """Candidate indices best first: by objective, and among those tied at the best
    value by ``tie_break`` (another objective, scored exactly; None keeps the order
    the method gave).

    Latency ties are common (cycles are integers and a compute-bound layer reaches
    the same count under many tilings), and their energies differ: a latency-mapped
    point of a front should be the least-energy one of the fastest mappings.
    """
    order = np.argsort(v, kind="stable")
    if tie_break is None or not np.isfinite(v[order[0]]):
        return order
    tied = np.flatnonzero(v == v[order[0]])
    if len(tied) < 2:
        return order
    second = np.empty(len(tied), np.float64)
    for start in range(0, len(tied), TIE_CHUNK):
        idx = tied[start : start + TIE_CHUNK]
        padded = np.concatenate([idx, np.full(TIE_CHUNK - len(idx), idx[0])])  # one compiled shape
        second[start : start + len(idx)] = score(arch, layer, take(cand.mappings, padded), tie_break)[: len(idx)]
    best = tied[np.argsort(second, kind="stable")]
    return np.concatenate([best, order[len(tied) :]])


def _finish(
    layer: Layer,
    arch: Arch,
    cand: Candidates,
    method: str,
    objective: str,
    top_n: int,
    tie_break: str | None = None,
) -> LayerMapping:
    from jaxdse.heuristic import default_mapping

    v = np.asarray(cand.objective, dtype=np.float64)
    order = _tie_order(layer, arch, cand, v, tie_break)
    top, seen = [], set()
    for i in order:
        if not np.isfinite(v[i]) or len(top) >= top_n:
            break
        m = take(cand.mappings, i)
        key = (np.asarray(m.temporal).tobytes(), np.asarray(m.spatial).tobytes(), np.asarray(m.order).tobytes())
        if key in seen:
            continue
        seen.add(key)
        top.append((m, float(v[i])))
    best = top[0][0] if top else default_mapping(layer, arch)
    costs = evaluate_jit(arch, layer_arrays(layer), best)  # re-checked exactly
    return LayerMapping(layer, best, costs, tuple(top), cand.exact_evaluations, method, objective)


def map_layer(
    layer: Layer,
    arch: Arch | str = "explainable_default",
    objective: str = "latency",
    method: str = "gradient",
    budget: int | None = None,
    seed: int = 0,
    top_n: int = 10,
    max_padding: float = DEFAULT_MAX_PADDING,
    join: bool | None = None,
    tie_break: str | None = None,
) -> LayerMapping:
    """Best mapping of one layer on one design (see the module docstring; ``join`` there)."""
    if not isinstance(layer, Layer):
        raise MapperError(f"map_layer: field 'layer' expected a workloads.Layer, found {show(layer)}")
    arch, budget = _validated(arch, objective, method, budget, seed, max_padding)
    _check_int("top_n", top_n, 1)
    _check_join(join)
    check_tie_break(tie_break, objective)
    cand = _run_method([layer], arch, objective, method, budget, seed, None, float(max_padding), join)[0]
    return _finish(layer, arch, cand, method, objective, top_n, tie_break)


def map_network(
    network: Network,
    arch: Arch | str = "explainable_default",
    objective: str = "latency",
    method: str = "gradient",
    budget: int | None = None,
    seed: int = 0,
    progress=True,
    max_padding: float = DEFAULT_MAX_PADDING,
    join: bool | None = None,
    tie_break: str | None = None,
):
    """Map every unique layer of a network; returns a ``jaxdse.Plan`` with exact costs.

    Args:
        network: The workload.
        arch: An ``Arch``, preset name or arch file.
        objective: One of ``OBJECTIVES``.
        method: One of ``METHODS``.
        budget: Per-layer search size (module docstring).
        seed: Same seed, same plan.
        progress: True (default) shows a progress bar, False or None nothing, a
            callable(str) receives progress lines (``jaxdse.progress``).
        max_padding: Padding slack per dim (module docstring; 0: exact
            factorisations only).
        join: Join the gradient mapper's candidates with the pruned mapper's: None
            (default) from 4 starts for latency and always for energy and EDP, True
            always, False never (module docstring).
        tie_break: None (default) or another objective that picks among the
            mappings tied at the best objective value (a multi-objective run maps
            latency with ``tie_break="energy"``: of the fastest mappings, the one
            with the least energy).
    """
    if not isinstance(network, Network):
        raise MapperError(f"map_network: field 'network' expected a workloads.Network, found {show(network)}")
    arch, budget = _validated(arch, objective, method, budget, seed, max_padding)
    check_progress(progress, "map_network", MapperError)
    _check_join(join)
    check_tie_break(tie_break, objective)
    t0 = time.perf_counter()
    with progress_reporter(progress, f"mapping {network.name}", "step") as report:
        cands = _run_method(network.layers, arch, objective, method, budget, seed, report, float(max_padding), join)
    results = [_finish(lay, arch, c, method, objective, 1, tie_break) for lay, c in zip(network.layers, cands)]
    wall = time.perf_counter() - t0
    evals = int(sum(c.exact_evaluations for c in cands))
    return evaluate_plan(
        network,
        arch,
        [r.mapping for r in results],
        method=f"{method} mapper (objective {objective}, seed {seed}, padding up to {float(max_padding):.1%})",
        exact_evaluations=evals,
        wall_s=wall,
    )


__all__ = ["METHODS", "OBJECTIVES", "REMAP_BUDGET", "LayerMapping", "MapperError", "map_layer", "map_network"]
