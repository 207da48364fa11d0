"""Timeloop interop: round trips, hand-written Timeloop inputs, folding rules, errors, CLI."""

import copy
import json
import random
from pathlib import Path

import numpy as np
import pytest
import yaml

import costmodels
import workloads
from jaxdse.cli import main
from jaxdse.heuristic import default_mapping
from jaxdse.interop import (
    TimeloopError,
    dump_arch,
    dump_mapping,
    dump_problem,
    export_plan,
    read_arch,
    read_mapping,
    read_problem,
    write_arch,
    write_mapping,
    write_problem,
)
from jaxdse.plan import evaluate as evaluate_plan
from workloads import DIMS

EXAMPLE = Path(__file__).resolve().parents[2] / "workloads" / "examples" / "tiny_cnn.yaml"

LAYERS = [
    workloads.conv2d("conv_s2", 16, 32, in_hw=15, kernel=3, stride=2),
    workloads.conv2d("conv_dil", 8, 8, in_hw=12, kernel=3, dilation=2, stride=(1, 2)),
    workloads.depthwise("dw", 32, in_hw=14),
    workloads.conv2d("grouped", 16, 32, in_hw=8, kernel=3, groups=4),
    workloads.linear("fc", 64, 48, tokens=8),
    workloads.matmul("attn", m=16, k=8, n=16, heads=4),
    workloads.conv2d("int8", 8, 16, in_hw=8, kernel=1, bits=(8, 8, 32)),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------------ problems
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_problem_round_trip(layer, tmp_path):
    assert read_problem(write_problem(layer)) == layer
    path = dump_problem(layer, tmp_path / "p.yaml")
    assert read_problem(path) == layer
    assert "&id" not in path.read_text()  # no YAML aliases in what Timeloop reads


def test_problem_uses_canonical_shape_unless_grouped():
    plain = write_problem(LAYERS[0])["problem"]
    assert plain["shape"]["dimensions"] == ["R", "S", "P", "Q", "C", "K", "N"]
    assert plain["instance"]["Wstride"] == 2 and plain["instance"]["Hstride"] == 2
    grouped = write_problem(LAYERS[3])["problem"]
    assert "G" in grouped["shape"]["dimensions"] and grouped["instance"]["G"] == 4
    weights = grouped["shape"]["data-spaces"][0]
    assert [["G"]] in weights["projection"]


CONV_S2 = """
problem:
  shape:
    name: CNN-Layer
    dimensions: [C, M, R, S, N, P, Q]
    coefficients:
      - {name: Wstride, default: 1}
      - {name: Hstride, default: 1}
      - {name: Wdilation, default: 1}
      - {name: Hdilation, default: 1}
    data-spaces:
      - name: Weights
        projection: [[[C]], [[M]], [[R]], [[S]]]
      - name: Inputs
        projection:
          - [[N]]
          - [[C]]
          - [[R, Wdilation], [P, Wstride]]
          - [[S, Hdilation], [Q, Hstride]]
      - name: Outputs
        projection: [[[N]], [[M]], [[Q]], [[P]]]
        read-write: True
  instance: {C: 3, M: 64, R: 7, S: 7, N: 1, P: 112, Q: 56, Wstride: 2, Hstride: 4}
"""


def test_read_handwritten_strided_conv(tmp_path):
    layer = read_problem(_write(tmp_path / "conv1.prob.yaml", CONV_S2))
    assert layer.name == "conv1" and layer.kind == "conv2d" and layer.bits == (16, 16, 16)
    assert layer.sizes == (1, 1, 64, 3, 112, 56, 7, 7)  # M read as K
    assert layer.stride == (2, 4) and layer.dilation == (1, 1)  # Wstride pairs with P/R like stride[0]
    ref = workloads.conv2d("conv1", 3, 64, in_hw=(224, 224), kernel=7, stride=(2, 4), padding=3)
    assert layer.sizes == ref.sizes and layer.stride == ref.stride


def test_read_gemm_written_as_cnn_layer(tmp_path):
    # no shape: timeloop-model assumes problem-shapes/cnn-layer.yaml
    path = _write(
        tmp_path / "fc1.prob.yaml", "problem:\n  instance: {C: 768, K: 3072, P: 128, Q: 1, R: 1, S: 1, N: 1}\n"
    )
    layer = read_problem(path)
    assert layer == workloads.linear("fc1", 768, 3072, tokens=128)


def test_read_conv1d_exercise_shape():
    # the tutorial's 1-D convolution: dimensions R and P only, Inputs indexed by R + P
    problem = {
        "problem": {
            "shape": {
                "name": "Conv1D",
                "dimensions": ["R", "P"],
                "data-spaces": [
                    {"name": "Weights", "projection": [[["R"]]]},
                    {"name": "Inputs", "projection": [[["R"], ["P"]]]},
                    {"name": "Outputs", "projection": [[["P"]]], "read-write": True},
                ],
            },
            "instance": {"R": 3, "P": 16},
        }
    }
    layer = read_problem(problem, name="conv1d")
    assert layer.sizes == (1, 1, 1, 1, 16, 1, 3, 1) and layer.stride == (1, 1)


# -------------------------------------------------------------- architectures
@pytest.mark.parametrize("name", costmodels.preset_names())
def test_arch_round_trip(name, tmp_path):
    arch = costmodels.preset(name)
    read = read_arch(dump_arch(arch, tmp_path / "arch.yaml"))
    want, got = arch.to_dict(), read.arch.to_dict()
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6, err_msg=key)
    assert read.dropped == ()
    assert read.levels == {"DRAM": "dram", "GlobalBuffer": "l2", "RegisterFile": "l1"}


