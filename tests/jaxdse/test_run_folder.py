"""A run folder is never lost: an existing run is refused without --resume or --force,
an empty --out is refused, and a resumed run keeps the wall time of its earlier segments."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

import jaxdse.codesign.api as codesign_api
from jaxdse.cli import main
from jaxdse.codesign import ExploreError
from jaxdse.codesign.checkpoint import EVALS_FILE, RUN_FILE, TRACE_FILE
from workloads import load

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "workloads" / "examples" / "tiny_cnn.yaml"


class Reached(Exception):
    """The search would start here."""


def _no_search(*args, **kwargs):
    raise Reached


def _call(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as e:  # argparse's own errors
            status = e.code
    return status, err.getvalue()


def _held_run(folder: Path) -> dict[str, bytes]:
    """A folder as an interrupted run leaves it: settings, two mapped designs, their trace lines."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        RUN_FILE: b'{"format_version": 1}',
        EVALS_FILE: b'{"design": {}, "plans": {}}\n{"design": {}, "plans": {}}\n',
        TRACE_FILE: b'{"step": 1}\n{"step": 2}\n',
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


@pytest.mark.parametrize("held", [RUN_FILE, EVALS_FILE, TRACE_FILE, "result.json"])
def test_explore_refuses_a_folder_holding_a_run(tmp_path, monkeypatch, held):
    monkeypatch.setattr(codesign_api, "_search", _no_search)
    out = tmp_path / "run"
    out.mkdir()
    (out / held).write_text("{}\n")
    status, err = _call(["explore", "--workload", str(TINY), "--budget", "3", "--out", str(out)])
    assert status == 2, err
    assert err.startswith("jaxdse: error:") and err.count("\n") == 1, err
    assert "--resume" in err and "--force" in err and held in err
    assert (out / held).read_text() == "{}\n"  # untouched
    assert sorted(p.name for p in out.iterdir()) == [held]


def test_explore_keeps_an_interrupted_run_and_force_replaces_it(tmp_path, monkeypatch):
    monkeypatch.setattr(codesign_api, "_search", _no_search)
    out = tmp_path / "run"
    files = _held_run(out)
    with pytest.raises(ExploreError, match="holding a run"):
        codesign_api.explore(load(TINY), budget=3, out=out)
    assert {n: (out / n).read_bytes() for n in files} == files
    with pytest.raises(Reached):
        codesign_api.explore(load(TINY), budget=3, out=out, force=True)
    assert json.loads((out / RUN_FILE).read_text())["budget"] == 3
    assert (out / EVALS_FILE).read_text() == ""


def test_force_with_resume_is_refused(tmp_path):
    status, err = _call(["explore", "--resume", str(tmp_path), "--force"])
    assert status == 2 and "--force" in err


@pytest.mark.parametrize("command", ["explore", "evaluate"])
def test_empty_out_is_refused(tmp_path, monkeypatch, command):
    monkeypatch.setattr(codesign_api, "_search", _no_search)
    monkeypatch.chdir(tmp_path)
    status, err = _call([command, "--workload", str(TINY), "--out", ""])
    assert status == 2, err
    assert "--out" in err and "empty" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder


def test_empty_out_is_refused_from_python(tmp_path, monkeypatch):
    monkeypatch.setattr(codesign_api, "_search", _no_search)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExploreError, match="empty"):
        codesign_api.explore(load(TINY), budget=3, out="")
    assert list(tmp_path.iterdir()) == []


def test_two_networks_with_one_name_are_refused(tmp_path, monkeypatch):
    """Results are keyed by network name: a second network of the same name would vanish."""
    monkeypatch.setattr(codesign_api, "_search", _no_search)
    net = load(TINY)
    with pytest.raises(ExploreError, match="networks\\[1\\].*'tiny_cnn' a second time"):
        codesign_api.explore([net, net], budget=3)
    status, err = _call(["explore", "--workload", str(TINY), "--workload", str(TINY), "--budget", "3"])
    assert status == 2 and "a second time" in err and err.count("\n") == 1, err
    with pytest.raises(Reached):  # distinct names pass
        codesign_api.explore([net, net.replace(name="tiny_cnn_2")], budget=3)
