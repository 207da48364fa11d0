"""Property tests (hypothesis): invariants of the exact model on random mappings."""

import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels import evaluate_jit, layer_arrays, make_arch
from jaxdse.mapspace import random_mappings
from workloads import conv2d, depthwise, linear, matmul

LAYERS = [
    conv2d("down_s2", 16, 32, 14, 1, stride=2, padding=0),
    conv2d("conv3x3", 32, 64, 14, 3),
    conv2d("conv_s2", 16, 32, 15, 3, stride=2, dilation=1),
    conv2d("dilated", 8, 8, 12, 3, dilation=2),
    depthwise("dw", 24, 14, 5, 2),
    linear("fc", 96, 40, tokens=6),
    matmul("scores", m=12, k=16, n=12, heads=3),
]

designs = st.fixed_dictionaries(
    {
        "num_pes": st.sampled_from([64, 128, 256, 1024]),
        "l1_bytes": st.sampled_from([8, 64, 512]),
        "l2_kib": st.sampled_from([64, 256, 1024]),
        "dram_mb_per_s": st.sampled_from([1024, 4096, 25600]),
        "noc_width_bits": st.sampled_from([16, 64, 256]),
        "noc_links": st.sampled_from([1, 4, 16]),
        "noc_virtual": st.sampled_from([1, 8, 64, 512]),
    }
)


def _one(layer, seed, max_spatial=None):
    m = random_mappings(layer, 1, np.random.default_rng(seed), max_spatial=max_spatial)
    return jax.tree_util.tree_map(lambda x: x[0], m)


@settings(max_examples=60, deadline=None)
@given(li=st.integers(0, len(LAYERS) - 1), seed=st.integers(0, 2**31 - 1), design=designs)
def test_dram_traffic_at_least_each_operand_once(li, seed, design):
    layer = LAYERS[li]
    c = evaluate_jit(make_arch(**design), layer_arrays(layer), _one(layer, seed))
    elems = {op: b * 8 // bits for (op, b), bits in zip(layer.compulsory_bytes().items(), layer.bits)}
    reads, writes = np.asarray(c.traffic.dram_reads_words), np.asarray(c.traffic.dram_writes_words)
    assert reads[0] >= elems["inputs"] * (1 - 1e-6)
    assert reads[1] >= elems["weights"] * (1 - 1e-6)
    assert writes[2] >= elems["outputs"] * (1 - 1e-6)
    # the PEs receive at least every input and weight once
    fills = np.asarray(c.traffic.l1_fills_words)
    assert fills[0] >= elems["inputs"] * (1 - 1e-6) and fills[1] >= elems["weights"] * (1 - 1e-6)


@settings(max_examples=60, deadline=None)
@given(li=st.integers(0, len(LAYERS) - 1), seed=st.integers(0, 2**31 - 1), design=designs)
def test_latency_at_least_roofline(li, seed, design):
    layer = LAYERS[li]
    arch = make_arch(**design)
    # any mapping whose spatial unrolling fits the array (capacity aside)
    c = evaluate_jit(arch, layer_arrays(layer), _one(layer, seed, max_spatial=design["num_pes"]))
    compulsory_bytes = sum(layer.compulsory_bytes().values())
    bound = max(layer.macs / design["num_pes"], compulsory_bytes / float(arch.dram_bytes_per_cycle))
    assert float(c.latency_cycles) >= bound * (1 - 1e-5)


@settings(max_examples=40, deadline=None)
@given(li=st.integers(0, len(LAYERS) - 1), seed=st.integers(0, 2**31 - 1), design=designs)
def test_latency_never_rises_with_bandwidth(li, seed, design):
    layer = LAYERS[li]
    m = _one(layer, seed)
    lats = []
    for bw in (1024, 4096, 12800, 51200):
        c = evaluate_jit(make_arch(**{**design, "dram_mb_per_s": bw}), layer_arrays(layer), m)
        lats.append(float(c.latency_cycles))
    assert all(b <= a * (1 + 1e-6) for a, b in zip(lats, lats[1:]))
