"""benchmarks/peer_speed.py: the ZigZag inputs describe the same layers, design and mappings as jaxdse's."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import costmodels as cm
import workloads as w
from costmodels import technology as tech

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "peer_speed.py"
_SPEC = importlib.util.spec_from_file_location("peer_speed", _PATH)
ps = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ps)

ARCH = cm.preset("explainable_default")


@pytest.mark.parametrize(("network", "name"), ps.LAYERS_DEFAULT)
def test_zigzag_layer_has_jaxdse_loop_bounds(network, name):
    layer = ps.find_layer(network, name)
    zl = ps.zigzag_layer(layer)
    n, _, k, c, p, q, r, s = layer.sizes
    assert dict(zip(zl["loop_dims"], zl["loop_sizes"])) == dict(B=n, K=k, C=c, OY=p, OX=q, FY=r, FX=s)
    assert int(np.prod(zl["loop_sizes"])) == layer.macs
    sy, sx = layer.stride
    assert zl["dimension_relations"] == [f"ix={sx}*ox+1*fx", f"iy={sy}*oy+1*fy"]
    assert zl["operand_precision"] == dict(W=16, I=16, O=16, O_final=16)


def test_zigzag_layer_rejects_grouped_layers():
    with pytest.raises(ValueError, match=r"sizes\.G.*expected 1, found 12"):
        ps.zigzag_layer(ps.find_layer("bert_base", "layer1.attn.scores"))


def test_zigzag_accelerator_matches_the_preset():
    acc = ps.zigzag_accelerator("explainable_default")
    mems = acc["memories"]
    assert mems["l1"]["size"] == 64 * 8 and mems["l2"]["size"] == 256 * 1024 * 8
    assert mems["l1"]["served_dimensions"] == [] and mems["l2"]["served_dimensions"] == ["D1"]
    assert mems["l2"]["force_double_buffering"] and not mems["l1"]["force_double_buffering"]
    assert acc["operational_array"]["sizes"] == [256]
    assert acc["operational_array"]["unit_energy"] == pytest.approx(float(tech.mac_energy_pj(16)))
    # energy per access of bandwidth_max bits = per-word energy x words per access
    l2_bw = {p["bandwidth_max"] for p in mems["l2"]["ports"]}
    assert l2_bw == {64 * 16}  # NoC width x links
    assert mems["l2"]["r_cost"] == pytest.approx(float(tech.sram_energy_pj_per_access(256, 16)) * 64)
    dram_bw = mems["dram"]["ports"][0]["bandwidth_max"]
    assert dram_bw == 66  # 4096 MB/s / 500 MHz = 8.19 B = 65.5 bit per cycle
    assert mems["dram"]["r_cost"] == pytest.approx(tech.dram_energy_pj_per_byte() * 2 * dram_bw / 16)
    for m in mems.values():
        assert m["operands"] == ["I1", "I2", "O"]
        assert all(p["bandwidth_min"] == 16 for p in m["ports"])


def test_zigzag_mapping_is_the_same_loop_nest():
    layer = w.conv2d("c3", 128, 128, in_hw=28, kernel=3)
    m = cm.make_mapping(
        dram={"K": 4, "C": 8, "P": 4, "Q": 4},
        l2={"K": 2, "C": 4, "P": 7, "Q": 7},
        spatial={"K": 16, "C": 4},
        l1={"R": 3, "S": 3},
        order={"dram": "KPQC", "l2": "CKPQ"},
    )
    spatial = ps.zigzag_spatial(m)
    levels = ps.zigzag_temporal(m)
    assert spatial == {"K": 16, "C": 4}
    assert levels[1] == [("OX", 7), ("OY", 7), ("K", 2), ("C", 4)]  # L2, innermost first
    assert levels[2] == [("C", 8), ("OX", 4), ("OY", 4), ("K", 4)]  # DRAM, innermost first
    zl = ps.zigzag_layer(layer)
    for dim, size in zip(zl["loop_dims"], zl["loop_sizes"]):
        covered = spatial.get(dim, 1) * np.prod([f for lvl in levels for d, f in lvl if d == dim])
        assert covered == size, dim
    entries = ps.mapping_yaml(layer, spatial)
    assert entries[0]["spatial_mapping"] == {"D1": ["K, 16", "C, 4"]}
    assert entries[-1]["name"] == "default"


@pytest.mark.slow  # minutes of compiling on 2 loaded cores; CI runs it with -m slow
def test_zigzag_evaluates_the_same_work():
    """Needs zigzag-dse (the ``peers`` extra): the translated mapping has jaxdse's compute cycles and MAC energy."""
    pytest.importorskip("zigzag.api")
    layer = w.conv2d("c3", 64, 64, in_hw=14, kernel=3)
    m = cm.make_mapping(
        dram={"C": 8, "P": 2},
        l2={"K": 8, "C": 4, "P": 7, "R": 3},
        spatial={"K": 8, "Q": 14},
        l1={"C": 2, "S": 3},
        order={"dram": "PC", "l2": "KPCR"},
    )
    c = cm.evaluate_jit(ARCH, cm.layer_arrays(layer), m)
    assert float(c.legal) == 1.0, c.penalty
    zz = ps.ZigZag(ps.zigzag_accelerator())
    cme = zz.fixed(layer, m)()
    assert cme.ideal_temporal_cycle == pytest.approx(float(c.compute_cycles))
    assert cme.mac_energy == pytest.approx(float(c.energy_pj[cm.ENERGY_COMPONENTS.index("mac")]), rel=1e-5)
    assert cme.latency_total2 >= cme.ideal_temporal_cycle
    assert cme.energy_total > cme.mac_energy
    padded = cm.make_mapping(dram={"K": 128, "C": 64, "P": 14, "Q": 14}, l1={"R": 3, "S": 3})
    with pytest.raises(ValueError, match=r"field 'mapping'.*padded"):
        zz.fixed(layer, padded)
