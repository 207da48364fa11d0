"""The Timeloop/Accelergy exercises' four example designs, read level by level, reproduce
every per-level, per-tensor read, fill and update and the cycle count of Timeloop's own
``timeloop-mapper.stats.txt`` (``tests/data/timeloop_exercises/*/SOURCE.md``)."""

import json
from pathlib import Path

import pytest

import costmodels as cm
from jaxdse.interop import read_stats
from jaxdse.interop.timeloop_hierarchy import load_design

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop_exercises"
DESIGNS = ["eyeriss_like", "simba_like", "simple_weight_stationary", "simple_output_stationary"]
TENSORS = ("Inputs", "Weights", "Outputs")


def compare(design: str) -> tuple[int, list[str]]:
    """(counts compared, mismatches) of one exercise design against its stats file."""
    folder = DATA / design
    hier, mapping, layer = load_design(
        folder / "arch.yaml", folder / "timeloop-mapper.map.yaml", folder / "default_problem.yaml"
    )
    costs = cm.evaluate_hierarchy(hier, cm.layer_arrays(layer), mapping)
    expected = json.loads((folder / "expected.json").read_text())
    compared, bad = 0, []
    for level in expected["levels"]:
        i = hier.names.index(level["name"])
        for tensor, want in level["tensors"].items():
            k = TENSORS.index(tensor)
            for field in ("reads", "fills", "updates"):
                compared += 1
                ours = float(getattr(costs.counts, field)[i, k])
                if ours != want[f"{field}_total"]:
                    bad.append(f"{level['name']}.{tensor}.{field}: ours {ours:g}, Timeloop {want[f'{field}_total']:g}")
    compared += 1
    if float(costs.latency_cycles) != expected["cycles"]:
        bad.append(f"cycles: ours {float(costs.latency_cycles):g}, Timeloop {expected['cycles']}")
    if float(costs.legal) != 1.0:
        bad.append("Timeloop's own mapping judged illegal")
    return compared, bad


@pytest.mark.parametrize("design", DESIGNS)
def test_exercise_design_matches_timeloop_stats(design):
    compared, bad = compare(design)
    assert compared >= 25 and not bad, bad


def test_expected_json_is_timeloops_stats_file():
    """expected.json is derived from the shipped stats.txt (not hand-written)."""
    for design in DESIGNS:
        stats = read_stats(DATA / design / "timeloop-mapper.stats.txt")
        expected = json.loads((DATA / design / "expected.json").read_text())
        assert [lv["name"] for lv in stats["levels"]] == [lv["name"] for lv in expected["levels"]]
