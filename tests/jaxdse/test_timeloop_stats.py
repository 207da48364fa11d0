"""Timeloop stats files read as plain data (jaxdse.interop.timeloop_stats).

Expected values were read by eye from tests/data/timeloop_exercises/*/timeloop-mapper.stats.txt.
"""

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

from jaxdse.interop.timeloop_io import TimeloopError
from jaxdse.interop.timeloop_stats import parse_stats, read_stats
from jaxdse.interop.timeloop_tree import read_arch_tree, read_mapping_tree

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop_exercises"
DESIGNS = ("eyeriss_like", "simba_like", "simple_weight_stationary", "simple_output_stationary")


def _stats(design: str) -> dict:
    return read_stats(DATA / design / "timeloop-mapper.stats.txt")


def _level(stats: dict, name: str) -> dict:
    return next(lv for lv in stats["levels"] if lv["name"] == name)


def test_eyeriss_like_counts():
    s = _stats("eyeriss_like")
    assert [lv["name"] for lv in s["levels"]] == ["DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad"]
    assert [lv["level_index"] for lv in s["levels"]] == [7, 6, 3, 2, 1]
    assert s["hidden_levels"] == ["inter_PE_column_spatial", "inter_PE_spatial"]
    psum = _level(s, "psum_spad")
    assert psum["specs"]["word_bits"] == 16 and psum["specs"]["block_size"] == 1
    assert (psum["specs"]["instances"], psum["specs"]["mesh_x"], psum["specs"]["mesh_y"]) == (168, 14, 12)
    assert psum["specs"]["read_bandwidth"] == 2.0 and psum["specs"]["shared_bandwidth"] is None
    out = psum["tensors"]["Outputs"]
    assert out["scalar_reads_per_instance"] == 57_344
    assert out["scalar_updates_per_instance"] == 86_016
    assert out["scalar_fills_per_instance"] == 0
    assert out["temporal_reductions_per_instance"] == 57_344
    assert (out["utilized_capacity"], out["utilized_instances_max"], out["utilized_clusters_max"]) == (8, 126, 126)
    assert out["energy_per_scalar_access_pj"] == 0.23
    assert psum["loops"] == [{"dim": "M", "start": 0, "end": 8, "spatial": None}]
    assert psum["stats"]["cycles"] == 86_016
    assert psum["total_scalar_accesses"] == 18_063_360 == (57_344 + 86_016) * 126
    w = _level(s, "weights_spad")
    assert w["specs"]["word_bits"] == 8 and w["specs"]["block_size"] == 2
    assert w["tensors"]["Weights"]["scalar_fills_per_instance"] == 1_536
    assert w["tensors"]["Weights"]["address_generations_per_cluster"] == 87_552
    assert _level(s, "ifmap_spad")["tensors"]["Inputs"]["scalar_fills_per_instance"] == 10_752
    glb = _level(s, "shared_glb")
    assert list(glb["tensors"]) == ["Inputs", "Outputs"]
    assert glb["tensors"]["Inputs"]["scalar_reads_per_instance"] == 1_354_752
    assert glb["tensors"]["Inputs"]["scalar_fills_per_instance"] == 157_296
    assert glb["tensors"]["Outputs"]["scalar_updates_per_instance"] == 401_408
    assert [lp["dim"] for lp in glb["loops"]] == ["P", "Q"]
    dram = _level(s, "DRAM")
    assert dram["specs"]["read_bandwidth"] is None and dram["specs"]["size"] is None
    assert dram["tensors"]["Weights"]["scalar_reads_per_instance"] == 13_824
    assert dram["tensors"]["Inputs"]["scalar_reads_per_instance"] == 157_296
    mac = s["arithmetic"]
    assert mac["name"] == "mac" and mac["specs"]["instances"] == 168 and mac["specs"]["word_bits"] == 16
    assert mac["stats"]["utilized_instances"] == 126
    assert mac["stats"]["computes_total"] == 10_838_016 and mac["stats"]["cycles"] == 86_016
    assert mac["stats"]["energy_total_pj"] == 2_250_969.22
    sm = s["summary"]
    assert (sm["cycles"], sm["energy_uj"], sm["utilization_percent"], sm["computes"]) == (
        86_016,
        59.28,
        75.0,
        10_838_016,
    )
    assert sm["energy_per_compute_fj"]["psum_spad"] == 386.77 and sm["energy_per_compute_fj"]["Total"] == 5469.65
    assert s["operational_intensity"]["total_memory_accesses_required"] == 554_147
    assert s["networks"] == []