def test_written_arch_matches_timeloop_semantics():
    arch = costmodels.preset("eyeriss_template")
    a = write_arch(arch)["architecture"]
    assert a["version"] == 0.3
    system = a["subtree"][0]
    dram = system["local"][0]["attributes"]
    # buffer.cpp asserts width == word-bits x block-size for DRAM
    assert dram["width"] == dram["word-bits"] * dram["block-size"]
    glb = system["subtree"][0]["local"][0]["attributes"]
    assert glb["depth"] * glb["block-size"] * glb["word-bits"] / 8 == 108 * 1024
    assert glb["multiple-buffering"] == 2
    pe = system["subtree"][0]["subtree"][0]
    assert pe["name"] == "PE[0..167]"
    assert pe["local"][0]["attributes"]["depth"] * 2 == 512


EYERISS_V03 = """
architecture:
  version: 0.3
  subtree:
  - name: system
    local:
    - name: DRAM
      class: DRAM
      attributes: {type: LPDDR4, width: 64, block-size: 4, word-bits: 16}
    subtree:
    - name: eyeriss
      attributes: {technology: 65nm}
      local:
      - name: shared_glb
        class: smartbuffer_SRAM
        attributes: {memory_depth: 13824, memory_width: 64, n_banks: 32, block-size: 4, word-bits: 16,
                     read_bandwidth: 16, write_bandwidth: 16}
      - name: DummyBuffer[0..13]
        class: regfile
        attributes: {depth: 16, width: 16, word-bits: 16, block-size: 1, meshX: 14}
      subtree:
      - name: PE[0..167]
        local:
        - name: ifmap_spad
          class: smartbuffer_RF
          attributes: {memory_depth: 12, memory_width: 16, block-size: 1, word-bits: 16, meshX: 14}
        - name: weights_spad
          class: smartbuffer_RF
          attributes: {memory_depth: 192, memory_width: 16, block-size: 1, word-bits: 16, meshX: 14}
        - name: psum_spad
          class: smartbuffer_RF
          attributes: {memory_depth: 16, memory_width: 16, block-size: 1, word-bits: 16, meshX: 14}
        - name: mac
          class: intmac
          attributes: {datawidth: 16, meshX: 14}
"""


def test_read_eyeriss_like_arch(tmp_path):
    ta = read_arch(_write(tmp_path / "eyeriss.yaml", EYERISS_V03))
    d = ta.arch.to_dict()
    assert d["num_pes"] == 168
    assert d["l2_kib"] == pytest.approx(108.0)  # 13824 rows x 4 words x 2 bytes
    assert d["l1_bytes"] == pytest.approx((12 + 192 + 16) * 2)  # three scratchpads merged
    assert d["dram_mb_per_s"] == pytest.approx(64 / 8 * 500)  # one 64-bit access per cycle at 500 MHz
    assert ta.levels == {
        "DRAM": "dram",
        "shared_glb": "l2",
        "DummyBuffer": "fanout",
        "ifmap_spad": "l1",
        "weights_spad": "l1",
        "psum_spad": "l1",
    }
    text = "\n".join(ta.dropped)
    for needle in ("DummyBuffer", "merged into one L1", "NoCs", "clock", "DMA setup", "multiple-buffering"):
        assert needle in text, needle


