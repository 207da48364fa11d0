"""benchmarks/merge_results.py: later folders replace earlier runs, best known and designs-to-2% span
every folder, and malformed folders are refused with the file named."""

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "merge_results.py"
_SPEC = importlib.util.spec_from_file_location("merge_results", _PATH)
mr = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mr)

RUNS_HEAD = "network,method,seed,budget,evaluations,best_ms,feasible_share,wall_s,error\n"
CURVES_HEAD = "network,method,seed,budget,evaluation,best_feasible_ms\n"


def _folder(path: Path, runs: list[tuple], curves: dict) -> Path:
    """runs: (method, budget, evaluations, best_ms, feasible_share); curves: {(method, budget): [ms, ...]}."""
    path.mkdir()
    (path / "runs.csv").write_text(
        RUNS_HEAD + "".join(f"net,{m},0,{b},{n},{best},{share},1.0,\n" for m, b, n, best, share in runs)
    )
    rows = [f"net,{m},0,{b},{i + 1},{v}\n" for (m, b), vs in curves.items() for i, v in enumerate(vs)]
    (path / "curves.csv").write_text(CURVES_HEAD + "".join(rows))
    return path


def test_later_folder_replaces_and_best_known_spans_folders(tmp_path, capsys):
    old = _folder(
        tmp_path / "old",
        [("explainable", 4, 4, 20.0, 0.5), ("random", 4, 4, "inf", 0.0), ("random", 8, 8, 12.0, 0.125)],
        {("explainable", 4): ["inf", 30.0, 20.0, 20.0], ("random", 8): ["inf"] * 7 + [12.0]},
    )
    new = _folder(tmp_path / "new", [("explainable", 4, 4, 10.0, 0.75)], {("explainable", 4): [40.0, 10.0, 10.0, 10.0]})
    assert mr.main([str(old), str(new), "--out", str(tmp_path / "merged")]) == 0
    text = (tmp_path / "merged" / "tables.md").read_text()
    # the new explainable run replaced the old one; best known (10.0) is taken over both folders
    assert "best known 10.00 ms, found by explainable (seed 0) at its design 2" in text
    assert "| explainable | 10.00 @2 (75%) | not run |" in text
    assert "| random | none feasible (0%) | 12.00 (12%) |" in text
    assert "explainable 2 (of 4)" in text and "random never (of 8)" in text
    assert (tmp_path / "merged" / "summary.csv").is_file()
    # another seed's runs sit next to seed 0's, one value per seed
    seed1 = _folder(tmp_path / "seed1", [("explainable", 4, 4, 11.0, 0.25)], {("explainable", 4): [11.0] * 4})
    (seed1 / "runs.csv").write_text((seed1 / "runs.csv").read_text().replace("net,explainable,0", "net,explainable,1"))
    (seed1 / "curves.csv").write_text(
        (seed1 / "curves.csv").read_text().replace("net,explainable,0", "net,explainable,1")
    )
    assert mr.main([str(old), str(new), str(seed1), "--out", str(tmp_path / "merged")]) == 0
    text = (tmp_path / "merged" / "tables.md").read_text()
    assert "| explainable | 10.00 @2 / 11.00 (50%) | not run |" in text
    assert "explainable 2 / never (of 4)" in text
    assert (tmp_path / "merged" / "convergence_net.png").is_file()


def test_stopped_invocation_keeps_the_earlier_curve_of_the_same_run(tmp_path):
    old = _folder(tmp_path / "old", [("random", 2, 2, 5.0, 0.5)], {("random", 2): ["inf", 5.0]})
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "runs.csv").write_text(RUNS_HEAD + "net,random,0,2,2,5.0,0.5,1.0,\n")
    runs, units = mr.merge([old, stopped])
    assert units == {"ms"}
    assert runs[("net", "random", 0, 2)].curve == [float("inf"), 0.005]
    # a different run (another result) does not inherit the curve
    (stopped / "runs.csv").write_text(RUNS_HEAD + "net,random,0,2,2,4.0,0.5,1.0,\n")
    runs, _ = mr.merge([old, stopped])
    assert runs[("net", "random", 0, 2)].curve == []
    assert mr.main([str(old), str(stopped)]) == 0


def test_malformed_folders_are_refused_with_the_file_named(tmp_path, capsys):
    assert mr.main([str(tmp_path / "missing")]) == 2
    assert "expected runs.csv" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "runs.csv").write_text("network,method,seed,budget,evaluations,best_parsecs\nnet,random,0,2,2,1\n")
    assert mr.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert "runs.csv" in err and "best_<unit>" in err
    (bad / "runs.csv").write_text(RUNS_HEAD + "net,random,zero,2,2,5.0,0.5,1.0,\n")
    assert mr.main([str(bad)]) == 2
    assert "malformed row" in capsys.readouterr().err
