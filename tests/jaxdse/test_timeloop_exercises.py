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


def test_cli_evaluates_a_timeloop_design_level_by_level(tmp_path, capsys):
    """``jaxdse evaluate --timeloop-*`` on a design jaxdse did not write keeps every level
    (nothing merged into the template) and names what an illegal mapping breaks."""
    from jaxdse.cli import main

    folder = DATA / "eyeriss_like"
    files = ["--timeloop-problem", str(folder / "default_problem.yaml"),
             "--timeloop-mapping", str(folder / "timeloop-mapper.map.yaml")]  # fmt: skip
    assert main(["evaluate", "--timeloop-arch", str(folder / "arch.yaml"), *files, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["levels"] == ["DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad"]
    expected = json.loads((folder / "expected.json").read_text())
    assert out["layers"][0]["latency_s"] * 500e6 == pytest.approx(expected["cycles"], rel=1e-6)
    assert out["total"]["legal"]
    # weights_spad 192 -> 8 deep: 16 words (2 per 16-bit row) where the mapping uses 24
    small = (folder / "arch.yaml").read_text().replace("depth: 192\n", "depth: 8\n", 1)
    (tmp_path / "arch.yaml").write_text(small)
    for extra in ("_components", "SOURCE.md"):
        (tmp_path / extra).symlink_to(folder / extra)
    assert main(["evaluate", "--timeloop-arch", str(tmp_path / "arch.yaml"), *files]) == 0
    text = capsys.readouterr().out
    assert "ILLEGAL layers" in text and "weights_spad over capacity by" in text
