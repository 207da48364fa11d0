"""Checkpoint and resume: an interrupted exploration continues to the result an uninterrupted one gives."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from explore_helpers import without_timings

import jaxdse
from jaxdse.cli import main
from jaxdse.codesign import Constraints, ExplorerConfig, ResumeError
from jaxdse.codesign.checkpoint import EVALS_FILE, RUN_FILE, read_records
from workloads import load

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "workloads" / "examples" / "tiny_cnn.yaml"


def _result(path: Path) -> dict:
    return without_timings(json.loads((path / "result.json").read_text()))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """An uninterrupted run, saved (the CLI's settings: area 75 mm^2, power 4 W)."""
    out = tmp_path_factory.mktemp("finished")
    jaxdse.explore([load(TINY)], budget=8, seed=0, out=out, constraints=Constraints(area_mm2=75.0, power_w=4.0))
    return out


@pytest.mark.slow  # minutes of compiling on 2 loaded cores; CI runs it with -m slow
def test_run_folder_holds_settings_and_every_mapped_design(finished):
    settings = json.loads((finished / RUN_FILE).read_text())
    assert settings["budget"] == 8 and settings["method"] == "explainable" and settings["seed"] == 0
    records = read_records(finished / EVALS_FILE)
    result = json.loads((finished / "result.json").read_text())
    assert len(records) == result["evaluations"] == 8
    assert all(set(r["plans"]) == {"tiny_cnn"} for r in records)
    assert not list(finished.glob("*.tmp"))  # atomic writes leave no temporaries


@pytest.mark.slow  # minutes of compiling on 2 loaded cores; CI runs it with -m slow
def test_resume_from_a_torn_checkpoint_equals_the_uninterrupted_run(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    lines = (out / EVALS_FILE).read_text().splitlines()
    (out / EVALS_FILE).write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])  # killed while writing line 4
    (out / "result.json").unlink()
    (out / "trace.jsonl").write_text((finished / "trace.jsonl").read_text().splitlines()[0] + "\n")
    result = jaxdse.resume(out)
    assert result.evaluations == 8
    assert _result(out) == _result(finished)
    assert (out / "trace.jsonl").read_text() == (finished / "trace.jsonl").read_text()
    assert len(read_records(out / EVALS_FILE)) == 8


@pytest.mark.slow  # minutes of compiling on 2 loaded cores; CI runs it with -m slow
def test_resumed_run_keeps_the_wall_time_of_earlier_segments(finished, tmp_path):
    """wall_s counts every segment, not only the resume's (which rebuilds stored designs in a second)."""
    records = read_records(finished / EVALS_FILE)
    elapsed = [r["elapsed_s"] for r in records]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    assert json.loads((finished / "result.json").read_text())["wall_s"] >= elapsed[-1]
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    earlier = 1000.0  # as if the stored designs had taken 1000 s to find
    (out / EVALS_FILE).write_text("".join(json.dumps({**r, "elapsed_s": earlier}) + "\n" for r in records))
    result = jaxdse.resume(out)
    assert result.wall_s >= earlier
    assert json.loads((out / "result.json").read_text())["wall_s"] == result.wall_s
    assert _result(out) == _result(finished)


@pytest.mark.slow  # minutes of compiling on 2 loaded cores; CI runs it with -m slow
def test_resume_reads_the_explorer_config_back(finished, tmp_path):
    """run.json records the explainable explorer's config; resume uses it, a run.json written
    before it was recorded resumes with the defaults, a malformed one is refused by name."""
    settings = json.loads((finished / RUN_FILE).read_text())
    assert settings["explorer_config"] == ExplorerConfig().to_dict()
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    custom = {**settings, "explorer_config": {**settings["explorer_config"], "free_harm": 0.25}}
    (out / RUN_FILE).write_text(json.dumps(custom))
    assert jaxdse.resume(out).run["explorer_config"]["free_harm"] == 0.25
    old = {k: v for k, v in settings.items() if k != "explorer_config"}
    (out / RUN_FILE).write_text(json.dumps(old))
    assert jaxdse.resume(out).run["explorer_config"] == ExplorerConfig().to_dict()
    assert _result(out) == _result(finished)
    (out / RUN_FILE).write_text(json.dumps({**settings, "explorer_config": {"top_k": 0}}))
    with pytest.raises(ResumeError, match="explorer_config.*top_k"):
        jaxdse.resume(out)


def test_resume_errors_name_the_file(tmp_path, capsys):
    with pytest.raises(ResumeError, match="run.json"):
        jaxdse.resume(tmp_path)
    (tmp_path / RUN_FILE).write_text("{not json")
    with pytest.raises(ResumeError, match="expected JSON"):
        jaxdse.resume(tmp_path)
    (tmp_path / RUN_FILE).write_text(json.dumps({"format_version": 1, "budget": 3}))
    with pytest.raises(ResumeError, match="missing"):
        jaxdse.resume(tmp_path)
    assert main(["explore", "--resume", str(tmp_path), "--model", "resnet18"]) == 2
    assert "--model" in capsys.readouterr().err


@pytest.mark.slow
def test_killed_cli_run_resumes_to_the_uninterrupted_result(finished, tmp_path):
    """A real interruption: SIGKILL the CLI mid-run, resume it with ``--resume``."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "jaxdse", "explore", "--workload", str(TINY), "--budget", "8", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    evals = out / EVALS_FILE
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if evals.is_file() and len(evals.read_text().splitlines()) >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    assert not (out / "result.json").exists()
    assert 3 <= len(read_records(evals)) < 8
    done = subprocess.run(
        [sys.executable, "-m", "jaxdse", "explore", "--resume", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming" in done.stderr
    assert _result(out) == _result(finished)
