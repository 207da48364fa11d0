"""Layer: loop bounds, MACs and operand sizes against hand-computed cases."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workloads import DIMS, Layer, conv2d, depthwise, halo_extent, linear, matmul, raw


def test_conv_stride2_dilation2_no_padding():
    # 9x9 input, 3x3 kernel dilated by 2 spans 5 rows; stride 2 -> (9 - 5) // 2 + 1 = 3 outputs per axis.
    layer = conv2d("c", in_channels=4, out_channels=8, in_hw=9, kernel=3, stride=2, padding=0, dilation=2)
    assert dict(zip(DIMS, layer.sizes, strict=True)) == dict(N=1, G=1, K=8, C=4, P=3, Q=3, R=3, S=3)
    assert layer.macs == 8 * 4 * 3 * 3 * 3 * 3 == 2592
    # Halo: (3 - 1) * 2 + (3 - 1) * 2 + 1 = 9 rows, i.e. the whole input.
    assert layer.input_hw == (9, 9)
    assert layer.operand_elems() == {"inputs": 4 * 9 * 9, "weights": 8 * 4 * 3 * 3, "outputs": 8 * 3 * 3}
    assert layer.operand_bytes() == {"inputs": 648, "weights": 576, "outputs": 144}  # int16 default
    mixed = conv2d("c", 4, 8, 9, kernel=3, stride=2, padding=0, dilation=2, bits=(8, 4, 32))
    assert mixed.operand_bytes() == {"inputs": 324, "weights": 144, "outputs": 288}


def test_conv_same_padding_reads_padded_halo():
    # padding=None -> dilation * (k - 1) // 2 = 2; P = (9 + 4 - 4 - 1) // 2 + 1 = 5.
    layer = conv2d("c", 4, 8, 9, kernel=3, stride=2, dilation=2)
    assert (layer.size("P"), layer.size("Q")) == (5, 5)
    assert layer.input_hw == (13, 13)  # (5 - 1) * 2 + 4 + 1 = 9 + 2 * 2 padded rows
    assert layer.stride == (2, 2) and layer.dilation == (2, 2)


def test_conv_rectangular_1d():
    layer = conv2d("t", 1, 512, (1, 16000), kernel=(1, 10), stride=(1, 5), padding=0)
    assert (layer.size("P"), layer.size("Q")) == (1, 3199)
    assert layer.macs == 512 * 3199 * 10
    assert layer.input_hw == (1, 3198 * 5 + 10)


def test_grouped_conv():
    layer = conv2d("g", in_channels=8, out_channels=16, in_hw=4, kernel=3, groups=4)
    assert dict(zip(DIMS, layer.sizes, strict=True)) == dict(N=1, G=4, K=4, C=2, P=4, Q=4, R=3, S=3)
    assert layer.kind == "conv2d"
    assert layer.macs == 16 * 2 * 16 * 9  # out channels x in channels per group x outputs x taps
    assert layer.operand_elems()["weights"] == 16 * 2 * 9


def test_depthwise():
    layer = depthwise("dw", channels=32, in_hw=16, kernel=3, stride=2)
    assert layer.kind == "depthwise"
    assert dict(zip(DIMS, layer.sizes, strict=True)) == dict(N=1, G=32, K=1, C=1, P=8, Q=8, R=3, S=3)
    assert layer.macs == 32 * 8 * 8 * 9
    assert layer.operand_elems() == {"inputs": 32 * 17 * 17, "weights": 32 * 9, "outputs": 32 * 8 * 8}


def test_linear():
    layer = linear("fc", in_features=512, out_features=1000, tokens=4, batch=2)
    assert dict(zip(DIMS, layer.sizes, strict=True)) == dict(N=2, G=1, K=1000, C=512, P=4, Q=1, R=1, S=1)
    assert layer.macs == 2 * 4 * 512 * 1000
    assert layer.operand_elems() == {"inputs": 2 * 4 * 512, "weights": 512 * 1000, "outputs": 2 * 4 * 1000}


def test_matmul_operands_are_the_two_matrices_and_product():
    layer = matmul("scores", m=128, k=64, n=96, heads=12)
    assert layer.macs == 12 * 128 * 64 * 96
    assert layer.operand_elems() == {"inputs": 12 * 128 * 64, "weights": 12 * 64 * 96, "outputs": 12 * 128 * 96}


def test_raw_fills_missing_dims_with_one():
    layer = raw("r", {"K": 4, "C": 3, "P": 2}, stride=2, kind="linear")
    assert layer.sizes == (1, 1, 4, 3, 2, 1, 1, 1)
    assert layer.stride == (2, 2)


def test_halo_extent_scalar_and_array():
    assert halo_extent(3, 3, 2, 2) == 9
    np.testing.assert_array_equal(halo_extent(np.array([1, 2, 4]), 3, 1, 1), [3, 4, 6])


def test_shape_key_ignores_name_and_describe_mentions_window():
    a = conv2d("a", 4, 8, 9, stride=2, dilation=2)
    assert a.shape_key() == a.renamed("b").shape_key()
    assert "stride=2x2" in a.describe() and "dilation=2x2" in a.describe()
    assert a.to_dict()["sizes"]["K"] == 8


@pytest.mark.parametrize(
    ("make", "error", "field"),
    [
        (lambda: conv2d("c", 4, 8, 9, kernel=0), ValueError, "kernel[0]"),
        (lambda: conv2d("c", 4, 8, 9, stride=(1, 0)), ValueError, "stride[1]"),
        (lambda: conv2d("c", 4, 8, 9, padding=-1), ValueError, "padding"),
        (lambda: conv2d("c", 6, 8, 9, groups=4), ValueError, "groups"),
        (lambda: conv2d("c", 4, 8, 2, kernel=5, padding=0), ValueError, "in_hw"),
        (lambda: conv2d("c", 4.0, 8, 9), TypeError, "in_channels"),
        (lambda: conv2d("c", 4, 8, 9, batch=0), ValueError, "sizes.N"),
        (lambda: linear("fc", 8, 8, tokens=0), ValueError, "tokens"),
        (lambda: linear("fc", True, 8), TypeError, "in_features"),
        (lambda: matmul("mm", 4, 4, 4, heads=-2), ValueError, "heads"),
        (lambda: raw("r", {"X": 3}), ValueError, "sizes"),
        (lambda: raw("r", {"K": 2}, kind="pool"), ValueError, "kind"),
        (lambda: Layer(name="l", sizes=(1, 2, 3)), ValueError, "sizes"),
        (lambda: Layer(name="", sizes=(1,) * 8), TypeError, "name"),
        (lambda: Layer(name="l", sizes=(1,) * 8, bits=(16, 16)), ValueError, "bits"),
    ],
)
def test_bad_input_names_the_field(make, error, field):
    with pytest.raises(error) as info:
        make()
    assert f"'{field}'" in str(info.value)
    assert "found" in str(info.value) or "would be" in str(info.value)


@given(
    in_hw=st.integers(1, 40),
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
    cin=st.integers(1, 8),
    cout=st.integers(1, 8),
)
def test_unpadded_conv_geometry(in_hw, kernel, stride, dilation, cin, cout):
    span = dilation * (kernel - 1) + 1
    if span > in_hw:
        with pytest.raises(ValueError, match="in_hw"):
            conv2d("c", cin, cout, in_hw, kernel, stride, padding=0, dilation=dilation)
        return
    layer = conv2d("c", cin, cout, in_hw, kernel, stride, padding=0, dilation=dilation)
    p = layer.size("P")
    assert p == (in_hw - span) // stride + 1
    assert layer.macs == cin * cout * p * p * kernel * kernel
    # Without padding the halo never exceeds the input and leaves fewer than `stride` rows unread.
    rows = layer.input_hw[0]
    assert rows <= in_hw and in_hw - rows < stride
