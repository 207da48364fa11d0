"""``jaxdse.plan.lower_bounds``: both per-layer bounds hold for every legal mapping, and one is tight."""

import numpy as np
import pytest

import costmodels as cm
import workloads as w
from jaxdse.mapspace import random_mappings
from jaxdse.plan import lower_bounds

LAYERS = [
    w.conv2d("strided", 64, 32, 28, 3, stride=2),
    w.linear("proj", 768, 768, tokens=197),
    w.depthwise("dw", 32, 28, 3, 1),
    w.conv2d("primes", 17, 13, 11, 3),
]


@pytest.mark.parametrize(
    "arch_name",
    ["tiny", *(pytest.param(a, marks=pytest.mark.slow) for a in ("explainable_default", "eyeriss_template"))],
)
def test_latency_never_below_either_bound(arch_name):
    arch = cm.preset(arch_name)
    for i, layer in enumerate(LAYERS):
        ms = random_mappings(layer, 1024, np.random.default_rng(i), max_spatial=int(arch.num_pes), max_padding=0.125)
        c = cm.evaluate_batch(arch, cm.layer_arrays(layer), ms)
        legal = np.asarray(c.legal) > 0
        assert legal.sum() > 100, layer.name
        lat = np.asarray(c.latency_cycles, np.float64)[legal]
        b = lower_bounds(layer, arch)
        assert b["transfer_bound_cycles"] >= b["roofline_cycles"] > 0
        assert np.all(lat >= b["transfer_bound_cycles"] * (1 - 1e-5)), (layer.name, lat.min(), b)


def test_bound_terms_by_hand():
    # explainable_default: 256 PEs, 4096 MB/s at 500 MHz = 8.192 B/cycle, 256 KiB L2, 291 setup cycles,
    # 16 links x 64 bits per NoC; an int16 1x1 layer K=C=64 on 14 x 14
    arch = cm.preset("explainable_default")
    layer = w.conv2d("c", 64, 64, 14, 1)
    b = lower_bounds(layer, arch)
    bytes_ = 2 * (64 * 14 * 14 + 64 * 64 + 64 * 14 * 14)
    bw = float(arch.dram_bytes_per_cycle)
    assert b["compute_cycles"] == pytest.approx(64 * 64 * 14 * 14 / 256)
    assert b["dram_cycles"] == pytest.approx(bytes_ / bw)
    assert b["dma_setup_cycles"] == pytest.approx(3 * float(arch.dma_setup_cycles))  # one burst per operand
    assert b["noc_cycles"] == pytest.approx(2 * 64 * 14 * 14 / (16 * 8))
    assert b["roofline_cycles"] == pytest.approx(max(b["compute_cycles"], b["dram_cycles"]))
    assert b["transfer_bound_cycles"] == pytest.approx(
        max(b["compute_cycles"], b["dram_cycles"] + b["dma_setup_cycles"], b["noc_cycles"])
    )


def test_table_names_what_an_illegal_mapping_breaks():
    """``jaxdse evaluate`` prints each illegal layer's violations, not just ILLEGAL."""
    from jaxdse.plan import evaluate

    arch = cm.preset("tiny")  # 16 PEs, small L1
    layer = w.conv2d("big_l1", 32, 32, 8, 3)
    too_big = cm.make_mapping(dram={"P": 8}, spatial={"K": 32}, l1={"C": 32, "Q": 8, "R": 3, "S": 3})
    net = w.Network("n", (layer,), (1,))
    table = evaluate(net, arch, [too_big]).table()
    assert "ILLEGAL layers" in table
    line = next(ln for ln in table.splitlines() if ln.strip().startswith("big_l1:"))
    assert "L1 over capacity by" in line and "PEs more than the array has" in line
