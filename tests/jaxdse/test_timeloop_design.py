"""Any hierarchy written back as Timeloop inputs (``jaxdse.interop.timeloop_design``).

Two checks: the written files read back (``load_design``) give the same
hierarchy, mapping and counts; and Timeloop v3.0.3 itself, run on files this
writer made (``benchmarks/timeloop_oracle/written_designs.py``, figures stored
in ``tests/data/timeloop_oracle/written_designs.json``), counts every level and
tensor as our model does, for every hierarchy preset.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import costmodels as cm
import workloads as w
from costmodels import NestMapping
from costmodels.nest_mapping import MAX_LEVELS
from jaxdse.hierarchy_plan import random_nest_mappings
from jaxdse.interop.timeloop_design import export_design, write_design
from jaxdse.interop.timeloop_hierarchy import load_design
from jaxdse.interop.timeloop_io import TimeloopError

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop_oracle" / "written_designs.json"
TENSORS = ("Inputs", "Weights", "Outputs")
_EVAL = jax.jit(cm.evaluate_hierarchy)


def _layer(net: str, name: str) -> w.Layer:
    return next(lay for lay in w.get(net).layers if lay.name == name)


def _mapping(d: dict) -> NestMapping:
    return NestMapping(
        temporal=jnp.asarray(d["temporal"], jnp.float32),
        order=jnp.asarray(d["order"], jnp.int32),
        spatial=jnp.asarray(d["spatial"], jnp.float32),
    )


def _effective_order(m: NestMapping, depth: int) -> list[list[int]]:
    """Per level, the dims with a temporal loop > 1 in loop order (the rest have no effect)."""
    t, o = np.asarray(m.temporal), np.asarray(m.order)
    return [[int(d) for d in o[lv] if t[lv, d] > 1] for lv in range(depth)]


@pytest.mark.parametrize(
    "preset",
    [
        "eyeriss_like",
        *(pytest.param(p, marks=pytest.mark.slow) for p in ("explainable_default", "simba_like", "gemmini_like")),
    ],
)
def test_written_design_reads_back_the_same(preset, tmp_path):
    hier = cm.hierarchy_preset(preset)
    layer = _layer("resnet18", "conv3_x.b1.conv2")
    ms = random_nest_mappings(layer, hier, 40, np.random.default_rng(3))
    done = 0
    for i in range(1, 40):
        m = jax.tree_util.tree_map(lambda x, i=i: x[i], ms)
        try:
            files = export_design(hier, m, layer, tmp_path / str(i))
        except TimeloopError as e:  # only the one-stage X-and-Y split is refused for exact mappings
            assert "on both" in str(e)
            continue
        h2, m2, l2 = load_design(files["arch"], files["mapping"], files["problem"])
        assert h2.names == hier.names and l2.sizes == layer.sizes and l2.stride == layer.stride
        for f in ("keep", "capacity_bytes", "buffers", "fanout_x", "fanout_y", "xy_stages", "word_bits"):
            np.testing.assert_allclose(np.asarray(getattr(h2, f)), np.asarray(getattr(hier, f)), err_msg=f)
        for f in ("read_bw_words", "write_bw_words"):
            np.testing.assert_array_equal(np.asarray(getattr(h2, f)), np.asarray(getattr(hier, f)), err_msg=f)
        d = hier.depth
        np.testing.assert_array_equal(np.asarray(m2.temporal)[:d], np.asarray(m.temporal)[:d])
        np.testing.assert_array_equal(np.asarray(m2.spatial)[:d], np.asarray(m.spatial)[:d])
        assert _effective_order(m2, d) == _effective_order(m, d)
        a, b = _EVAL(hier, cm.layer_arrays(layer), m), _EVAL(h2, cm.layer_arrays(l2), m2)
        for f in ("reads", "fills", "updates"):
            np.testing.assert_array_equal(np.asarray(getattr(a.counts, f)), np.asarray(getattr(b.counts, f)))
        done += 1
        if done == 3:
            break
    assert done == 3


@pytest.mark.slow  # one compile per preset: minutes on 2 loaded cores
def test_timeloop_counts_files_this_writer_made():
    """Timeloop v3.0.3's counts on written designs (every preset) equal ours, level by level."""
    doc = json.loads(DATA.read_text())
    cases = doc["cases"]
    assert {c["preset"] for c in cases} >= {"eyeriss_like", "simba_like", "gemmini_like", "tpu_v1_like"}
    compared, bad = 0, []
    for case in cases:
        hier = cm.hierarchy_preset(case["preset"])
        layer = _layer(case["network"], case["layer"])
        m = _mapping(case["mapping"])
        c = _EVAL(hier, cm.layer_arrays(layer), m)
        where = f"{case['preset']}/{case['layer']}"
        # the written files are this writer's output for the stored mapping (the figures belong to them)
        assert write_design(hier, m, layer)["mapping"]["mapping"]
        for level in case["timeloop"]["levels"]:
            if level["name"] not in hier.names:  # a written Y-stage level keeps nothing
                assert all(v == 0 for t in level["tensors"].values() for v in t.values()), where
                continue
            i = hier.names.index(level["name"])
            for tensor, want in level["tensors"].items():
                for f in ("reads", "fills", "updates"):
                    compared += 1
                    ours = float(getattr(c.counts, f)[i, TENSORS.index(tensor)])
                    theirs = want[f"{f}_total"]
                    if ours != theirs:
                        bad.append(f"{where} {level['name']}.{tensor}.{f}: ours {ours:g}, Timeloop {theirs}")
        # Timeloop's cycles = max(compute, each level's bandwidth cycles); the NoC and DMA
        # terms of the template presets are not written (Timeloop has no such model)
        cycles = float(np.max(np.asarray(c.terms_cycles)[: 1 + MAX_LEVELS]))
        compared += 1
        if cycles != case["timeloop"]["cycles"]:
            bad.append(f"{where} cycles: ours {cycles:g}, Timeloop {case['timeloop']['cycles']}")
    assert compared > 500 and not bad, bad[:10]


def test_padded_mapping_and_odd_capacity_are_refused_by_name():
    hier = cm.hierarchy_preset("explainable_default")
    layer = _layer("resnet18", "conv3_x.b1.conv2")
    m = cm.nest_mapping(temporal=[{d: layer.size(d) for d in w.DIMS}])  # everything at DRAM
    k = w.DIMS.index("K")
    padded = m.replace(temporal=m.temporal.at[0, k].set(layer.size("K") + 2))
    with pytest.raises(TimeloopError, match=r"mapping\.K.*exact factorisations"):
        write_design(hier, padded, layer)
    odd = hier.replace(capacity_bytes=hier.capacity_bytes.at[1].set(1001.0))
    with pytest.raises(TimeloopError, match=r"level 'L2' field 'capacity_bytes'"):
        write_design(odd, m, layer)
