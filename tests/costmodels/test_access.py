"""Hand-computed access counts: reuse, sliding windows, multicast, outputs."""

import numpy as np
import pytest

import workloads as w
from costmodels import layer_arrays, make_mapping, traffic

I, W, O = 0, 1, 2


def _tr(layer, **mapping):
    return traffic(layer_arrays(layer), make_mapping(**mapping))


def test_one_level_toy_output_stationary_order():
    # 1-D conv, P=4 outputs, R=3 taps, every loop at DRAM, P outer / R inner.
    # L2 tiles are single elements. Inputs: for each p the R loop slides over
    # 3 inputs -> 4 * 3 = 12 reads (R is innermost, P re-fetches the window).
    # Weights: R relevant and innermost -> 3 per p -> 12. Outputs: R is
    # irrelevant and innermost -> each output stays resident: 4 writes, no reads.
    tr = _tr(w.raw("toy", {"P": 4, "R": 3}), dram={"P": 4, "R": 3}, order={"dram": "PR"})
    np.testing.assert_allclose(tr.dram_reads_words, [12, 12, 0])
    np.testing.assert_allclose(tr.dram_writes_words, [0, 0, 4])
    np.testing.assert_allclose(tr.dram_requests, [12, 12, 0, 4])


def test_one_level_toy_weight_stationary_order():
    # Same layer, R outer / P inner. Inputs: P slides a window of 4 inputs
    # per r (delta fetch), 3 r's -> 12. Weights: P irrelevant and innermost ->
    # each weight stays -> 3. Outputs: re-visited for each r: 12 writes, and
    # 12 - 4 first touches = 8 partial-sum reads.
    tr = _tr(w.raw("toy", {"P": 4, "R": 3}), dram={"P": 4, "R": 3}, order={"dram": "RP"})
    np.testing.assert_allclose(tr.dram_reads_words, [12, 3, 8])
    np.testing.assert_allclose(tr.dram_writes_words, [0, 0, 12])
    np.testing.assert_allclose(tr.dram_requests, [12, 3, 8, 12])


def test_sliding_window_halo_delta_between_l2_and_l1():
    # P=8, R=3, stride 1. Each PE holds p=2, r=3: a 4-input window (halo).
    # The L2 loop P4 is the innermost loop above L1, so consecutive windows
    # only fetch the new inputs: union of 8 outputs' windows = 7 + 2 + 1 = 10.
    layer = w.raw("conv1d", {"P": 8, "R": 3})
    tr = _tr(layer, l2={"P": 4}, l1={"P": 2, "R": 3})
    assert float(tr.l1_tile_bytes[I]) == 4 * 2
    np.testing.assert_allclose(tr.l1_fills_words, [10, 3, 0])
    np.testing.assert_allclose(tr.noc_requests, [4, 1, 0, 4])
    np.testing.assert_allclose(tr.l2_reads_words[:2], [10, 3])
    np.testing.assert_allclose(tr.l2_updates_words, [0, 0, 8])


def test_sliding_window_with_inner_loop_refetches_whole_tile():
    # Same conv with K=2 and an L2 loop K2 nested inside the sliding P4 loop:
    # each slide re-fetches the whole 4-input tile (4 x 4 = 16), and the
    # weights (changed by K inside P) are re-fetched each P step (4 x 2 x 3).
    layer = w.raw("conv1d", {"K": 2, "P": 8, "R": 3})
    tr = _tr(layer, l2={"P": 4, "K": 2}, l1={"P": 2, "R": 3}, order={"l2": "PK"})
    np.testing.assert_allclose(tr.l1_fills_words[:2], [16, 24])
    np.testing.assert_allclose(tr.noc_requests[:2], [4, 8])
    # K outside P: the window slides within each k (10 inputs), twice; the
    # weights stay while P runs inside (3 per k, 6 in all).
    tr = _tr(layer, l2={"P": 4, "K": 2}, l1={"P": 2, "R": 3}, order={"l2": "KP"})
    np.testing.assert_allclose(tr.l1_fills_words[:2], [20, 6])


def test_strided_dilated_halo():
    # p=3 outputs, r=3 taps, stride 2, dilation 2: (3-1)*2 + (3-1)*2 + 1 = 9 rows.
    layer = w.raw("c", {"P": 3, "R": 3}, stride=2, dilation=2)
    tr = _tr(layer, l1={"P": 3, "R": 3})
    assert float(tr.l1_tile_bytes[I]) == 9 * 2
    np.testing.assert_allclose(tr.dram_reads_words[I], 9)


