"""benchmarks/peer_speed.py's AccelForge peer, jaxdse side: the request, the LoopTree translation, skipping.

AccelForge itself (Python >= 3.12) is not needed: the bridge imports it only inside ``main``, so its
pure parts (YAML writers, translation) load under jaxdse's interpreter, and its failure path is
exercised by running it under an interpreter without accelforge.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

import costmodels as cm
import workloads as w
from costmodels import technology as tech

_BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, _BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ps = _load("peer_speed")
br = _load("accelforge_bridge")
ARCH = cm.preset("explainable_default")
Q_PROJ = ps.find_layer("bert_base", "layer1.attn.q_proj")


def test_request_carries_the_preset_figures():
    req = ps.accelforge_request(Q_PROJ, "explainable_default")
    assert req["layer"]["sizes"] == dict(N=1, G=1, K=768, C=768, P=128, Q=1, R=1, S=1)
    a = req["arch"]
    assert (a["num_pes"], a["l1_bytes"], a["l2_kib"], a["l2_buffers"]) == (256, 64, 256, 2.0)
    assert a["max_workgroups"] == 16 * 8  # NoC links x virtual
    assert a["dram_words_per_cycle"] == pytest.approx(4096 / 500 / 2)
    e = a["energy_pj_per_word"]
    assert e["l2"] == pytest.approx(float(tech.sram_energy_pj_per_access(256, 16)))
    assert e["dram"] == pytest.approx(tech.dram_energy_pj_per_byte() * 2)
    assert ps.gemm_like(Q_PROJ) and not ps.gemm_like(ps.find_layer("resnet18", "conv4_x.b1.conv2"))


def test_arch_and_workload_yaml_state_the_template():
    req = ps.accelforge_request(Q_PROJ, "explainable_default")
    arch = br.arch_yaml(req["arch"])
    assert "size: 1048576" in arch  # 256 KiB / 2 copies, in bits
    assert "size: 512" in arch and "fanout: 256" in arch
    assert arch.count('operator: "product<=", value: 128') == 3
    wl = br.workload_yaml(req["layer"])
    assert "k: 0 <= k < 768" in wl and "p: 0 <= p < 128" in wl and " n:" not in wl
    assert "{name: I, projection: [c, p]}" in wl and "{name: O, projection: [k, p], output: True}" in wl
    conv = br.workload_yaml(ps.accelforge_request(ps.find_layer("resnet18", "conv1"), "explainable_default")["layer"])
    assert "H: 2*p + r" in conv and "W: 2*q + s" in conv


# The tree AccelForge 1.0.467 chose for q_proj (energy with leakage, Timeloop-style even), as loop_tree
# returns it: T-c2 [I in L2] T-k24 [O,W in L2] T-p2 S-p16 S-k8 S-c2 [O in L1] T-c192 [I,W in L1] T-k4 T-p4
TREE = [
    ("store", "DRAM", ("W", "O", "I")),
    ("temporal", "c", 384),
    ("store", "L2", ("I",)),
    ("temporal", "k", 32),
    ("store", "L2", ("O", "W")),
    ("temporal", "p", 64),
    ("spatial", "p", 4),
    ("spatial", "k", 4),
    ("spatial", "c", 192),
    ("store", "L1", ("O",)),
    ("temporal", "c", 1),
    ("store", "L1", ("I", "W")),
    ("temporal", "k", 1),
    ("temporal", "p", 1),
]


def test_translation_of_a_timeloop_style_tree():
    m, exact, notes, tree = br.translate(TREE, dict(K=768, C=768, P=128))
    assert m["dram"] == {"C": 2, "K": 24} and m["order"]["dram"] == "CK"
    assert m["l2"] == {"P": 2, "C": 192} and m["order"]["l2"] == "PC"
    assert m["spatial"] == {"P": 16, "K": 8, "C": 2}
    assert m["l1"] == {"K": 4, "P": 4} and m["order"]["l1"] == "KP"
    assert tree.startswith("[W,O,I in DRAM] T-c2 [I in L2] T-k24 [O,W in L2] T-p2 S-p16 S-k8 S-c2")
    # k24 lies between I's and (O, W)'s L2 nodes: k does not index I, so that is jaxdse's reuse;
    # the c192 loop sits below the spatial loops in AccelForge and moves above them here
    assert not exact and len(notes) == 1 and "c192 below the spatial loops" in notes[0]
    cm.validate_mapping(Q_PROJ, cm.make_mapping(**m))


@pytest.mark.slow
def test_translated_tree_is_legal_and_uses_every_pe():
    m, *_ = br.translate(TREE, dict(K=768, C=768, P=128))
    costs = cm.evaluate_jit(ARCH, cm.layer_arrays(Q_PROJ), cm.make_mapping(**m))
    assert float(costs.legal) == 1.0 and float(costs.latency_cycles) == Q_PROJ.macs / 256


def test_translation_flags_uneven_tiles_and_imperfect_factors():
    tree = [
        ("store", "DRAM", ("W", "O", "I")),
        ("store", "L2", ("W",)),
        ("temporal", "k", 8),  # k indexes W, stored above it: W's L2 tile spans the loop
        ("store", "L2", ("I", "O")),
        ("spatial", "c", 3),  # 16 / 3 is not a whole factor
        ("store", "L1", ("I", "O", "W")),
    ]
    m, exact, notes, _ = br.translate(tree, dict(K=16, C=16))
    assert not exact
    assert any("L2 tile of W spans loop k2" in n for n in notes)
    assert any("imperfect factor" in n for n in notes)
    assert m["dram"] == {"K": 2} and m["spatial"] == {"C": 6}


def test_skipped_with_a_message_when_absent(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(ps.ACCELFORGE_ENV, raising=False)
    python, why = ps.accelforge_python(str(tmp_path / "no-python"))
    assert python is None and "did not run" in why
    python, why = ps.accelforge_python(sys.executable)  # jaxdse's interpreter: no accelforge
    assert python is None and "cannot import accelforge" in why
    ps.main(["--accelforge-only", "--accelforge-python", sys.executable, "--out", str(tmp_path)])
    assert "PEER SKIPPED: AccelForge" in capsys.readouterr().out


def test_bridge_errors_come_back_as_messages():
    req = ps.accelforge_request(Q_PROJ, "explainable_default")
    with pytest.raises(RuntimeError, match="AccelForge failed: ModuleNotFoundError"):
        ps.run_accelforge(sys.executable, req, timeout_s=120)
    with pytest.raises(RuntimeError, match="field 'metric' expected one of"):
        ps.run_accelforge(sys.executable, dict(req, metric="area"), timeout_s=120)
    bad = dict(req, layer=dict(req["layer"], sizes=dict(X=3)))
    with pytest.raises(RuntimeError, match="field 'layer.sizes' expected dims among"):
        ps.run_accelforge(sys.executable, bad, timeout_s=120)


def test_layers_exist():
    for net, name in ps.ACCELFORGE_LAYERS:
        assert ps.gemm_like(ps.find_layer(net, name)), name
    assert isinstance(Q_PROJ, w.Layer)
