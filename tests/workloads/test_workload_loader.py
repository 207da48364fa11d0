"""Workload files: round trips, the example file, and field-by-field errors."""

from pathlib import Path

import pytest

import workloads
from workloads import WorkloadError, dump, from_dict, get, load, names

EXAMPLE = Path(workloads.__file__).parent / "examples" / "tiny_cnn.yaml"


@pytest.mark.parametrize("name", names())
def test_zoo_network_round_trips_through_dict(name):
    net = get(name)
    assert from_dict(net.to_dict()) == net


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_dump_then_load_is_identity(tmp_path, suffix):
    for name in ("resnet50", "transformer"):
        net = get(name, batch=2)
        path = dump(net, tmp_path / "sub" / f"{name}{suffix}")
        assert load(path) == net


def test_dump_writes_short_lists_inline(tmp_path):
    text = dump(get("resnet18"), tmp_path / "r.yaml").read_text()
    assert "stride: [2, 2]" in text and "sizes: {N: 1, G: 1, K: 64" in text


def test_dump_rejects_non_networks(tmp_path):
    with pytest.raises(TypeError, match="'network'"):
        dump({"name": "x"}, tmp_path / "x.yaml")


def test_example_file():
    net = load(EXAMPLE)
    assert net.name == "tiny_cnn" and "3x32x32" in net.notes
    macs = {layer.name: layer.macs for layer in net.layers}
    assert macs == {
        "conv1": 16 * 3 * 32 * 32 * 9,
        "conv2": 32 * 16 * 16 * 16 * 9,  # stride 2: 32x32 -> 16x16
        "dw3": 32 * 16 * 16 * 9,
        "pw3": 64 * 32 * 16 * 16,
        "fc": 64 * 10,
    }
    assert net.macs == 2_220_672
    assert [layer.kind for layer in net.layers] == ["conv2d", "conv2d", "depthwise", "conv2d", "linear"]


def test_defaults_names_counts_and_bits():
    net = from_dict(
        {
            "name": "n",
            "layers": [
                {"type": "linear", "in_features": 8, "out_features": 4, "bits": 8},
                {"type": "linear", "in_features": 8, "out_features": 4, "bits": [8, 8, 8], "count": 3},
                {"type": "matmul", "m": 4, "k": 2, "n": 3, "heads": 2},
                {"type": "raw", "sizes": [1, 1, 2, 2, 1, 1, 1, 1], "kind": "linear"},
            ],
        }
    )
    assert [layer.name for layer in net.layers] == ["linear0", "matmul2", "raw3"]
    assert net.counts == (4, 1, 1)
    assert net.layers[0].bits == (8, 8, 8) and net.notes == ""


def _conv(**overrides):
    layer = {"type": "conv2d", "name": "c", "in_channels": 3, "out_channels": 8, "in_hw": 16, "kernel": 3}
    layer.update(overrides)
    return {"name": "bad", "layers": [{"type": "linear", "in_features": 2, "out_features": 2}, layer]}


def _without(key):
    data = _conv()
    del data["layers"][1][key]
    return data


@pytest.mark.parametrize(
    ("data", "must_contain"),
    [
        # wrong type
        (_conv(kernel="3x3"), ["layers[1].kernel", "'3x3'", "expected"]),
        (_conv(in_channels=True), ["layers[1].in_channels", "positive int", "True"]),
        (_conv(stride=[1, 2, 3]), ["layers[1].stride", "[1, 2, 3]"]),
        (_conv(bits=[16, 16]), ["layers[1].bits", "three"]),
        # unknown key: names it and the allowed keys
        (_conv(kernal=3), ["layers[1].kernal", "key allowed for type conv2d", "'kernel'"]),
        # missing field
        (_without("in_channels"), ["layers[1].in_channels", "required for type conv2d", "missing"]),
        (_without("type"), ["layers[1].type", "one of", "missing"]),
        # negative / zero sizes
        (_conv(out_channels=-8), ["layers[1].out_channels", "positive int", "-8"]),
        (_conv(padding=-1), ["layers[1].padding", "non-negative", "-1"]),
        (_conv(count=0), ["layers[1].count", "positive int", "0"]),
        ({"name": "r", "layers": [{"type": "raw", "sizes": {"K": -4}}]}, ["layers[0].sizes.K", "-4"]),
        ({"name": "r", "layers": [{"type": "raw", "sizes": {"X": 4}}]}, ["layers[0].sizes.X", "dim name"]),
        ({"name": "r", "layers": [{"type": "raw", "sizes": {"K": 4}, "kind": "pool"}]}, ["layers[0].kind", "'pool'"]),
        # unknown type
        (_conv(type="conv3d"), ["layers[1].type", "conv2d", "'conv3d'"]),
        # semantic errors from the Layer constructors, with the layer path as prefix
        (_conv(in_channels=6, groups=4), ["layers[1]", "'groups'", "divisor"]),
        (_conv(in_hw=2, kernel=5, padding=0), ["layers[1]", "'in_hw'"]),
        # top level
        ([1, 2], ["<top level>", "mapping"]),
        ({"name": "x", "layers": [], "extra": 1}, ["'extra'", "top-level key among", "'layers'"]),
        ({"layers": [{"type": "linear", "in_features": 2, "out_features": 2}]}, ["'name'", "missing"]),
        ({"name": "x", "layers": []}, ["'layers'", "non-empty list"]),
        ({"name": "x", "notes": 3, "layers": [{"type": "linear"}]}, ["'notes'", "a str"]),
        ({"name": "x", "layers": ["conv"]}, ["layers[0]", "mapping"]),
    ],
)
def test_malformed_data_names_the_field(data, must_contain):
    with pytest.raises(WorkloadError) as info:
        from_dict(data, source="my_net.yaml")
    msg = str(info.value)
    assert msg.startswith("my_net.yaml: ")
    for part in must_contain:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_workload_error_is_a_value_error():
    assert issubclass(WorkloadError, ValueError)


@pytest.mark.parametrize(
    ("filename", "text", "must_contain"),
    [
        ("bad.yaml", "name: x\nlayers: [unclosed\n", ["valid YAML", "line"]),
        ("bad.json", '{"name": "x", "layers": [}', ["valid JSON", "line 1"]),
        ("list.yaml", "- a\n- b\n", ["<top level>", "mapping"]),
        ("empty.yaml", "", ["<top level>", "None"]),
        (
            "kernel.yaml",
            "name: x\nlayers:\n  - {type: conv2d, in_channels: 3, out_channels: 8, in_hw: -1}\n",
            [
                "layers[0].in_hw",
                "-1",
            ],
        ),
    ],
)
def test_malformed_files(tmp_path, filename, text, must_contain):
    path = tmp_path / filename
    path.write_text(text)
    with pytest.raises(WorkloadError) as info:
        load(path)
    msg = str(info.value)
    assert str(path) in msg
    for part in must_contain:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_missing_file(tmp_path):
    with pytest.raises(WorkloadError, match="no such file") as info:
        load(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value)


def test_held_apart_workloads_load_and_cite_their_source():
    """workloads/heldout (issue 15, section 4): each loads, has work, and says where its shape comes from."""
    files = sorted(Path("workloads/heldout").glob("*.yaml"))
    assert len(files) >= 4
    for f in files:
        net = load(f)
        assert net.name == f.stem and all(layer.macs > 0 for layer in net.layers)
        head = f.read_text().split("name:")[0]
        assert "Held apart" in head and any(ch.isdigit() for ch in head), f  # a cited paper and year