def test_multicast_and_spatial_reduction():
    # 1x1 conv K=4, C=2 on 4 PEs unrolled over K; each PE reduces C=2 locally.
    # Inputs are shared by all 4 PEs: one workgroup, read from L2 once (2
    # words), delivered to 4 PEs (8 words received). Weights: 4 workgroups.
    layer = w.raw("pw", {"K": 4, "C": 2})
    tr = _tr(layer, spatial={"K": 4}, l1={"C": 2})
    np.testing.assert_allclose(tr.workgroups, [1, 4, 4, 4])
    np.testing.assert_allclose(tr.l2_reads_words[:2], [2, 8])
    np.testing.assert_allclose(tr.l1_fills_words[:2], [8, 8])
    np.testing.assert_allclose(tr.noc_words[:2], [2, 8])
    np.testing.assert_allclose(tr.noc_deliveries_words[:2], [8, 8])
    # Now unroll the reduction C across 2 PEs: outputs are reduced spatially,
    # so L2 receives one update per output (4), not one per PE (8).
    tr = _tr(layer, spatial={"K": 4, "C": 2})
    np.testing.assert_allclose(tr.workgroups, [2, 8, 4, 4])
    np.testing.assert_allclose(tr.l2_updates_words[O], 4)
    np.testing.assert_allclose(tr.active_pes, 8)


def test_depthwise_groups_are_relevant_to_every_operand():
    # G=4 channels, P=4, R=3 each; one channel per PE. No sharing: 4
    # workgroups per operand; each PE's input window is 6 rows, 24 in all.
    layer = w.depthwise("dw", 4, (6, 1), kernel=(3, 1), padding=0)
    assert layer.sizes == (1, 4, 1, 1, 4, 1, 3, 1)
    tr = _tr(layer, spatial={"G": 4}, l1={"P": 4, "R": 3})
    np.testing.assert_allclose(tr.workgroups, [4, 4, 4, 4])
    np.testing.assert_allclose(tr.l2_reads_words[:2], [24, 12])
    np.testing.assert_allclose(tr.dram_reads_words, [24, 12, 0])
    np.testing.assert_allclose(tr.dram_writes_words, [0, 0, 16])


def test_gemm_counts():
    # tokens=3 x in=4 @ in=4 x out=2. DRAM loop P3 around an L2/L1 tile of
    # K2 x C4: inputs change with P (3 x 4 = 12), weights stay (8), each
    # output row is written once (6). 24 MAC cycles on one PE.
    layer = w.linear("fc", 4, 2, tokens=3)
    tr = _tr(layer, dram={"P": 3}, l1={"K": 2, "C": 4})
    np.testing.assert_allclose(tr.dram_reads_words, [12, 8, 0])
    np.testing.assert_allclose(tr.dram_writes_words, [0, 0, 6])
    np.testing.assert_allclose(tr.dram_requests, [3, 1, 0, 3])
    np.testing.assert_allclose(tr.l1_fills_words, [12, 8, 0])
    assert float(tr.compute_cycles) == 24
    assert float(tr.padded_macs) == 24
    # Timeloop: innermost output reads = MACs - first writes; the 6 outputs
    # drained up to L2 are not reads there but their own field.
    np.testing.assert_allclose(tr.l1_reads_words, [24, 24, 24 - 6])
    np.testing.assert_allclose(tr.l1_drain_reads_words, [0, 0, 6])


def test_padding_counts_padded_work():
    # P=5 covered by 3 x 2 = 6: one padded output row is computed.
    layer = w.raw("pad", {"P": 5})
    tr = _tr(layer, dram={"P": 3}, l1={"P": 2})
    assert float(tr.padded_macs) == 6
    assert layer.macs == 5


@pytest.mark.parametrize("order", ["PR", "RP"])
def test_traffic_at_least_compulsory(order):
    layer = w.raw("toy", {"P": 4, "R": 3})
    tr = _tr(layer, dram={"P": 4, "R": 3}, order={"dram": order})
    elems = layer.operand_elems()
    assert float(tr.dram_reads_words[I]) >= elems["inputs"]
    assert float(tr.dram_reads_words[W]) >= elems["weights"]
    assert float(tr.dram_writes_words[O]) >= elems["outputs"]


def test_strided_window_with_gaps_fetches_only_touched_rows():
    # 1x1 conv, stride 2, P=4: rows 0, 2, 4, 6 are read (the bounding box
    # would be 7). One output row per L2 tile, P4 at DRAM: each step fetches
    # a new row, 4 in all, not the 7-row box.
    layer = w.raw("down", {"P": 4}, stride=2)
    assert layer.touched_input_hw == (4, 1) and layer.input_hw == (7, 1)
    tr = _tr(layer, dram={"P": 4})
    np.testing.assert_allclose(tr.dram_reads_words[I], 4)
