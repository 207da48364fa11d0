"""Padded mappings (imperfect factorisation): every mapper method, checked against exhaustive."""

import numpy as np
import pytest

import costmodels as cm
import jaxdse
import workloads as w
from jaxdse.mapper import MapperError
from jaxdse.mapper import enumerate as en
from jaxdse.mapper.snap import nearest_splits, padded_splits
from jaxdse.mapspace import (
    DEFAULT_MAX_PADDING,
    max_bound,
    padded_bounds,
    random_mappings,
    smooth_bound,
    smooth_bounds,
)

# K = 31 is prime: on 16 PEs an exact factorisation unrolls at most C7 (7 PEs)
# or K31 (too many), while K padded to 32 unrolls K16 on every PE. No DMA setup
# and ample bandwidth keep the layer compute-bound, so the padded optimum
# (32 * 7 * 5 / 16 = 70 cycles) beats every exact one (31 * 5 = 155 cycles).
PRIME = w.raw("prime", dict(K=31, C=7, P=5))
ARCH = cm.make_arch(
    num_pes=16,
    l1_bytes=256,
    l2_kib=64,
    dram_mb_per_s=65536,
    noc_width_bits=64,
    noc_links=16,
    noc_virtual=8,
    dma_setup_cycles=0,
)


def _products(mappings) -> np.ndarray:
    t, s = np.asarray(mappings.temporal), np.asarray(mappings.spatial)
    return np.rint(np.prod(t, axis=-2) * s).astype(np.int64)


def test_padded_bounds_and_splits():
    assert padded_bounds(197, 0.125) == list(range(197, 222)) and max_bound(197, 0.125) == 221
    assert padded_bounds(7, 0.125) == [7]  # a prime below 8 cannot be padded within 12.5%
    assert padded_bounds(197, 0.0) == [197]
    assert smooth_bounds(197, 0.125) == [197, 198, 200, 216]
    assert smooth_bound(197, 0.125) == 200 and smooth_bound(56, 0.125) == 56 and smooth_bound(197, 0.0) == 197
    table = padded_splits(31, 0.125)
    assert set(table.prod(axis=1).tolist()) == {31, 32}  # 33 = 3 x 11 and 34 = 2 x 17 are no smoother than 32
    near = nearest_splits(31, np.log(np.array([1.0, 1.0, 16.0, 2.0])), 1, 0.125)
    assert near[0].tolist() == [1, 1, 16, 2]
    assert nearest_splits(31, np.log(np.array([1.0, 1.0, 16.0, 2.0])), 1, 0.0)[0].prod() == 31


def test_exhaustive_padded_space_counts_every_padded_bound():
    # K 31..34, C 7, P 5: splits of 31, 32, 33, 34 = 4 + 56 + 16 + 16, times 4 x 4
    assert en.count_tilings(PRIME, 0.125) == 92 * 16
    assert en.count_tilings(PRIME, 0.0) == en.count_tilings(PRIME) == 4 * 16


@pytest.fixture(scope="module")
def exhaustive_best():
    exact = en.exhaustive(PRIME, ARCH, "latency", None, None, max_padding=0.0, keep_best=None)
    padded = en.exhaustive(PRIME, ARCH, "latency", None, None, keep_best=None)
    return exact, padded


def test_padded_optimum_beats_every_exact_factorisation(exhaustive_best):
    exact, padded = exhaustive_best
    assert np.all(_products(exact.mappings) == np.asarray(PRIME.sizes))
    prods = _products(padded.mappings)
    assert np.all(prods >= np.asarray(PRIME.sizes))
    assert np.all(prods <= [max_bound(n, DEFAULT_MAX_PADDING) for n in PRIME.sizes])
    best_exact, best = np.min(exact.objective), np.min(padded.objective)
    assert best < 0.5 * best_exact  # 70 vs 155 cycles
    i = int(np.argmin(padded.objective))
    assert prods[i][w.DIMS.index("K")] > 31  # the optimum is a padded one
    # the exhaustive padded space holds the exact one: every exact value appears in it
    assert np.isin(exact.objective[np.isfinite(exact.objective)], padded.objective).all()


# gradient: ~2 minutes alone on 2 loaded cores (compiling), 3 s after test_mapper.py's gradient tests
# compiled the same single-layer program (measured), so it stays in the default suite
@pytest.mark.parametrize("method", ["gradient", "pruned", "random", "exhaustive"])
def test_every_method_finds_the_padded_optimum(method, exhaustive_best):
    _, padded = exhaustive_best
    budget = 1000 if method == "random" else None
    r = jaxdse.map_layer(PRIME, ARCH, method=method, budget=budget, seed=0)
    assert float(r.costs.legal) == 1.0
    assert float(r.costs.latency_cycles) == pytest.approx(np.min(padded.objective), rel=1e-6)
    off = jaxdse.map_layer(PRIME, ARCH, method=method, budget=budget, seed=0, max_padding=0)
    assert np.all(_products(off.mapping) == np.asarray(PRIME.sizes))  # max_padding=0: exact only
    assert float(off.costs.latency_cycles) >= np.min(padded.objective) * 2


def test_plan_reports_padding():
    net = w.Network(name="prime_net", layers=(PRIME,), counts=(2,))
    plan = jaxdse.map_network(net, ARCH, method="pruned", progress=False)
    row = plan.layer_dict(0)
    assert row["padded_bounds"] == {"K": [31, 32]}
    assert row["padded_work"] == pytest.approx(32 / 31 - 1)
    assert plan.total()["padded_work"] == pytest.approx(32 / 31 - 1)
    assert "K 31 -> 32 (+3.2% MACs)" in plan.table()
    exact = jaxdse.map_network(net, ARCH, method="pruned", progress=False, max_padding=0.0)
    assert exact.layer_dict(0)["padded_bounds"] == {} and exact.layer_dict(0)["padded_work"] == 0.0
    assert "padded work is costed" not in exact.table() and "padded work is costed" in plan.table()


def test_random_mappings_sample_padded_bounds():
    layer = w.raw("p", dict(K=197, C=13))
    prods = _products(random_mappings(layer, 2000, np.random.default_rng(0), max_padding=0.125))
    k = prods[:, w.DIMS.index("K")]
    assert set(np.unique(k).tolist()) == set(smooth_bounds(197, 0.125))
    assert 0.4 < np.mean(k == 197) < 0.6  # half exact, half padded
    same = _products(random_mappings(layer, 50, np.random.default_rng(0)))
    assert np.all(same == np.asarray(layer.sizes))


def test_bad_max_padding():
    for bad in (-0.1, 1.5, "0.1", True, None):
        with pytest.raises(MapperError, match="max_padding"):
            jaxdse.map_layer(PRIME, ARCH, method="pruned", max_padding=bad)


@pytest.mark.parametrize("bad", [10**400, -(10**400), 1.5, -0.1, float("nan"), "0.1", True])
def test_bad_max_padding_is_a_named_error(bad):
    """Found by the CLI fuzzer: a huge int made float() overflow (a traceback, not an error naming the field)."""
    with pytest.raises(MapperError, match="max_padding"):
        jaxdse.map_layer(PRIME, ARCH, max_padding=bad)
