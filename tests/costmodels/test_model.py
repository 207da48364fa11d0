"""Latency, energy, area, numerics and transformation properties of the model."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import workloads as w
from costmodels import (
    EXACT,
    Relaxed,
    analyse,
    bottleneck_tree,
    evaluate,
    evaluate_batch,
    evaluate_jit,
    layer_arrays,
    make_arch,
    make_mapping,
    preset,
)
from costmodels import technology as tech
from jaxdse.mapspace import random_mappings

TINY = dict(num_pes=16, l1_bytes=64, l2_kib=64, dram_mb_per_s=1024, noc_width_bits=32, noc_links=4, noc_virtual=8)


def _gemm_case():
    # tokens=3 x in=4 @ in=4 x out=2, DRAM loop P3, one PE holding K2 x C4.
    layer = w.linear("fc", 4, 2, tokens=3)
    mapping = make_mapping(dram={"P": 3}, l1={"K": 2, "C": 4})
    return layer, mapping


def test_latency_terms_by_hand_multicast_case():
    # 1x1 conv K=4, C=2 on 4 PEs over K (see test_access for the counts).
    arch = make_arch(**TINY)
    layer = w.raw("pw", {"K": 4, "C": 2})
    c = evaluate(arch, layer_arrays(layer), make_mapping(spatial={"K": 4}, l1={"C": 2}))
    # compute: 2 cycles (C2 per PE). NoC inputs: 1 request x ceil(1/4 links)
    # x ceil(4 bytes / 4-byte width) = 1; weights 1; output writes 1 (2 bytes).
    np.testing.assert_allclose(c.terms_cycles[:5], [2, 1, 1, 0, 1])
    # DMA: (4 + 16 + 8) bytes at 1024 MB/s / 500 MHz = 2.048 B/cycle, plus
    # 3 bursts (inputs, weights, output writes) x 291 setup cycles.
    dma = 28 / 2.048 + 3 * 291
    np.testing.assert_allclose(c.dma_cycles, dma, rtol=1e-5)
    np.testing.assert_allclose(c.latency_cycles, dma, rtol=1e-5)
    np.testing.assert_allclose(c.latency_s, dma / 500e6, rtol=1e-5)
    assert analyse(bottleneck_tree(c)).term.name == "dma"


def test_noc_time_sharing_and_beats_by_hand():
    # 16 PEs over K with 4 links: weights have 16 workgroups -> 4 rounds;
    # each PE's weight tile is C=8 words = 16 bytes on a 32-bit NoC -> 4 beats.
    arch = make_arch(**TINY)
    layer = w.raw("pw", {"K": 16, "C": 8})
    c = evaluate(arch, layer_arrays(layer), make_mapping(spatial={"K": 16}, l1={"C": 8}))
    np.testing.assert_allclose(c.noc_rounds[1], 4)
    np.testing.assert_allclose(c.noc_beats[1], 4)
    np.testing.assert_allclose(c.noc_cycles[1], 1 * 4 * 4)
    # inputs: one workgroup (shared by all 16 PEs), 16 bytes -> 4 beats
    np.testing.assert_allclose(c.noc_cycles[0], 4)


def test_energy_is_accesses_times_per_access_energy():
    arch = make_arch(**TINY)
    layer, mapping = _gemm_case()
    c = evaluate(arch, layer_arrays(layer), mapping)
    tr = c.traffic
    np.testing.assert_allclose(c.energy_pj[0], 24 * tech.mac_energy_pj(), rtol=1e-6)
    # energy counts the drains that Timeloop's reads leave out
    l1_words = float(jnp.sum(tr.l1_fills_words + tr.l1_reads_words + tr.l1_updates_words + tr.l1_drain_reads_words))
    np.testing.assert_allclose(c.energy_pj[1], l1_words * tech.rf_energy_pj_per_access(64.0), rtol=1e-5)
    # DRAM: 12 + 8 input/weight words read, 6 outputs written, 2 bytes each
    np.testing.assert_allclose(c.energy_pj[4], (12 + 8 + 6) * 2 * tech.dram_energy_pj_per_byte(), rtol=1e-5)
    leak = tech.leakage_w_per_mm2() * float(c.area_total_mm2) * float(c.latency_s) * 1e12
    np.testing.assert_allclose(c.energy_pj[5], leak, rtol=1e-5)
    np.testing.assert_allclose(c.energy_total_pj, float(jnp.sum(c.energy_pj)), rtol=1e-6)


def test_area_components_and_power():
    arch = make_arch(**TINY)
    layer, mapping = _gemm_case()
    c = evaluate(arch, layer_arrays(layer), mapping)
    np.testing.assert_allclose(c.area_mm2[0], 16 * tech.mac_area_um2() * 1e-6, rtol=1e-5)
    np.testing.assert_allclose(c.area_mm2[2], tech.sram_area_mm2(64.0), rtol=1e-5)
    assert float(c.peak_power_w) > tech.leakage_w_per_mm2() * float(c.area_total_mm2)
    bigger = make_arch(**{**TINY, "num_pes": 64})
    c2 = evaluate(bigger, layer_arrays(layer), mapping)
    assert float(c2.area_total_mm2) > float(c.area_total_mm2)
    assert float(c2.peak_power_w) > float(c.peak_power_w)


def test_violations_are_named():
    arch = make_arch(**TINY)
    layer = w.raw("big", {"K": 64, "C": 64})
    # 64 x 64 spatial on 16 PEs; a 4096-word L1 tile in 64 bytes.
    c = evaluate(arch, layer_arrays(layer), make_mapping(spatial={"K": 64}, l1={"C": 64}))
    assert float(c.legal) == 0.0
    assert float(c.pe_excess) == 64 - 16
    assert float(c.l1_excess_bytes) == (64 + 64 + 1) * 2 - 64
    assert float(c.noc_excess[1]) == 64 - 4 * 8  # weights: 64 workgroups > 4 links x 8
    assert float(c.noc_excess[0]) == 0.0
    c = evaluate(arch, layer_arrays(layer), make_mapping(l1={"C": 8}))
    np.testing.assert_allclose(c.coverage_deficit, [0, 0, 64 - 1, 64 - 8, 0, 0, 0, 0])


@pytest.mark.slow  # a minute or more on 2 loaded cores; CI runs it with -m slow
def test_jit_equals_eager_and_vmap_equals_loop():
    arch = preset("explainable_default")
    layer = w.conv2d("c", 64, 64, 28, 3)
    la = layer_arrays(layer)
    ms = random_mappings(layer, 16, np.random.default_rng(0), max_spatial=256)
    batched = evaluate_batch(arch, la, ms)
    for i in range(16):
        m = jax.tree_util.tree_map(lambda x, i=i: x[i], ms)
        eager = evaluate(arch, la, m)
        jitted = evaluate_jit(arch, la, m)
        for a, b in ((eager.latency_cycles, jitted.latency_cycles), (eager.energy_total_pj, jitted.energy_total_pj)):
            np.testing.assert_allclose(a, b, rtol=1e-5)
        np.testing.assert_allclose(batched.latency_cycles[i], eager.latency_cycles, rtol=1e-5)
        np.testing.assert_allclose(batched.energy_total_pj[i], eager.energy_total_pj, rtol=1e-5)
        np.testing.assert_allclose(batched.legal[i], eager.legal)


def test_vmap_over_designs():
    layer, mapping = _gemm_case()
    archs = [make_arch(**{**TINY, "dram_mb_per_s": bw}) for bw in (1024, 4096, 51200)]
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *archs)
    batched = jax.vmap(evaluate, in_axes=(0, None, None))(stacked, layer_arrays(layer), mapping)
    for i, a in enumerate(archs):
        np.testing.assert_allclose(batched.latency_cycles[i], evaluate(a, layer_arrays(layer), mapping).latency_cycles)


def test_no_retrace_across_layers_and_mappings():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def lat(arch, layer, mapping):
        return evaluate(arch, layer, mapping).latency_cycles

    arch = preset("explainable_default")
    for layer in (w.conv2d("a", 16, 32, 14, 3), w.linear("b", 128, 64, tokens=7), w.depthwise("c", 32, 28, 5, 2)):
        m = jax.tree_util.tree_map(lambda x: x[0], random_mappings(layer, 1, np.random.default_rng(1)))
        lat(arch, layer_arrays(layer), m)


@pytest.mark.parametrize("case", ["gemm", "multicast"])
def test_relaxed_converges_to_exact_at_legal_points(case):
    arch = make_arch(**TINY)
    if case == "gemm":
        layer, mapping = _gemm_case()
    else:
        layer, mapping = w.raw("pw", {"K": 16, "C": 8}), make_mapping(spatial={"K": 16}, l1={"C": 8})
    la = layer_arrays(layer)
    exact = evaluate(arch, la, mapping, EXACT)
    errs = []
    for t in (0.1, 0.01, 0.001):
        rel = evaluate(arch, la, mapping, Relaxed(t))
        err = abs(float(rel.latency_cycles) / float(exact.latency_cycles) - 1)
        errs.append(err)
    np.testing.assert_allclose(rel.terms_cycles, exact.terms_cycles, rtol=1e-3)
    np.testing.assert_allclose(rel.energy_total_pj, exact.energy_total_pj, rtol=1e-3)
    np.testing.assert_allclose(rel.traffic.dram_reads_words, exact.traffic.dram_reads_words, rtol=1e-5)
    assert errs[-1] < 1e-2 and errs[-1] <= errs[0]


@pytest.mark.slow  # a minute or more on 2 loaded cores; CI runs it with -m slow
def test_relaxed_penalty_is_smooth_and_positive_when_illegal():
    arch = make_arch(**TINY)
    layer = w.raw("big", {"K": 64, "C": 64})
    m = make_mapping(spatial={"K": 64}, l1={"C": 64})
    rel = evaluate(arch, layer_arrays(layer), m, Relaxed(0.05))
    assert float(rel.penalty) > 0
    g = jax.grad(lambda t: evaluate(arch, layer_arrays(layer), m.replace(temporal=t), Relaxed(0.05)).penalty)(
        m.temporal
    )
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.slow  # a minute or more on 2 loaded cores; CI runs it with -m slow
def test_check_grads_relaxed_model():
    from jax.test_util import check_grads

    with jax.enable_x64(True):
        layer = w.conv2d("c", 32, 32, 14, 3)
        la = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), layer_arrays(layer))
        arch = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), preset("explainable_default"))
        # a non-integer interior point: factors away from the kinks at 1 and 2
        temporal = jnp.asarray(
            [
                [1.3, 1.2, 2.7, 2.3, 2.6, 1.7, 1.1, 1.1],
                [1.2, 1.1, 2.4, 2.9, 2.5, 2.2, 1.2, 1.3],
                [1.1, 1.4, 1.6, 1.3, 1.5, 2.4, 2.6, 2.5],
            ],
            jnp.float64,
        )
        spatial = jnp.asarray([1.0, 1.0, 4.5, 1.5, 1.0, 1.0, 1.0, 1.0], jnp.float64)
        order = jnp.asarray([list(range(8))] * 3, jnp.int32)
        nums = Relaxed(jnp.float64(0.1))

        def f(temporal, spatial, bw, l2):
            from costmodels import Mapping

            a = arch.replace(dram_mb_per_s=bw, l2_kib=l2)
            c = evaluate(a, la, Mapping(temporal, spatial, order), nums)
            return jnp.log(c.latency_cycles) + jnp.log(c.energy_total_pj) + c.penalty

        check_grads(f, (temporal, spatial, jnp.float64(4096.0), jnp.float64(256.0)), order=1, modes=("rev",), eps=1e-4)


def test_elasticity_matches_finite_difference():
    # d log latency / d log bandwidth of the relaxed model vs an exact
    # finite difference, on a DMA-bound GEMM (the explorer's "what if").
    arch = make_arch(**TINY)
    layer, mapping = _gemm_case()
    la = layer_arrays(layer)

    def loglat(log_bw, nums):
        return jnp.log(evaluate(arch.replace(dram_mb_per_s=jnp.exp(log_bw)), la, mapping, nums).latency_cycles)

    x = jnp.log(jnp.float32(1024.0))
    grad = float(jax.grad(loglat)(x, Relaxed(0.01)))
    h = 0.01
    fd = (float(loglat(x + h, EXACT)) - float(loglat(x - h, EXACT))) / (2 * h)
    assert grad < 0
    np.testing.assert_allclose(grad, fd, rtol=0.05, atol=1e-3)


def test_relaxed_noc_bound_at_fractional_beats():
    """Exact and relaxed agree at whole beats; at a fractional transfer the relaxed NoC term sits
    between (x_r / ceil x_r)(x_b / ceil x_b) of the exact one and the exact one (numerics docstring)."""
    arch = make_arch(**TINY)
    layer = layer_arrays(w.raw("frac", {"K": 6, "C": 3}))
    m = make_mapping(spatial={"K": 6}, l1={"C": 3})
    ex = evaluate(arch, layer, m)
    rel = evaluate(arch, layer, m, Relaxed(0.001))
    width_bytes = np.asarray(arch.noc_width_bits) / 8.0
    rounds_x = np.asarray(ex.traffic.workgroups) / np.asarray(arch.noc_links)
    beats_x = np.asarray(ex.traffic.noc_bytes_per_request) / width_bytes
    busy = beats_x > 0  # the partial-sum stream carries nothing here
    rounds_x, beats_x = rounds_x[busy], beats_x[busy]
    lower = (
        np.asarray(ex.noc_cycles)[busy] * (rounds_x / np.ceil(rounds_x - 1e-6)) * (beats_x / np.ceil(beats_x - 1e-6))
    )
    noc_r, noc_e = np.asarray(rel.noc_cycles), np.asarray(ex.noc_cycles)
    assert np.all(noc_r <= noc_e * (1 + 1e-3)) and np.all(noc_r[busy] >= lower * (1 - 1e-3))
    assert noc_e[1] == 4 and noc_r[1] == pytest.approx(2.25, rel=1e-2)  # the weights stream: 1.5 beats
    np.testing.assert_allclose(float(rel.compute_cycles), float(ex.compute_cycles), rtol=1e-6)
    # K=8, C=4: the weights stream is 8 bytes = 2 whole beats over 8 / 4 = 2 whole rounds: agreement
    layer = layer_arrays(w.raw("whole", {"K": 8, "C": 4}))
    m = make_mapping(spatial={"K": 8}, l1={"C": 4})
    ex, rel = evaluate(arch, layer, m), evaluate(arch, layer, m, Relaxed(0.001))
    assert float(ex.noc_rounds[1]) == 2 and float(ex.noc_beats[1]) == 2
    np.testing.assert_allclose(float(rel.noc_cycles[1]), float(ex.noc_cycles[1]), rtol=1e-2)