def test_simba_like_clusters_and_word_bits():
    s = _stats("simba_like")
    assert [lv["name"] for lv in s["levels"]] == [
        "DRAM",
        "GlobalBuffer",
        "PEInputBuffer",
        "PEWeightBuffer",
        "PEAccuBuffer",
        "PEWeightRegs",
    ]
    regs = _level(s, "PEWeightRegs")
    assert regs["specs"]["cluster_size"] == 64 and regs["specs"]["instances"] == 256
    t = regs["tensors"]["Weights"]
    assert (t["utilized_instances_max"], t["utilized_clusters_max"]) == (48, 4)
    assert (t["scalar_reads_per_instance"], t["scalar_fills_per_instance"]) == (225_792, 32_256)
    acc = _level(s, "PEAccuBuffer")
    assert acc["specs"]["word_bits"] == 24 and (acc["specs"]["mesh_x"], acc["specs"]["mesh_y"]) == (16, 4)
    o = acc["tensors"]["Outputs"]
    assert (o["scalar_reads_per_instance"], o["scalar_fills_per_instance"], o["scalar_updates_per_instance"]) == (
        200_704,
        50_176,
        225_792,
    )
    assert [(lp["dim"], lp["end"]) for lp in acc["loops"]] == [("M", 2), ("P", 7)]
    assert s["arithmetic"]["stats"]["utilized_instances"] == 48
    assert s["summary"]["cycles"] == 225_792 and s["summary"]["utilization_percent"] == 18.75


def _numbers(value) -> list[float]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []


_TOKEN = re.compile(r"(?<![A-Za-z^])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _file_numbers(text: str) -> list[float]:
    """Every number printed as a value: right of ':' or '=', in 'Level n' and in loop bounds."""
    out: list[float] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("Level ", "for ")):
            value = line
        elif ":" in line or "=" in line:
            value = re.split(r"[:=]", line, maxsplit=1)[1]
        else:
            continue
        out += [float(t) for t in _TOKEN.findall(value)]
    return out


@pytest.mark.parametrize("design", DESIGNS)
def test_every_numeric_field_is_kept(design):
    path = DATA / design / "timeloop-mapper.stats.txt"
    s = read_stats(path)
    assert sorted(_numbers(s)) == sorted(_file_numbers(path.read_text()))
    # outermost first: DRAM, and level indices decrease
    idx = [lv["level_index"] for lv in s["levels"]]
    assert s["levels"][0]["name"] == "DRAM" and idx == sorted(idx, reverse=True)
    assert all(lv["stats"]["cycles"] == s["summary"]["cycles"] for lv in s["levels"])
    # the operational-intensity total is the per-instance counts summed over tensors x utilised instances
    for lv in s["levels"]:
        total = sum(
            (t["scalar_reads_per_instance"] + t["scalar_fills_per_instance"] + t["scalar_updates_per_instance"])
            * t["utilized_instances_max"]
            for t in lv["tensors"].values()
        )
        assert lv["total_scalar_accesses"] == total, lv["name"]


def test_errors_name_the_line():
    text = (DATA / "eyeriss_like" / "timeloop-mapper.stats.txt").read_text()
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if "Scalar reads" in line)
    bad = "\n".join(lines[:k] + ["        Scalar reads (per-instance)              : 12 parsecs"] + lines[k + 1 :])
    with pytest.raises(TimeloopError, match=rf"x\.txt:{k + 1}: expected a value in one of the units"):
        parse_stats(bad, "x.txt")
    with pytest.raises(TimeloopError, match=r"x\.txt:1: expected the heading 'Buffer and Arithmetic Levels'"):
        parse_stats("Summary Stats\n", "x.txt")
    k = next(i for i, line in enumerate(lines) if line.strip() == "for M in [0:8)")
    bad = "\n".join(lines[:k] + ["      for M in 0..8"] + lines[k + 1 :])
    with pytest.raises(TimeloopError, match=rf"x\.txt:{k + 1}: expected a loop"):
        parse_stats(bad, "x.txt")
    with pytest.raises(TimeloopError, match="expected a readable UTF-8"):
        read_stats(DATA / "no_such_file.txt")