EYERISS_V04 = """
variables:
  global_cycle_seconds: 1.0e-9
architecture:
  version: 0.4
  nodes:
  - !Container
    name: system
  - !Component
    name: DRAM
    class: DRAM
    attributes: {type: LPDDR4, width: 64, datawidth: 16, read_bandwidth: 4}
  - !Container
    name: chip
    attributes: {technology: 45nm}
  - !Component
    name: glb
    class: smartbuffer_SRAM
    attributes: {depth: 8192, width: 64, datawidth: 16, block-size: 4, multiple-buffering: 2}
  - !Container
    name: PE
    spatial: {meshX: 8, meshY: 4}
  - !Parallel
    nodes:
    - !Component
      name: in_rf
      class: smartbuffer_RF
      attributes: {depth: 8, width: 16, datawidth: 16}
    - !Component
      name: w_rf
      class: smartbuffer_RF
      attributes: {depth: 16, width: 16, datawidth: 16}
  - !Component
    name: mac
    class: intmac
    attributes: {multiplier_width: 16, adder_width: 32}
"""


def test_read_v04_arch_with_tags(tmp_path):
    ta = read_arch(_write(tmp_path / "arch.yaml", EYERISS_V04))
    d = ta.arch.to_dict()
    assert d["num_pes"] == 32 and d["freq_mhz"] == pytest.approx(1000.0)
    assert d["l2_kib"] == pytest.approx(64.0) and d["l1_bytes"] == pytest.approx(48.0)
    assert d["dram_mb_per_s"] == pytest.approx(4 * 2 * 1000)  # 4 words x 2 bytes x 1000 MHz
    assert ta.levels == {"DRAM": "dram", "glb": "l2", "in_rf": "l1", "w_rf": "l1"}
    assert not any("clock" in n or "multiple-buffering" in n for n in ta.dropped)


# ------------------------------------------------------------------- mappings
def _mappings():
    arch = costmodels.preset("tiny")
    layers = LAYERS + list(workloads.get("resnet18").layers[:4])
    return arch, [(layer, default_mapping(layer, arch)) for layer in layers]


def test_mapping_round_trip_and_costs(tmp_path):
    arch, pairs = _mappings()
    ta = read_arch(write_arch(arch))
    for layer, m in pairs:
        doc = write_mapping(m, layer)
        for back in (read_mapping(doc, layer, ta), read_mapping(doc, layer)):
            np.testing.assert_array_equal(back.factors(), m.factors())
            # the order round-trips for every dim of the problem (G only exists when grouped)
            dims = [i for i, d in enumerate(DIMS) if d != "G" or layer.size("G") > 1]
            for lvl in range(3):
                want = [i for i in np.asarray(m.order)[lvl] if i in dims]
                got = [i for i in np.asarray(back.order)[lvl] if i in dims]
                assert got == want, (layer.name, lvl)
            a = costmodels.evaluate_jit(arch, costmodels.layer_arrays(layer), m)
            b = costmodels.evaluate_jit(ta.arch, costmodels.layer_arrays(layer), back)
            assert float(a.latency_cycles) == float(b.latency_cycles)
            assert float(a.energy_total_pj) == pytest.approx(float(b.energy_total_pj), rel=1e-6)


def test_permutation_is_inner_to_outer():
    layer = LAYERS[0]
    m = costmodels.make_mapping(
        dram={"K": 2}, l2={"K": 4, "C": 16, "P": 8}, spatial={"K": 4, "Q": 8}, l1={"R": 3, "S": 3}, order={"l2": "KCP"}
    )
    doc = write_mapping(m, layer)["mapping"]
    l2 = doc[1]
    assert l2["target"] == "GlobalBuffer" and l2["type"] == "temporal"
    assert l2["permutation"].startswith("PCK")  # innermost first; K outermost of the three
    assert "K=4" in l2["factors"] and "C=16" in l2["factors"]
    assert doc[2]["type"] == "spatial" and "Q=8" in doc[2]["factors"] and doc[2]["split"] == 7


