"""benchmarks/pareto_quality.py's summary: hypervolumes and dominated shares rebuilt from the raw
runs, and a summary whose raw runs are gone is moved aside instead of overwritten."""

import csv
import importlib.util
import json
import sys
from pathlib import Path

_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(_DIR))  # the script imports its sibling `common`
_SPEC = importlib.util.spec_from_file_location("pareto_quality", _DIR / "pareto_quality.py")
pq = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(pq)


def _run(out: Path, method: str, points: list[tuple[float, float]]) -> None:
    pts = [{"index": i, "latency_s": lat, "energy_j": en, "feasible": True} for i, (lat, en) in enumerate(points)]
    run = {"network": "net", "method": method, "seed": 0, "points": pts, "wall_s": 1.0, "complete": True}
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "runs" / f"net_{method}_s0.json").write_text(json.dumps(run))


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_summary_from_raw_runs_and_orphaned_summary_kept(tmp_path, capsys):
    # jaxdse's two points dominate nsga2's one: its hypervolume is larger and it dominates all of nsga2's front
    _run(tmp_path, "jaxdse", [(1e-3, 4e-3), (2e-3, 1e-3)])
    _run(tmp_path, "nsga2", [(3e-3, 5e-3), (4e-3, 6e-3)])
    rows = pq.summarise(tmp_path, budgets=(2,))
    hv = {r["method"]: r["hypervolume"] for r in rows}
    assert hv["jaxdse"] > hv["nsga2"] > 0.0
    (dom,) = _rows(tmp_path / "dominated.csv")
    assert float(dom["other_front_dominated_by_jaxdse"]) == 1.0
    assert float(dom["jaxdse_front_dominated_by_other"]) == 0.0
    assert (tmp_path / "fronts_net.png").stat().st_size > 0

    before = (tmp_path / "summary.csv").read_text()
    (tmp_path / "runs" / "net_nsga2_s0.json").unlink()  # a raw run lost: its numbers cannot be rebuilt
    pq.summarise(tmp_path, budgets=(2,))
    (kept,) = tmp_path.glob("summary.orphaned-*.csv")
    assert kept.read_text() == before
    assert list(tmp_path.glob("dominated.orphaned-*.csv"))
    assert {r["method"] for r in _rows(tmp_path / "summary.csv")} == {"jaxdse"}
    assert "net/nsga2/0" in capsys.readouterr().out