# ------------------------------------------------- neutral architecture / mapping data (timeloop_tree)
def _neutral(design: str) -> dict:
    return json.loads((DATA / design / "neutral.json").read_text())


def _drop(level: dict) -> dict:
    # timeloopfe fills in multiple_buffering and the complement keep/bypass lists in the processed file
    return {k: v for k, v in level.items() if k not in ("multiple_buffering", "arch_keep", "arch_bypass")}


@pytest.mark.parametrize("design", DESIGNS)
def test_v04_nodes_read_as_timeloop_saw_them(design):
    """The v0.4 arch.yaml, linearised here, equals the subtree/local file timeloopfe gave Timeloop."""
    mine = read_arch_tree(DATA / design / "arch.yaml")
    theirs = read_arch_tree(DATA / design / "parsed-processed-input.yaml")
    assert [_drop(lv) for lv in mine["storage"]] == [_drop(lv) for lv in theirs["storage"]]
    assert mine["compute"] == theirs["compute"]
    for a, b in zip(mine["storage"], theirs["storage"]):
        if a["arch_keep"] is not None:
            assert a["arch_keep"] == b["arch_keep"], a["name"]


@pytest.mark.parametrize("design", DESIGNS)
def test_neutral_specs_and_mapping_agree_with_the_stats(design):
    s, n = _stats(design), _neutral(design)
    printed = [lv["name"] for lv in s["levels"]]
    assert [lv["name"] for lv in n["storage"] if not lv["dummy"]] == printed
    assert [lv["name"] for lv in n["storage"] if lv["dummy"]] == s["hidden_levels"]
    spatial_above = 1
    for lv, mp in zip(n["storage"], n["mapping"]):
        assert mp["target"] == lv["name"]
        if not lv["dummy"]:
            st = next(x for x in s["levels"] if x["name"] == lv["name"])
            sp = st["specs"]
            for key in ("word_bits", "block_size", "cluster_size", "instances", "mesh_x", "mesh_y"):
                assert lv[key] == sp[key], (lv["name"], key)
            assert lv["size_words"] == sp["size"]
            # kept data spaces are the tensors Timeloop reports at the level
            assert [d for d, k in lv["keep"].items() if k] == list(st["tensors"])
            # the stats' loop nest = temporal factors > 1, outermost first = the permutation reversed
            t = mp["temporal"]
            mine = [(d, t["factors"][d]) for d in reversed(t["permutation"]) if t["factors"][d] > 1]
            assert mine == [(lp["dim"], lp["end"]) for lp in st["loops"] if lp["spatial"] is None], lv["name"]
            # utilised instances = spatial factors of the levels above (fanout from a level to the next inner one)
            for name, tensor in st["tensors"].items():
                assert tensor["utilized_instances_max"] == spatial_above, (lv["name"], name)
        if mp["spatial"]:
            x, y = mp["spatial"]["x"], mp["spatial"]["y"]
            assert math.prod(x.values()) <= lv["fanout"]["x"] and math.prod(y.values()) <= lv["fanout"]["y"]
            spatial_above *= math.prod(x.values()) * math.prod(y.values())
    assert spatial_above == s["arithmetic"]["stats"]["utilized_instances"]
    assert math.prod(n["problem"]["bounds"].values()) == s["summary"]["computes"]
    assert math.prod(lv["fanout"]["total"] for lv in n["storage"]) == n["compute"]["instances"]


_MAP_HEADER = re.compile(r"^(\w+) \[")
_MAP_LOOP = re.compile(r"^\|\s*for (\w+) in \[0:(\d+)\)(?: \(Spatial-([XY])\))?$")