def test_evaluating_read_files_equals_original(tmp_path):
    arch = costmodels.preset("eyeriss_template")
    layer = workloads.conv2d("c", 32, 64, in_hw=28, kernel=3, stride=2)
    m = default_mapping(layer, arch)
    files = (
        dump_problem(layer, tmp_path / "c.problem.yaml"),
        dump_arch(arch, tmp_path / "arch.yaml"),
        dump_mapping(m, layer, tmp_path / "c.map.yaml"),
    )
    layer2 = read_problem(files[0])
    ta = read_arch(files[1])
    m2 = read_mapping(files[2], layer2, ta)
    a = costmodels.evaluate(arch, costmodels.layer_arrays(layer), m)
    b = costmodels.evaluate(ta.arch, costmodels.layer_arrays(layer2), m2)
    np.testing.assert_allclose(np.asarray(b.terms_cycles), np.asarray(a.terms_cycles), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(b.energy_pj), np.asarray(a.energy_pj), rtol=1e-6)
    assert float(b.legal) == float(a.legal) == 1.0


# Eyeriss-like row-stationary mapping of C16 K32 P14 Q14 R3 S3 (hand-written).
EYERISS_MAP = """
mapping:
- {target: DRAM, type: temporal, factors: C=1 M=2 R=1 S=1 N=1 P=1 Q=2, permutation: SRPCNMQ}
- {target: shared_glb, type: temporal, factors: C=4 M=1 R=1 S=1 N=1 P=1 Q=7, permutation: SRPNMCQ}
- {target: shared_glb, type: spatial, factors: C1 M1 R1 S1 N1 P14 Q1, permutation: PCMRSNQ, split: 7}
- {target: DummyBuffer, type: temporal, factors: C=1 M=1 R=1 S=1 N=1 P=1 Q=1, permutation: CMRSNPQ}
- {target: DummyBuffer, type: spatial, factors: C=1 M=4 R=1 S=3 N=1 P=1 Q=1, permutation: SMCRNPQ, split: 1}
- {target: ifmap_spad, type: temporal, factors: C=2, permutation: CMRSNPQ}
- {target: weights_spad, type: temporal, factors: C=2 R=3, permutation: RC}
- {target: psum_spad, type: temporal, factors: M=4, permutation: M}
- {target: shared_glb, type: bypass, keep: [Weights, Inputs, Outputs]}
- {target: DummyBuffer, type: bypass, bypass: [Weights, Inputs, Outputs]}
- {target: ifmap_spad, type: bypass, keep: [Inputs], bypass: [Weights, Outputs]}
- {target: weights_spad, type: bypass, keep: [Weights], bypass: [Inputs, Outputs]}
- {target: psum_spad, type: bypass, keep: [Outputs], bypass: [Inputs, Weights]}
"""


def test_read_eyeriss_mapping_folds_levels(tmp_path):
    ta = read_arch(_write(tmp_path / "arch.yaml", EYERISS_V03))
    layer = workloads.raw("rs", {"C": 16, "K": 32, "P": 14, "Q": 14, "R": 3, "S": 3})
    m = read_mapping(_write(tmp_path / "map.yaml", EYERISS_MAP), layer, ta)
    f = {name: dict(zip(DIMS, row.tolist())) for name, row in zip(("dram", "l2", "spatial", "l1"), m.factors())}
    assert f["dram"]["K"] == 2 and f["dram"]["Q"] == 2
    assert f["l2"]["C"] == 4 and f["l2"]["Q"] == 7
    # spatial factors of shared_glb (P14) and DummyBuffer (K4 S3) multiply into one PE array of 168
    assert (f["spatial"]["P"], f["spatial"]["K"], f["spatial"]["S"]) == (14, 4, 3)
    assert int(np.prod(m.factors()[2])) == 168
    # the three scratchpads' loops multiply; order: each dim at its outermost non-trivial loop
    assert (f["l1"]["C"], f["l1"]["R"], f["l1"]["K"]) == (4, 3, 4)
    order = [DIMS[i] for i in np.asarray(m.order)[2]]
    assert order.index("C") < order.index("R") < order.index("K")
    c = costmodels.evaluate(ta.arch, costmodels.layer_arrays(layer), m)
    assert float(c.legal) == 1.0 and float(c.latency_cycles) >= layer.macs / 168


