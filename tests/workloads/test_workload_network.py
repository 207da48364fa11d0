"""Network: merging identical shapes into counts, totals, validation."""

import pytest

from workloads import Network, conv2d, linear


def test_identical_shapes_merge_and_keep_first_name():
    a = conv2d("block1.conv", 16, 16, 8)
    b = conv2d("block2.conv", 16, 16, 8)  # same shape, other name
    c = conv2d("down", 16, 32, 8, stride=2)
    net = Network.from_layers("n", [a, c, b])
    assert [layer.name for layer in net.layers] == ["block1.conv", "down"]
    assert net.counts == (2, 1)
    assert net.num_unique == 2 and net.num_layers == 3
    assert net.macs == 2 * a.macs + c.macs


def test_explicit_counts_add_up():
    fc = linear("fc", 64, 64, tokens=8)
    net = Network.from_layers("n", [(fc, 3), fc.renamed("fc_again"), (fc, 2)])
    assert net.counts == (6,)
    assert net.items() == [(fc, 6)]
    assert net.macs == 6 * fc.macs


@pytest.mark.parametrize(
    "other",
    [
        conv2d("x", 16, 16, 8, bits=(8, 8, 8)),  # other precision
        conv2d("x", 16, 16, 8, dilation=2),  # same sizes, other window
    ],
)
def test_different_shape_keys_do_not_merge(other):
    base = conv2d("base", 16, 16, 8)
    net = Network.from_layers("n", [base, other])
    assert net.counts == (1, 1)


def test_to_dict_lists_unique_layers_with_counts():
    a = conv2d("a", 3, 8, 8)
    d = Network.from_layers("n", [a, a.renamed("b")], notes="batch 1").to_dict()
    assert d["name"] == "n" and d["notes"] == "batch 1"
    assert len(d["layers"]) == 1
    assert d["layers"][0]["count"] == 2 and d["layers"][0]["type"] == "raw"
    assert "GMACs" in Network.from_layers("n", [a]).summary()


@pytest.mark.parametrize(
    ("make", "error", "field"),
    [
        (lambda: Network.from_layers("n", []), ValueError, "layers"),
        (lambda: Network(name="n", layers=(conv2d("a", 3, 8, 8),), counts=(1, 2)), ValueError, "counts"),
        (lambda: Network(name="n", layers=(conv2d("a", 3, 8, 8),), counts=(0,)), ValueError, "counts[0]"),
        (lambda: Network(name="n", layers=("conv",), counts=(1,)), TypeError, "layers[0]"),
        (lambda: Network.from_layers("", [conv2d("a", 3, 8, 8)]), TypeError, "name"),
    ],
)
def test_bad_network_names_the_field(make, error, field):
    with pytest.raises(error, match="expected") as info:
        make()
    assert f"'{field}'" in str(info.value)


def test_from_layers_rejects_non_layers():
    with pytest.raises(TypeError, match="expected Layer"):
        Network.from_layers("n", ["conv1"])