@pytest.mark.parametrize("design", DESIGNS)
def test_split_matches_timeloops_own_map_txt(design):
    """Spatial-X / Spatial-Y in map.txt = dims before / from index ``split`` of the permutation."""
    loops: dict[str, list] = {}
    level = None
    for line in (DATA / design / "timeloop-mapper.map.txt").read_text().splitlines():
        if m := _MAP_HEADER.match(line):
            level = m.group(1)
            loops[level] = []
        elif m := _MAP_LOOP.match(line.strip()):
            loops[level].append((m.group(1), int(m.group(2)), m.group(3)))
    for mp in _neutral(design)["mapping"]:
        t, sp = mp["temporal"], mp["spatial"]
        want = [(d, t["factors"][d], None) for d in reversed(t["permutation"]) if t["factors"][d] > 1]
        if sp:
            order = list(reversed(sp["permutation"]))  # outermost first
            want += [(d, sp["factors"][d], "X" if d in sp["x"] else "Y") for d in order if sp["factors"][d] > 1]
        assert loops.get(mp["target"], []) == want, mp["target"]


def test_split_semantics_and_defaults():
    dims = ["C", "M", "Q"]
    m = read_mapping_tree(
        {
            "mapping": [
                {"target": "A", "type": "spatial", "factors": "C2 M3 Q4", "permutation": "QCM", "split": 1},
                {"target": "B", "type": "spatial", "factors": "C=2 M=3", "permutation": "MC"},
                {"target": "C", "type": "spatial", "factors": "C2 Q4", "permutation": "C", "split": 2},
            ]
        },
        dims,
    )
    assert m["A"]["spatial"]["x"] == {"Q": 4} and m["A"]["spatial"]["y"] == {"C": 2, "M": 3}
    assert m["B"]["spatial"]["split"] == 3 and m["B"]["spatial"]["y"] == {}  # no split: all X
    assert m["B"]["spatial"]["x"] == {"M": 3, "C": 2, "Q": 1}
    # missing dims are appended in problem order before splitting (parser.cpp)
    assert m["C"]["spatial"]["x"] == {"C": 2, "M": 1} and m["C"]["spatial"]["y"] == {"Q": 4}


def test_tree_errors_name_the_field():
    with pytest.raises(TimeloopError, match=r"mapping\[0\]\.factors' expected 'DIM factor' items"):
        read_mapping_tree({"mapping": [{"target": "A", "type": "temporal", "factors": "C?2"}]}, ["C"])
    with pytest.raises(TimeloopError, match=r"expected dimensions among \['C'\], found 'K'"):
        read_mapping_tree({"mapping": [{"target": "A", "type": "temporal", "factors": "K2"}]}, ["C"])
    arch = {
        "architecture": {"version": 0.4, "nodes": [{"!": "Component", "name": "DRAM", "class": "DRAM"}, {"!": "Box"}]}
    }
    with pytest.raises(TimeloopError, match=r"architecture\.nodes\[1\]' expected a node tagged"):
        read_arch_tree(arch)
    arch["architecture"]["nodes"][1] = {
        "!": "Component",
        "name": "buf",
        "class": "SRAM",
        "attributes": {"width": 12, "datawidth": 8},
    }
    with pytest.raises(TimeloopError, match="expected one compute component"):
        read_arch_tree(arch)
    arch["architecture"]["nodes"].append({"!": "Component", "name": "mac", "class": "intmac"})
    with pytest.raises(TimeloopError, match=r"nodes\[1\]\.attributes\.width' expected a multiple of word bits"):
        read_arch_tree(arch)


def test_committed_json_is_up_to_date():
    spec = importlib.util.spec_from_file_location("make_expected", DATA / "make_expected.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(check=True) == 0
    e = json.loads((DATA / "eyeriss_like" / "expected.json").read_text())
    psum = e["levels"][-1]["tensors"]["Outputs"]
    assert (psum["reads_total"], psum["updates_total"]) == (57_344 * 126, 86_016 * 126)
