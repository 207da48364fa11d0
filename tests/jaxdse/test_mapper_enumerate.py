"""Enumerating mappers: exhaustive against brute force, pruned top-N rules, legality, determinism."""

import itertools

import chex
import jax
import numpy as np
import pytest

import costmodels as cm
import workloads as w
from jaxdse.mapper import enumerate as en
from jaxdse.mapper import space
from jaxdse.mapper.random_search import CHUNK
from jaxdse.mapper.space import ALL_ORDERS, MapperError
from jaxdse.mapspace import DEFAULT_MAX_PADDING, max_bound

SMALL = w.raw("small", dict(K=4, C=4, P=4, Q=2, R=3))
TINY = cm.preset("tiny")
DEFAULT = cm.preset("explainable_default")
RESNET = w.get("resnet50").layers
BERT = w.get("bert_base").layers
ZOO = [RESNET[0], RESNET[2], RESNET[12], RESNET[19], RESNET[23], BERT[0], BERT[3], w.get("transformer").layers[5]]


def _naive_splits(n):
    """Ordered 4-factor splits by trial division (independent of the module's helpers)."""
    return [
        (a, b, c, n // (a * b * c))
        for a in range(1, n + 1)
        for b in range(1, n + 1)
        for c in range(1, n + 1)
        if n % (a * b * c) == 0
    ]


@jax.jit
def _costs(arch, layer_arrays, mappings):
    c = cm.evaluate_batch(arch, layer_arrays, mappings)
    seen_on_host = (c.pe_excess > 0) | jax.numpy.any(c.noc_excess > 0, axis=-1) | (c.l1_excess_bytes > 0)
    return c.legal, c.latency_cycles, seen_on_host


def _exact(layer, arch, temporal, spatial, order):
    """(legal, latency, PE/NoC/L1 violated) straight from the cost model, in fixed-size padded chunks."""
    temporal, spatial, order = (np.asarray(x) for x in (temporal, spatial, order))
    n, parts = len(temporal), []
    for lo in range(0, n, CHUNK):
        idx = np.arange(lo, lo + CHUNK) % n
        m = cm.Mapping(temporal=temporal[idx], spatial=spatial[idx], order=order[idx])
        parts.append([np.asarray(x)[: min(CHUNK, n - lo)] for x in _costs(arch, cm.layer_arrays(layer), m)])
    return tuple(np.concatenate(x) for x in zip(*parts))


@pytest.fixture(scope="module")
def brute_force():
    """Every factorisation x order pair of SMALL on TINY, built with Python loops and scored unfiltered."""
    per_dim = [_naive_splits(n) for n in SMALL.sizes]
    temporal, spatial, order = [], [], []
    for combo in itertools.product(*per_dim):
        f = np.array(combo).T  # [4, 8]: DRAM, L2, spatial, L1
        for o in ALL_ORDERS:
            temporal.append(f[[0, 1, 3]])
            spatial.append(f[2])
            order.append(o)
    temporal = np.array(temporal, np.float32)
    spatial = np.array(spatial, np.float32)
    order = np.array(order, np.int32)
    legal, latency, seen_on_host = _exact(SMALL, TINY, temporal, spatial, order)
    return np.where(legal > 0, latency, np.inf), seen_on_host


@pytest.fixture(scope="module")
def exhaustive_small():
    return en.exhaustive(SMALL, TINY, "latency", None, np.random.default_rng(0), keep_best=None)


def _evaluate(layer, arch, mappings):
    return _exact(layer, arch, mappings.temporal, mappings.spatial, mappings.order)[:2]


def _factors(mappings):
    t, s = np.asarray(mappings.temporal), np.asarray(mappings.spatial)
    return np.rint(np.stack([t[:, 0], t[:, 1], s, t[:, 2]], axis=1)).astype(np.int64)


# ------------------------------------------------------------------ exhaustive
def test_count_tilings_matches_naive_enumeration():
    assert en.count_tilings(SMALL) == np.prod([len(_naive_splits(n)) for n in SMALL.sizes]) == 16_000
    assert len(en._splits4(72)) == len(_naive_splits(72)) == 200


def test_exhaustive_equals_brute_force(brute_force, exhaustive_small):
    brute_force, seen_on_host = brute_force
    ex = exhaustive_small
    assert len(brute_force) == 16_000 * 9
    assert np.min(ex.objective) == pytest.approx(np.min(brute_force), rel=1e-6)
    # the host filter removes only illegal mappings: the legal counts agree
    assert int(np.isfinite(ex.objective).sum()) == int(np.isfinite(brute_force).sum())
    assert ex.exact_evaluations == len(ex.objective) < len(brute_force)
    # exactly the mappings the model flags for PE count, NoC workgroups or L1 are filtered
    filtered = len(brute_force) - ex.exact_evaluations
    assert filtered == int(seen_on_host.sum()) > 0
    assert f"{filtered:,} filtered on the host" in ex.notes
    # the same multiset of objective values as the legal brute-force mappings
    np.testing.assert_allclose(np.sort(ex.objective), np.sort(brute_force[np.isfinite(brute_force)]), rtol=1e-6)


def test_exhaustive_scored_mappings_are_legal(exhaustive_small):
    ex = exhaustive_small
    legal, latency = _evaluate(SMALL, TINY, ex.mappings)
    finite = np.isfinite(ex.objective)
    assert finite.any()
    assert np.all(legal[finite] == 1.0)
    np.testing.assert_allclose(latency[finite], ex.objective[finite], rtol=1e-6)
    assert np.all(np.prod(_factors(ex.mappings), axis=1) == np.asarray(SMALL.sizes))


def test_exhaustive_keep_best_keeps_the_best(exhaustive_small):
    few = en.exhaustive(SMALL, TINY, "latency", None, None, keep_best=100)
    assert len(few.objective) == 100
    assert few.exact_evaluations == exhaustive_small.exact_evaluations
    assert np.max(few.objective) <= np.sort(exhaustive_small.objective)[99]


def test_exhaustive_rejects_a_big_layer():
    with pytest.raises(MapperError, match="field 'layer'") as err:
        en.exhaustive(RESNET[0], DEFAULT, "latency", None, None)
    assert "max_mappings=3,000,000" in str(err.value)
    assert f"{en.count_tilings(RESNET[0], DEFAULT_MAX_PADDING) * 9:,}" in str(err.value)
    with pytest.raises(ValueError, match="144,000"):
        en.exhaustive(SMALL, TINY, "latency", None, None, max_mappings=100_000)
    with pytest.raises(MapperError, match="keep_best"):
        en.exhaustive(SMALL, TINY, "latency", None, None, keep_best=0)


# ------------------------------------------------------------------ pruned
@pytest.mark.parametrize("layer", ZOO, ids=lambda layer: layer.name)
def test_pruned_zoo_layers_give_legal_candidates(layer):
    cand = en.pruned(layer, DEFAULT, "latency", None, None)
    n = len(cand.objective)
    assert 10 <= n <= 10_000
    assert cand.exact_evaluations == n
    assert np.all(np.isfinite(cand.objective)), cand.notes
    legal, latency = _evaluate(layer, DEFAULT, cand.mappings)
    assert np.all(legal == 1.0)
    np.testing.assert_allclose(latency, cand.objective, rtol=1e-6)
    prods = np.prod(_factors(cand.mappings), axis=1)  # exact, or padded within the default slack
    assert np.all(prods >= np.asarray(layer.sizes))
    assert np.all(prods <= [max_bound(n, DEFAULT_MAX_PADDING) for n in layer.sizes])
    assert "thresholds PE>=" in cand.notes and f"{n} candidates scored" in cand.notes


@pytest.mark.parametrize("arch", [TINY, DEFAULT], ids=["tiny", "explainable_default"])
def test_pruned_close_to_exhaustive_on_small_layer(arch):
    best = np.min(en.exhaustive(SMALL, arch, "latency", None, None).objective)
    got = np.min(en.pruned(SMALL, arch, "latency", None, None).objective)
    assert best <= got <= 2.0 * best


def test_pruned_thresholds_relax_until_enough():
    # SMALL fills under 1% of TINY's L2: the L2 threshold must relax, the others need not
    sp = en.pruned_space(SMALL, TINY)
    assert sp.rounds > 0
    assert sp.thresholds[2] < en.STRICT[2] * en.RELAX**10
    assert sp.thresholds[0] == en.STRICT[0]
    found = [n for _, n in sp.history]
    assert found[0] < 10 <= found[-1] == sp.n_candidates
    assert found == sorted(found)  # relaxing only ever adds candidates
    cand = en.pruned(SMALL, TINY, "latency", None, None)
    assert f"after {sp.rounds} relaxation round(s)" in cand.notes


def test_pruned_strict_thresholds_cut_to_top_n():
    sp = en.pruned_space(RESNET[2], DEFAULT)
    assert sp.rounds == 0 and sp.thresholds == en.STRICT
    assert sp.counts["tilings"] * 9 > 10_000 == sp.n_candidates
    u = sp.utilisation
    assert np.all(u[:, 0] >= 0.9) and np.all(u[:, 1:] >= 0.5) and np.all(u <= 1.0)
    score_ = u.prod(axis=1)
    assert np.all(np.diff(score_) <= 0)  # best utilisation first


def test_pruned_branch_and_bound_is_exact(monkeypatch):
    fast = en.pruned_space(RESNET[2], DEFAULT)
    assert fast.settled_early[1]
    monkeypatch.setattr(en, "_BATCH", 10**9)
    full = en.pruned_space(RESNET[2], DEFAULT)
    assert full.settled_early == (False, False) and full.counts["tilings"] > fast.counts["tilings"]
    np.testing.assert_array_equal(fast.tilings, full.tilings)


def test_pruned_no_spatial_reduction_when_alternatives_exist():
    sp = en.pruned_space(SMALL, TINY)  # K x P fills the 16 PEs
    assert not sp.reduction_unrolled
    reduction = [w.DIMS.index(d) for d in "CRS"]
    assert np.all(sp.tilings[:, 2][:, reduction] == 1)
    # 16 links x 8 = 128 output workgroups < 256 PEs: without C/R/S at most half the PEs
    sp = en.pruned_space(RESNET[2], DEFAULT)
    assert sp.reduction_unrolled
    assert np.any(sp.tilings[:, 2][:, reduction] > 1)


def test_pruned_budget_and_range():
    cand = en.pruned(RESNET[12], DEFAULT, "latency", 50, None)
    assert cand.exact_evaluations == len(cand.objective) == 50
    with pytest.raises(MapperError, match="n_range"):
        en.pruned(SMALL, TINY, "latency", None, None, n_range=(100, 10))
    with pytest.raises(MapperError, match="budget"):
        en.pruned(SMALL, TINY, "latency", 0, None)


def test_deterministic_and_one_compiled_scorer(monkeypatch):
    # fixed chunk shape: one trace of the scorer serves every layer (chex.assert_max_traces on a fresh copy)
    chex.clear_trace_counter()  # the counters are global, keyed by the wrapped function
    scorer = jax.jit(chex.assert_max_traces(space._score.__wrapped__, n=1), static_argnames=("objective",))
    monkeypatch.setattr(space, "_score", scorer)
    a = en.pruned(RESNET[19], DEFAULT, "latency", None, np.random.default_rng(0))
    b = en.pruned(RESNET[19], DEFAULT, "latency", None, np.random.default_rng(1))
    c = en.pruned(BERT[0], DEFAULT, "latency", None, np.random.default_rng(0))
    monkeypatch.undo()
    assert len(c.objective) > 0
    np.testing.assert_array_equal(a.objective, b.objective)
    for x, y in zip(jax.tree_util.tree_leaves(a.mappings), jax.tree_util.tree_leaves(b.mappings)):
        np.testing.assert_array_equal(x, y)
    e1 = en.exhaustive(SMALL, TINY, "latency", None, np.random.default_rng(0), keep_best=500)
    e2 = en.exhaustive(SMALL, TINY, "latency", None, np.random.default_rng(5), keep_best=500)
    np.testing.assert_array_equal(e1.objective, e2.objective)
    np.testing.assert_array_equal(np.asarray(e1.mappings.temporal), np.asarray(e2.mappings.temporal))