# --------------------------------------------------------------------- errors
def _conv_problem(**instance):
    doc = yaml.safe_load(CONV_S2)
    doc["problem"]["instance"].update(instance)
    return doc


def _bad_projection():
    doc = yaml.safe_load(CONV_S2)
    doc["problem"]["shape"]["data-spaces"][2]["projection"].append([["C"]])  # outputs indexed by C
    return doc


def _gemm_abz():
    return {
        "problem": {
            "shape": {
                "name": "gemm-ABZ",
                "dimensions": ["M", "N", "K"],
                "data-spaces": [
                    {"name": "A", "projection": [[["M"]], [["K"]]]},
                    {"name": "B", "projection": [[["N"]], [["K"]]]},
                    {"name": "Z", "projection": [[["M"]], [["N"]]], "read-write": True},
                ],
            },
            "instance": {"M": 4, "N": 4, "K": 4},
        }
    }


def _without_k():
    doc = yaml.safe_load(CONV_S2)
    del doc["problem"]["instance"]["M"]
    return doc


@pytest.mark.parametrize(
    "doc, needle",
    [
        (_without_k(), "problem.instance.M"),
        (_conv_problem(Wstride=0), "problem.instance.Wstride"),
        (_conv_problem(densities={"Weights": 0.5}), "problem.instance.densities"),
        (_bad_projection(), "data-spaces[2].projection"),
        (_gemm_abz(), "problem.shape.dimensions"),
        ({"problem": {"shape": "gemm-ABZ", "instance": {}}}, "problem.shape"),
        ([1, 2], "problem"),
    ],
)
def test_malformed_problems_name_the_field(doc, needle):
    with pytest.raises(TimeloopError) as e:
        read_problem(doc)
    assert needle in str(e.value)


def _mapping_doc(layer, edit):
    arch = costmodels.preset("tiny")
    doc = write_mapping(default_mapping(layer, arch), layer)
    edit(doc["mapping"])
    return doc


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda d: d[0].update(factors="K=3"), "mapping.factors.K"),
        (lambda d: d[0].update(factors="K=3,2"), "mapping[0].factors"),
        (lambda d: d[0].update(factors="X=3"), "mapping[0].factors"),
        (lambda d: d[1].update(target="SmartBuffer"), "mapping[1].target"),
        (lambda d: d[3].update(type="spatial"), "mapping[3].target"),
        (lambda d: d[3].update(type="skew"), "mapping[3].type"),
        (lambda d: d.append({"target": "GlobalBuffer", "type": "bypass", "bypass": ["Weights"]}), "bypass"),
        (lambda d: d.append(dict(d[1])), "mapping[6]"),
        (lambda d: d[1].update(permutation="KKC"), "mapping[1].permutation"),
    ],
)
def test_malformed_mappings_name_the_field(edit, needle):
    layer = LAYERS[0]
    doc = _mapping_doc(layer, edit)
    with pytest.raises(TimeloopError) as e:
        read_mapping(doc, layer, read_arch(write_arch(costmodels.preset("tiny"))))
    assert needle in str(e.value)


def test_eyeriss_glb_bypass_cannot_be_expressed(tmp_path):
    ta = read_arch(_write(tmp_path / "arch.yaml", EYERISS_V03))
    layer = workloads.raw("rs", {"C": 16, "K": 32, "P": 14, "Q": 14, "R": 3, "S": 3})
    text = EYERISS_MAP.replace("keep: [Weights, Inputs, Outputs]}", "keep: [Inputs, Outputs], bypass: [Weights]}")
    with pytest.raises(TimeloopError, match="Weights to be kept at shared_glb"):
        read_mapping(yaml.safe_load(text), layer, ta)


def test_mapping_without_arch_needs_three_levels(tmp_path):
    layer = workloads.raw("rs", {"C": 16, "K": 32, "P": 14, "Q": 14, "R": 3, "S": 3})
    with pytest.raises(TimeloopError, match="exactly 3 levels"):
        read_mapping(yaml.safe_load(EYERISS_MAP), layer)


@pytest.mark.parametrize(
    "arch_doc, needle",
    [
        ({"architecture": {"version": 0.3, "subtree": []}}, "MAC component"),
        (
            {
                "architecture": {
                    "subtree": [
                        {
                            "name": "sys",
                            "local": [{"name": "DRAM", "class": "DRAM", "attributes": {"width": 64}}],
                            "subtree": [{"name": "PE[0..3]", "local": [{"name": "mac", "class": "intmac"}]}],
                        }
                    ]
                }
            },
            "shared on-chip buffer",
        ),
        ({"architecture": {"version": 0.4, "nodes": [{"name": "x"}]}}, "architecture.nodes[0]"),
        ({"architecture": {"version": 0.3}}, "'subtree'"),
    ],
)
def test_malformed_archs_name_the_field(arch_doc, needle):
    with pytest.raises(TimeloopError) as e:
        read_arch(arch_doc)
    assert needle in str(e.value)


def test_arch_sizes_must_be_numbers(tmp_path):
    text = EYERISS_V03.replace("memory_depth: 13824", "memory_depth: lots")
    with pytest.raises(TimeloopError, match="shared_glb|local\\[0\\].attributes.memory_depth"):
        read_arch(_write(tmp_path / "a.yaml", text))


def test_cannot_write_what_timeloop_cannot_express():
    layer = workloads.raw("p", {"K": 7, "C": 4})
    padded = costmodels.make_mapping(l2={"K": 8, "C": 4})  # K padded 7 -> 8
    with pytest.raises(TimeloopError, match="factors.K"):
        write_mapping(padded, layer)
    odd = costmodels.make_arch(16, 3, 64, 1024, 32, 4, 8)  # 3 bytes is not whole 16-bit words
    with pytest.raises(TimeloopError, match="l1_bytes"):
        write_arch(odd)


def test_file_errors(tmp_path):
    with pytest.raises(TimeloopError, match="no such file"):
        read_problem(tmp_path / "missing.yaml")
    with pytest.raises(TimeloopError, match="valid YAML"):
        read_arch(_write(tmp_path / "bad.yaml", "architecture: [unclosed\n"))


def test_mutated_inputs_raise_only_timeloop_errors():
    """Random field replacements and deletions: every failure is a TimeloopError naming the source."""
    rng = random.Random(0)
    junk = [None, "x", [], {}, [1], {"a": 1}, -1, 0, 2.5, float("nan"), float("inf"), True, 10**30, [[["C"]]]]
    layer, arch = LAYERS[0], costmodels.preset("tiny")
    ta = read_arch(write_arch(arch))
    cases = [
        (yaml.safe_load(CONV_S2), read_problem),
        (yaml.safe_load(EYERISS_V03), read_arch),
        (write_mapping(default_mapping(layer, arch), layer), lambda d: read_mapping(d, layer, ta)),
        (write_mapping(default_mapping(layer, arch), layer), lambda d: read_mapping(d, layer)),
    ]
    for doc, read in cases:
        for _ in range(150):
            d = copy.deepcopy(doc)
            paths, stack = [], [((), d)]
            while stack:
                path, node = stack.pop()
                items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
                for k, v in items:
                    paths.append(path + (k,))
                    stack.append((path + (k,), v))
            path = rng.choice(paths)
            parent = d
            for k in path[:-1]:
                parent = parent[k]
            if isinstance(parent, dict) and rng.random() < 0.2:
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(rng.choice(junk))
            try:
                read(d)
            except TimeloopError as e:
                assert str(e).startswith("<dict>")


# ----------------------------------------------------------------- export/CLI
def test_export_plan_files(tmp_path):
    net = workloads.load(EXAMPLE)
    plan = evaluate_plan(net, "tiny", "default")
    index = yaml.safe_load(export_plan(plan, tmp_path).read_text())
    assert index["arch"] == "arch.yaml" and len(index["layers"]) == len(net.layers)
    ta = read_arch(tmp_path / "arch.yaml")
    for i, entry in enumerate(index["layers"]):
        layer = read_problem(tmp_path / entry["problem"])
        assert layer == net.layers[i]
        m = read_mapping(tmp_path / entry["mapping"], layer, ta)
        c = costmodels.evaluate(ta.arch, costmodels.layer_arrays(layer), m)
        assert float(c.latency_cycles) == pytest.approx(entry["jaxdse"]["latency_cycles"], rel=1e-6)
        assert entry["timeloop_model"].startswith("timeloop-model arch.yaml ")


def test_cli_evaluate_timeloop_files(tmp_path, capsys):
    arch = costmodels.preset("tiny")
    layer = workloads.conv2d("c", 16, 32, in_hw=16, kernel=3)
    m = default_mapping(layer, arch)
    p, a, mp = (
        dump_problem(layer, tmp_path / "c.problem.yaml"),
        dump_arch(arch, tmp_path / "arch.yaml"),
        dump_mapping(m, layer, tmp_path / "c.map.yaml"),
    )
    argv = ["evaluate", "--timeloop-problem", str(p), "--timeloop-arch", str(a), "--timeloop-mapping", str(mp)]
    assert main(argv + ["--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    want = costmodels.evaluate(arch, costmodels.layer_arrays(layer), m)
    assert out["layers"][0]["latency_cycles"] == pytest.approx(float(want.latency_cycles), rel=1e-6)
    got, want_map = out["layers"][0]["mapping"], m.to_dict()
    assert all(got[k] == want_map[k] for k in ("dram", "l2", "spatial", "l1"))
    assert "timeloop arch:" not in captured.err  # a jaxdse-written arch loses nothing


def test_cli_map_export_then_evaluate(tmp_path, capsys):
    out_dir = tmp_path / "tl"
    argv = [
        "map",
        "--workload",
        str(EXAMPLE),
        "--arch",
        "tiny",
        "--method",
        "default",
        "--export-timeloop",
        str(out_dir),
    ]
    assert main(argv) == 0
    assert "index.yaml" in capsys.readouterr().err
    index = yaml.safe_load((out_dir / "index.yaml").read_text())
    argv = ["evaluate", "--timeloop-arch", str(out_dir / "arch.yaml"), "--json"]
    for entry in index["layers"]:
        argv += [
            "--timeloop-problem",
            str(out_dir / entry["problem"]),
            "--timeloop-mapping",
            str(out_dir / entry["mapping"]),
        ]
    assert main(argv) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    got = [row["latency_cycles"] for row in layers]
    want = [entry["jaxdse"]["latency_cycles"] for entry in index["layers"]]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_cli_reports_what_a_foreign_arch_drops(tmp_path, capsys):
    arch = _write(tmp_path / "eyeriss.yaml", EYERISS_V03)
    prob = dump_problem(workloads.conv2d("c", 16, 32, in_hw=14, kernel=3), tmp_path / "c.problem.yaml")
    argv = ["evaluate", "--timeloop-problem", str(prob), "--timeloop-arch", str(arch), "--method", "default"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "timeloop arch: DummyBuffer" in captured.err
    assert "eyeriss.yaml" in captured.out and "total: latency" in captured.out


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--timeloop-problem", "BAD"], "problem.instance.M"),
        (["--timeloop-problem", "/nonexistent/p.yaml"], "nonexistent"),
        (["--timeloop-problem", "GOOD", "--model", "resnet18"], "--timeloop-problem"),
        (["--timeloop-problem", "GOOD", "--arch", "tiny", "--timeloop-arch", "ARCH"], "--timeloop-arch"),
        (["--timeloop-problem", "GOOD", "--timeloop-mapping", "GOOD", "--timeloop-mapping", "GOOD"], "one file per"),
        (["--timeloop-problem", "GOOD", "--timeloop-arch", "GOOD"], "architecture"),
    ],
)
def test_cli_bad_timeloop_input_exits_2(extra, needle, tmp_path, capsys):
    files = {
        "BAD": str(_write(tmp_path / "bad.yaml", yaml.safe_dump(_without_k()))),
        "GOOD": str(_write(tmp_path / "good.yaml", CONV_S2)),
        "ARCH": str(dump_arch(costmodels.preset("tiny"), tmp_path / "arch.yaml")),
    }
    source = [] if "--timeloop-mapping" in extra else ["--method", "default"]  # evaluate takes one source
    argv = ["evaluate", *source] + [files.get(x, x) for x in extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxdse: error:") and needle in err and "Traceback" not in err
